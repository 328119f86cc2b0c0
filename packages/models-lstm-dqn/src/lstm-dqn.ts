/**
 * LSTM-DQN (Fan & Lin, IPEC 2022): a DQN whose Q-network reads the user's recent behaviour sequence with an LSTM.
 * Reads top to bottom: config and defaults, the agent (networks, replay, update step, acting, recommending),
 * the training loop, checkpoints. Networks live in network.ts / rnn.ts / attention.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  check,
  EnvContractError,
  exponentialSchedule,
  InvalidArgumentError,
  latestCheckpoint,
  linearSchedule,
  loadCheckpoint,
  ModelFormatError,
  NotAvailableError,
  onInterrupt,
  packArrays,
  ReplayBuffer,
  Rng,
  RunLogger,
  saveCheckpoint,
  stepSchedule,
  unpackArrays,
  type PackableArray,
  type PrioritizedOptions,
  type ReplayState,
  type RngState,
  Adam,
  clipByGlobalNorm,
  softUpdate,
} from '@rec/core';
import type { Policy, RecEnv } from '@rec/env';
import { actionValues, headParamNames, networkParamShapes, paperNetwork, qValues, variantNetwork, validateNetwork, type NetworkConfig } from './network.js';
import { countParameters, createVariables, disposeVariables, readVariables, writeVariables, type ParamVariables } from './params.js';
import { SimdForward } from './simd-forward.js';

import { StreamingTopK } from './topk.js';
import { ItemVocab, itemIdsToVocab } from './vocab.js';

// ---------------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------------

/** Exponential epsilon decay presets (per episode). */
export const EPSILON_PRESETS = { fast: 0.99, medium: 0.995, slow: 0.999 } as const;

export interface LstmDqnConfig {
  /** The Q-network (see `paperNetwork`, `variantNetwork`). `numActions` = vocabulary size. */
  network: NetworkConfig;
  /** Seed of every random choice (init, exploration, replay sampling, dropout). */
  seed: number;
  /** Discount factor. */
  gamma: number;
  /** Adam learning rate at step 0. */
  learningRate: number;
  /** Multiply the learning rate by `lrDecay` every `lrDecayEvery` gradient steps. */
  lrDecayEvery: number;
  lrDecay: number;
  /** Clip gradients to this global L2 norm (0 = off). */
  clipNorm: number;
  /** Transitions per gradient step. */
  batchSize: number;
  /** Replay capacity (transitions). */
  bufferSize: number;
  /** Transitions in the buffer before the first gradient step. */
  learningStarts: number;
  /** Environment steps (batched) between gradient steps. */
  trainEvery: number;
  /** Gradient steps each time training runs. */
  gradientSteps: number;
  /** Prioritized replay (sum-tree, alpha, beta annealed to 1) or uniform (false). */
  prioritized: boolean | PrioritizedOptions;
  /** Hard target sync every this many gradient steps (used when tau = 1). */
  targetSyncEvery: number;
  /** Soft target update rate per gradient step; 1 = hard sync every `targetSyncEvery`. */
  tau: number;
  /** Double DQN: the online network picks the next action, the target network values it. */
  doubleDqn: boolean;
  /** n-step returns. */
  nStep: number;
  /** Epsilon-greedy exploration, indexed by finished episodes. */
  epsilonStart: number;
  epsilonEnd: number;
  epsilonDecay: 'linear' | 'exponential';
  /** Linear: episodes to go from start to end. */
  epsilonDecayEpisodes: number;
  /** Exponential: multiplier per episode (`EPSILON_PRESETS`: 0.99 / 0.995 / 0.999). */
  epsilonRate: number;
  /** Users with fewer actions than this get popularity recommendations (flagged `coldStart`). */
  coldStartThreshold: number;
  /** Gradient steps run by each `updateFromFeedback` call. */
  feedbackTrainSteps: number;
  /**
   * When the environment names the logged next purchase (`info.target`, as @rec/env's replay env does), also store
   * it as a rewarded one-step transition, whatever the agent recommended: learning from the log's own behaviour.
   */
  learnFromLoggedTargets: boolean;
  /**
   * Slates: `first` stores one transition per step (the rewarded item when `info.target` names it, else the top
   * item); `each` also stores every other shown item as a one-step transition (reward 1 only for the purchase),
   * which pushes down items the greedy policy over-rates. `each` needs `info.target` from the environment.
   */
  slateCredit: 'first' | 'each';
  /**
   * Full-information update for logged replay (needs `info.target` and nStep 1): the reward of every item at a
   * step is known (1 for the purchased item, 0 for the rest), so the loss regresses the whole Q row toward
   * `onehot(purchase) + gamma * Q_target(s', a*)` instead of the taken action only. Off by default (the paper's DQN).
   */
  fullInformation: boolean;
  /**
   * Supervised loss on the logged next item (the demonstrator's action, `info.target`), added to the TD loss on the
   * same Q-head, as in DQfD (Hester et al. 2018) and the supervised heads of SQN (Xin et al. 2020):
   * - `'margin'`: DQfD's large-margin loss `max_a [Q(s, a) + margin [a != a_E]] - Q(s, a_E)`, which keeps Q on the
   *   value scale and only needs the logged item to outrank the rest by `demoMargin`;
   * - `'softmax'`: cross-entropy of `softmax(Q / demoTemperature)` against the logged item, which pushes every item
   *   down in proportion to its probability (the loss of supervised next-item models such as GRU4Rec and SASRec);
   * - `'none'` (default): the paper's DQN.
   * Rows whose logged item is unknown or out of vocabulary get no supervised term.
   */
  demoLoss: 'none' | 'margin' | 'softmax';
  /** Weight of the supervised term (DQfD's lambda_2). */
  demoWeight: number;
  /** Margin of `demoLoss: 'margin'` (DQfD's 0.8). */
  demoMargin: number;
  /** Temperature of `demoLoss: 'softmax'`. */
  demoTemperature: number;
  /**
   * Which forward pass scores users for `qValues`, `recommend`, `recommendBatch` and greedy `act` (training always
   * runs on tfjs). `'wasm-simd'`: the SimdForward engine (simd-forward.ts) on a copy of the weights, refreshed
   * whenever they change; `'tfjs'`: the tfjs graph on the active backend; `'auto'` (default): the engine when the
   * network is one it runs (no self-attention), the tfjs backend is `cpu` or `wasm` (a GPU backend keeps its own
   * forward) and the weights fit its memory, else tfjs.
   */
  inference: 'auto' | 'tfjs' | 'wasm-simd';
}

export type LstmDqnOptions = Partial<Omit<LstmDqnConfig, 'network'>> & {
  /** Items the agent chooses among (vocabulary size), when no `vocab` is given. */
  numActions?: number;
  /** Item vocabulary (most popular first); actions are its indices. Default: identity over `numActions`. */
  vocab?: ItemVocab;
  /** `'paper'` (default), `'variant'`, or a network config (merged over the paper network). */
  network?: 'paper' | 'variant' | Partial<NetworkConfig>;
};

export const DEFAULT_CONFIG: Omit<LstmDqnConfig, 'network'> = {
  seed: 0,
  gamma: 0.99,
  learningRate: 1e-3,
  lrDecayEvery: 1000,
  lrDecay: 0.9,
  clipNorm: 10,
  batchSize: 64,
  bufferSize: 100_000,
  learningStarts: 1000,
  trainEvery: 1,
  gradientSteps: 1,
  prioritized: false,
  targetSyncEvery: 1000,
  tau: 1,
  doubleDqn: true,
  nStep: 1,
  epsilonStart: 0.9,
  epsilonEnd: 0.1,
  epsilonDecay: 'exponential',
  epsilonDecayEpisodes: 1000,
  epsilonRate: EPSILON_PRESETS.medium,
  coldStartThreshold: 5,
  feedbackTrainSteps: 1,
  learnFromLoggedTargets: false,
  slateCredit: 'first',
  fullInformation: false,
  demoLoss: 'none',
  demoWeight: 1,
  demoMargin: 0.8,
  demoTemperature: 0.1,
  inference: 'auto',
};

export function resolveConfig(options: LstmDqnOptions): { config: LstmDqnConfig; vocab: ItemVocab } {
  const numActions = options.vocab?.size ?? options.numActions;
  check(Number.isInteger(numActions) && numActions! > 0, 'LstmDqn({numActions | vocab})', 'a positive number of items', numActions, 'Pass numActions (e.g. env.action.numItems) or an ItemVocab.');
  const n = numActions!;
  const net = options.network ?? 'paper';
  const network = net === 'paper' ? paperNetwork(n) : net === 'variant' ? variantNetwork(n) : paperNetwork(n, { ...net, numActions: n });
  validateNetwork(network, 'LstmDqn.network');
  const { vocab, numActions: _n, network: _net, ...rest } = options;
  const config: LstmDqnConfig = { ...DEFAULT_CONFIG, ...rest, network };
  check(['auto', 'tfjs', 'wasm-simd'].includes(config.inference), 'LstmDqn.inference', "'auto', 'tfjs' or 'wasm-simd'", config.inference);
  check(config.gamma >= 0 && config.gamma <= 1, 'LstmDqn.gamma', 'a number in [0, 1]', config.gamma);
  check(Number.isInteger(config.nStep) && config.nStep >= 1, 'LstmDqn.nStep', 'an integer >= 1', config.nStep);
  check(config.tau > 0 && config.tau <= 1, 'LstmDqn.tau', 'a number in (0, 1]', config.tau);
  check(!config.fullInformation || config.nStep === 1, 'LstmDqn.fullInformation', 'nStep 1 (the known reward vector is one step)', config.nStep);
  check(['none', 'margin', 'softmax'].includes(config.demoLoss), 'LstmDqn.demoLoss', "'none', 'margin' or 'softmax'", config.demoLoss);
  check(config.demoWeight >= 0 && Number.isFinite(config.demoWeight), 'LstmDqn.demoWeight', 'a finite number >= 0', config.demoWeight);
  check(config.demoMargin >= 0 && Number.isFinite(config.demoMargin), 'LstmDqn.demoMargin', 'a finite number >= 0', config.demoMargin);
  check(config.demoTemperature > 0 && Number.isFinite(config.demoTemperature), 'LstmDqn.demoTemperature', 'a finite number > 0', config.demoTemperature);
  check(Number.isInteger(config.batchSize) && config.batchSize > 0, 'LstmDqn.batchSize', 'a positive integer', config.batchSize);
  check(config.epsilonDecay === 'linear' || config.epsilonDecay === 'exponential', 'LstmDqn.epsilonDecay', "'linear' or 'exponential'", config.epsilonDecay);
  return { config, vocab: vocab ?? ItemVocab.identity(n) };
}

// ---------------------------------------------------------------------------------------------------------------
// Public result types
// ---------------------------------------------------------------------------------------------------------------

export interface Recommendation {
  /** Item ids, best first. */
  items: Int32Array;
  /** Q-values (or popularity counts for cold-start users). */
  scores: Float32Array;
  /** True when the user had too little history and got popularity-based items. */
  coldStart: boolean;
}

export interface BatchRecommendation {
  /** `[n * k]` item ids, best first per user (-1 pads when fewer than k items are allowed). */
  items: Int32Array;
  scores: Float32Array;
  /** `[n]` 1 where the user got popularity-based items. */
  coldStart: Uint8Array;
}

/** Interactions from production feedback, typed arrays over `n` rows. */
export interface FeedbackBatch {
  /** `[n * seqLen * featureDim]` state when the item was shown. */
  obs: Float32Array;
  /** `[n]` item id shown. */
  items: Int32Array;
  /** `[n]` reward (1 = bought). */
  rewards: Float32Array;
  /** `[n * seqLen * featureDim]` state after the interaction. */
  nextObs: Float32Array;
  /** `[n]` 1 when the session ended. */
  dones: Uint8Array;
}

export interface LearnOptions {
  env: RecEnv;
  /** Episodes to add to this agent's count (user-episodes; see README). */
  episodes: number;
  /** Cap on steps per batched episode (default 1,000). */
  maxEpisodeSteps?: number;
  logger?: RunLogger;
  /** Log line every this many episodes (default 100). */
  logEvery?: number;
  /** Evaluation: an environment to run greedily, or a callback returning metrics. */
  evalEnv?: RecEnv;
  evaluate?: (agent: LstmDqn) => Promise<Record<string, number>> | Record<string, number>;
  /** Episodes between evaluations (default 0 = none). */
  evalEvery?: number;
  evalEpisodes?: number;
  /** Metric that picks the `best` checkpoint (default 'avgReward'). */
  evalMetric?: string;
  /** Root of checkpoints (`ep-N`, `best`, `final`, `latest.json`). */
  checkpointDir?: string;
  /** Episodes between periodic checkpoints (default 0 = only final/best/interrupt). */
  checkpointEvery?: number;
  /** Resume from the latest checkpoint in `checkpointDir` when one exists. */
  resume?: boolean;
  /** Write a checkpoint on SIGINT/SIGTERM (default true when checkpointDir is set). */
  checkpointOnInterrupt?: boolean;
}

export interface LearnResult {
  episodes: number;
  envSteps: number;
  gradientSteps: number;
  /** Mean episode return over this call. */
  avgReward: number;
  /** Fraction of steps with a positive reward over this call. */
  buyRate: number;
  lastLoss: number;
  bestMetric: number | null;
}

/** An environment whose state can be saved makes resume exact (optional, duck-typed). */
interface StatefulEnv {
  getState?(): unknown;
  setState?(state: unknown): void;
}

const FORMAT = 'rec-lstm-dqn-checkpoint';
/** Replay `target` value for transitions whose full reward vector is unknown. */
const UNKNOWN_TARGET = -2;
const FORMAT_VERSION = 1;

/**
 * Per-row supervised term of `demoLoss` on Q-values `q` [B, A] against the logged items `target` (vocabulary
 * indices; rows with target < 0 get 0). Exported for tests.
 */
export function demoTerm(q: tf.Tensor, target: Int32Array, c: Pick<LstmDqnConfig, 'demoLoss' | 'demoMargin' | 'demoTemperature'>): tf.Tensor {
  const A = q.shape[1]!;
  const known = Float32Array.from(target, (t) => (t >= 0 ? 1 : 0));
  const oneHot = tf.oneHot(tf.tensor1d(Int32Array.from(target, (t) => Math.max(t, 0)), 'int32'), A, 1, 0, 'float32');
  const mask = tf.tensor1d(known);
  if (c.demoLoss === 'margin') {
    const qE = tf.sum(tf.mul(q, oneHot), 1);
    const lead = tf.max(tf.add(q, tf.mul(tf.sub(1, oneHot), c.demoMargin)), 1); // max_a [Q(s, a) + margin [a != a_E]]
    return tf.mul(tf.sub(lead, qE), mask);
  }
  // Cross-entropy of softmax(Q / T), as T log sum_a exp(Q(s, a) / T) - Q(s, a_E), with its gradient written out:
  // d/dQ = softmax(Q / T) - onehot(a_E). Letting tfjs differentiate logSumExp costs about as much as the rest of
  // the loss on wasm (max, broadcast subtract, exp, sum and log, each taped over [B, A]).
  const T = c.demoTemperature;
  // The one-hot rows go in as an input (not a closure) so they stay alive until the backward pass.
  const ce = tf.customGrad(((x: tf.Tensor, e: tf.Tensor, save: tf.GradSaveFunc) => {
    const z = tf.div(x, T);
    const p = tf.softmax(z);
    save([p, e]);
    return {
      value: tf.sub(tf.mul(tf.logSumExp(z, 1), T), tf.sum(tf.mul(x, e), 1)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
        tf.mul(tf.sub(saved[0], saved[1]), tf.reshape(dy as tf.Tensor, [-1, 1])),
        tf.zerosLike(saved[1]),
      ],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.mul(ce(q, oneHot) as tf.Tensor, mask);
}

// ---------------------------------------------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------------------------------------------

type ReplayFields = {
  obs: { size: number };
  action: { size: number; type: Int32ArrayConstructor };
  reward: { size: number };
  nextObs: { size: number };
  discount: { size: number };
  target: { size: number; type: Int32ArrayConstructor };
};

export class LstmDqn {
  readonly config: LstmDqnConfig;
  readonly vocab: ItemVocab;
  readonly online: ParamVariables;
  readonly target: ParamVariables;
  private readonly adam: Adam;
  readonly replay: ReplayBuffer<ReplayFields>;
  /** Independent streams so that adding a consumer never shifts another's draws. */
  private readonly rngs: { explore: Rng; replay: Rng; dropout: Rng };
  /** Positive-reward counts per vocabulary index (cold-start popularity). */
  readonly popularity: Float64Array;
  envSteps = 0;
  episodes = 0;
  gradientSteps = 0;
  bestMetric: number | null = null;
  private readonly varNames: Map<string, string>;
  private readonly stateSize: number;
  /** The SIMD engine and the variable data ids its weights were copied from (a changed id = stale weights). */
  private engine: SimdForward | null = null;
  private engineIds: object[] = [];
  /** 'auto' only: whether the network and runtime suit the engine (null until first asked; false after a failed build). */
  private engineChoice: boolean | null = null;

  constructor(options: LstmDqnOptions) {
    const { config, vocab } = resolveConfig(options);
    this.config = config;
    this.vocab = vocab;
    const net = config.network;
    this.stateSize = net.seqLen * net.featureDim;
    const root = new Rng(config.seed);
    const initRng = root.split('init');
    this.rngs = { explore: root.split('explore'), replay: root.split('replay'), dropout: root.split('dropout') };
    const shapes = networkParamShapes(net);
    this.online = createVariables(shapes, initRng, true);
    this.target = createVariables(shapes, initRng, false);
    if (net.zeroInitHead) for (const name of headParamNames(net)) tf.tidy(() => this.online[name].assign(tf.zerosLike(this.online[name])));
    softUpdate(this.target, this.online);
    this.varNames = new Map(Object.entries(this.online).map(([name, v]) => [v.name, name]));
    this.adam = new Adam(this.online);
    this.replay = new ReplayBuffer({
      capacity: config.bufferSize,
      fields: { obs: { size: this.stateSize }, action: { size: 1, type: Int32Array }, reward: { size: 1 }, nextObs: { size: this.stateSize }, discount: { size: 1 }, target: { size: 1, type: Int32Array } },
      prioritized: config.prioritized,
    });
    this.popularity = new Float64Array(vocab.size);
  }

  get numActions(): number {
    return this.config.network.numActions;
  }

  /** Exploration rate after `episodes` finished episodes. */
  epsilon(episodes = this.episodes): number {
    const c = this.config;
    return c.epsilonDecay === 'linear'
      ? linearSchedule(c.epsilonStart, c.epsilonEnd, c.epsilonDecayEpisodes)(episodes)
      : exponentialSchedule(c.epsilonStart, c.epsilonEnd, c.epsilonRate)(episodes);
  }

  learningRate(step = this.adam.step): number {
    return stepSchedule(this.config.learningRate, this.config.lrDecayEvery, this.config.lrDecay)(step);
  }

  private checkStates(states: Float32Array, where: string): number {
    if (!(states instanceof Float32Array) || states.length % this.stateSize !== 0 || states.length === 0) {
      throw new InvalidArgumentError('bad state array', {
        where,
        expected: `a Float32Array of n x ${this.config.network.seqLen} x ${this.config.network.featureDim} = n x ${this.stateSize} numbers`,
        got: states,
        hint: 'States are sequences of per-step feature vectors, flattened row-major.',
      });
    }
    return states.length / this.stateSize;
  }

  /**
   * States as the network reads them. With an item-id input (`network.itemInputDim > 0`) the last number of every
   * step is an item id as the environment writes it (a log item index); the network's item table is indexed by
   * vocabulary index, so ids are mapped through the vocabulary here (out of vocabulary and padding -> -1, the
   * table's unknown row). Identity vocabularies and networks without item input get the array itself.
   */
  private networkStates(states: Float32Array): Float32Array {
    const { featureDim, itemInputDim } = this.config.network;
    return itemInputDim > 0 ? itemIdsToVocab(states, featureDim, this.vocab) : states;
  }

  /** Q-values `[n * numActions]` for `n` states (evaluation mode: no dropout). */
  qValues(states: Float32Array): Float32Array {
    const n = this.checkStates(states, 'LstmDqn.qValues(states)');
    const engine = this.inferenceForward();
    return engine ? engine.qValues(this.networkStates(states)) : this.tfjsQValues(states, n);
  }

  /**
   * The forward pass that serves evaluation-mode scoring (`qValues` and what calls it), at any batch size:
   * `'wasm-simd'` or `'tfjs'` (see `config.inference`).
   */
  get inferenceEngine(): 'tfjs' | 'wasm-simd' {
    return this.useEngine() ? 'wasm-simd' : 'tfjs';
  }

  private useEngine(): boolean {
    const mode = this.config.inference;
    if (mode === 'tfjs') return false;
    const net = this.config.network;
    if (mode === 'wasm-simd') {
      // The reason covers both the network (self-attention) and the runtime (no wasm SIMD).
      const why = SimdForward.unsupported(net);
      if (why) throw new NotAvailableError('the wasm-simd inference engine cannot run here', { where: 'LstmDqn.inference', expected: 'a network without self-attention, in a runtime with wasm SIMD', got: why, hint: "Use inference: 'auto' or 'tfjs'." });
      return true;
    }
    // auto: the backend is checked on every call (it can change after construction, e.g. setBackend('webgpu'));
    // whether the network and runtime suit the engine is decided once.
    const backend = tf.getBackend();
    if (backend !== 'cpu' && backend !== 'wasm') return false;
    // On wasm the engine is used at every batch size too: since its spill-free GEMM kernel, side by side against
    // the tfjs graph (paper network, 10k items, top-10) it won from 1 to 1,024 users (8: 3.6 vs 7.1 ms, 64: 26.5 vs
    // 33.7 ms, 1,024: 543 vs 688 ms); see the package README.
    this.engineChoice ??= SimdForward.unsupported(net) === null && countParameters(networkParamShapes(net)) * 4 < 512 * 2 ** 20;
    return this.engineChoice;
  }

  /** The engine with current weights, or null when scoring runs on tfjs. */
  private inferenceForward(): SimdForward | null {
    if (!this.useEngine()) return null;
    const ids = Object.values(this.online).map((v) => (v as unknown as { dataId: object }).dataId);
    if (!this.engine || ids.length !== this.engineIds.length || ids.some((id, i) => id !== this.engineIds[i])) {
      try {
        this.engine = new SimdForward(this.config.network, readVariables(this.online));
      } catch (e) {
        // 'auto' falls back for good (e.g. a browser main thread refuses synchronous compiles over 4 KB, or the
        // wasm memory cannot be reserved); an explicit 'wasm-simd' says why it cannot run.
        if (this.config.inference === 'wasm-simd') throw e;
        this.engineChoice = false;
        this.engine = null;
        return null;
      }
      this.engineIds = ids;
    }
    return this.engine;
  }

  private tfjsQValues(states: Float32Array, n: number): Float32Array {
    const { seqLen, featureDim } = this.config.network;
    // Read the values outside tf.tidy: tidy walks whatever its callback returns looking for tensors, element by
    // element for a typed array (measured: 70% of a 64-user forward went there, 0.5-3 s for 64-256 users x 10k).
    const x = this.networkStates(states);
    const q = tf.tidy(() => qValues(this.online, this.config.network, tf.tensor3d(x, [n, seqLen, featureDim]), { training: false }));
    const values = q.dataSync() as Float32Array;
    q.dispose();
    return values;
  }

  // -------------------------------------------------------------------------------------------------------------
  // The update step
  // -------------------------------------------------------------------------------------------------------------

  /** One gradient step on a replay batch. Returns the loss, or NaN when the buffer is not warm yet. */
  trainStep(): number {
    const c = this.config;
    const net = c.network;
    if (this.replay.size < Math.max(c.learningStarts, 1)) return NaN;
    const B = c.batchSize;
    const { batch, indices, weights } = this.replay.sample(B, this.rngs.replay);
    const seed = this.rngs.dropout.seed();
    const shape: [number, number, number] = [B, net.seqLen, net.featureDim];
    // TD target r + discount * Q_target(s', a*), computed outside the gradient tape.
    const target = tf.tidy(() => {
      const nextObs = tf.tensor3d(this.networkStates(batch.nextObs as Float32Array), shape);
      const qNextTarget = qValues(this.target, net, nextObs, { training: false });
      let next: tf.Tensor;
      if (c.doubleDqn) {
        const best = tf.argMax(qValues(this.online, net, nextObs, { training: false }), 1);
        next = tf.sum(tf.mul(qNextTarget, tf.oneHot(best, net.numActions, 1, 0, 'float32')), 1);
      } else next = tf.max(qNextTarget, 1);
      return tf.mul(tf.tensor1d(batch.discount as Float32Array), next); // discount * Q_target(s', a*)
    });
    const huber = (d: tf.Tensor) => {
      // Huber(delta = 1): with m = min(|d|, 1), 0.5 m^2 + (|d| - m).
      const absd = tf.abs(d);
      const m = tf.minimum(absd, 1);
      return tf.add(tf.mul(tf.square(m), 0.5), tf.sub(absd, m));
    };
    const full = c.fullInformation && (batch.target as Int32Array).some((t) => t >= -1);
    let tdAbs: tf.Tensor | null = null;
    const loss = tf.tidy(() => {
      const obs = tf.tensor3d(this.networkStates(batch.obs as Float32Array), shape);
      const actions = tf.tensor1d(batch.action as Int32Array, 'int32');
      const isWeights = tf.tensor1d(weights);
      const varList = Object.values(this.online);
      const { value, grads } = tf.variableGrads(() => {
        const y = tf.add(tf.tensor1d(batch.reward as Float32Array), target);
        let perRow: tf.Tensor;
        const demo = c.demoLoss !== 'none' && c.demoWeight > 0 && (batch.target as Int32Array).some((t) => t >= 0);
        let q: tf.Tensor | null = null;
        if (!full && !demo) {
          const qa = actionValues(this.online, net, obs, actions, { training: true, seed }); // Q(s, a) of the taken actions
          perRow = huber(tf.sub(qa, y));
        } else {
          q = qValues(this.online, net, obs, { training: true, seed });
          const qa = tf.sum(tf.mul(q, tf.oneHot(actions, net.numActions, 1, 0, 'float32')), 1);
          perRow = huber(tf.sub(qa, y));
          if (full) {
            // Full information (logged replay): every action's reward is known, [a == purchased item], so rows with
            // a known target regress the whole Q row toward onehot(target) + discount * next; other rows the taken action.
            const tgt = tf.tensor1d(batch.target as Int32Array, 'int32');
            const yFull = tf.add(tf.oneHot(tgt, net.numActions, 1, 0, 'float32'), tf.reshape(target, [B, 1]));
            const rowFull = tf.mean(huber(tf.sub(q, yFull)), 1);
            perRow = tf.where(tf.greaterEqual(tgt, -1), rowFull, perRow);
          }
        }
        // Priorities follow the TD error only (as DQfD's), not the supervised term.
        if (this.replay.prioritized) tdAbs = tf.keep(perRow);
        if (demo) perRow = tf.add(perRow, tf.mul(demoTerm(q!, batch.target as Int32Array, c), c.demoWeight));
        return tf.mean(tf.mul(perRow, isWeights)) as tf.Scalar;
      }, varList);
      const named: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) named[this.varNames.get(vn)!] = g;
      const clipped = clipByGlobalNorm(named, c.clipNorm);
      this.adam.apply(this.online, clipped.grads, this.learningRate());
      return value.dataSync()[0];
    });
    target.dispose();
    if (tdAbs) {
      const td = (tdAbs as tf.Tensor).dataSync();
      (tdAbs as tf.Tensor).dispose();
      this.replay.updatePriorities(indices, td);
    }
    this.gradientSteps++;
    if (c.tau < 1) softUpdate(this.target, this.online, c.tau);
    else if (this.gradientSteps % c.targetSyncEvery === 0) softUpdate(this.target, this.online);
    return loss;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Acting and recommending
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Epsilon-greedy slates for `n` states: `[n * slate]` vocabulary indices. `excluded(row)` lists vocabulary indices
   * a row may not get (masking).
   */
  act(states: Float32Array, slate: number, epsilon: number, excluded?: (row: number) => Set<number> | null): Int32Array {
    const n = this.checkStates(states, 'LstmDqn.act(states)');
    const N = this.numActions;
    const out = new Int32Array(n * slate);
    const explore = new Uint8Array(n);
    for (let i = 0; i < n; i++) explore[i] = this.rngs.explore.next() < epsilon ? 1 : 0;
    // Greedy acting (evaluation) scores like recommendBatch; exploring acting (training) stays on tfjs, where a
    // weight change every step would make the engine copy the weights each call.
    const q = explore.every((e) => e === 1) ? null : epsilon === 0 ? this.qValues(states) : this.tfjsQValues(states, n);
    for (let i = 0; i < n; i++) {
      const ex = excluded?.(i) ?? null;
      if (explore[i]) {
        const chosen = new Set<number>();
        for (let s = 0; s < slate; s++) {
          let a = this.rngs.explore.int(N);
          for (let tries = 0; (chosen.has(a) || ex?.has(a)) && tries < 32; tries++) a = this.rngs.explore.int(N);
          chosen.add(a);
          out[i * slate + s] = a;
        }
      } else {
        const top = new StreamingTopK(slate);
        top.pushRange(q!, i * N, (i + 1) * N, 0, ex ? (id) => ex.has(id) : undefined);
        const r = top.result().items;
        for (let s = 0; s < slate; s++) out[i * slate + s] = s < r.length ? r[s] : 0;
      }
    }
    return out;
  }

  /** Steps of history in a state: rows that are not all zero (histories are zero-padded at the front). */
  historyLength(states: Float32Array, row: number): number {
    const { seqLen, featureDim } = this.config.network;
    let count = 0;
    for (let t = 0; t < seqLen; t++) {
      const off = row * this.stateSize + t * featureDim;
      for (let f = 0; f < featureDim; f++) {
        if (states[off + f] !== 0) {
          count++;
          break;
        }
      }
    }
    return count;
  }

  /** Top-k items for one user's state, excluding `exclude` (item ids). */
  recommend(state: Float32Array, k: number, options: { exclude?: ArrayLike<number>; historyLength?: number } = {}): Recommendation {
    const exclude = options.exclude ?? [];
    const r = this.recommendBatch(state, k, {
      exclude: { offsets: Int32Array.of(0, exclude.length), items: Int32Array.from(exclude) },
      historyLengths: options.historyLength === undefined ? undefined : Int32Array.of(options.historyLength),
    });
    let m = 0;
    while (m < k && r.items[m] >= 0) m++;
    return { items: r.items.slice(0, m), scores: r.scores.slice(0, m), coldStart: r.coldStart[0] === 1 };
  }

  /**
   * Top-k for `n` users at once. `exclude` is CSR over the users (item ids); `historyLengths` overrides the
   * history count read from the states (cold start below `coldStartThreshold`).
   */
  recommendBatch(states: Float32Array, k: number, options: { exclude?: { offsets: Int32Array; items: Int32Array }; historyLengths?: Int32Array } = {}): BatchRecommendation {
    const n = this.checkStates(states, 'LstmDqn.recommendBatch(states)');
    check(Number.isInteger(k) && k > 0, 'LstmDqn.recommendBatch(k)', 'a positive integer', k);
    const ex = options.exclude;
    if (ex) check(ex.offsets.length === n + 1, 'LstmDqn.recommendBatch(exclude.offsets)', `n + 1 = ${n + 1} offsets (CSR)`, ex.offsets.length);
    if (options.historyLengths) check(options.historyLengths.length === n, 'LstmDqn.recommendBatch(historyLengths)', `${n} lengths`, options.historyLengths.length);
    const N = this.numActions;
    const cold = new Uint8Array(n);
    for (let i = 0; i < n; i++) cold[i] = (options.historyLengths ? options.historyLengths[i] : this.historyLength(states, i)) < this.config.coldStartThreshold ? 1 : 0;
    const warmRows = Array.from({ length: n }, (_, i) => i).filter((i) => !cold[i]);
    let q: Float32Array | null = null;
    if (warmRows.length === n) q = this.qValues(states);
    else if (warmRows.length > 0) {
      const sub = new Float32Array(warmRows.length * this.stateSize);
      warmRows.forEach((row, j) => sub.set(states.subarray(row * this.stateSize, (row + 1) * this.stateSize), j * this.stateSize));
      q = this.qValues(sub);
    }
    const items = new Int32Array(n * k).fill(-1);
    const scores = new Float32Array(n * k).fill(-Infinity);
    let w = 0;
    for (let i = 0; i < n; i++) {
      const exSet = ex && ex.offsets[i + 1] > ex.offsets[i] ? new Set<number>() : null;
      if (exSet) for (let j = ex!.offsets[i]; j < ex!.offsets[i + 1]; j++) exSet.add(this.vocab.indexOf(ex!.items[j]));
      const top = new StreamingTopK(k);
      const skip = exSet ? (id: number) => exSet.has(id) : undefined;
      if (cold[i]) top.pushRange(this.popularity, 0, N, 0, skip);
      else {
        top.pushRange(q!, w * N, (w + 1) * N, 0, skip);
        w++;
      }
      const r = top.result();
      for (let s = 0; s < r.items.length; s++) {
        items[i * k + s] = this.vocab.toItem[r.items[s]];
        scores[i * k + s] = r.scores[s];
      }
    }
    return { items, scores, coldStart: cold };
  }

  /** Count positive-reward items (item ids) toward cold-start popularity. */
  addPopularity(items: ArrayLike<number>, rewards?: ArrayLike<number>): void {
    for (let i = 0; i < items.length; i++) {
      if (rewards && !(rewards[i] > 0)) continue;
      const a = this.vocab.indexOf(items[i]);
      if (a >= 0) this.popularity[a] += rewards ? rewards[i] : 1;
    }
  }

  /**
   * Set the Q-head's per-item bias (`head.q.bias`, or `items.bias` for the embedding head) of the online and target
   * networks to `bias` (one value per vocabulary index). Call before training, e.g. to start from a popularity
   * ranking (`initHeadBiasFromPopularity`).
   */
  initHeadBias(bias: ArrayLike<number>): void {
    const name = this.config.network.head === 'dense' ? 'head.q.bias' : 'items.bias';
    check(bias.length === this.numActions, 'LstmDqn.initHeadBias(bias)', `${this.numActions} values (one per vocabulary index)`, bias.length);
    const values = Float32Array.from(bias);
    check(values.every(Number.isFinite), 'LstmDqn.initHeadBias(bias)', 'finite numbers', 'a NaN or infinite value');
    for (const vars of [this.online, this.target]) tf.tidy(() => vars[name].assign(tf.tensor1d(values)));
  }

  /**
   * Start the Q-head from the popularity counts gathered by `addPopularity`: bias = scale * (log(1 + count) - mean).
   * With `demoLoss: 'softmax'` and scale = `demoTemperature`, softmax(Q / T) of a zero-initialised head is then
   * proportional to 1 + count (the most-popular ranking), and training learns the state-dependent part on top (as
   * @rec/eval's GRU4Rec does with `popularityBias`).
   */
  initHeadBiasFromPopularity(scale = this.config.demoTemperature): void {
    const n = this.numActions;
    const b = new Float64Array(n);
    let mean = 0;
    for (let a = 0; a < n; a++) mean += (b[a] = Math.log1p(this.popularity[a])) / n;
    this.initHeadBias(Float32Array.from(b, (v) => scale * (v - mean)));
  }

  /** Store production feedback as one-step transitions and run `feedbackTrainSteps` gradient steps. */
  updateFromFeedback(f: FeedbackBatch): { stored: number; skippedOutOfVocab: number; losses: number[] } {
    const n = f.items.length;
    for (const [name, arr, per] of [['obs', f.obs, this.stateSize], ['nextObs', f.nextObs, this.stateSize], ['rewards', f.rewards, 1], ['dones', f.dones, 1]] as const) {
      check(arr.length === n * per, `LstmDqn.updateFromFeedback(${name})`, `${n} x ${per} = ${n * per} values (one row per item)`, arr.length);
    }
    let stored = 0;
    let skipped = 0;
    const g = this.config.gamma;
    for (let i = 0; i < n; i++) {
      const a = this.vocab.indexOf(f.items[i]);
      if (a < 0) {
        skipped++;
        continue;
      }
      this.replay.add({
        obs: f.obs.subarray(i * this.stateSize, (i + 1) * this.stateSize),
        action: a,
        reward: f.rewards[i],
        nextObs: f.nextObs.subarray(i * this.stateSize, (i + 1) * this.stateSize),
        discount: f.dones[i] ? 0 : g,
        target: UNKNOWN_TARGET,
      });
      stored++;
    }
    this.addPopularity(f.items, f.rewards);
    const losses: number[] = [];
    for (let s = 0; s < this.config.feedbackTrainSteps; s++) {
      const l = this.trainStep();
      if (!Number.isNaN(l)) losses.push(l);
    }
    return { stored, skippedOutOfVocab: skipped, losses };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Training loop
  // -------------------------------------------------------------------------------------------------------------

  private checkEnv(env: RecEnv): void {
    const { seqLen, featureDim } = this.config.network;
    const shape = env.observation.shape;
    if (env.action.type !== 'discrete') throw new EnvContractError('LSTM-DQN needs discrete item actions', { where: `learn(env ${env.name})`, expected: "action.type 'discrete'", got: env.action.type });
    if (shape.length !== 2 || shape[0] !== seqLen || shape[1] !== featureDim) {
      throw new EnvContractError('observation shape does not match the network', {
        where: `learn(env ${env.name})`,
        expected: `[${seqLen}, ${featureDim}]`,
        got: `[${shape.join(', ')}]`,
        hint: 'Set network.seqLen / network.featureDim to the environment observation shape.',
      });
    }
  }

  private excludedFn(env: RecEnv): ((row: number) => Set<number> | null) | undefined {
    if (!env.excluded) return undefined;
    const { offsets, items } = env.excluded();
    return (row) => {
      if (offsets[row + 1] <= offsets[row]) return null;
      const s = new Set<number>();
      for (let j = offsets[row]; j < offsets[row + 1]; j++) {
        const a = this.vocab.indexOf(items[j]);
        if (a >= 0) s.add(a);
      }
      return s;
    };
  }

  /** Run the greedy policy for `episodes` user-episodes. */
  evaluate(env: RecEnv, episodes: number, maxEpisodeSteps = 1000): { avgReward: number; buyRate: number; episodes: number } {
    this.checkEnv(env);
    const B = env.batchSize;
    const slate = env.action.type === 'discrete' ? env.action.slateSize : 1;
    let done = 0;
    let total = 0;
    let steps = 0;
    let hits = 0;
    while (done < episodes) {
      let obs = env.reset();
      const live = new Uint8Array(B).fill(1);
      for (let t = 0; t < maxEpisodeSteps && live.some((x) => x); t++) {
        const a = this.act(obs, slate, 0, this.excludedFn(env));
        const res = env.step(this.toItems(a));
        for (let b = 0; b < B; b++) {
          if (!live[b]) continue;
          total += res.reward[b];
          steps++;
          if (res.reward[b] > 0) hits++;
          if (res.done[b]) live[b] = 0;
        }
        obs = res.obs;
      }
      done += B;
    }
    return { avgReward: total / done, buyRate: steps ? hits / steps : 0, episodes: done };
  }

  /** The epsilon-greedy policy (greedy by default) in @rec/env's Policy terms, masking `env.excluded()` items. */
  policy(epsilon = 0): Policy {
    return {
      name: 'lstm-dqn',
      act: (obs, env) => {
        const slate = env.action.type === 'discrete' ? env.action.slateSize : 1;
        return this.toItems(this.act(obs, slate, epsilon, this.excludedFn(env)));
      },
    };
  }

  private toItems(actions: Int32Array): Int32Array {
    return this.vocab.identity ? actions : Int32Array.from(actions, (a) => this.vocab.toItem[a]);
  }

  /**
   * Train for `episodes` more user-episodes (each `reset` of the batched environment starts `batchSize` of them).
   */
  async learn(opts: LearnOptions): Promise<LearnResult> {
    const c = this.config;
    const env = opts.env;
    this.checkEnv(env);
    check(Number.isInteger(opts.episodes) && opts.episodes > 0, 'LstmDqn.learn({episodes})', 'a positive integer', opts.episodes);
    const logger = opts.logger ?? new RunLogger({ quiet: true });
    if (opts.resume && opts.checkpointDir) {
      const dir = await latestCheckpoint(opts.checkpointDir);
      if (dir) {
        await this.restore(dir, env);
        logger.info(`Resumed from ${dir} at episode ${this.episodes}`);
      }
    }
    const B = env.batchSize;
    const slate = env.action.type === 'discrete' ? env.action.slateSize : 1;
    const S = this.stateSize;
    const n = c.nStep;
    const logEvery = opts.logEvery ?? 100;
    const maxSteps = opts.maxEpisodeSteps ?? 1000;
    const goal = this.episodes + opts.episodes;
    const startEpisodes = this.episodes;
    const bar = logger.progress('LSTM-DQN', opts.episodes);
    let stopInterrupt: (() => void) | null = null;
    if (opts.checkpointDir && opts.checkpointOnInterrupt !== false) {
      stopInterrupt = onInterrupt(async () => {
        logger.info(`Interrupted: writing checkpoint at episode ${this.episodes}`);
        await this.saveCheckpoint(opts.checkpointDir!, `ep-${this.episodes}-interrupted`, env);
      });
    }
    // Windows for the log line and the call totals.
    let winReturn = 0;
    let winEpisodes = 0;
    let winSteps = 0;
    let winHits = 0;
    let winLoss = 0;
    let winLossN = 0;
    let totReturn = 0;
    let totSteps = 0;
    let totHits = 0;
    let lastLoss = NaN;
    let winStart = performance.now();
    let winEnvSteps = 0;
    // n-step queues per user slot: obs rows, actions and rewards of the last < n steps.
    const qObs = Array.from({ length: B }, () => new Float32Array(n * S));
    const qAct = Array.from({ length: B }, () => new Int32Array(n));
    const qRew = Array.from({ length: B }, () => new Float32Array(n));
    const qTgt = Array.from({ length: B }, () => new Int32Array(n));
    const qLen = new Int32Array(B);
    const emit = (b: number, nextObs: Float32Array, terminal: boolean) => {
      // Oldest entry: return sum_j gamma^j r_j over the queue, bootstrap gamma^len (0 when terminal).
      const len = qLen[b];
      let ret = 0;
      for (let j = len - 1; j >= 0; j--) ret = qRew[b][j] + c.gamma * ret;
      this.replay.add({
        obs: qObs[b].subarray(0, S),
        action: qAct[b][0],
        reward: ret,
        nextObs: nextObs.subarray(b * S, (b + 1) * S),
        discount: terminal ? 0 : Math.pow(c.gamma, len),
        // The first step's logged item: full information needs nStep 1 (checked); the supervised demoLoss any n.
        target: qTgt[b][0],
      });
      qObs[b].copyWithin(0, S, len * S);
      qAct[b].copyWithin(0, 1, len);
      qRew[b].copyWithin(0, 1, len);
      qTgt[b].copyWithin(0, 1, len);
      qLen[b]--;
    };
    try {
      while (this.episodes < goal) {
        let obs = env.reset();
        const epReturn = new Float64Array(B);
        const live = new Uint8Array(B).fill(1);
        qLen.fill(0);
        // Step until every user is done (done users are stepped along, as @rec/env's rollout does, but nothing
        // of theirs is stored) or until maxEpisodeSteps, where live users end truncated (bootstrapped).
        for (let t = 0; t < maxSteps && live.some((x) => x); t++) {
          const actions = this.act(obs, slate, this.epsilon(), this.excludedFn(env));
          const res = env.step(this.toItems(actions));
          if (res.obs.length !== B * S || res.reward.length !== B || res.done.length !== B) {
            throw new EnvContractError('step result has the wrong size', { where: `env ${env.name}.step`, expected: `obs ${B * S}, reward ${B}, done ${B}`, got: `obs ${res.obs.length}, reward ${res.reward.length}, done ${res.done.length}` });
          }
          this.envSteps++;
          const target = res.info.target instanceof Int32Array && res.info.target.length === B ? res.info.target : null;
          for (let b = 0; b < B; b++) {
            if (!live[b]) continue;
            winEnvSteps++;
            const r = res.reward[b];
            const targetIdx = target && target[b] >= 0 ? this.vocab.indexOf(target[b]) : -1;
            // The stored action is the slate item that earned the reward when the env names it (info.target),
            // otherwise the slate's first item (the one the Q-value ranks highest).
            let a = actions[b * slate];
            if (r > 0 && targetIdx >= 0 && slate > 1) {
              for (let j = 0; j < slate; j++) if (actions[b * slate + j] === targetIdx) a = targetIdx;
            }
            if (c.slateCredit === 'each' && target && slate > 1) {
              // Every other shown item is a one-step transition of its own: reward 1 only if it was the purchase.
              for (let j = 0; j < slate; j++) {
                const item = actions[b * slate + j];
                if (item === a) continue;
                this.replay.add({ obs: obs.subarray(b * S, (b + 1) * S), action: item, reward: item === targetIdx && r > 0 ? 1 : 0, nextObs: res.obs.subarray(b * S, (b + 1) * S), discount: res.done[b] ? 0 : c.gamma, target: UNKNOWN_TARGET });
              }
            }
            if (c.learnFromLoggedTargets && targetIdx >= 0 && !(r > 0 && a === targetIdx)) {
              // The logged next purchase, as a rewarded one-step transition (learning from the log, as in the paper).
              this.replay.add({ obs: obs.subarray(b * S, (b + 1) * S), action: targetIdx, reward: 1, nextObs: res.obs.subarray(b * S, (b + 1) * S), discount: res.done[b] ? 0 : c.gamma, target: UNKNOWN_TARGET });
            }
            const l = qLen[b];
            qObs[b].set(obs.subarray(b * S, (b + 1) * S), l * S);
            qAct[b][l] = a;
            qRew[b][l] = r;
            // Vocabulary index of the step's purchase (-1: none or out of vocabulary), when the env names it.
            qTgt[b][l] = target ? (target[b] >= 0 ? targetIdx : -1) : UNKNOWN_TARGET;
            qLen[b] = l + 1;
            if (res.done[b]) {
              while (qLen[b] > 0) emit(b, res.obs, true);
              live[b] = 0;
            } else if (qLen[b] === n) emit(b, res.obs, false);
            epReturn[b] += r;
            winSteps++;
            totSteps++;
            if (r > 0) {
              winHits++;
              totHits++;
              this.popularity[a] += r;
            }
          }
          if (this.envSteps % c.trainEvery === 0) {
            for (let g = 0; g < c.gradientSteps; g++) {
              const loss = this.trainStep();
              if (!Number.isNaN(loss)) {
                lastLoss = loss;
                winLoss += loss;
                winLossN++;
              }
            }
          }
          obs = res.obs;
        }
        for (let b = 0; b < B; b++) while (qLen[b] > 0) emit(b, obs, false);
        const before = this.episodes;
        this.episodes += B;
        for (let b = 0; b < B; b++) {
          winReturn += epReturn[b];
          totReturn += epReturn[b];
        }
        winEpisodes += B;
        bar.update(Math.min(this.episodes - startEpisodes, opts.episodes), { eps: this.epsilon(), loss: lastLoss });
        if (Math.floor(this.episodes / logEvery) > Math.floor(before / logEvery) || this.episodes >= goal) {
          const sps = (winEnvSteps * 1000) / Math.max(1, performance.now() - winStart);
          const m = {
            avgReward: winReturn / Math.max(1, winEpisodes),
            buyRate: winSteps ? winHits / winSteps : 0,
            loss: winLossN ? winLoss / winLossN : NaN,
            epsilon: this.epsilon(),
          };
          logger.info(`Episode ${this.episodes} | Avg Reward ${m.avgReward.toFixed(3)} | Buy Rate ${m.buyRate.toFixed(4)} | Loss ${m.loss.toFixed(4)} | Epsilon ${m.epsilon.toFixed(3)} | ${sps.toFixed(0)} steps/s`);
          logger.metrics(this.episodes, {
            'charts/episodic_return': m.avgReward,
            'charts/buy_rate': m.buyRate,
            'losses/td_loss': Number.isFinite(m.loss) ? m.loss : null,
            'charts/epsilon': m.epsilon,
            'charts/learning_rate': this.learningRate(),
            'charts/SPS': sps,
            env_steps: this.envSteps,
            gradient_steps: this.gradientSteps,
          });
          winReturn = winEpisodes = winSteps = winHits = winLoss = winLossN = winEnvSteps = 0;
          winStart = performance.now();
        }
        const crossed = (every: number | undefined) => !!every && Math.floor(this.episodes / every) > Math.floor(before / every);
        if (crossed(opts.evalEvery) && (opts.evalEnv || opts.evaluate)) {
          const metrics: Record<string, number> = opts.evaluate ? await opts.evaluate(this) : this.evaluate(opts.evalEnv!, opts.evalEpisodes ?? opts.evalEnv!.batchSize);
          const key = opts.evalMetric ?? 'avgReward';
          const value = metrics[key];
          logger.info(`Eval at episode ${this.episodes}: ${Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' | ')}`);
          logger.metrics(this.episodes, Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`eval/${k}`, v])));
          if (value !== undefined && (this.bestMetric === null || value > this.bestMetric)) {
            this.bestMetric = value;
            if (opts.checkpointDir) await this.saveCheckpoint(opts.checkpointDir, 'best', env);
          }
        }
        if (opts.checkpointDir && crossed(opts.checkpointEvery)) await this.saveCheckpoint(opts.checkpointDir, `ep-${this.episodes}`, env);
        // Yield to the event loop once per batched episode, so SIGINT/SIGTERM handlers (and progress output) run;
        // this is an episode boundary, so the interrupt checkpoint is a consistent resume point.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (opts.checkpointDir) await this.saveCheckpoint(opts.checkpointDir, 'final', env);
    } finally {
      bar.stop();
      stopInterrupt?.();
    }
    const done = this.episodes - startEpisodes;
    return {
      episodes: done,
      envSteps: this.envSteps,
      gradientSteps: this.gradientSteps,
      avgReward: totReturn / Math.max(1, done),
      buyRate: totSteps ? totHits / totSteps : 0,
      lastLoss,
      bestMetric: this.bestMetric,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Checkpoints (everything needed to resume bit for bit)
  // -------------------------------------------------------------------------------------------------------------

  /** Write a checkpoint `name` under `root` (atomic; see @rec/core saveCheckpoint). */
  async saveCheckpoint(root: string, name: string, env?: RecEnv): Promise<string> {
    const replay = this.replay.getState();
    const arrays: Record<string, PackableArray> = {
      ...readVariables(this.online, 'online.'),
      ...readVariables(this.target, 'target.'),
      ...this.adam.getState(),
      popularity: this.popularity,
      'rng.explore': Uint32Array.from(this.rngs.explore.getState()),
      'rng.replay': Uint32Array.from(this.rngs.replay.getState()),
      'rng.dropout': Uint32Array.from(this.rngs.dropout.getState()),
    };
    for (const [k, v] of Object.entries(replay.fields)) arrays[`replay.${k}`] = v;
    if (replay.tree) arrays['replay.tree'] = replay.tree;
    const envState = (env as (RecEnv & StatefulEnv) | undefined)?.getState?.();
    const meta = {
      format: FORMAT,
      formatVersion: FORMAT_VERSION,
      config: this.config,
      vocabSize: this.vocab.size,
      counters: { envSteps: this.envSteps, episodes: this.episodes, gradientSteps: this.gradientSteps, adamStep: this.adam.step },
      bestMetric: this.bestMetric,
      replay: { capacity: replay.capacity, size: replay.size, next: replay.next, sampleCalls: replay.sampleCalls, maxPriority: replay.maxPriority },
      envState: envState === undefined ? null : envState,
    };
    return saveCheckpoint(root, name, { 'state.bin': packArrays(arrays), 'meta.json': JSON.stringify(meta), 'vocab.bin': this.vocab.serialize() }, { episodes: this.episodes });
  }

  /** Restore from a checkpoint directory written by `saveCheckpoint` (and the environment, when it can). */
  async restore(dir: string, env?: RecEnv): Promise<void> {
    const { files } = await loadCheckpoint(dir);
    const meta = JSON.parse(new TextDecoder().decode(files['meta.json']));
    if (meta.format !== FORMAT || meta.formatVersion !== FORMAT_VERSION) {
      throw new ModelFormatError('not an LSTM-DQN checkpoint of a known version', { where: dir, expected: `${FORMAT} v${FORMAT_VERSION}`, got: `${meta.format} v${meta.formatVersion}` });
    }
    const mismatch = diffConfig(meta.config.network, this.config.network);
    if (mismatch.length) {
      throw new ModelFormatError('checkpoint network does not match this agent', {
        where: dir,
        expected: JSON.stringify(Object.fromEntries(mismatch.map((k) => [k, (this.config.network as unknown as Record<string, unknown>)[k]]))),
        got: Object.fromEntries(mismatch.map((k) => [k, meta.config.network[k]])),
        hint: 'Create the agent with the network config the checkpoint was written with.',
      });
    }
    const a = unpackArrays(files['state.bin']);
    writeVariables(this.online, a as Record<string, Float32Array>, `${dir} online`, 'online.');
    writeVariables(this.target, a as Record<string, Float32Array>, `${dir} target`, 'target.');
    this.adam.setState(a as Record<string, Float32Array>, meta.counters.adamStep);
    this.popularity.set(a.popularity as Float64Array);
    this.rngs.explore.setState(Array.from(a['rng.explore']) as RngState);
    this.rngs.replay.setState(Array.from(a['rng.replay']) as RngState);
    this.rngs.dropout.setState(Array.from(a['rng.dropout']) as RngState);
    const fields: Record<string, ReplayState['fields'][string]> = {};
    for (const k of Object.keys(this.replay.fields)) fields[k] = a[`replay.${k}`] as ReplayState['fields'][string];
    this.replay.setState({ ...meta.replay, fields, tree: a['replay.tree'] as Float64Array | undefined });
    this.envSteps = meta.counters.envSteps;
    this.episodes = meta.counters.episodes;
    this.gradientSteps = meta.counters.gradientSteps;
    this.bestMetric = meta.bestMetric;
    const stateful = env as (RecEnv & StatefulEnv) | undefined;
    if (meta.envState !== null && stateful?.setState) stateful.setState(meta.envState);
  }

  /** Free every tensor this agent holds. */
  dispose(): void {
    this.engine = null;
    disposeVariables(this.online);
    disposeVariables(this.target);
    this.adam.dispose();
  }
}

/** Keys whose values differ between two network configs. */
export function diffConfig(a: NetworkConfig, b: NetworkConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => JSON.stringify((a as unknown as Record<string, unknown>)[k]) !== JSON.stringify((b as unknown as Record<string, unknown>)[k]));
}
