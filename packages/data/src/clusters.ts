/**
 * k-means item clusters (k-means++ initialisation, Lloyd iterations, seeded) over embedding rows, each item's
 * distance to its cluster centre, and per-user cluster affinity (share of a user's events per cluster), as the
 * TD3 design uses them. Plain typed-array loops: O(n k d) per iteration, no tensors.
 */
import { check, Rng } from '@rec/core';
import { checkLog, denseSize } from './sessions.js';
import type { InteractionLog } from './types.js';

export interface KMeansOptions {
  /** Number of clusters (default 5). */
  k?: number;
  /** Seed of the k-means++ draws (default 0). */
  seed?: number;
  /** Lloyd iterations at most (default 100). */
  maxIterations?: number;
  /** Stop when no point changes cluster, or the inertia improves by less than this fraction (default 1e-6). */
  tolerance?: number;
  /** Independent k-means++ restarts; the lowest inertia wins (default 3). */
  restarts?: number;
}

export interface KMeansResult {
  k: number;
  dim: number;
  /** Cluster centres, row-major [k, dim]. */
  centroids: Float32Array;
  /** Cluster of each point. */
  assignment: Int32Array;
  /** Euclidean distance of each point to its cluster centre. */
  distance: Float32Array;
  /** Points per cluster. */
  sizes: Int32Array;
  /** Sum of squared distances to the assigned centres. */
  inertia: number;
  iterations: number;
}

function sqDist(x: Float32Array, i: number, c: Float64Array, j: number, dim: number): number {
  let s = 0;
  const xo = i * dim;
  const co = j * dim;
  for (let t = 0; t < dim; t++) {
    const d = x[xo + t] - c[co + t];
    s += d * d;
  }
  return s;
}

function runOnce(x: Float32Array, n: number, dim: number, k: number, rng: Rng, maxIter: number, tol: number) {
  const c = new Float64Array(k * dim);
  const d2 = new Float64Array(n);
  // k-means++: first centre uniform, each next one drawn with probability proportional to squared distance.
  const first = rng.int(n);
  for (let t = 0; t < dim; t++) c[t] = x[first * dim + t];
  for (let i = 0; i < n; i++) d2[i] = sqDist(x, i, c, 0, dim);
  for (let j = 1; j < k; j++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += d2[i];
    let pick = n - 1;
    if (total > 0) {
      let u = rng.next() * total;
      for (let i = 0; i < n; i++) {
        u -= d2[i];
        if (u < 0) {
          pick = i;
          break;
        }
      }
    } else pick = rng.int(n);
    for (let t = 0; t < dim; t++) c[j * dim + t] = x[pick * dim + t];
    for (let i = 0; i < n; i++) d2[i] = Math.min(d2[i], sqDist(x, i, c, j, dim));
  }
  const assign = new Int32Array(n).fill(-1);
  const sizes = new Int32Array(k);
  let inertia = Infinity;
  let it = 0;
  for (; it < maxIter; it++) {
    let changed = 0;
    let inert = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bd = Infinity;
      for (let j = 0; j < k; j++) {
        const d = sqDist(x, i, c, j, dim);
        if (d < bd) {
          bd = d;
          best = j;
        }
      }
      if (assign[i] !== best) changed++;
      assign[i] = best;
      d2[i] = bd;
      inert += bd;
    }
    // Update centres; an empty cluster takes the point farthest from its centre.
    c.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      const j = assign[i];
      sizes[j]++;
      for (let t = 0; t < dim; t++) c[j * dim + t] += x[i * dim + t];
    }
    for (let j = 0; j < k; j++) {
      if (sizes[j] > 0) {
        for (let t = 0; t < dim; t++) c[j * dim + t] /= sizes[j];
        continue;
      }
      let far = 0;
      for (let i = 1; i < n; i++) if (d2[i] > d2[far]) far = i;
      for (let t = 0; t < dim; t++) c[j * dim + t] = x[far * dim + t];
      d2[far] = 0;
      changed++;
    }
    const improved = inertia - inert;
    inertia = inert;
    if (changed === 0 || (it > 0 && improved >= 0 && improved <= tol * inert)) {
      it++;
      break;
    }
  }
  // Final assignment against the final centres (so distances match the returned centroids).
  inertia = 0;
  sizes.fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bd = Infinity;
    for (let j = 0; j < k; j++) {
      const d = sqDist(x, i, c, j, dim);
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    assign[i] = best;
    d2[i] = bd;
    sizes[best]++;
    inertia += bd;
  }
  return { c, assign, d2, sizes, inertia, it };
}

/** k-means over the rows of a row-major [n, dim] matrix. Deterministic for a seed. */
export function kMeans(points: Float32Array, dim: number, options: KMeansOptions = {}): KMeansResult {
  check(points instanceof Float32Array, 'kMeans: points', 'a Float32Array, row-major [n, dim]', points);
  check(Number.isInteger(dim) && dim > 0 && points.length % dim === 0, 'kMeans: dim', `a positive divisor of points.length (${points.length})`, dim);
  const n = points.length / dim;
  const k = options.k ?? 5;
  check(Number.isInteger(k) && k >= 1 && k <= n, 'kMeans: k', `an integer in [1, n = ${n}]`, k, 'There must be at least as many points as clusters.');
  const maxIter = options.maxIterations ?? 100;
  const tol = options.tolerance ?? 1e-6;
  const restarts = options.restarts ?? 3;
  check(Number.isInteger(maxIter) && maxIter >= 1, 'kMeans: maxIterations', 'a positive integer', maxIter);
  check(tol >= 0, 'kMeans: tolerance', 'a number >= 0', tol);
  check(Number.isInteger(restarts) && restarts >= 1, 'kMeans: restarts', 'a positive integer', restarts);
  for (let i = 0; i < points.length; i++) {
    if (!Number.isFinite(points[i])) check(false, `kMeans: points[${i}]`, 'finite numbers', points[i]);
  }
  const rng = new Rng(options.seed ?? 0);
  let best: ReturnType<typeof runOnce> | null = null;
  for (let r = 0; r < restarts; r++) {
    const res = runOnce(points, n, dim, k, rng.split(`restart${r}`), maxIter, tol);
    if (!best || res.inertia < best.inertia) best = res;
  }
  const b = best!;
  const distance = new Float32Array(n);
  for (let i = 0; i < n; i++) distance[i] = Math.sqrt(b.d2[i]);
  return {
    k,
    dim,
    centroids: Float32Array.from(b.c),
    assignment: b.assign,
    distance,
    sizes: b.sizes,
    inertia: b.inertia,
    iterations: b.it,
  };
}

/** Item clusters from item embeddings (default k = 5): `kMeans` over the rows. */
export function itemClusters(itemEmbeddings: Float32Array, dim: number, options: KMeansOptions = {}): KMeansResult {
  return kMeans(itemEmbeddings, dim, options);
}

/**
 * Per-user cluster affinity: row u (k floats) is the share of user u's events whose item falls in each cluster
 * (sums to 1; zeros for users without events). `rows` restricts to a split. Row-major [numUsers, k].
 */
export function userClusterAffinity(
  log: InteractionLog,
  itemCluster: Int32Array,
  k: number,
  options: { numUsers?: number; rows?: Int32Array } = {},
): Float32Array {
  checkLog(log, 'userClusterAffinity');
  check(Number.isInteger(k) && k >= 1, 'userClusterAffinity: k', 'a positive integer', k);
  const U = options.numUsers ?? denseSize(log, 'user', 'userClusterAffinity');
  const out = new Float32Array(U * k);
  const count = new Int32Array(U);
  const n = options.rows ? options.rows.length : log.numRows;
  for (let i = 0; i < n; i++) {
    const r = options.rows ? options.rows[i] : i;
    const u = log.user[r];
    const it = log.item[r];
    const c = itemCluster[it];
    if (!(u >= 0 && u < U && it >= 0 && it < itemCluster.length && c >= 0 && c < k)) {
      check(false, `userClusterAffinity: row ${r}`, `user in [0, ${U}), item in [0, ${itemCluster.length}), cluster in [0, ${k})`, { user: u, item: it, cluster: c });
    }
    out[u * k + c]++;
    count[u]++;
  }
  for (let u = 0; u < U; u++) {
    if (count[u] === 0) continue;
    for (let j = 0; j < k; j++) out[u * k + j] /= count[u];
  }
  return out;
}
