/**
 * Behaviour simulator (the variant design): a user responds to each recommended item with none / pv / cart / fav /
 * buy, with probabilities built from statistics learned on the log: the user's category preferences, the item's
 * popularity and its pv -> cart / fav / buy conversion rates.
 *
 *   P(view)            = clip(viewBase + viewPreference * pref(user, category) + viewPopularity * propensity, 0, maxView)
 *   P(buy | view)      = buyRate  * (1 + conversionPreferenceBoost * pref)     (then cart, then fav; else a plain pv)
 *
 * pref is the user's share of events in the category divided by their top category's share (1 for the favourite,
 * 0 for a category never touched); propensity is the item's event count over the largest count (linear: in a log,
 * views follow raw popularity), while `itemPopularity` (log-scaled, as in @rec/data) feeds the observation and
 * the "less popular" test. Rewards: pv 1.0, cart 3.0, fav 2.5, buy 10.0; +2.0 when the item is less popular
 * (popularity below `diversityThreshold`) and +2.0 when its category is among the user's top `preferenceTopK`;
 * by default the bonuses count only when the user engaged (otherwise a random policy would collect the diversity
 * bonus on every long-tail item it throws). All weights configurable, plus a per-item `rewardFn` hook.
 * An episode ends after `maxSteps` or when the user quits (probability `quitProbability` after a step with no
 * engagement). Observation `[historyLength, 10]`: the user's last events, oldest first (see `BEHAVIOR_OBS_FEATURES`).
 */
import { userSequences, itemStats, type InteractionLog, type IndexedLog, type UserSequences } from '@rec/data';
import { Rng, ShapeError, check } from '@rec/core';
import type { DiscreteActionSpace, RecEnv, StepResult } from './types.js';
import { checkActions, checkUsers, drawUniform, notReset } from './util.js';

/** Response codes in `info.response`: none, then the log's behaviours shifted by one. */
export const Response = { none: 0, pv: 1, cart: 2, fav: 3, buy: 4 } as const;
export const RESPONSES = ['none', 'pv', 'cart', 'fav', 'buy'] as const;

/** Per history row: the features of one past event. */
export const BEHAVIOR_OBS_FEATURES = [
  'item (id + 1) / numItems (0 = padding)',
  'item popularity',
  'item cart rate',
  'item fav rate',
  'item buy rate',
  "user's preference for the item's category",
  'pv',
  'cart',
  'fav',
  'buy',
] as const;
const F = BEHAVIOR_OBS_FEATURES.length;

/** Statistics the simulator runs on (flat arrays; build them with `behaviorSimDataFromLog`). */
export interface BehaviorSimData {
  numUsers: number;
  numItems: number;
  itemCategory: Int32Array;
  /** In [0, 1]: log1p(count) / log1p(max count) (observation feature, diversity test). */
  itemPopularity: Float32Array;
  /** In [0, 1]: count / max count (drives the view probability). */
  itemPropensity: Float32Array;
  itemCartRate: Float32Array;
  itemFavRate: Float32Array;
  itemBuyRate: Float32Array;
  /** User category preferences, CSR sorted by weight (best first): categories and weights in (0, 1]. */
  prefOffsets: Int32Array;
  prefCategory: Int32Array;
  prefWeight: Float32Array;
  /** Each user's last events before the simulation `[numUsers * historyLength]`, oldest first; item -1 = padding. */
  historyItem: Int32Array;
  /** Their behaviour codes (0..3 as in the log). */
  historyBehavior: Uint8Array;
  historyLength: number;
}

export interface BehaviorSimConfig {
  /** Reward per response. */
  rewardPv: number;
  rewardCart: number;
  rewardFav: number;
  rewardBuy: number;
  rewardNone: number;
  /** Bonus for a less popular item (popularity < diversityThreshold). Default 2.0. */
  diversityBonus: number;
  diversityThreshold: number;
  /** Bonus when the item's category is among the user's top `preferenceTopK` categories. Default 2.0, top 3. */
  preferenceBonus: number;
  preferenceTopK: number;
  /** Bonuses only for items the user engaged with (any response but none). Default true. */
  bonusesRequireEngagement: boolean;
  viewBase: number;
  viewPreference: number;
  viewPopularity: number;
  maxView: number;
  conversionPreferenceBoost: number;
  /** Steps per episode at most. Default 20. */
  maxSteps: number;
  /** Chance the user leaves after a step with no engagement. Default 0.1. */
  quitProbability: number;
  /** Per-item reward hook: gets the default reward and returns the one to use. Called on the hot path: keep it cheap. */
  rewardFn?: (user: number, item: number, response: number, defaultReward: number) => number;
  seed: number;
}

export const DEFAULT_BEHAVIOR_SIM_CONFIG: Readonly<BehaviorSimConfig> = Object.freeze({
  rewardPv: 1.0,
  rewardCart: 3.0,
  rewardFav: 2.5,
  rewardBuy: 10.0,
  rewardNone: 0,
  diversityBonus: 2.0,
  diversityThreshold: 0.5,
  preferenceBonus: 2.0,
  preferenceTopK: 3,
  bonusesRequireEngagement: true,
  viewBase: 0.02,
  viewPreference: 0.6,
  viewPopularity: 0.3,
  maxView: 0.95,
  conversionPreferenceBoost: 1,
  maxSteps: 20,
  quitProbability: 0.1,
  seed: 0,
});

export interface BehaviorSimFromLogOptions {
  /** Rows to learn from (a training split). Default: every row. */
  rows?: Int32Array;
  /** Reuse sequences of the same log. */
  sequences?: UserSequences;
  /** History rows in the observation. Default 10. */
  historyLength?: number;
  /** Categories kept per user. Default 20. */
  topCategories?: number;
  /** Smoothing of conversion rates toward the global rate (see @rec/data itemStats). Default 5. */
  smoothing?: number;
}

/** Learn the simulator's statistics from a dense-id log (an IndexedLog from @rec/data's ingest/reindex). */
export function behaviorSimDataFromLog(log: IndexedLog | (InteractionLog & { numUsers?: number; numItems?: number }), options: BehaviorSimFromLogOptions = {}): BehaviorSimData {
  const H = options.historyLength ?? 10;
  const M = options.topCategories ?? 20;
  check(Number.isInteger(H) && H > 0, 'behaviorSimDataFromLog(historyLength)', 'a positive integer', H);
  let nI = log.numItems ?? 0;
  let nU = log.numUsers ?? 0;
  for (let r = 0; r < log.numRows; r++) {
    if (log.item[r] >= nI) nI = log.item[r] + 1;
    if (log.user[r] >= nU) nU = log.user[r] + 1;
  }
  const stats = itemStats(log, { rows: options.rows, size: nI, smoothing: options.smoothing ?? 5 });
  const itemCategory = new Int32Array(nI).fill(-1);
  for (let r = 0; r < log.numRows; r++) if (itemCategory[log.item[r]] < 0) itemCategory[log.item[r]] = log.category[r];
  for (let i = 0; i < nI; i++) if (itemCategory[i] < 0) itemCategory[i] = 0;
  const itemPropensity = new Float32Array(nI);
  for (let i = 0; i < nI; i++) itemPropensity[i] = stats.maxCount > 0 ? stats.count[i] / stats.maxCount : 0;

  // Preferences and history from the (training) rows, in time order per user.
  const seqs = options.sequences ?? userSequences(log, nU);
  let allowed: Uint8Array | null = null;
  if (options.rows) {
    allowed = new Uint8Array(log.numRows);
    for (let i = 0; i < options.rows.length; i++) allowed[options.rows[i]] = 1;
  }
  const prefOffsets = new Int32Array(nU + 1);
  const cats: number[] = [];
  const weights: number[] = [];
  const historyItem = new Int32Array(nU * H).fill(-1);
  const historyBehavior = new Uint8Array(nU * H);
  const counts = new Map<number, number>();
  for (let u = 0; u < nU; u++) {
    counts.clear();
    const recent: number[] = [];
    for (let p = seqs.offsets[u]; p < seqs.offsets[u + 1]; p++) {
      const r = seqs.rows[p];
      if (allowed && !allowed[r]) continue;
      counts.set(log.category[r], (counts.get(log.category[r]) ?? 0) + 1);
      recent.push(r);
    }
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, M);
    const top = sorted.length > 0 ? sorted[0][1] : 1;
    for (const [c, n] of sorted) {
      cats.push(c);
      weights.push(n / top);
    }
    prefOffsets[u + 1] = cats.length;
    const last = recent.slice(-H);
    for (let k = 0; k < last.length; k++) {
      historyItem[u * H + H - last.length + k] = log.item[last[k]];
      historyBehavior[u * H + H - last.length + k] = log.behavior[last[k]];
    }
  }
  return {
    numUsers: nU,
    numItems: nI,
    itemCategory,
    itemPopularity: stats.popularity,
    itemPropensity,
    itemCartRate: stats.cartRate,
    itemFavRate: stats.favRate,
    itemBuyRate: stats.buyRate,
    prefOffsets,
    prefCategory: Int32Array.from(cats),
    prefWeight: Float32Array.from(weights),
    historyItem,
    historyBehavior,
    historyLength: H,
  };
}

export interface BehaviorSimOptions extends Partial<BehaviorSimConfig> {
  /** Users per step. Default 64. */
  batchSize?: number;
  /** Items per recommendation. Default 1. */
  slateSize?: number;
}

export interface BehaviorEpisodeMetrics {
  /** Engaged items (any response) / recommended items. */
  ctr: number;
  /** Buys / recommended items. */
  conversionRate: number;
  /** Buys / engaged items. */
  buysPerEngagement: number;
  /** Mean over users of distinct categories recommended / items recommended. */
  diversity: number;
  /** Distinct items recommended / catalogue size. */
  coverage: number;
  /** Mean reward per user-step. */
  averageReward: number;
  /** Mean episode length in steps. */
  episodeLength: number;
  /** Mean return per user. */
  meanReturn: number;
  /** Response counts none, pv, cart, fav, buy. */
  responses: number[];
}

/** The vectorized behaviour simulator (see the module comment). */
export class BehaviorSimEnv implements RecEnv {
  readonly name = 'behavior-sim';
  readonly observation: { shape: readonly number[] };
  readonly action: DiscreteActionSpace;
  readonly batchSize: number;
  readonly config: Readonly<BehaviorSimConfig>;
  readonly data: BehaviorSimData;
  private rng: Rng;
  private drawSeed: number;
  private readonly episodes: Int32Array;
  private users: Int32Array | null = null;
  private readonly t: Int32Array;
  private readonly done: Uint8Array;
  /** Observation rows of the batch `[batch * historyLength * 10]`, shifted by one row per step. */
  private readonly obsBuf: Float32Array;
  // Episode counters since the last reset.
  private recCategories: Int32Array;
  private readonly returns: Float64Array;
  private readonly seenItem: Uint8Array;
  private readonly responseCounts = new Float64Array(5);
  private itemsSeen = 0;

  constructor(data: BehaviorSimData, options: BehaviorSimOptions = {}) {
    const { batchSize = 64, slateSize = 1, ...rest } = options;
    this.config = Object.freeze({ ...DEFAULT_BEHAVIOR_SIM_CONFIG, ...rest });
    const W = 'BehaviorSimEnv';
    check(Number.isInteger(batchSize) && batchSize > 0, `${W}(batchSize)`, 'a positive integer', batchSize);
    check(Number.isInteger(slateSize) && slateSize > 0 && slateSize <= data.numItems, `${W}(slateSize)`, `an integer in [1, ${data.numItems}]`, slateSize);
    check(Number.isInteger(this.config.maxSteps) && this.config.maxSteps > 0, `${W}(maxSteps)`, 'a positive integer', this.config.maxSteps);
    for (const k of ['itemCategory', 'itemPopularity', 'itemPropensity', 'itemCartRate', 'itemFavRate', 'itemBuyRate'] as const) {
      if (data[k].length !== data.numItems) throw new ShapeError('item statistics have the wrong length', { where: `${W}(data.${k})`, expected: `length numItems ${data.numItems}`, got: data[k].length });
    }
    if (data.prefOffsets.length !== data.numUsers + 1 || data.historyItem.length !== data.numUsers * data.historyLength) {
      throw new ShapeError('user arrays have the wrong length', { where: `${W}(data)`, expected: `prefOffsets ${data.numUsers + 1}, historyItem ${data.numUsers * data.historyLength}`, got: [data.prefOffsets.length, data.historyItem.length] });
    }
    this.data = data;
    this.batchSize = batchSize;
    this.observation = { shape: [data.historyLength, F] };
    this.action = { type: 'discrete', numItems: data.numItems, slateSize };
    this.rng = new Rng(this.config.seed);
    this.drawSeed = this.config.seed >>> 0;
    this.episodes = new Int32Array(data.numUsers);
    this.t = new Int32Array(batchSize);
    this.done = new Uint8Array(batchSize);
    this.obsBuf = new Float32Array(batchSize * data.historyLength * F);
    this.recCategories = new Int32Array(batchSize * this.config.maxSteps * slateSize);
    this.returns = new Float64Array(batchSize);
    this.seenItem = new Uint8Array(data.numItems);
  }

  seed(seed: number): void {
    this.rng = new Rng(seed);
    this.drawSeed = seed >>> 0;
    this.episodes.fill(0);
    this.users = null;
  }

  /** The user's preference weight for category `c` (0 when not among their top categories). */
  preference(user: number, c: number): number {
    const d = this.data;
    for (let k = d.prefOffsets[user]; k < d.prefOffsets[user + 1]; k++) if (d.prefCategory[k] === c) return d.prefWeight[k];
    return 0;
  }

  private prefersTop(user: number, c: number): boolean {
    const d = this.data;
    const end = Math.min(d.prefOffsets[user + 1], d.prefOffsets[user] + this.config.preferenceTopK);
    for (let k = d.prefOffsets[user]; k < end; k++) if (d.prefCategory[k] === c) return true;
    return false;
  }

  reset(users?: Int32Array): Float32Array {
    const B = this.batchSize;
    const H = this.data.historyLength;
    let u: Int32Array;
    if (users) {
      checkUsers(users, B, this.data.numUsers, 'BehaviorSimEnv.reset(users)');
      u = users.slice();
    } else {
      u = B <= this.data.numUsers ? this.rng.sampleWithoutReplacement(this.data.numUsers, B) : new Int32Array(B).map(() => this.rng.int(this.data.numUsers));
    }
    this.users = u;
    for (let i = 0; i < B; i++) {
      this.episodes[u[i]]++;
      for (let h = 0; h < H; h++) {
        const it = this.data.historyItem[u[i] * H + h];
        this.writeRow(i, h, it, it < 0 ? 0 : this.data.historyBehavior[u[i] * H + h] + 1);
      }
    }
    this.t.fill(0);
    this.done.fill(0);
    this.returns.fill(0);
    this.recCategories.fill(-1);
    this.seenItem.fill(0);
    this.itemsSeen = 0;
    this.responseCounts.fill(0);
    return this.observe();
  }

  /** Write history row h of slot i: the features of `item` with response `resp` (item < 0: padding zeros). */
  private writeRow(i: number, h: number, item: number, resp: number): void {
    const d = this.data;
    const o = (i * d.historyLength + h) * F;
    this.obsBuf.fill(0, o, o + F);
    if (item < 0) return;
    this.obsBuf[o] = (item + 1) / d.numItems;
    this.obsBuf[o + 1] = d.itemPopularity[item];
    this.obsBuf[o + 2] = d.itemCartRate[item];
    this.obsBuf[o + 3] = d.itemFavRate[item];
    this.obsBuf[o + 4] = d.itemBuyRate[item];
    this.obsBuf[o + 5] = this.preference((this.users as Int32Array)[i], d.itemCategory[item]);
    if (resp > 0) this.obsBuf[o + 5 + resp] = 1;
  }

  private observe(): Float32Array {
    return this.obsBuf.slice();
  }

  /**
   * Recommend `actions [batch * slateSize]`. info: `response [batch * slate]` (Response codes), `engaged [batch]`
   * (items with any response), `active [batch]`.
   */
  step(actions: Int32Array | Float32Array): StepResult {
    if (!this.users) notReset('BehaviorSimEnv.step');
    const B = this.batchSize;
    const S = this.action.slateSize;
    const H = this.data.historyLength;
    const cfg = this.config;
    const d = this.data;
    checkActions(actions, 'discrete', B, S, 'BehaviorSimEnv.step(actions)', d.numItems);
    const users = this.users;
    const reward = new Float32Array(B);
    const done = new Uint8Array(B);
    const active = new Uint8Array(B);
    const response = new Uint8Array(B * S);
    const engagedOut = new Int32Array(B);
    const respReward = [cfg.rewardNone, cfg.rewardPv, cfg.rewardCart, cfg.rewardFav, cfg.rewardBuy];
    for (let i = 0; i < B; i++) {
      if (this.done[i]) {
        done[i] = 1;
        continue;
      }
      active[i] = 1;
      const u = users[i];
      const ep = this.episodes[u];
      const t = this.t[i];
      let best = -1;
      let bestResp = 0;
      let engaged = 0;
      let r = 0;
      for (let s = 0; s < S; s++) {
        const it = actions[i * S + s];
        const c = d.itemCategory[it];
        this.recCategories[(i * cfg.maxSteps + t) * S + s] = c;
        if (!this.seenItem[it]) {
          this.seenItem[it] = 1;
          this.itemsSeen++;
        }
        const pref = this.preference(u, c);
        let pView = cfg.viewBase + cfg.viewPreference * pref + cfg.viewPopularity * d.itemPropensity[it];
        pView = pView < 0 ? 0 : pView > cfg.maxView ? cfg.maxView : pView;
        let resp: number = Response.none;
        if (drawUniform(this.drawSeed, u, ep, t, 2 * s) < pView) {
          const boost = 1 + cfg.conversionPreferenceBoost * pref;
          const pb = d.itemBuyRate[it] * boost;
          const pc = d.itemCartRate[it] * boost;
          const pf = d.itemFavRate[it] * boost;
          const x = drawUniform(this.drawSeed, u, ep, t, 2 * s + 1);
          resp = x < pb ? Response.buy : x < pb + pc ? Response.cart : x < pb + pc + pf ? Response.fav : Response.pv;
        }
        response[i * S + s] = resp;
        this.responseCounts[resp]++;
        let ri = respReward[resp];
        if (resp !== Response.none || !cfg.bonusesRequireEngagement) {
          if (d.itemPopularity[it] < cfg.diversityThreshold) ri += cfg.diversityBonus;
          if (this.prefersTop(u, c)) ri += cfg.preferenceBonus;
        }
        if (cfg.rewardFn) ri = cfg.rewardFn(u, it, resp, ri);
        r += ri;
        if (resp !== Response.none) engaged++;
        if (best < 0 || resp > bestResp) {
          best = it;
          bestResp = resp;
        }
      }
      reward[i] = r;
      engagedOut[i] = engaged;
      this.returns[i] += r;
      // The deepest response of the slate enters the history (the first item when nothing was engaged).
      this.obsBuf.copyWithin(i * H * F, i * H * F + F, (i + 1) * H * F);
      this.writeRow(i, H - 1, best, bestResp);
      this.t[i] = t + 1;
      const quit = engaged === 0 && drawUniform(this.drawSeed, u, ep, t, 2 * S + 7) < cfg.quitProbability;
      if (quit || t + 1 >= cfg.maxSteps) {
        this.done[i] = 1;
        done[i] = 1;
      }
    }
    return { obs: this.observe(), reward, done, info: { response, engaged: engagedOut, active } };
  }

  /** Metrics of the episodes since the last `reset` (call when every user is done, or any time for partial ones). */
  episodeMetrics(): BehaviorEpisodeMetrics {
    const B = this.batchSize;
    const S = this.action.slateSize;
    const T = this.config.maxSteps;
    let steps = 0;
    let ret = 0;
    let div = 0;
    let divUsers = 0;
    const cats: number[] = [];
    for (let i = 0; i < B; i++) {
      steps += this.t[i];
      ret += this.returns[i];
      cats.length = 0;
      for (let k = 0; k < T * S; k++) {
        const c = this.recCategories[i * T * S + k];
        if (c >= 0) cats.push(c);
      }
      if (cats.length > 0) {
        div += new Set(cats).size / cats.length;
        divUsers++;
      }
    }
    const rc = this.responseCounts;
    const rec = rc[0] + rc[1] + rc[2] + rc[3] + rc[4];
    const engaged = rec - rc[0];
    return {
      ctr: rec > 0 ? engaged / rec : 0,
      conversionRate: rec > 0 ? rc[4] / rec : 0,
      buysPerEngagement: engaged > 0 ? rc[4] / engaged : 0,
      diversity: divUsers > 0 ? div / divUsers : 0,
      coverage: this.itemsSeen / this.data.numItems,
      averageReward: steps > 0 ? ret / steps : 0,
      episodeLength: steps / B,
      meanReturn: ret / B,
      responses: Array.from(rc),
    };
  }
}

