/**
 * Matching continuous actions ("virtual items") to real items by cosine similarity: exact top-k over L2-normalised
 * item embeddings. Interchangeable implementations:
 * - `CosineMatcher`: plain typed-array loops, register-blocked 4 queries x 2 items (about 5 GFLOP/s on one core
 *   here), no tfjs. The reference: `SimdCosineMatcher` (match-wasm.ts, the belief simulator's default) returns
 *   exactly its results, about 15x faster on 2 cores.
 * - `TfjsCosineMatcher`: one tfjs-core matMul per chunk of queries on whatever backend the application picked
 *   (several times faster on wasm), then the same top-k scan. Call `dispose()` when done.
 * All return items best-first; ties keep the lower item index, so results are deterministic.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, check } from '@rec/core';

export interface ItemMatcher {
  readonly numItems: number;
  readonly dim: number;
  /**
   * Top-`k` items for each of `n` queries (`queries` `[n * dim]`, row-major), best first, into `out` `[n * k]`;
   * `scores` (optional, `[n * k]`) gets their scores (cosine similarities; dot products for a `metric: 'dot'`
   * matcher).
   */
  topK(queries: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void;
}

/** Row-wise L2-normalised copy of `[rows * dim]` embeddings (zero rows stay zero). */
export function normaliseRows(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  const rows = x.length / dim;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += x[r * dim + j] * x[r * dim + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[r * dim + j] = x[r * dim + j] * inv;
  }
  return out;
}

/** @internal Validates `[rows * dim]` item embeddings; returns the row count. */
export function checkEmbeddings(e: Float32Array, dim: number, where: string): number {
  check(Number.isInteger(dim) && dim > 0, `${where}(dim)`, 'a positive integer', dim);
  if (!(e instanceof Float32Array) || e.length === 0 || e.length % dim !== 0) {
    throw new ShapeError('item embeddings do not split into rows', {
      where: `${where}(itemEmbeddings)`,
      expected: `a non-empty Float32Array whose length is a multiple of dim ${dim}`,
      got: e,
    });
  }
  return e.length / dim;
}

/** @internal Validates a metric option (default 'cosine'). */
export function checkMetric(metric: MatchMetric | undefined, where: string): MatchMetric {
  check(metric === undefined || metric === 'cosine' || metric === 'dot', `${where}(options.metric)`, "'cosine' or 'dot'", metric);
  return metric ?? 'cosine';
}

/** @internal Validates a `topK` call. */
export function checkQuery(m: ItemMatcher, queries: Float32Array, n: number, k: number, out: Int32Array, where: string): void {
  if (queries.length < n * m.dim) {
    throw new ShapeError('queries too short', { where, expected: `at least n ${n} x dim ${m.dim} numbers`, got: queries.length });
  }
  check(Number.isInteger(k) && k > 0 && k <= m.numItems, `${where}(k)`, `an integer in [1, ${m.numItems}]`, k);
  if (out.length < n * k) throw new ShapeError('output too short', { where, expected: `Int32Array of at least ${n * k}`, got: out.length });
}

/**
 * Keep the best `k` of a row of scores in sorted arrays (descending). `bs`/`bi` hold the current best for one query;
 * returns nothing, updates in place. Strict `>` keeps the earlier (lower) item on ties.
 */
function scanTopK(row: Float32Array | Float64Array, rowOff: number, len: number, itemOff: number, k: number, bs: Float64Array, bi: Int32Array, bo: number): void {
  let th = bs[bo + k - 1];
  for (let j = 0; j < len; j++) {
    const v = row[rowOff + j];
    if (v > th) {
      let p = k - 1;
      while (p > 0 && bs[bo + p - 1] < v) {
        bs[bo + p] = bs[bo + p - 1];
        bi[bo + p] = bi[bo + p - 1];
        p--;
      }
      bs[bo + p] = v;
      bi[bo + p] = itemOff + j;
      th = bs[bo + k - 1];
    }
  }
}

/**
 * S[r * len + j] = Q[qOff + r] . X[xOff + j] for m query rows and len item rows of width D (4 x 2 register
 * tiles, f64 sums in dimension order: the arithmetic every exact matcher here reproduces). Shared with ivf.ts.
 */
export function dotBlock(Q: Float32Array, qOff: number, m: number, X: Float32Array, xOff: number, len: number, D: number, S: Float64Array): void {
  for (let r = 0; r < m; r += 4) {
    const g = Math.min(4, m - r);
    const q0 = (qOff + r) * D;
    const q1 = (qOff + r + Math.min(1, g - 1)) * D;
    const q2 = (qOff + r + Math.min(2, g - 1)) * D;
    const q3 = (qOff + r + Math.min(3, g - 1)) * D;
    let j = 0;
    for (; j + 1 < len; j += 2) {
      const x0 = (xOff + j) * D;
      const x1 = x0 + D;
      let a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0, a30 = 0, a31 = 0;
      for (let d = 0; d < D; d++) {
        const y0 = X[x0 + d];
        const y1 = X[x1 + d];
        const p0 = Q[q0 + d], p1 = Q[q1 + d], p2 = Q[q2 + d], p3 = Q[q3 + d];
        a00 += p0 * y0; a01 += p0 * y1;
        a10 += p1 * y0; a11 += p1 * y1;
        a20 += p2 * y0; a21 += p2 * y1;
        a30 += p3 * y0; a31 += p3 * y1;
      }
      S[r * len + j] = a00; S[r * len + j + 1] = a01;
      if (g > 1) { S[(r + 1) * len + j] = a10; S[(r + 1) * len + j + 1] = a11; }
      if (g > 2) { S[(r + 2) * len + j] = a20; S[(r + 2) * len + j + 1] = a21; }
      if (g > 3) { S[(r + 3) * len + j] = a30; S[(r + 3) * len + j + 1] = a31; }
    }
    if (j < len) {
      const x0 = (xOff + j) * D;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let d = 0; d < D; d++) {
        const y = X[x0 + d];
        a0 += Q[q0 + d] * y; a1 += Q[q1 + d] * y; a2 += Q[q2 + d] * y; a3 += Q[q3 + d] * y;
      }
      S[r * len + j] = a0;
      if (g > 1) S[(r + 1) * len + j] = a1;
      if (g > 2) S[(r + 2) * len + j] = a2;
      if (g > 3) S[(r + 3) * len + j] = a3;
    }
  }
}

/** What the exact matchers rank by. */
export type MatchMetric = 'cosine' | 'dot';

export interface CosineMatcherOptions {
  /**
   * `'cosine'` (default): cosine similarity. `'dot'`: the plain dot product of query and item (maximum inner
   * product, e.g. a factorisation model's user-item scores), items and queries used as given.
   */
  metric?: MatchMetric;
}

/** Exact cosine (or dot-product) top-k in plain typed-array loops (see the module comment). */
export class CosineMatcher implements ItemMatcher {
  readonly numItems: number;
  readonly dim: number;
  readonly metric: MatchMetric;
  /** The item rows scores are computed with, `[numItems * dim]`: L2-normalised ('cosine') or as given ('dot'). */
  readonly normalised: Float32Array;

  constructor(itemEmbeddings: Float32Array, dim = 64, options: CosineMatcherOptions = {}) {
    this.numItems = checkEmbeddings(itemEmbeddings, dim, 'CosineMatcher');
    this.dim = dim;
    this.metric = checkMetric(options.metric, 'CosineMatcher');
    this.normalised = this.metric === 'dot' ? itemEmbeddings.slice() : normaliseRows(itemEmbeddings, dim);
  }

  topK(queries: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void {
    checkQuery(this, queries, n, k, out, 'CosineMatcher.topK');
    const D = this.dim;
    const N = this.numItems;
    const X = this.normalised;
    const Q = this.metric === 'dot' ? queries.subarray(0, n * D) : normaliseRows(queries.subarray(0, n * D), D);
    // Items in blocks of 512 so the 4 score rows stay in cache; queries in groups of 4.
    const IB = 512;
    const S = new Float64Array(4 * IB);
    const bs = new Float64Array(4 * k);
    const bi = new Int32Array(4 * k);
    for (let u = 0; u < n; u += 4) {
      const g = Math.min(4, n - u);
      bs.fill(-Infinity);
      bi.fill(0);
      for (let j0 = 0; j0 < N; j0 += IB) {
        const len = Math.min(IB, N - j0);
        dotBlock(Q, u, g, X, j0, len, D, S);
        for (let r = 0; r < g; r++) scanTopK(S, r * len, len, j0, k, bs, bi, r * k);
      }
      for (let r = 0; r < g; r++) {
        for (let t = 0; t < k; t++) {
          out[(u + r) * k + t] = bi[r * k + t];
          if (scores) scores[(u + r) * k + t] = bs[r * k + t];
        }
      }
    }
  }
}

export interface TfjsCosineMatcherOptions {
  /** Queries per matMul (bounds the `[chunk, numItems]` score matrix). Default 1,024. */
  chunk?: number;
}

/** Exact cosine top-k with one tfjs-core matMul per chunk of queries (see the module comment). */
export class TfjsCosineMatcher implements ItemMatcher {
  readonly numItems: number;
  readonly dim: number;
  private readonly chunk: number;
  /** Normalised embeddings transposed `[dim, numItems]`: a plain matMul, no transpose flags (slow on wasm). */
  private itemsT: tf.Tensor2D | null;

  constructor(itemEmbeddings: Float32Array, dim = 64, options: TfjsCosineMatcherOptions = {}) {
    this.numItems = checkEmbeddings(itemEmbeddings, dim, 'TfjsCosineMatcher');
    this.dim = dim;
    this.chunk = options.chunk ?? 1024;
    const x = normaliseRows(itemEmbeddings, dim);
    const t = new Float32Array(x.length);
    for (let i = 0; i < this.numItems; i++) for (let d = 0; d < dim; d++) t[d * this.numItems + i] = x[i * dim + d];
    this.itemsT = tf.tensor2d(t, [dim, this.numItems]);
  }

  topK(queries: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void {
    checkQuery(this, queries, n, k, out, 'TfjsCosineMatcher.topK');
    if (!this.itemsT) throw new ShapeError('matcher was disposed', { where: 'TfjsCosineMatcher.topK', expected: 'a live matcher', got: 'disposed' });
    const D = this.dim;
    const N = this.numItems;
    const bs = new Float64Array(k);
    const bi = new Int32Array(k);
    for (let u0 = 0; u0 < n; u0 += this.chunk) {
      const c = Math.min(this.chunk, n - u0);
      const q = normaliseRows(queries.subarray(u0 * D, (u0 + c) * D), D);
      const s = tf.tidy(() => tf.matMul(tf.tensor2d(q, [c, D]), this.itemsT as tf.Tensor2D));
      const data = s.dataSync() as Float32Array;
      s.dispose();
      for (let r = 0; r < c; r++) {
        bs.fill(-Infinity);
        bi.fill(0);
        scanTopK(data, r * N, N, 0, k, bs, bi, 0);
        for (let t = 0; t < k; t++) {
          out[(u0 + r) * k + t] = bi[t];
          if (scores) scores[(u0 + r) * k + t] = bs[t];
        }
      }
    }
  }

  dispose(): void {
    this.itemsT?.dispose();
    this.itemsT = null;
  }
}

/**
 * The exact matcher that suits the running tfjs backend: `TfjsCosineMatcher` when the application picked a fast
 * backend (wasm, webgpu, tensorflow), else the typed-array `CosineMatcher` (tfjs' cpu backend is slower than plain
 * loops). Chooses nothing itself: it only reads `tf.getBackend()`.
 */
export function createCosineMatcher(itemEmbeddings: Float32Array, dim = 64, options: TfjsCosineMatcherOptions = {}): ItemMatcher & { dispose?(): void } {
  let backend = '';
  try {
    backend = tf.getBackend() ?? '';
  } catch {
    backend = '';
  }
  return backend && backend !== 'cpu' ? new TfjsCosineMatcher(itemEmbeddings, dim, options) : new CosineMatcher(itemEmbeddings, dim);
}
