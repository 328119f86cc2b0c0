/**
 * Summary statistics of an interaction log (raw or dense ids), to compare a synthetic log with a real one,
 * and the ordering check of the UserBehavior file layout.
 */
import { checkLog } from './sessions.js';
import type { InteractionLog } from './types.js';

export interface LogStatistics {
  rows: number;
  users: number;
  items: number;
  categories: number;
  /** Shares of pv, cart, fav, buy. */
  behaviorMix: [number, number, number, number];
  eventsPerUserMean: number;
  eventsPerUserMedian: number;
  eventsPerUserP90: number;
  /** Mean distinct items per user. */
  itemsPerUserMean: number;
  /** Mean distinct categories per user. */
  categoriesPerUserMean: number;
  /** Mean over users of (events in the user's top category / user's events): category concentration. */
  topCategoryShareMean: number;
  /** 1 - distinct (user, item) pairs / rows: how often users come back to an item. */
  repeatItemShare: number;
  sessions: number;
  sessionLengthMean: number;
  sessionLengthMedian: number;
  /** Seconds between consecutive events of a user. */
  gapMedian: number;
  gapP25: number;
  gapP75: number;
  /** Share of consecutive-event gaps over 30 minutes. */
  gapOver30MinShare: number;
  /** Share of events on the top 1% of items (at least one item). */
  itemTop1PctShare: number;
  /** Share of items seen exactly once. */
  itemSingletonShare: number;
  /** Share of events in the most popular category. */
  topCategoryEventShare: number;
  /** Least-squares slope of log(frequency) on log(rank) over items (the popularity tail; about -s for Zipf s). */
  itemRankSlope: number;
  categoryRankSlope: number;
  /** Share of buys whose item the same user had carted earlier. */
  buysOfCartedShare: number;
}

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))));
  return sorted[i];
}

/** Slope of log(count) vs log(rank) over ranks 1..min(n, 10,000), counts sorted descending. */
function rankSlope(countsDesc: Float64Array): number {
  const n = Math.min(countsDesc.length, 10_000);
  if (n < 3) return NaN;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let r = 0; r < n; r++) {
    const x = Math.log(r + 1);
    const y = Math.log(countsDesc[r]);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

function countsOf(col: Int32Array, n: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let r = 0; r < n; r++) m.set(col[r], (m.get(col[r]) ?? 0) + 1);
  return m;
}

function descending(m: Map<number, number>): Float64Array {
  return Float64Array.from(m.values()).sort().reverse();
}

/**
 * Statistics of a log. Each user's rows are taken in time order (stable); sessions cut at gaps over 30 minutes.
 * Uses hash maps on raw ids: meant for samples and reports, O(rows) memory.
 */
export function logStatistics(log: InteractionLog): LogStatistics {
  checkLog(log, 'logStatistics');
  const n = log.numRows;
  const byUser = new Map<number, number[]>();
  for (let r = 0; r < n; r++) {
    let a = byUser.get(log.user[r]);
    if (!a) byUser.set(log.user[r], (a = []));
    a.push(r);
  }
  const mix: [number, number, number, number] = [0, 0, 0, 0];
  for (let r = 0; r < n; r++) mix[log.behavior[r]]++;
  for (let b = 0; b < 4; b++) mix[b] /= Math.max(1, n);
  const evs: number[] = [];
  const gaps: number[] = [];
  const sessLens: number[] = [];
  let itemsSum = 0;
  let catsSum = 0;
  let topShareSum = 0;
  let buys = 0;
  let buysCarted = 0;
  for (const rows of byUser.values()) {
    rows.sort((a, b) => log.timestamp[a] - log.timestamp[b] || a - b);
    evs.push(rows.length);
    const items = new Set<number>();
    const cats = new Map<number, number>();
    const carted = new Set<number>();
    let len = 1;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      items.add(log.item[r]);
      cats.set(log.category[r], (cats.get(log.category[r]) ?? 0) + 1);
      if (log.behavior[r] === 3) {
        buys++;
        if (carted.has(log.item[r])) buysCarted++;
      } else if (log.behavior[r] === 1) carted.add(log.item[r]);
      if (i > 0) {
        const g = log.timestamp[r] - log.timestamp[rows[i - 1]];
        gaps.push(g);
        if (g > 1800) {
          sessLens.push(len);
          len = 1;
        } else len++;
      }
    }
    sessLens.push(len);
    itemsSum += items.size;
    catsSum += cats.size;
    let top = 0;
    for (const c of cats.values()) if (c > top) top = c;
    topShareSum += top / rows.length;
  }
  const users = byUser.size;
  const evSorted = Float64Array.from(evs).sort();
  const gapSorted = Float64Array.from(gaps).sort();
  const sessSorted = Float64Array.from(sessLens).sort();
  const itemCounts = descending(countsOf(log.item, n));
  const catCounts = descending(countsOf(log.category, n));
  const top1 = Math.max(1, Math.floor(itemCounts.length / 100));
  let topSum = 0;
  for (let i = 0; i < top1; i++) topSum += itemCounts[i];
  let singletons = 0;
  for (const c of itemCounts) if (c === 1) singletons++;
  let over = 0;
  for (const g of gaps) if (g > 1800) over++;
  return {
    rows: n,
    users,
    items: itemCounts.length,
    categories: catCounts.length,
    behaviorMix: mix,
    eventsPerUserMean: n / Math.max(1, users),
    eventsPerUserMedian: quantile(evSorted, 0.5),
    eventsPerUserP90: quantile(evSorted, 0.9),
    itemsPerUserMean: itemsSum / Math.max(1, users),
    categoriesPerUserMean: catsSum / Math.max(1, users),
    topCategoryShareMean: topShareSum / Math.max(1, users),
    repeatItemShare: n > 0 ? 1 - itemsSum / n : 0,
    sessions: sessLens.length,
    sessionLengthMean: n / Math.max(1, sessLens.length),
    sessionLengthMedian: quantile(sessSorted, 0.5),
    gapMedian: quantile(gapSorted, 0.5),
    gapP25: quantile(gapSorted, 0.25),
    gapP75: quantile(gapSorted, 0.75),
    gapOver30MinShare: gaps.length > 0 ? over / gaps.length : 0,
    itemTop1PctShare: n > 0 ? topSum / n : 0,
    itemSingletonShare: itemCounts.length > 0 ? singletons / itemCounts.length : 0,
    topCategoryEventShare: n > 0 && catCounts.length > 0 ? catCounts[0] / n : 0,
    itemRankSlope: rankSlope(itemCounts),
    categoryRankSlope: rankSlope(catCounts),
    buysOfCartedShare: buys > 0 ? buysCarted / buys : 0,
  };
}

export interface StatisticComparison {
  name: string;
  synthetic: number;
  real: number;
  /** synthetic / real (NaN when real is 0). */
  ratio: number;
}

/** Side-by-side statistics (behavior mix expanded to four rows). */
export function compareLogStatistics(synthetic: LogStatistics, real: LogStatistics): StatisticComparison[] {
  const out: StatisticComparison[] = [];
  for (const key of Object.keys(real) as (keyof LogStatistics)[]) {
    const a = synthetic[key];
    const b = real[key];
    if (Array.isArray(a) && Array.isArray(b)) {
      ['pv', 'cart', 'fav', 'buy'].forEach((nm, i) => out.push({ name: `behaviorMix.${nm}`, synthetic: a[i], real: b[i], ratio: b[i] ? a[i] / b[i] : NaN }));
    } else {
      const x = a as number;
      const y = b as number;
      out.push({ name: key, synthetic: x, real: y, ratio: y ? x / y : NaN });
    }
  }
  return out;
}

/** A markdown table of a comparison. */
export function formatComparison(rows: StatisticComparison[]): string {
  const f = (v: number) => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4));
  const lines = ['| statistic | synthetic | real | ratio |', '|---|---:|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.name} | ${f(r.synthetic)} | ${f(r.real)} | ${Number.isNaN(r.ratio) ? '-' : r.ratio.toFixed(2)} |`);
  return lines.join('\n');
}

export interface OrderCheck {
  /** Every user's rows are contiguous. */
  groupedByUser: boolean;
  /** User blocks appear in ascending string order of the user id. */
  usersInStringOrder: boolean;
  /** Timestamps never decrease within a user's block. */
  timeSortedWithinUser: boolean;
  /** First offending row of each property (-1 when it holds). */
  firstViolation: { grouped: number; stringOrder: number; timeSorted: number };
}

/** Check the UserBehavior layout: rows grouped by user, users in string order of id, time-sorted within a user. */
export function checkUserBehaviorOrder(log: InteractionLog): OrderCheck {
  checkLog(log, 'checkUserBehaviorOrder');
  const seen = new Set<number>();
  const v = { grouped: -1, stringOrder: -1, timeSorted: -1 };
  for (let r = 0; r < log.numRows; r++) {
    const u = log.user[r];
    if (r > 0 && u === log.user[r - 1]) {
      if (v.timeSorted < 0 && log.timestamp[r] < log.timestamp[r - 1]) v.timeSorted = r;
      continue;
    }
    if (seen.has(u) && v.grouped < 0) v.grouped = r;
    seen.add(u);
    if (r > 0 && v.stringOrder < 0 && !(String(log.user[r - 1]) < String(u))) v.stringOrder = r;
  }
  return {
    groupedByUser: v.grouped < 0,
    usersInStringOrder: v.stringOrder < 0,
    timeSortedWithinUser: v.timeSorted < 0,
    firstViolation: v,
  };
}
