/**
 * Ranking metrics at k over typed arrays.
 *
 * Inputs:
 * - `lists`: `Int32Array [numUsers * k]`, user u's top-k in rank order at `lists[u*k .. u*k+k)`; `-1` pads a list
 *   shorter than k (a padded slot is a miss and is skipped by coverage/diversity/novelty).
 * - `truth`: the held-out relevant items per user as CSR, `items[offsets[u] .. offsets[u+1])`; duplicates count once.
 *
 * Definitions (rank i is 1-based, rel_i = 1 when the item at rank i is relevant, R = |truth_u| after dedup):
 * - precision@k = hits / k (k, not the list length: a short list is penalised, as in most libraries)
 * - recall@k    = hits / R
 * - F1@k        = 2 P R / (P + R) per user (0 when P + R = 0); the aggregate F1 is the mean of per-user F1.
 *                 `harmonicF1(meanP, meanR)` gives the other convention (F1 of the mean P and mean R).
 * - AP@k        = (sum_i rel_i * precision@i) / min(R, k)
 * - NDCG@k      = DCG / IDCG, DCG = sum_i rel_i / log2(i + 1), IDCG = sum_{i=1..min(R,k)} 1 / log2(i + 1)
 * - hit@k       = 1 if hits > 0
 * - RR@k        = 1 / (rank of the first hit), 0 without a hit; MRR is its mean
 * Users with an empty truth set are not scored (their entries are NaN) and do not enter the means; the summary
 * reports how many were scored.
 */
import { check, ShapeError, InvalidArgumentError, Rng, validateCsr, type ItemsCsr } from '@rec/core';

// Defined in @rec/core (the models validate exclusion lists with it too); re-exported as part of this API.
export { validateCsr, type ItemsCsr };

export const RANKING_METRICS = ['precision', 'recall', 'f1', 'ap', 'ndcg', 'hit', 'rr'] as const;
export type RankingMetricName = (typeof RANKING_METRICS)[number];

/** Per-user values (NaN for users without truth) and the truth sizes. */
export interface PerUserRanking {
  k: number;
  numUsers: number;
  precision: Float64Array;
  recall: Float64Array;
  f1: Float64Array;
  ap: Float64Array;
  ndcg: Float64Array;
  hit: Float64Array;
  rr: Float64Array;
  /** Distinct relevant items per user. */
  truthSize: Int32Array;
}

function validateLists(where: string, lists: Int32Array, k: number, numUsers?: number): number {
  check(lists instanceof Int32Array, where, 'lists as an Int32Array [numUsers * k]', lists);
  check(Number.isInteger(k) && k > 0, where, 'k a positive integer', k);
  if (lists.length % k !== 0) {
    throw new ShapeError('list array is not a whole number of lists', {
      where,
      expected: `a length divisible by k = ${k}`,
      got: lists.length,
      hint: 'Pad short lists with -1 so every user has exactly k slots.',
    });
  }
  const n = lists.length / k;
  if (numUsers !== undefined && n !== numUsers) {
    throw new ShapeError('lists and truth disagree on the number of users', {
      where,
      expected: `${numUsers} users (truth.offsets.length - 1) x k = ${numUsers * k}`,
      got: lists.length,
    });
  }
  return n;
}

function maxItem(a: Int32Array, b?: Int32Array): number {
  let m = -1;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  if (b) for (let i = 0; i < b.length; i++) if (b[i] > m) m = b[i];
  return m;
}

// 1/log2(i+1) for ranks 1..; grown on demand.
let DISCOUNT = new Float64Array(0);
function discounts(k: number): Float64Array {
  if (DISCOUNT.length < k) {
    DISCOUNT = new Float64Array(Math.max(k, 64));
    for (let i = 0; i < DISCOUNT.length; i++) DISCOUNT[i] = 1 / Math.log2(i + 2);
  }
  return DISCOUNT;
}

/**
 * Per-user precision, recall, F1, AP, NDCG, hit and reciprocal rank at k, in one pass over the lists.
 * Cost O(numUsers * k + truth size); membership uses a stamp array over item ids (no hashing).
 */
export function rankingMetricsPerUser(lists: Int32Array, truth: ItemsCsr, k: number): PerUserRanking {
  const where = 'rankingMetricsPerUser';
  const numUsers = validateCsr(`${where}(truth)`, truth);
  validateLists(where, lists, k, numUsers);
  const nItems = maxItem(lists, truth.items) + 1;
  // stamp[item] == u+1 while item is relevant and not yet hit for user u; -(u+1) once hit (dedups the list).
  const stamp = new Int32Array(Math.max(nItems, 1));
  const disc = discounts(k);
  const out: PerUserRanking = {
    k,
    numUsers,
    precision: new Float64Array(numUsers),
    recall: new Float64Array(numUsers),
    f1: new Float64Array(numUsers),
    ap: new Float64Array(numUsers),
    ndcg: new Float64Array(numUsers),
    hit: new Float64Array(numUsers),
    rr: new Float64Array(numUsers),
    truthSize: new Int32Array(numUsers),
  };
  const { offsets, items } = truth;
  for (let u = 0; u < numUsers; u++) {
    const tag = u + 1;
    let R = 0;
    for (let j = offsets[u]; j < offsets[u + 1]; j++) {
      const it = items[j];
      if (it < 0) throw new InvalidArgumentError('negative item id in truth', { where, expected: 'item ids >= 0', got: it });
      if (stamp[it] !== tag) {
        stamp[it] = tag;
        R++;
      }
    }
    out.truthSize[u] = R;
    if (R === 0) {
      out.precision[u] = out.recall[u] = out.f1[u] = out.ap[u] = out.ndcg[u] = out.hit[u] = out.rr[u] = NaN;
      continue;
    }
    let hits = 0;
    let apSum = 0;
    let dcg = 0;
    let rr = 0;
    const base = u * k;
    for (let i = 0; i < k; i++) {
      const it = lists[base + i];
      if (it >= 0 && stamp[it] === tag) {
        stamp[it] = -tag;
        hits++;
        apSum += hits / (i + 1);
        dcg += disc[i];
        if (rr === 0) rr = 1 / (i + 1);
      }
    }
    const m = R < k ? R : k;
    let idcg = 0;
    for (let i = 0; i < m; i++) idcg += disc[i];
    const p = hits / k;
    const r = hits / R;
    out.precision[u] = p;
    out.recall[u] = r;
    out.f1[u] = p + r > 0 ? (2 * p * r) / (p + r) : 0;
    out.ap[u] = apSum / m;
    out.ndcg[u] = dcg / idcg;
    out.hit[u] = hits > 0 ? 1 : 0;
    out.rr[u] = rr;
  }
  return out;
}

/** F1 as the harmonic mean of aggregate precision and recall (the other common convention). */
export function harmonicF1(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/** A point estimate with a confidence interval. */
export interface Estimate {
  value: number;
  lo: number;
  hi: number;
}

export interface BootstrapOptions {
  /** Resamples (default 1000; 0 disables the intervals: lo = hi = value). */
  samples?: number;
  /** Seed for the resampling generator (default 0). */
  seed?: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/**
 * Means of several per-unit series (NaN entries skipped, the same units in every series) with percentile bootstrap
 * intervals (Poisson bootstrap: unit weights ~ Poisson(1) per resample). Units are resampled jointly across series,
 * so the intervals of related metrics come from the same resamples. Seeded: the same seed gives the same intervals.
 */
export function bootstrapMeans(series: Record<string, Float64Array>, options: BootstrapOptions = {}): Record<string, Estimate> {
  const names = Object.keys(series);
  const B = options.samples ?? 1000;
  const level = options.level ?? 0.95;
  check(Number.isInteger(B) && B >= 0, 'bootstrapMeans(samples)', 'an integer >= 0', B);
  check(level > 0 && level < 1, 'bootstrapMeans(level)', 'a level in (0, 1)', level);
  if (names.length === 0) return {};
  const n0 = series[names[0]].length;
  for (const s of names) check(series[s].length === n0, `bootstrapMeans(${s})`, `length ${n0}`, series[s].length);
  // Keep units where every series is defined (same NaN mask, e.g. users without truth). Columns are interleaved
  // [unit * m + series] so one resampled unit touches one cache line.
  const m = names.length;
  const cols = names.map((s) => series[s]);
  if (B === 0) {
    // no resampling: plain NaN-skipping means, no copies
    const out: Record<string, Estimate> = {};
    let n = 0;
    const sums = new Float64Array(m);
    for (let i = 0; i < n0; i++) {
      let ok = true;
      for (let j = 0; j < m; j++) if (Number.isNaN(cols[j][i])) ok = false;
      if (!ok) continue;
      n++;
      for (let j = 0; j < m; j++) sums[j] += cols[j][i];
    }
    names.forEach((s, j) => {
      const v = n > 0 ? sums[j] / n : NaN;
      out[s] = { value: v, lo: v, hi: v };
    });
    return out;
  }
  let n = 0;
  for (let i = 0; i < n0; i++) {
    let ok = true;
    for (let j = 0; j < m; j++) if (Number.isNaN(cols[j][i])) ok = false;
    if (ok) n++;
  }
  const packed = new Float64Array(n * m);
  const means = new Array<number>(m).fill(0);
  for (let i = 0, w = 0; i < n0; i++) {
    let ok = true;
    for (let j = 0; j < m; j++) if (Number.isNaN(cols[j][i])) ok = false;
    if (!ok) continue;
    for (let j = 0; j < m; j++) {
      const v = cols[j][i];
      packed[w * m + j] = v;
      means[j] += v;
    }
    w++;
  }
  for (let j = 0; j < m; j++) means[j] = n > 0 ? means[j] / n : NaN;
  const out: Record<string, Estimate> = {};
  if (B === 0 || n === 0) {
    names.forEach((s, j) => (out[s] = { value: means[j], lo: means[j], hi: means[j] }));
    return out;
  }
  // Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012): each resample gives unit i a weight
  // w ~ Poisson(1) instead of drawing n indices; the resample mean is sum w x / sum w. Same large-n behaviour as the
  // multinomial bootstrap, but one sequential pass over the units for all resamples (no random memory access).
  const rng = new Rng(options.seed ?? 0);
  const sums = new Float64Array(B * m);
  const sumW = new Float64Array(B);
  for (let i = 0; i < n; i++) {
    const base = i * m;
    for (let b = 0; b < B; b++) {
      const w = poisson1(rng.nextUint32() / 4294967296);
      if (w === 0) continue;
      sumW[b] += w;
      const o = b * m;
      for (let j = 0; j < m; j++) sums[o + j] += w * packed[base + j];
    }
  }
  const boot = names.map((_, j) => Float64Array.from({ length: B }, (_, b) => (sumW[b] > 0 ? sums[b * m + j] / sumW[b] : means[j])));
  const a = (1 - level) / 2;
  names.forEach((s, j) => {
    const sorted = boot[j].sort();
    out[s] = { value: means[j], lo: quantileSorted(sorted, a), hi: quantileSorted(sorted, 1 - a) };
  });
  return out;
}

// Cumulative Poisson(1) probabilities P(X <= k), k = 0..9 (e^-1 sum_{i<=k} 1/i!); beyond 9 has mass < 1.1e-7.
const POISSON1_CDF = (() => {
  const c = new Float64Array(10);
  let p = Math.exp(-1);
  let acc = 0;
  for (let k = 0; k < 10; k++) {
    acc += p;
    c[k] = acc;
    p /= k + 1;
  }
  return c;
})();

/** Inverse-CDF draw of Poisson(1) from a uniform u in [0, 1). */
function poisson1(u: number): number {
  let k = 0;
  while (k < 9 && u >= POISSON1_CDF[k]) k++;
  return k;
}

/** Linear-interpolated quantile (type 7, the R/numpy default) of a sorted array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export interface RankingSummary {
  k: number;
  /** Users with a non-empty truth set (the denominator of every mean). */
  usersScored: number;
  /** Users skipped because their truth set was empty. */
  usersSkipped: number;
  precision: Estimate;
  recall: Estimate;
  /** Mean of per-user F1. */
  f1: Estimate;
  /** 2PR/(P+R) of the mean precision and mean recall (reported for comparison with papers that use it). */
  f1OfMeans: number;
  /** MAP: mean of per-user AP. */
  map: Estimate;
  ndcg: Estimate;
  hitRate: Estimate;
  mrr: Estimate;
}

/** Aggregate per-user ranking metrics: means over users with truth, with seeded percentile-bootstrap intervals. */
export function summarizeRanking(per: PerUserRanking, options: BootstrapOptions = {}): RankingSummary {
  const est = bootstrapMeans(
    { precision: per.precision, recall: per.recall, f1: per.f1, ap: per.ap, ndcg: per.ndcg, hit: per.hit, rr: per.rr },
    options,
  );
  let scored = 0;
  for (let u = 0; u < per.numUsers; u++) if (per.truthSize[u] > 0) scored++;
  return {
    k: per.k,
    usersScored: scored,
    usersSkipped: per.numUsers - scored,
    precision: est.precision,
    recall: est.recall,
    f1: est.f1,
    f1OfMeans: harmonicF1(est.precision.value, est.recall.value),
    map: est.ap,
    ndcg: est.ndcg,
    hitRate: est.hit,
    mrr: est.rr,
  };
}

/** Per-user metrics and their summary in one call. */
export function rankingMetrics(
  lists: Int32Array,
  truth: ItemsCsr,
  k: number,
  options: BootstrapOptions = {},
): { perUser: PerUserRanking; summary: RankingSummary } {
  const perUser = rankingMetricsPerUser(lists, truth, k);
  return { perUser, summary: summarizeRanking(perUser, options) };
}

/** Share of the catalogue (`numItems`) that appears in at least one list. Padding (-1) is ignored. */
export function catalogCoverage(lists: Int32Array, numItems: number): number {
  check(Number.isInteger(numItems) && numItems > 0, 'catalogCoverage(numItems)', 'a positive integer', numItems);
  const seen = new Uint8Array(numItems);
  let distinct = 0;
  for (let i = 0; i < lists.length; i++) {
    const it = lists[i];
    if (it < 0) continue;
    if (it >= numItems) {
      throw new InvalidArgumentError('item id outside the catalogue', {
        where: 'catalogCoverage',
        expected: `ids in [0, ${numItems})`,
        got: it,
      });
    }
    if (seen[it] === 0) {
      seen[it] = 1;
      distinct++;
    }
  }
  return distinct / numItems;
}

/**
 * Intra-list diversity by category, per list: the share of item pairs in the list whose categories differ,
 * `1 - sum_c n_c (n_c - 1) / (m (m - 1))` over the m valid items (NaN when m < 2). O(k) per list via category counts.
 */
export function intraListDiversity(lists: Int32Array, k: number, itemCategory: Int32Array): Float64Array {
  const n = validateLists('intraListDiversity', lists, k);
  let nCat = 0;
  for (let i = 0; i < itemCategory.length; i++) if (itemCategory[i] + 1 > nCat) nCat = itemCategory[i] + 1;
  const count = new Int32Array(nCat);
  const out = new Float64Array(n);
  const cats = new Int32Array(k);
  for (let u = 0; u < n; u++) {
    let m = 0;
    let samePairs = 0;
    for (let i = 0; i < k; i++) {
      const it = lists[u * k + i];
      if (it < 0) continue;
      if (it >= itemCategory.length) {
        throw new InvalidArgumentError('item has no category', {
          where: 'intraListDiversity',
          expected: `item ids < itemCategory.length (${itemCategory.length})`,
          got: it,
        });
      }
      const c = itemCategory[it];
      samePairs += count[c]; // pairs formed with the earlier items of the same category
      count[c]++;
      cats[m++] = c;
    }
    for (let i = 0; i < m; i++) count[cats[i]] = 0;
    out[u] = m < 2 ? NaN : 1 - samePairs / ((m * (m - 1)) / 2);
  }
  return out;
}

/**
 * Novelty per list: mean self-information `-log2 p_i` of its items, where `p_i = interactions_i / numUsers` is the
 * share of users who interacted with item i in training (Zhou et al. 2010). An item never seen in training is
 * counted as seen by one user (p = 1/numUsers) so the value stays finite.
 */
export function novelty(lists: Int32Array, k: number, itemUserCounts: ArrayLike<number>, numUsers: number): Float64Array {
  const n = validateLists('novelty', lists, k);
  check(numUsers > 0, 'novelty(numUsers)', 'a positive number of training users', numUsers);
  const info = new Float64Array(itemUserCounts.length);
  for (let i = 0; i < info.length; i++) info[i] = -Math.log2(Math.max(itemUserCounts[i], 1) / numUsers);
  const out = new Float64Array(n);
  for (let u = 0; u < n; u++) {
    let s = 0;
    let m = 0;
    for (let i = 0; i < k; i++) {
      const it = lists[u * k + i];
      if (it < 0) continue;
      if (it >= info.length) {
        throw new InvalidArgumentError('item has no popularity count', {
          where: 'novelty',
          expected: `item ids < itemUserCounts.length (${info.length})`,
          got: it,
        });
      }
      s += info[it];
      m++;
    }
    out[u] = m > 0 ? s / m : NaN;
  }
  return out;
}

/** Mean of the finite entries (NaN when none). */
export function nanMean(a: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

/** Build an ItemsCsr from per-user JS arrays (for tests, notebooks and small inputs). */
export function csrFromArrays(perUser: ArrayLike<number>[]): ItemsCsr {
  const offsets = new Int32Array(perUser.length + 1);
  for (let u = 0; u < perUser.length; u++) offsets[u + 1] = offsets[u] + perUser[u].length;
  const items = new Int32Array(offsets[perUser.length]);
  for (let u = 0; u < perUser.length; u++) items.set(Array.from(perUser[u]), offsets[u]);
  return { offsets, items };
}
