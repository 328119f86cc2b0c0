/**
 * One entry point for any agent: `evaluatePolicy(policy, target, options)`.
 * - Offline: `policy` is a `Scorer`, `target` an `OfflineSplit` -> ranking metrics at k with bootstrap intervals,
 *   plus catalogue coverage, intra-list diversity and novelty of the lists.
 * - Online: `policy` is an env `Policy`, `target` a `RecEnv` -> business metrics from a simulator rollout
 *   (reward, CTR, conversion, session length, coverage and diversity of what was shown).
 */
import { check, InvalidArgumentError } from '@rec/core';
import { rollout, type Policy, type RecEnv } from '@rec/env';
import {
  rankingMetricsPerUser,
  summarizeRanking,
  catalogCoverage,
  intraListDiversity,
  novelty,
  nanMean,
  bootstrapMeans,
  type ItemsCsr,
  type PerUserRanking,
  type RankingSummary,
  type Estimate,
} from './metrics.js';
import type { OfflineSplit } from './protocols.js';
import type { Scorer } from './baselines.js';

export interface OfflineEvalOptions {
  /** List length (default 10). */
  k?: number;
  /** Bootstrap resamples for the intervals (default 1000) and seed (default 0). */
  bootstrap?: number;
  seed?: number;
  /** Override the split's excludeSeen. */
  excludeSeen?: boolean;
  /** Score units in batches of this size (default 1024). */
  batchSize?: number;
}

export interface OfflineEvalResult {
  kind: 'offline';
  policy: string;
  protocol: string;
  k: number;
  summary: RankingSummary;
  perUser: PerUserRanking;
  /** Share of the catalogue recommended to at least one unit. */
  coverage: number;
  /** Mean intra-list diversity by category (pairs of different categories); NaN when the log has one category. */
  diversity: number;
  /** Mean self-information of recommended items, in bits (training popularity by distinct users). */
  novelty: number;
  lists: Int32Array;
  seconds: number;
}

export interface OnlineEvalOptions {
  /** Episodes (batches of `env.batchSize` users) to run (default 1). */
  episodes?: number;
  /** Max steps per episode (default 100). */
  maxSteps?: number;
  /**
   * info key with clicks per slate slot or per user; a value > 0 counts as one click. Default: the first present of
   * 'click', 'clicked', 'accepted', 'hits'; else `info.response` (BehaviorSimEnv codes: any response > 0 is a click).
   */
  clickKey?: string;
  /**
   * info key with purchases (value > 0 counts one). Default: the first present of 'purchase', 'buy', 'converted';
   * else `info.response === 4` (Response.buy).
   */
  purchaseKey?: string;
  /** Item -> category for diversity of discrete slates. */
  itemCategory?: Int32Array;
  /** Bootstrap resamples over users for the mean return (default 1000). */
  bootstrap?: number;
  seed?: number;
}

export interface OnlineEvalResult {
  kind: 'online';
  policy: string;
  env: string;
  users: number;
  /** Mean episode return per user with a bootstrap interval. */
  meanReturn: Estimate;
  /** Mean reward per user-step. */
  meanReward: number;
  /** Mean steps per user until done (session length). */
  sessionLength: number;
  /** Clicked slots per recommended slot (NaN when the env reports no clicks). */
  ctr: number;
  /** Purchases per user-step (NaN when the env reports none). */
  conversion: number;
  /** Which info keys CTR and conversion were read from. */
  sources: { click?: string; purchase?: string };
  /** Distinct recommended items / catalogue size (discrete actions only). */
  coverage: number;
  /** Mean intra-list diversity of slates (needs itemCategory and slateSize > 1). */
  diversity: number;
  infoTotals: Record<string, number>;
  seconds: number;
}

export type EvalResult = OfflineEvalResult | OnlineEvalResult;

function isScorer(p: unknown): p is Scorer {
  return typeof p === 'object' && p !== null && typeof (p as Scorer).scoreUsers === 'function';
}
function isEnv(e: unknown): e is RecEnv {
  return typeof e === 'object' && e !== null && typeof (e as RecEnv).step === 'function' && typeof (e as RecEnv).reset === 'function';
}

export function evaluatePolicy(policy: Scorer, split: OfflineSplit, options?: OfflineEvalOptions): OfflineEvalResult;
export function evaluatePolicy(policy: Policy, env: RecEnv, options?: OnlineEvalOptions): OnlineEvalResult;
export function evaluatePolicy(
  policy: Scorer | Policy,
  target: OfflineSplit | RecEnv,
  options: OfflineEvalOptions & OnlineEvalOptions = {},
): EvalResult {
  if (isEnv(target)) {
    if (isScorer(policy) || typeof (policy as Policy).act !== 'function') {
      throw new InvalidArgumentError('an environment needs a Policy', {
        where: 'evaluatePolicy(policy)',
        expected: 'a Policy with act(obs, env) for a RecEnv',
        got: (policy as { name?: string }).name,
        hint: 'Wrap a Scorer into a Policy, or pass an OfflineSplit instead of the environment.',
      });
    }
    return evaluateOnline(policy as Policy, target, options);
  }
  check(isScorer(policy), 'evaluatePolicy(policy)', 'a Scorer with scoreUsers(units, k, exclude) for an OfflineSplit', (policy as { name?: string }).name);
  check(target && (target as OfflineSplit).truth !== undefined, 'evaluatePolicy(target)', 'an OfflineSplit or a RecEnv', target);
  return evaluateOffline(policy, target as OfflineSplit, options);
}

function sliceCsr(csr: ItemsCsr, from: number, to: number): ItemsCsr {
  const base = csr.offsets[from];
  const offsets = new Int32Array(to - from + 1);
  for (let i = from; i <= to; i++) offsets[i - from] = csr.offsets[i] - base;
  return { offsets, items: csr.items.subarray(base, csr.offsets[to]) };
}

function evaluateOffline(scorer: Scorer, split: OfflineSplit, options: OfflineEvalOptions): OfflineEvalResult {
  const k = options.k ?? 10;
  check(Number.isInteger(k) && k > 0, 'evaluatePolicy(k)', 'a positive integer', k);
  const excludeSeen = options.excludeSeen ?? split.excludeSeen;
  const bs = options.batchSize ?? 1024;
  const t0 = performance.now();
  const lists = new Int32Array(split.numUnits * k);
  for (let a = 0; a < split.numUnits; a += bs) {
    const b = Math.min(split.numUnits, a + bs);
    const units = Int32Array.from({ length: b - a }, (_, i) => a + i);
    const got = scorer.scoreUsers(units, k, excludeSeen ? sliceCsr(split.seen, a, b) : undefined);
    if (!(got instanceof Int32Array) || got.length !== units.length * k) {
      throw new InvalidArgumentError('scorer returned the wrong shape', {
        where: `evaluatePolicy(${scorer.name}.scoreUsers)`,
        expected: `Int32Array of length units * k = ${units.length * k}`,
        got,
      });
    }
    lists.set(got, a * k);
  }
  const seconds = (performance.now() - t0) / 1000;
  const perUser = rankingMetricsPerUser(lists, split.truth, k);
  const summary = summarizeRanking(perUser, { samples: options.bootstrap ?? 1000, seed: options.seed ?? 0 });
  // popularity by distinct training users for novelty
  const { log, trainRows } = split;
  const userItem = new Set<number>();
  const counts = new Float64Array(split.numItems);
  const users = new Set<number>();
  for (let i = 0; i < trainRows.length; i++) {
    const r = trainRows[i];
    users.add(log.user[r]);
    const key = log.user[r] * split.numItems + log.item[r];
    if (!userItem.has(key)) {
      userItem.add(key);
      counts[log.item[r]]++;
    }
  }
  const cats = Int32Array.from(split.itemCategory, (c) => (c < 0 ? 0 : c));
  return {
    kind: 'offline',
    policy: scorer.name,
    protocol: split.protocol,
    k,
    summary,
    perUser,
    coverage: catalogCoverage(lists, split.numItems),
    // with a single category (MovieLens ratings, DIGINETICA without a category file) diversity is undefined
    diversity: split.numCategories > 1 ? nanMean(intraListDiversity(lists, k, cats)) : NaN,
    novelty: nanMean(novelty(lists, k, counts, Math.max(1, users.size))),
    lists,
    seconds,
  };
}

function evaluateOnline(policy: Policy, env: RecEnv, options: OnlineEvalOptions): OnlineEvalResult {
  const episodes = options.episodes ?? 1;
  const discrete = env.action.type === 'discrete';
  const numItems = discrete ? (env.action as { numItems: number }).numItems : 0;
  const slate = discrete ? (env.action as { slateSize: number }).slateSize : 1;
  const shown = discrete ? new Uint8Array(numItems) : undefined;
  const returns: number[] = [];
  let rewardSum = 0;
  let userSteps = 0;
  let lengthSum = 0;
  let clicks = 0;
  let purchases = 0;
  let clickSource: string | undefined;
  let buySource: string | undefined;
  const totals: Record<string, number> = {};
  const divs: number[] = [];
  const t0 = performance.now();
  const B = env.batchSize;
  // Count entries > 0 (or == code) of an info array for active users, per slot or per user.
  const countActive = (arr: ArrayLike<number>, active: Uint8Array, eq?: number): number => {
    const per = arr.length / B;
    if (!Number.isInteger(per) || per < 1) return 0;
    let c = 0;
    for (let u = 0; u < B; u++) {
      if (!active[u]) continue;
      for (let j = 0; j < per; j++) {
        const v = arr[u * per + j];
        if (eq === undefined ? v > 0 : v === eq) c++;
      }
    }
    return c;
  };
  for (let e = 0; e < episodes; e++) {
    const r = rollout(env, policy, {
      maxSteps: options.maxSteps ?? 100,
      onStep: (step) => {
        const info = step.result.info;
        clickSource ??= options.clickKey ?? ['click', 'clicked', 'accepted', 'hits'].find((k) => k in info) ?? ('response' in info ? 'response' : undefined);
        buySource ??= options.purchaseKey ?? ['purchase', 'buy', 'converted'].find((k) => k in info) ?? ('response' in info ? 'response' : undefined);
        if (clickSource && info[clickSource]) clicks += countActive(info[clickSource], step.active);
        if (buySource && info[buySource]) purchases += countActive(info[buySource], step.active, buySource === 'response' && !options.purchaseKey ? 4 : undefined);
        if (!discrete) return;
        const acts = step.actions as Int32Array;
        for (let u = 0; u < B; u++) {
          if (!step.active[u]) continue;
          for (let j = 0; j < slate; j++) {
            const it = acts[u * slate + j];
            if (it >= 0 && it < numItems) shown![it] = 1;
          }
        }
        if (options.itemCategory && slate > 1) {
          const d = intraListDiversity(acts, slate, options.itemCategory);
          for (let u = 0; u < B; u++) if (step.active[u] && !Number.isNaN(d[u])) divs.push(d[u]);
        }
      },
    });
    for (let u = 0; u < B; u++) {
      returns.push(r.episodeReturn[u]);
      rewardSum += r.episodeReturn[u];
      userSteps += r.episodeLength[u];
      lengthSum += r.episodeLength[u];
    }
    for (const [key, v] of Object.entries(r.infoTotals)) totals[key] = (totals[key] ?? 0) + v;
  }
  const users = returns.length;
  const ret = bootstrapMeans({ r: Float64Array.from(returns) }, { samples: options.bootstrap ?? 1000, seed: options.seed ?? 0 }).r;
  let coverage = NaN;
  if (shown) {
    let c = 0;
    for (let i = 0; i < numItems; i++) c += shown[i];
    coverage = c / numItems;
  }
  return {
    kind: 'online',
    policy: policy.name,
    env: env.name,
    users,
    meanReturn: ret,
    meanReward: userSteps > 0 ? rewardSum / userSteps : 0,
    sessionLength: users > 0 ? lengthSum / users : 0,
    ctr: clickSource ? clicks / (userSteps * slate) : NaN,
    conversion: buySource ? purchases / userSteps : NaN,
    coverage,
    diversity: divs.length ? divs.reduce((a, b) => a + b, 0) / divs.length : NaN,
    sources: { click: clickSource, purchase: buySource },
    infoTotals: totals,
    seconds: (performance.now() - t0) / 1000,
  };
}
