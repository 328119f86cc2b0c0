/**
 * Off-policy evaluation of a target policy pi from logs of a logging policy mu (contextual bandit form):
 * row i has a context id, the logged action a_i, its reward r_i and the logging propensity mu(a_i | x_i).
 *
 * - IPS:   V = (1/n) sum_i w_i r_i,            w_i = pi(a_i|x_i) / mu(a_i|x_i)
 * - SNIPS: V = sum_i w_i r_i / sum_i w_i        (biased, O(1/n); far lower variance when weights are heavy)
 * - DR:    V = (1/n) sum_i [ sum_a pi(a|x_i) q(x_i,a) + w_i (r_i - q(x_i,a_i)) ]   (Dudik, Langford, Li 2011)
 * - DM:    V = (1/n) sum_i sum_a pi(a|x_i) q(x_i,a)   (the reward model alone; biased when q is wrong)
 * Intervals: IPS, DR and DM use the CLT on the per-row terms, mean -+ z * sd / sqrt(n); SNIPS uses the delta method,
 * se^2 = sum_i w_i^2 (r_i - V)^2 / (sum_i w_i)^2. `bootstrap` in the options replaces them by seeded percentile
 * bootstrap intervals. The effective sample size (sum w)^2 / sum w^2 is reported: when it is small the
 * intervals are not to be trusted.
 */
import { check, ShapeError, Rng } from '@rec/core';
import { normalQuantile } from './stats.js';
import { quantileSorted, type Estimate } from './metrics.js';

/** Logged bandit feedback, one row per decision. */
export interface LoggedBandit {
  /** Context id per row (for tabular reward models; optional for IPS/SNIPS). */
  context?: Int32Array;
  action: Int32Array;
  reward: Float32Array | Float64Array;
  /** mu(a_i | x_i), the probability with which the logging policy chose the logged action. */
  propensity: Float32Array | Float64Array;
}

export interface OpeOptions {
  /** Confidence level (default 0.95). */
  level?: number;
  /** Percentile bootstrap resamples instead of the analytic interval (default 0: analytic). */
  bootstrap?: number;
  seed?: number;
  /** Clip importance weights at this value (default Infinity: unbiased). Clipping trades bias for variance. */
  maxWeight?: number;
}

export interface OpeEstimate extends Estimate {
  se: number;
  /** Effective sample size of the importance weights, (sum w)^2 / sum w^2. */
  ess: number;
  n: number;
  method: 'ips' | 'snips' | 'dr' | 'dm';
}

function validate(where: string, log: LoggedBandit, targetProb: ArrayLike<number>): number {
  const n = log.action.length;
  check(n > 0, where, 'at least one logged row', n);
  for (const [name, arr] of [
    ['reward', log.reward],
    ['propensity', log.propensity],
    ['targetProb', targetProb],
  ] as const) {
    if (arr.length !== n) {
      throw new ShapeError('logged columns differ in length', { where: `${where}(${name})`, expected: `${n} rows`, got: arr.length });
    }
  }
  for (let i = 0; i < n; i++) {
    const p = log.propensity[i];
    if (!(p > 0 && p <= 1)) {
      check(false, `${where}(propensity[${i}])`, 'a logging propensity in (0, 1]', p, 'Rows with zero propensity cannot be reweighted; log the probability the logging policy actually used.');
    }
  }
  return n;
}

function weights(log: LoggedBandit, targetProb: ArrayLike<number>, maxWeight: number): Float64Array {
  const n = log.action.length;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = Math.min(targetProb[i] / log.propensity[i], maxWeight);
  return w;
}

function essOf(w: Float64Array): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < w.length; i++) (s += w[i]), (s2 += w[i] * w[i]);
  return s2 > 0 ? (s * s) / s2 : 0;
}

function meanInterval(terms: Float64Array, level: number): { value: number; se: number; lo: number; hi: number } {
  const n = terms.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += terms[i];
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (terms[i] - m) ** 2;
  const se = n > 1 ? Math.sqrt(v / (n - 1) / n) : NaN;
  const q = normalQuantile(1 - (1 - level) / 2);
  return { value: m, se, lo: m - q * se, hi: m + q * se };
}

function bootstrapInterval(n: number, B: number, seed: number, level: number, stat: (idx: Int32Array) => number): [number, number] {
  const rng = new Rng(seed);
  const idx = new Int32Array(n);
  const vals = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    vals[b] = stat(idx);
  }
  vals.sort();
  const a = (1 - level) / 2;
  return [quantileSorted(vals, a), quantileSorted(vals, 1 - a)];
}

/** Inverse propensity scoring. `targetProb[i]` = pi(a_i | x_i), the target policy's probability of the logged action. */
export function ips(log: LoggedBandit, targetProb: ArrayLike<number>, options: OpeOptions = {}): OpeEstimate {
  const n = validate('ips', log, targetProb);
  const level = options.level ?? 0.95;
  const w = weights(log, targetProb, options.maxWeight ?? Infinity);
  const terms = Float64Array.from(w, (wi, i) => wi * log.reward[i]);
  const est = meanInterval(terms, level);
  if (options.bootstrap) {
    [est.lo, est.hi] = bootstrapInterval(n, options.bootstrap, options.seed ?? 0, level, (idx) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += terms[idx[i]];
      return s / n;
    });
  }
  return { ...est, ess: essOf(w), n, method: 'ips' };
}

/** Self-normalised IPS with a delta-method interval. */
export function snips(log: LoggedBandit, targetProb: ArrayLike<number>, options: OpeOptions = {}): OpeEstimate {
  const n = validate('snips', log, targetProb);
  const level = options.level ?? 0.95;
  const w = weights(log, targetProb, options.maxWeight ?? Infinity);
  let sw = 0;
  let swr = 0;
  for (let i = 0; i < n; i++) (sw += w[i]), (swr += w[i] * log.reward[i]);
  const value = sw > 0 ? swr / sw : NaN;
  let v = 0;
  for (let i = 0; i < n; i++) v += w[i] * w[i] * (log.reward[i] - value) ** 2;
  const se = sw > 0 ? Math.sqrt(v) / sw : NaN;
  const q = normalQuantile(1 - (1 - level) / 2);
  let lo = value - q * se;
  let hi = value + q * se;
  if (options.bootstrap) {
    [lo, hi] = bootstrapInterval(n, options.bootstrap, options.seed ?? 0, level, (idx) => {
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) (a += w[idx[i]] * log.reward[idx[i]]), (b += w[idx[i]]);
      return b > 0 ? a / b : NaN;
    });
  }
  return { value, se, lo, hi, ess: essOf(w), n, method: 'snips' };
}

/**
 * Doubly robust. `targetProbs [n * numActions]` is pi(. | x_i) for every row; `rewardModel [n * numActions]` is
 * q(x_i, a), a reward estimate for every action (fit it on other data or with `tabularRewardModel`, ideally
 * cross-fitted). Unbiased when either the propensities or q are right.
 */
export function doublyRobust(
  log: LoggedBandit,
  targetProbs: ArrayLike<number>,
  rewardModel: ArrayLike<number>,
  numActions: number,
  options: OpeOptions = {},
): OpeEstimate {
  const n = log.action.length;
  check(Number.isInteger(numActions) && numActions > 0, 'doublyRobust(numActions)', 'a positive integer', numActions);
  for (const [name, arr] of [
    ['targetProbs', targetProbs],
    ['rewardModel', rewardModel],
  ] as const) {
    if (arr.length !== n * numActions) {
      throw new ShapeError('per-action array has the wrong length', {
        where: `doublyRobust(${name})`,
        expected: `n * numActions = ${n * numActions}`,
        got: arr.length,
      });
    }
  }
  const pLogged = new Float64Array(n);
  for (let i = 0; i < n; i++) pLogged[i] = targetProbs[i * numActions + log.action[i]];
  validate('doublyRobust', log, pLogged);
  const level = options.level ?? 0.95;
  const w = weights(log, pLogged, options.maxWeight ?? Infinity);
  const terms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let dm = 0;
    for (let a = 0; a < numActions; a++) dm += targetProbs[i * numActions + a] * rewardModel[i * numActions + a];
    terms[i] = dm + w[i] * (log.reward[i] - rewardModel[i * numActions + log.action[i]]);
  }
  const est = meanInterval(terms, level);
  if (options.bootstrap) {
    [est.lo, est.hi] = bootstrapInterval(n, options.bootstrap, options.seed ?? 0, level, (idx) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += terms[idx[i]];
      return s / n;
    });
  }
  return { ...est, ess: essOf(w), n, method: 'dr' };
}

/** Direct method: the reward model averaged under the target policy. */
export function directMethod(
  targetProbs: ArrayLike<number>,
  rewardModel: ArrayLike<number>,
  numActions: number,
  options: OpeOptions = {},
): OpeEstimate {
  const n = targetProbs.length / numActions;
  check(Number.isInteger(n) && rewardModel.length === targetProbs.length, 'directMethod', 'targetProbs and rewardModel of length n * numActions', [targetProbs.length, rewardModel.length]);
  const terms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let a = 0; a < numActions; a++) s += targetProbs[i * numActions + a] * rewardModel[i * numActions + a];
    terms[i] = s;
  }
  return { ...meanInterval(terms, options.level ?? 0.95), ess: n, n, method: 'dm' };
}

/**
 * A tabular reward model q(x, a) = mean logged reward for (context, action), shrunk toward the action's mean with
 * `prior` pseudo-observations (default 1). Returns `[n * numActions]` predictions for the rows of `evalLog`
 * (default: the fitting log). For honest DR intervals fit on one half and evaluate on the other (`crossFit`).
 */
export function tabularRewardModel(
  fitLog: LoggedBandit,
  numContexts: number,
  numActions: number,
  options: { prior?: number; evalContexts?: Int32Array } = {},
): Float64Array {
  check(fitLog.context instanceof Int32Array, 'tabularRewardModel(context)', 'logged context ids (Int32Array)', fitLog.context);
  const prior = options.prior ?? 1;
  const sum = new Float64Array(numContexts * numActions);
  const cnt = new Float64Array(numContexts * numActions);
  const aSum = new Float64Array(numActions);
  const aCnt = new Float64Array(numActions);
  let gSum = 0;
  const ctx = fitLog.context!;
  for (let i = 0; i < ctx.length; i++) {
    const c = ctx[i];
    const a = fitLog.action[i];
    check(c >= 0 && c < numContexts, `tabularRewardModel(context[${i}])`, `an id in [0, ${numContexts})`, c);
    check(a >= 0 && a < numActions, `tabularRewardModel(action[${i}])`, `an id in [0, ${numActions})`, a);
    sum[c * numActions + a] += fitLog.reward[i];
    cnt[c * numActions + a]++;
    aSum[a] += fitLog.reward[i];
    aCnt[a]++;
    gSum += fitLog.reward[i];
  }
  const gMean = ctx.length > 0 ? gSum / ctx.length : 0;
  const out = options.evalContexts ?? ctx;
  const q = new Float64Array(out.length * numActions);
  for (let i = 0; i < out.length; i++) {
    for (let a = 0; a < numActions; a++) {
      const aMean = aCnt[a] > 0 ? aSum[a] / aCnt[a] : gMean;
      const j = out[i] * numActions + a;
      q[i * numActions + a] = (sum[j] + prior * aMean) / (cnt[j] + prior);
    }
  }
  return q;
}

/**
 * Cross-fitted DR: split rows into two halves by a seeded permutation, fit the tabular model on each half and
 * predict the other, so no row's reward enters its own reward estimate.
 */
export function crossFitDoublyRobust(
  log: LoggedBandit,
  targetProbs: ArrayLike<number>,
  numContexts: number,
  numActions: number,
  options: OpeOptions & { prior?: number } = {},
): OpeEstimate {
  check(log.context instanceof Int32Array, 'crossFitDoublyRobust(context)', 'logged context ids (Int32Array)', log.context);
  const n = log.action.length;
  const perm = new Rng(options.seed ?? 0).shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const half = [perm.subarray(0, n >> 1), perm.subarray(n >> 1)];
  const q = new Float64Array(n * numActions);
  const take = (rows: Int32Array): LoggedBandit => ({
    context: Int32Array.from(rows, (r) => log.context![r]),
    action: Int32Array.from(rows, (r) => log.action[r]),
    reward: Float64Array.from(rows, (r) => log.reward[r]),
    propensity: Float64Array.from(rows, (r) => log.propensity[r]),
  });
  for (let h = 0; h < 2; h++) {
    const fit = take(half[h]);
    const target = half[1 - h];
    const pred = tabularRewardModel(fit, numContexts, numActions, {
      prior: options.prior,
      evalContexts: Int32Array.from(target, (r) => log.context![r]),
    });
    for (let j = 0; j < target.length; j++) q.set(pred.subarray(j * numActions, (j + 1) * numActions), target[j] * numActions);
  }
  return doublyRobust(log, targetProbs, q, numActions, options);
}
