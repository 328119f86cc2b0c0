/**
 * User-belief simulator (the TD3 design). Each user holds a belief vector over item clusters (5 by default), a
 * 64-d embedding, per-cluster distances and an optimal (target) belief vector. An agent proposes a 64-d virtual
 * item; it is matched to the 10 most cosine-similar real items, a pre-trained model adds 10 more, and each of the
 * 20 is accepted with
 *
 *   p = max(0, 1 - distance / maxDistance) * sigmoid(belief[cluster] * sigmoidScale) + baseline
 *
 * (distance = the item's distance to its cluster centre). Every acceptance moves the belief in that cluster by
 * `beliefStep` at once, within the round; then beliefs are clamped at 0, renormalised when they sum above 1, and
 * capped at the optimal belief. The reward is the reduction in distance to the optimal beliefs (see `roundReward`).
 *
 * Vectorized: the whole population lives in flat typed arrays (`beliefs [numUsers * C]`); a step advances any
 * subset of users. Acceptance draws come from a counter-based hash of (seed, user, episode, round, slot), so a
 * user's trajectory does not depend on how the population is split into batches or in which order they run.
 */
import { InvalidArgumentError, ShapeError, check, writeJsonAtomic } from '@rec/core';
import type { ContinuousActionSpace, Policy, RecEnv, StepResult } from './types.js';
import type { ItemMatcher } from './match.js';
import { SimdCosineMatcher } from './match-wasm.js';
import { checkActions, checkUsers, drawFromKey, drawKey, firstNonFinite, notReset } from './util.js';

/** Inputs of the simulator, all flat typed arrays. */
export interface BeliefSimData {
  /** Item embeddings `[numItems * dim]`. */
  itemEmbeddings: Float32Array;
  /** Cluster of each item `[numItems]`, in `[0, numClusters)`. */
  itemCluster: Int32Array;
  /** Each item's distance to its cluster centre `[numItems]` (same units as `maxDistance`). */
  itemDistance: Float32Array;
  /** User embeddings `[numUsers * dim]`. */
  userEmbeddings: Float32Array;
  /** Beliefs at each episode start `[numUsers * numClusters]` (usually tiny values). */
  initialBeliefs: Float32Array;
  /** Target beliefs `[numUsers * numClusters]`, or `[numClusters]` shared by everyone. */
  optimalBeliefs: Float32Array;
  /** Per-user distance to each cluster centre `[numUsers * numClusters]`; computed from the embeddings when omitted. */
  userClusterDistances?: Float32Array;
  /**
   * The pre-trained model's ranked candidates `[numUsers * L]`, L >= pretrainedListSize (extra candidates replace
   * items the RL list already holds). Omitted: the items most cosine-similar to the user's embedding, top 2x the
   * list size, computed once per user on first use.
   */
  pretrainedLists?: Int32Array;
  /** Raw user ids for `current_user_beliefs.json` (default: dense indices). */
  userIds?: ArrayLike<number>;
  /** Embedding width. Default 64. */
  dim?: number;
  /** Number of clusters. Default 5. */
  numClusters?: number;
}

/** Every constant of the design, configurable. Defaults are the spec's. */
export interface BeliefSimConfig {
  /** Items matched from the agent's action. Default 10. */
  rlListSize: number;
  /** Items from the pre-trained model. Default 10. */
  pretrainedListSize: number;
  /** Use the sigmoid acceptance model; off: every item is accepted with `fallbackAcceptance`. Default true. */
  useSigmoid: boolean;
  /** Belief multiplier inside the sigmoid. Default 10,000. */
  sigmoidScale: number;
  /** Acceptance added to every item. Default 0.1. */
  baseline: number;
  /** Distance at which the distance factor reaches 0. Default 5. */
  maxDistance: number;
  /** Acceptance rate when `useSigmoid` is false. Default 0.25. */
  fallbackAcceptance: number;
  /** Belief added to an accepted item's cluster. Default 0.01. */
  beliefStep: number;
  /** 'distance' (improvement towards optimal) or 'engagement-alignment' (acceptance rate + cosine to optimal). */
  rewardMode: 'distance' | 'engagement-alignment';
  /** Reward per unit of L1 distance removed. Default 1,000 (one accepted item that moves a belief 0.01 earns 10). */
  rewardScale: number;
  /** Rewards are clipped to [-maxReward, maxReward]. Default 100. */
  maxReward: number;
  /** Improvement (L1) below which a round counts as not improving. Default 0.01. */
  improvementThreshold: number;
  /** Multiply improving rewards by (1 + progress), progress = share of the episode-start distance removed. Default false. */
  progressive: boolean;
  /** A non-improving round in a good state earns maintenanceFactor x rewardScale x improvementThreshold. Default 0.7. */
  maintenanceFactor: number;
  /** L1 distance to optimal at or below which a user is in a good state. Default 0.05. */
  goodStateDistance: number;
  /** Bonus per accepted item from a cluster other than the user's highest-belief cluster at round start. Default 0.2. */
  explorationBonus: number;
  /** 'engagement-alignment' weights: reward = maxReward x (we x acceptedShare + wa x cosine(beliefs, optimal)). */
  engagementWeight: number;
  alignmentWeight: number;
  /** Rounds per episode. Default 20. */
  roundsPerEpisode: number;
  /** Users per batch in `runBeliefEpisode`. Default 4,000. */
  populationBatch: number;
  /** Seed of the acceptance draws and of `reset()`'s user picks. Default 0. */
  seed: number;
  /**
   * Append each cluster's remaining gap to the optimal belief, `optimal - belief` (numClusters values), to the
   * observation: 5 + 64 + 5 = 74 by default. Off (the design's 69-d state) by default. The design's state does not
   * say which clusters have reached their optimum (the belief update stops there without a trace), so a
   * deterministic policy that recommends a saturated cluster sees the same state next round and repeats itself;
   * with the gap the state is Markov for the reward. See examples/td3-beliefs.
   */
  observeGap: boolean;
}

export const DEFAULT_BELIEF_SIM_CONFIG: Readonly<BeliefSimConfig> = Object.freeze({
  rlListSize: 10,
  pretrainedListSize: 10,
  useSigmoid: true,
  sigmoidScale: 10000,
  baseline: 0.1,
  maxDistance: 5,
  fallbackAcceptance: 0.25,
  beliefStep: 0.01,
  rewardMode: 'distance',
  rewardScale: 1000,
  maxReward: 100,
  improvementThreshold: 0.01,
  progressive: false,
  maintenanceFactor: 0.7,
  goodStateDistance: 0.05,
  explorationBonus: 0.2,
  engagementWeight: 0.5,
  alignmentWeight: 0.5,
  roundsPerEpisode: 20,
  populationBatch: 4000,
  seed: 0,
  observeGap: false,
});

/**
 * The acceptance probability of one item, clipped to [0, 1]:
 * `max(0, 1 - distance / maxDistance) * sigmoid(belief * sigmoidScale) + baseline`, or `fallbackAcceptance`.
 */
export function acceptanceProbability(belief: number, distance: number, config: Partial<BeliefSimConfig> = {}): number {
  const c = { ...DEFAULT_BELIEF_SIM_CONFIG, ...config };
  if (!c.useSigmoid) return c.fallbackAcceptance;
  const p = Math.max(0, 1 - distance / c.maxDistance) * (1 / (1 + Math.exp(-belief * c.sigmoidScale))) + c.baseline;
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

function checkLen(a: ArrayLike<number> | undefined, n: number, type: string, where: string): void {
  if (!a || a.length !== n) {
    throw new ShapeError('array has the wrong length', { where, expected: `${type} of length ${n}`, got: a });
  }
}

/** The whole simulated population and its dynamics. `UserBeliefEnv` gives it the RecEnv interface. */
export class UserBeliefSim {
  readonly config: Readonly<BeliefSimConfig>;
  readonly numUsers: number;
  readonly numItems: number;
  readonly numClusters: number;
  readonly dim: number;
  /** Observation per user: beliefs then embedding (5 + 64 = 69 by default), then the gaps with `observeGap` (74). */
  readonly obsSize: number;
  /** Items per round (RL list + pre-trained list). */
  readonly slateSize: number;
  readonly matcher: ItemMatcher;
  /** Current beliefs `[numUsers * numClusters]`. */
  readonly beliefs: Float32Array;
  /** Rounds played in the current episode per user. */
  readonly round: Int32Array;
  /** Episodes started per user (feeds the acceptance draws). */
  readonly episode: Int32Array;
  /** L1 distance to optimal at each user's episode start. */
  readonly startDistance: Float64Array;
  readonly data: Readonly<Required<Omit<BeliefSimData, 'pretrainedLists' | 'userIds'>>> & Pick<BeliefSimData, 'userIds'>;
  private readonly optimalPerUser: boolean;
  private pretrained: Int32Array;
  private pretrainedWidth: number;
  private readonly pretrainedReady: Uint8Array;
  private drawSeed: number;

  constructor(data: BeliefSimData, config: Partial<BeliefSimConfig> = {}, matcher?: ItemMatcher) {
    const cfg = { ...DEFAULT_BELIEF_SIM_CONFIG, ...config };
    this.config = Object.freeze(cfg);
    const W = 'UserBeliefSim';
    const dim = data.dim ?? 64;
    const C = data.numClusters ?? 5;
    check(Number.isInteger(dim) && dim > 0, `${W}(data.dim)`, 'a positive integer', dim);
    check(Number.isInteger(C) && C > 0, `${W}(data.numClusters)`, 'a positive integer', C);
    for (const k of ['rlListSize', 'pretrainedListSize', 'roundsPerEpisode', 'populationBatch'] as const) {
      check(Number.isInteger(cfg[k]) && cfg[k] >= (k === 'pretrainedListSize' ? 0 : 1), `${W}(config.${k})`, 'a positive integer', cfg[k]);
    }
    check(cfg.maxDistance > 0, `${W}(config.maxDistance)`, 'a positive number', cfg.maxDistance);
    check(cfg.rewardMode === 'distance' || cfg.rewardMode === 'engagement-alignment', `${W}(config.rewardMode)`, "'distance' or 'engagement-alignment'", cfg.rewardMode);
    if (!(data.itemEmbeddings instanceof Float32Array) || data.itemEmbeddings.length === 0 || data.itemEmbeddings.length % dim !== 0) {
      throw new ShapeError('item embeddings do not split into rows', { where: `${W}(data.itemEmbeddings)`, expected: `Float32Array [numItems * ${dim}]`, got: data.itemEmbeddings });
    }
    const nI = data.itemEmbeddings.length / dim;
    if (!(data.userEmbeddings instanceof Float32Array) || data.userEmbeddings.length === 0 || data.userEmbeddings.length % dim !== 0) {
      throw new ShapeError('user embeddings do not split into rows', { where: `${W}(data.userEmbeddings)`, expected: `Float32Array [numUsers * ${dim}]`, got: data.userEmbeddings });
    }
    const nU = data.userEmbeddings.length / dim;
    checkLen(data.itemCluster, nI, 'Int32Array', `${W}(data.itemCluster)`);
    checkLen(data.itemDistance, nI, 'Float32Array', `${W}(data.itemDistance)`);
    checkLen(data.initialBeliefs, nU * C, 'Float32Array', `${W}(data.initialBeliefs)`);
    for (let i = 0; i < nI; i++) {
      const c = data.itemCluster[i];
      if (!(c >= 0 && c < C)) throw new InvalidArgumentError('item cluster out of range', { where: `${W}(data.itemCluster[${i}])`, expected: `an integer in [0, ${C})`, got: c });
      if (!(data.itemDistance[i] >= 0)) throw new InvalidArgumentError('bad item distance', { where: `${W}(data.itemDistance[${i}])`, expected: 'a finite number >= 0', got: data.itemDistance[i] });
    }
    this.optimalPerUser = data.optimalBeliefs?.length === nU * C;
    if (!this.optimalPerUser && data.optimalBeliefs?.length !== C) {
      throw new ShapeError('optimal beliefs have the wrong length', { where: `${W}(data.optimalBeliefs)`, expected: `Float32Array [numUsers * ${C}] or [${C}]`, got: data.optimalBeliefs });
    }
    if (data.userClusterDistances) checkLen(data.userClusterDistances, nU * C, 'Float32Array', `${W}(data.userClusterDistances)`);
    if (data.pretrainedLists) {
      const L = data.pretrainedLists.length / nU;
      check(Number.isInteger(L) && L >= cfg.pretrainedListSize, `${W}(data.pretrainedLists)`, `Int32Array [numUsers * L], L >= ${cfg.pretrainedListSize}`, data.pretrainedLists.length);
      for (let i = 0; i < data.pretrainedLists.length; i++) {
        const it = data.pretrainedLists[i];
        if (!(it >= 0 && it < nI)) throw new InvalidArgumentError('item id out of range', { where: `${W}(data.pretrainedLists[${i}])`, expected: `[0, ${nI})`, got: it });
      }
    }
    if (matcher && (matcher.numItems !== nI || matcher.dim !== dim)) {
      throw new ShapeError('matcher does not match the items', { where: `${W}(matcher)`, expected: `numItems ${nI}, dim ${dim}`, got: { numItems: matcher.numItems, dim: matcher.dim } });
    }
    this.dim = dim;
    this.numClusters = C;
    this.numItems = nI;
    this.numUsers = nU;
    check(typeof cfg.observeGap === 'boolean', `${W}(config.observeGap)`, 'true or false', cfg.observeGap);
    this.obsSize = C + dim + (cfg.observeGap ? C : 0);
    this.slateSize = cfg.rlListSize + cfg.pretrainedListSize;
    // Default: the exact wasm SIMD matcher (identical results to CosineMatcher, about 15-20x faster on 2 cores);
    // pass `new CosineMatcher(...)` (or any ItemMatcher) as the third argument to choose another.
    this.matcher = matcher ?? new SimdCosineMatcher(data.itemEmbeddings, dim);
    this.data = {
      itemEmbeddings: data.itemEmbeddings,
      itemCluster: data.itemCluster,
      itemDistance: data.itemDistance,
      userEmbeddings: data.userEmbeddings,
      initialBeliefs: data.initialBeliefs,
      optimalBeliefs: data.optimalBeliefs,
      userClusterDistances: data.userClusterDistances ?? computeUserClusterDistances(data.userEmbeddings, data.itemEmbeddings, data.itemCluster, dim, C),
      dim,
      numClusters: C,
      userIds: data.userIds,
    };
    this.drawSeed = cfg.seed;
    this.beliefs = data.initialBeliefs.slice();
    this.round = new Int32Array(nU);
    this.episode = new Int32Array(nU);
    this.startDistance = new Float64Array(nU);
    for (let u = 0; u < nU; u++) this.startDistance[u] = this.distanceToOptimal(u);
    this.pretrainedWidth = data.pretrainedLists ? data.pretrainedLists.length / nU : 2 * cfg.pretrainedListSize;
    this.pretrained = data.pretrainedLists ?? new Int32Array(nU * Math.min(this.pretrainedWidth, nI));
    if (!data.pretrainedLists) this.pretrainedWidth = Math.min(this.pretrainedWidth, nI);
    this.pretrainedReady = new Uint8Array(nU).fill(data.pretrainedLists ? 1 : 0);
  }

  /** Re-seed the acceptance draws and restart every user (initial beliefs, episode and round counters at 0). */
  setSeed(seed: number): void {
    check(Number.isFinite(seed), 'UserBeliefSim.setSeed(seed)', 'a finite number', seed);
    this.drawSeed = seed >>> 0;
    this.beliefs.set(this.data.initialBeliefs);
    this.round.fill(0);
    this.episode.fill(0);
  }

  /** Optimal belief of user `u` in cluster `c`. */
  optimal(u: number, c: number): number {
    return this.data.optimalBeliefs[this.optimalRow(u) + c];
  }

  /** Offset of user `u`'s row in `data.optimalBeliefs` (0 when one optimum is shared by every user). */
  private optimalRow(u: number): number {
    return this.optimalPerUser ? u * this.numClusters : 0;
  }

  /** L1 distance from user `u`'s current beliefs to its optimal beliefs (`pp1_distance` in the beliefs file). */
  distanceToOptimal(u: number): number {
    const C = this.numClusters;
    const opt = this.data.optimalBeliefs;
    const ob = this.optimalRow(u);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.abs(opt[ob + c] - this.beliefs[u * C + c]);
    return s;
  }

  /** Start a new episode for `users` (all users when omitted): beliefs back to their initial values. */
  resetUsers(users?: Int32Array): void {
    const C = this.numClusters;
    const reset = (u: number): void => {
      for (let c = 0; c < C; c++) this.beliefs[u * C + c] = this.data.initialBeliefs[u * C + c];
      this.round[u] = 0;
      this.episode[u]++;
      this.startDistance[u] = this.distanceToOptimal(u);
    };
    if (users) {
      checkUsers(users, users.length, this.numUsers, 'UserBeliefSim.resetUsers(users)');
      for (let i = 0; i < users.length; i++) reset(users[i]);
    } else {
      for (let u = 0; u < this.numUsers; u++) reset(u);
    }
  }

  /** Observations `[users.length * obsSize]`: beliefs, embedding, and with `observeGap` optimal - belief. */
  observe(users: Int32Array): Float32Array {
    const C = this.numClusters;
    const D = this.dim;
    const gap = this.config.observeGap;
    const out = new Float32Array(users.length * this.obsSize);
    const ue = this.data.userEmbeddings;
    for (let i = 0; i < users.length; i++) {
      const u = users[i];
      const o = i * this.obsSize;
      for (let c = 0; c < C; c++) out[o + c] = this.beliefs[u * C + c];
      for (let d = 0; d < D; d++) out[o + C + d] = ue[u * D + d]; // (a subarray per user costs more than the copy)
      if (gap) for (let c = 0; c < C; c++) out[o + C + D + c] = this.optimal(u, c) - this.beliefs[u * C + c];
    }
    return out;
  }

  /** Fill the pre-trained candidate lists of users that lack one (cosine to the user embedding). */
  private ensurePretrained(users: Int32Array): void {
    const missing: number[] = [];
    for (let i = 0; i < users.length; i++) if (!this.pretrainedReady[users[i]]) missing.push(users[i]);
    if (missing.length === 0) return;
    const D = this.dim;
    const q = new Float32Array(missing.length * D);
    for (let i = 0; i < missing.length; i++) q.set(this.data.userEmbeddings.subarray(missing[i] * D, (missing[i] + 1) * D), i * D);
    const W = this.pretrainedWidth;
    const out = new Int32Array(missing.length * W);
    this.matcher.topK(q, missing.length, W, out);
    for (let i = 0; i < missing.length; i++) {
      this.pretrained.set(out.subarray(i * W, (i + 1) * W), missing[i] * W);
      this.pretrainedReady[missing[i]] = 1;
    }
  }

  /** Precompute every user's pre-trained list now (otherwise done lazily, per user, on first use). */
  warmPretrainedLists(): void {
    const all = new Int32Array(this.numUsers);
    for (let u = 0; u < this.numUsers; u++) all[u] = u;
    this.ensurePretrained(all);
  }

  /**
   * One round for `users` with actions `[users.length * dim]`. Users whose episode already ended are frozen:
   * reward 0, done 1, `info.active` 0. info: `items`/`accepted` `[n * slateSize]` (RL list first), `improvement`
   * and `distance` (L1 to optimal after the round) `[n]`, `improved` `[n]` (1 when closer to optimal than at the
   * episode start), `active` `[n]`.
   */
  stepUsers(users: Int32Array, actions: Float32Array): StepResult {
    const n = users.length;
    const cfg = this.config;
    const C = this.numClusters;
    const K = cfg.rlListSize;
    const P = cfg.pretrainedListSize;
    const S = this.slateSize;
    checkActions(actions, 'continuous', n, this.dim, 'UserBeliefSim.step(actions)');
    const bad = firstNonFinite(actions);
    if (bad >= 0) {
      throw new InvalidArgumentError('non-finite action', { where: `UserBeliefSim.step(actions[${bad}])`, expected: 'finite numbers in [-1, 1]', got: actions[bad], hint: 'check the actor for NaN (exploding weights)' });
    }
    const items = new Int32Array(n * S);
    const accepted = new Uint8Array(n * S);
    const reward = new Float32Array(n);
    const done = new Uint8Array(n);
    const active = new Uint8Array(n);
    const improvement = new Float32Array(n);
    const distance = new Float32Array(n);
    const improved = new Uint8Array(n);

    // 1. Match actions to the RL list.
    const rl = new Int32Array(n * K);
    this.matcher.topK(actions, n, K, rl);
    if (P > 0) this.ensurePretrained(users);
    const W = this.pretrainedWidth;
    const pre = this.pretrained;
    // The hot loop reads locals, not properties (same arithmetic, in the same order, as the per-item description).
    const beliefs = this.beliefs;
    const itemCluster = this.data.itemCluster;
    const itemDistance = this.data.itemDistance;
    const { useSigmoid, maxDistance, sigmoidScale, baseline, fallbackAcceptance, beliefStep, roundsPerEpisode } = cfg;
    for (let i = 0; i < n; i++) {
      const u = users[i];
      if (this.round[u] >= roundsPerEpisode) {
        done[i] = 1;
        const d = this.distanceToOptimal(u);
        distance[i] = d;
        improved[i] = d < this.startDistance[u] - 1e-9 ? 1 : 0;
        continue;
      }
      active[i] = 1;
      // 2. The slate: RL list, then the pre-trained list without items the RL list holds.
      const o = i * S;
      for (let t = 0; t < K; t++) items[o + t] = rl[i * K + t];
      let filled = 0;
      for (let r = 0; r < W && filled < P; r++) {
        const it = pre[u * W + r];
        let t = 0;
        while (t < K && rl[i * K + t] !== it) t++;
        if (t === K) items[o + K + filled++] = it;
      }
      for (let r = 0; filled < P; r++) items[o + K + filled++] = pre[u * W + (r % W)];

      // 3. Acceptance and the immediate belief update, item by item.
      const b = u * C;
      let topCluster = 0;
      for (let c = 1; c < C; c++) if (beliefs[b + c] > beliefs[b + topCluster]) topCluster = c;
      const dBefore = this.distanceToOptimal(u);
      const key = drawKey(this.drawSeed, u, this.episode[u], this.round[u]);
      let nAccepted = 0;
      let exploring = 0;
      for (let s = 0; s < S; s++) {
        const it = items[o + s];
        const c = itemCluster[it];
        let p: number;
        if (useSigmoid) {
          const f = 1 - itemDistance[it] / maxDistance;
          p = (f > 0 ? f : 0) / (1 + Math.exp(-beliefs[b + c] * sigmoidScale)) + baseline;
        } else {
          p = fallbackAcceptance;
        }
        if (drawFromKey(key, s) >= p) continue;
        accepted[o + s] = 1;
        nAccepted++;
        if (c !== topCluster) exploring++;
        beliefs[b + c] += beliefStep;
        this.constrain(u);
      }
      // 4. Reward.
      const dAfter = this.distanceToOptimal(u);
      improvement[i] = dBefore - dAfter;
      distance[i] = dAfter;
      improved[i] = dAfter < this.startDistance[u] - 1e-9 ? 1 : 0;
      reward[i] = this.roundReward(u, dBefore, dAfter, nAccepted / S, exploring);
      this.round[u]++;
      done[i] = this.round[u] >= roundsPerEpisode ? 1 : 0;
    }
    return { obs: this.observe(users), reward, done, info: { items, accepted, improvement, distance, improved, active } };
  }

  /** Clamp at 0, renormalise when the sum exceeds 1, cap at the optimal belief. */
  private constrain(u: number): void {
    const C = this.numClusters;
    const b = u * C;
    const beliefs = this.beliefs;
    const opt = this.data.optimalBeliefs;
    const ob = this.optimalRow(u);
    let sum = 0;
    for (let c = 0; c < C; c++) {
      if (beliefs[b + c] < 0) beliefs[b + c] = 0;
      sum += beliefs[b + c];
    }
    if (sum > 1) for (let c = 0; c < C; c++) beliefs[b + c] /= sum;
    for (let c = 0; c < C; c++) if (beliefs[b + c] > opt[ob + c]) beliefs[b + c] = opt[ob + c];
  }

  /**
   * The round's reward for user `u`. 'distance' mode: `rewardScale x (dBefore - dAfter)` when the improvement
   * reaches `improvementThreshold` (times `1 + progress` when progressive); otherwise the maintenance reward in a
   * good state, else the (small or negative) raw improvement; plus `explorationBonus` per accepted item outside the
   * user's top cluster. 'engagement-alignment' mode: `maxReward x (we x acceptedShare + wa x cos(beliefs, optimal))`.
   * Clipped to [-maxReward, maxReward].
   */
  private roundReward(u: number, dBefore: number, dAfter: number, acceptedShare: number, exploring: number): number {
    const cfg = this.config;
    let r: number;
    if (cfg.rewardMode === 'engagement-alignment') {
      const C = this.numClusters;
      let dot = 0, nb = 0, no = 0;
      for (let c = 0; c < C; c++) {
        const bc = this.beliefs[u * C + c];
        const oc = this.optimal(u, c);
        dot += bc * oc;
        nb += bc * bc;
        no += oc * oc;
      }
      const cos = nb > 0 && no > 0 ? dot / Math.sqrt(nb * no) : 0;
      r = cfg.maxReward * (cfg.engagementWeight * acceptedShare + cfg.alignmentWeight * cos);
    } else {
      const imp = dBefore - dAfter;
      // 1e-6 absorbs float32 rounding: one accepted item removes exactly beliefStep (0.01) of distance.
      if (imp >= cfg.improvementThreshold - 1e-6) {
        r = cfg.rewardScale * imp;
        if (cfg.progressive) {
          const d0 = this.startDistance[u];
          r *= 1 + (d0 > 0 ? Math.max(0, 1 - dAfter / d0) : 1);
        }
      } else if (dAfter <= cfg.goodStateDistance) {
        r = cfg.maintenanceFactor * cfg.rewardScale * cfg.improvementThreshold;
      } else {
        r = cfg.rewardScale * imp;
      }
      r += cfg.explorationBonus * exploring;
    }
    return r > cfg.maxReward ? cfg.maxReward : r < -cfg.maxReward ? -cfg.maxReward : r;
  }

  /** The `current_user_beliefs.json` document for the current state. */
  beliefsDocument(episode: number): Record<string, unknown> {
    const C = this.numClusters;
    const users: Record<string, unknown> = {};
    for (let u = 0; u < this.numUsers; u++) {
      const id = this.data.userIds ? String(this.data.userIds[u]) : String(u);
      users[id] = {
        beliefs: Array.from(this.beliefs.subarray(u * C, (u + 1) * C)),
        pp1_distance: this.distanceToOptimal(u),
        cluster_distances: Array.from(this.data.userClusterDistances.subarray(u * C, (u + 1) * C)),
      };
    }
    return { episode, timestamp: new Date().toISOString(), total_users: this.numUsers, users };
  }
}

/** Euclidean distance from each user embedding to each cluster centre (mean of the cluster's item embeddings). */
export function computeUserClusterDistances(userEmb: Float32Array, itemEmb: Float32Array, itemCluster: Int32Array, dim: number, C: number): Float32Array {
  const centres = clusterCentres(itemEmb, itemCluster, dim, C);
  const nU = userEmb.length / dim;
  const out = new Float32Array(nU * C);
  for (let u = 0; u < nU; u++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const d = userEmb[u * dim + j] - centres[c * dim + j];
        s += d * d;
      }
      out[u * C + c] = Math.sqrt(s);
    }
  }
  return out;
}

/** Mean item embedding per cluster `[C * dim]` (zero for an empty cluster). */
export function clusterCentres(itemEmb: Float32Array, itemCluster: Int32Array, dim: number, C: number): Float32Array {
  const centres = new Float32Array(C * dim);
  const counts = new Int32Array(C);
  for (let i = 0; i < itemCluster.length; i++) {
    const c = itemCluster[i];
    counts[c]++;
    for (let j = 0; j < dim; j++) centres[c * dim + j] += itemEmb[i * dim + j];
  }
  for (let c = 0; c < C; c++) if (counts[c] > 0) for (let j = 0; j < dim; j++) centres[c * dim + j] /= counts[c];
  return centres;
}

export interface UserBeliefEnvOptions {
  /** Users per step. Default: the config's populationBatch, or the population when smaller. */
  batchSize?: number;
}

/**
 * The RecEnv view of a UserBeliefSim: `reset(users)` starts 20-round episodes for a batch of users (omitted: the
 * next `batchSize` users of the population in order, wrapping around); `step(actions [batch * 64])` plays one round.
 * Observation `[batch, obsSize]` (69, or 74 with `observeGap`); action: continuous, 64-d in [-1, 1].
 */
export class UserBeliefEnv implements RecEnv {
  readonly name = 'user-belief-sim';
  readonly observation: { shape: readonly number[] };
  readonly action: ContinuousActionSpace;
  readonly batchSize: number;
  readonly sim: UserBeliefSim;
  private users: Int32Array | null = null;
  private cursor = 0;
  constructor(sim: UserBeliefSim, options: UserBeliefEnvOptions = {}) {
    this.sim = sim;
    this.batchSize = options.batchSize ?? Math.min(sim.config.populationBatch, sim.numUsers);
    check(
      Number.isInteger(this.batchSize) && this.batchSize > 0 && this.batchSize <= sim.numUsers,
      'UserBeliefEnv(batchSize)',
      `an integer in [1, numUsers = ${sim.numUsers}] (a user appears at most once per batch)`,
      this.batchSize,
    );
    this.observation = { shape: [sim.obsSize] };
    this.action = { type: 'continuous', dim: sim.dim, low: -1, high: 1 };
  }

  /** Re-seed: restarts the population cursor and every user's episode counter (so trajectories repeat). */
  seed(seed: number): void {
    this.cursor = 0;
    this.users = null;
    this.sim.setSeed(seed);
  }

  reset(users?: Int32Array): Float32Array {
    let u: Int32Array;
    if (users) {
      checkUsers(users, this.batchSize, this.sim.numUsers, 'UserBeliefEnv.reset(users)');
      const seen = new Set<number>();
      for (let i = 0; i < users.length; i++) {
        if (seen.has(users[i])) {
          throw new InvalidArgumentError('user twice in one batch', {
            where: `UserBeliefEnv.reset(users[${i}])`,
            expected: 'distinct users (each holds one belief state)',
            got: users[i],
          });
        }
        seen.add(users[i]);
      }
      u = users.slice();
    } else {
      u = new Int32Array(this.batchSize);
      for (let i = 0; i < this.batchSize; i++) u[i] = (this.cursor + i) % this.sim.numUsers;
      this.cursor = (this.cursor + this.batchSize) % this.sim.numUsers;
    }
    this.sim.resetUsers(u);
    this.users = u;
    return this.sim.observe(u);
  }

  /** The users of the current batch. */
  currentUsers(): Int32Array {
    return this.users ? this.users.slice() : new Int32Array(0);
  }

  step(actions: Int32Array | Float32Array): StepResult {
    if (!this.users) notReset('UserBeliefEnv.step');
    checkActions(actions, 'continuous', this.batchSize, this.sim.dim, 'UserBeliefEnv.step(actions)');
    return this.sim.stepUsers(this.users, actions as Float32Array);
  }
}

export interface BeliefEpisodeOptions {
  /** Episode number written to the beliefs file. Default 0. */
  episode?: number;
  /** Folder for `current_user_beliefs.json` (written atomically after the episode); omitted: not written. */
  outDir?: string;
  /** Called after each batch of each round (e.g. to store transitions for the agent). */
  onBatch?: (b: { round: number; users: Int32Array; obs: Float32Array; actions: Float32Array; result: StepResult }) => void;
}

export interface BeliefEpisodeMetrics {
  rounds: number;
  users: number;
  /** Accepted / recommended items over the episode. */
  acceptanceRate: number;
  /** Users whose L1 distance to optimal shrank over the episode, and their share in percent. */
  usersImproved: number;
  usersImprovedPct: number;
  /** Mean reward per user per round. */
  averageReward: number;
  /** Mean reward in the last round minus the first. */
  rewardTrend: number;
  totalReward: number;
  /** Distinct items recommended (both lists) over the episode / catalogue size. */
  coverage: number;
  /** Mean L1 distance to optimal beliefs at the start and at the end of the episode. */
  startDistance: number;
  finalDistance: number;
  secondsPerRound: number;
  /** Per-round mean reward and acceptance rate. */
  roundReward: Float64Array;
  roundAcceptance: Float64Array;
}

/**
 * One episode over the whole population, round-major: beliefs reset, then `roundsPerEpisode` rounds, each over all
 * users in batches of `populationBatch`; finally `current_user_beliefs.json` is written atomically when `outDir`
 * is given. The policy sees `[n, obsSize]` observations, n = the batch (the last batch may be smaller).
 */
export async function runBeliefEpisode(env: UserBeliefEnv, policy: Policy, options: BeliefEpisodeOptions = {}): Promise<BeliefEpisodeMetrics> {
  const sim = env.sim;
  const cfg = sim.config;
  const R = cfg.roundsPerEpisode;
  const B = cfg.populationBatch;
  const N = sim.numUsers;
  sim.resetUsers();
  const startDist = sim.startDistance.slice();
  const roundReward = new Float64Array(R);
  const roundAcceptance = new Float64Array(R);
  let total = 0;
  let acceptedAll = 0;
  let seconds = 0;
  const seen = new Uint8Array(sim.numItems);
  let distinct = 0;
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    let acc = 0;
    let rsum = 0;
    for (let s = 0; s < N; s += B) {
      const n = Math.min(B, N - s);
      const users = new Int32Array(n);
      for (let i = 0; i < n; i++) users[i] = s + i;
      const obs = sim.observe(users);
      const actions = policy.act(obs, env);
      if (!(actions instanceof Float32Array)) {
        throw new ShapeError('policy returned the wrong action type', { where: `runBeliefEpisode(${policy.name}.act)`, expected: 'Float32Array [n * dim]', got: actions });
      }
      const result = sim.stepUsers(users, actions);
      for (let i = 0; i < n; i++) rsum += result.reward[i];
      const a = result.info.accepted;
      for (let i = 0; i < a.length; i++) acc += a[i];
      const items = result.info.items;
      for (let i = 0; i < items.length; i++) {
        if (!seen[items[i]]) {
          seen[items[i]] = 1;
          distinct++;
        }
      }
      options.onBatch?.({ round: r, users, obs, actions, result });
    }
    seconds += (performance.now() - t0) / 1000;
    roundReward[r] = rsum / N;
    roundAcceptance[r] = acc / (N * sim.slateSize);
    total += rsum;
    acceptedAll += acc;
  }
  let improved = 0;
  let d0 = 0;
  let d1 = 0;
  for (let u = 0; u < N; u++) {
    const d = sim.distanceToOptimal(u);
    if (d < startDist[u] - 1e-9) improved++;
    d0 += startDist[u];
    d1 += d;
  }
  if (options.outDir !== undefined) {
    await writeJsonAtomic(`${options.outDir}/current_user_beliefs.json`, sim.beliefsDocument(options.episode ?? 0));
  }
  return {
    rounds: R,
    users: N,
    acceptanceRate: acceptedAll / (N * R * sim.slateSize),
    usersImproved: improved,
    usersImprovedPct: (100 * improved) / N,
    averageReward: total / (N * R),
    rewardTrend: roundReward[R - 1] - roundReward[0],
    totalReward: total,
    coverage: distinct / sim.numItems,
    startDistance: d0 / N,
    finalDistance: d1 / N,
    secondsPerRound: seconds / R,
    roundReward,
    roundAcceptance,
  };
}
