/**
 * Item and category statistics: event counts per behavior, popularity and pv->cart/fav/buy conversion rates.
 * Pass `rows` (row indices of a training split) to compute them from that split only, so features built from
 * them never see test events.
 */
import { check } from '@rec/core';
import { checkLog, denseSize } from './sessions.js';
import type { InteractionLog } from './types.js';

export interface EntityStats {
  /** Number of entities (items or categories); arrays below have this length. */
  size: number;
  /** Events per entity (all behaviors). */
  count: Int32Array;
  pv: Int32Array;
  cart: Int32Array;
  fav: Int32Array;
  buy: Int32Array;
  /** log1p(count) / log1p(max count): 0 for unseen, 1 for the most popular. */
  popularity: Float32Array;
  /** cart / pv, fav / pv, buy / pv, each clipped to [0, 1]; 0 when the entity has no pv (see `smoothing`). */
  cartRate: Float32Array;
  favRate: Float32Array;
  buyRate: Float32Array;
  /** Largest count (the popularity normaliser). */
  maxCount: number;
  /** Number of rows the statistics were computed from. */
  rowsUsed: number;
}

export interface EntityStatsOptions {
  /** Row indices to count (a training split). Default: every row. */
  rows?: Int32Array;
  /** Number of entities; default `numItems`/`numCategories` of an IndexedLog, or max id + 1. */
  size?: number;
  /**
   * Additive smoothing of conversion rates toward the global rate: rate = (k + a * globalRate) / (pv + a).
   * Default 0 (plain ratio, 0 when pv = 0).
   */
  smoothing?: number;
}

function computeStats(log: InteractionLog, column: 'item' | 'category', options: EntityStatsOptions, where: string): EntityStats {
  checkLog(log, where);
  const size = options.size ?? denseSize(log, column, where);
  check(Number.isInteger(size) && size >= 0, `${where}: size`, 'a non-negative integer', size);
  const a = options.smoothing ?? 0;
  check(a >= 0 && Number.isFinite(a), `${where}: smoothing`, 'a finite number >= 0', a);
  const ids = log[column];
  const beh = log.behavior;
  const counts = [new Int32Array(size), new Int32Array(size), new Int32Array(size), new Int32Array(size)];
  const add = (r: number): void => {
    const id = ids[r];
    const b = beh[r];
    // Plain ifs: check() would build its message strings on every row.
    if (!(id >= 0 && id < size)) check(false, `${where}: row ${r}`, `a dense ${column} id in [0, ${size})`, id, 'Re-index the log first, or pass a larger size.');
    if (b > 3) check(false, `${where}: row ${r}`, 'a behavior code 0..3 (pv, cart, fav, buy)', b);
    counts[b][id]++;
  };
  let rowsUsed: number;
  if (options.rows) {
    const rows = options.rows;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!(r >= 0 && r < log.numRows)) check(false, `${where}: rows[${i}]`, `a row index in [0, ${log.numRows})`, r);
      add(r);
    }
    rowsUsed = rows.length;
  } else {
    for (let r = 0; r < log.numRows; r++) add(r);
    rowsUsed = log.numRows;
  }
  const [pv, cart, fav, buy] = counts;
  const count = new Int32Array(size);
  let maxCount = 0;
  let totPv = 0;
  let totCart = 0;
  let totFav = 0;
  let totBuy = 0;
  for (let i = 0; i < size; i++) {
    const c = pv[i] + cart[i] + fav[i] + buy[i];
    count[i] = c;
    if (c > maxCount) maxCount = c;
    totPv += pv[i];
    totCart += cart[i];
    totFav += fav[i];
    totBuy += buy[i];
  }
  const g = (k: number): number => (totPv > 0 ? Math.min(1, k / totPv) : 0);
  const gCart = g(totCart);
  const gFav = g(totFav);
  const gBuy = g(totBuy);
  const popularity = new Float32Array(size);
  const cartRate = new Float32Array(size);
  const favRate = new Float32Array(size);
  const buyRate = new Float32Array(size);
  const logMax = Math.log1p(maxCount);
  for (let i = 0; i < size; i++) {
    popularity[i] = maxCount > 0 ? Math.log1p(count[i]) / logMax : 0;
    const den = pv[i] + a;
    if (den > 0) {
      cartRate[i] = Math.min(1, (cart[i] + a * gCart) / den);
      favRate[i] = Math.min(1, (fav[i] + a * gFav) / den);
      buyRate[i] = Math.min(1, (buy[i] + a * gBuy) / den);
    }
  }
  return { size, count, pv, cart, fav, buy, popularity, cartRate, favRate, buyRate, maxCount, rowsUsed };
}

/** Per-item statistics (dense item ids). `rows` restricts them to a training split. */
export function itemStats(log: InteractionLog, options: EntityStatsOptions = {}): EntityStats {
  return computeStats(log, 'item', options, 'itemStats');
}

/** Per-category statistics (dense category ids). `rows` restricts them to a training split. */
export function categoryStats(log: InteractionLog, options: EntityStatsOptions = {}): EntityStats {
  return computeStats(log, 'category', options, 'categoryStats');
}

/** Row indices whose timestamp is strictly before `t` (a temporal training split without leakage). */
export function rowsBefore(log: InteractionLog, t: number): Int32Array {
  const out = new Int32Array(log.numRows);
  let w = 0;
  for (let r = 0; r < log.numRows; r++) if (log.timestamp[r] < t) out[w++] = r;
  return out.slice(0, w);
}
