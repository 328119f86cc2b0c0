/**
 * Approximate cosine top-k with an inverted file (IVF): items are grouped by spherical k-means into `lists`; a
 * query scans only the items of its `probes` most similar lists. Queries probing the same list are scored against
 * it together as a dense block (the exact matcher's register-blocked `dotBlock`), so the work is about
 * `probes / lists` of an exact scan plus the centroid scores. Not exact: measure recall@k against `CosineMatcher`
 * for your embeddings (bench/env.ts prints it) and raise `probes` until it is high enough.
 */
import { Rng, check } from '@rec/core';
import { CosineMatcher, dotBlock, normaliseRows, type ItemMatcher } from './match.js';

export interface IvfCosineMatcherOptions {
  /** Number of k-means lists. Default round(sqrt(numItems)). */
  lists?: number;
  /** Lists scanned per query. Default 8. */
  probes?: number;
  /** k-means iterations. Default 10. */
  iterations?: number;
  /** Seed of the k-means initialisation. Default 0. */
  seed?: number;
}

export class IvfCosineMatcher implements ItemMatcher {
  readonly numItems: number;
  readonly dim: number;
  readonly lists: number;
  readonly probes: number;
  /** Unit-norm centroids `[lists * dim]`. */
  readonly centroids: Float32Array;
  /** CSR: list l holds items `listItems[listOffsets[l] .. listOffsets[l + 1])`; `listVectors` in that order. */
  readonly listOffsets: Int32Array;
  readonly listItems: Int32Array;
  private readonly listVectors: Float32Array;
  private readonly exact: CosineMatcher;
  /** Queries of the last `topK` call that needed the exact fallback (probed lists held fewer than k items). */
  lastStarved = 0;

  constructor(itemEmbeddings: Float32Array, dim = 64, options: IvfCosineMatcherOptions = {}) {
    this.exact = new CosineMatcher(itemEmbeddings, dim); // validates; also the fallback for starved queries
    const N = this.exact.numItems;
    const X = this.exact.normalised;
    this.numItems = N;
    this.dim = dim;
    let L = options.lists ?? Math.max(1, Math.round(Math.sqrt(N)));
    check(Number.isInteger(L) && L >= 1 && L <= N, 'IvfCosineMatcher(lists)', `an integer in [1, ${N}]`, L);
    const P = options.probes ?? Math.min(8, L);
    check(Number.isInteger(P) && P >= 1 && P <= L, 'IvfCosineMatcher(probes)', `an integer in [1, lists = ${L}]`, P);
    const iters = options.iterations ?? 10;
    const rng = new Rng(options.seed ?? 0);

    // Spherical k-means: centroids start at distinct random items; assign by largest dot product; re-normalise.
    const C = new Float32Array(L * dim);
    const init = rng.sampleWithoutReplacement(N, L);
    for (let l = 0; l < L; l++) C.set(X.subarray(init[l] * dim, (init[l] + 1) * dim), l * dim);
    const assign = new Int32Array(N);
    const S = new Float64Array(Math.min(N, 256) * L);
    for (let it = 0; it <= iters; it++) {
      for (let i0 = 0; i0 < N; i0 += 256) {
        const m = Math.min(256, N - i0);
        dotBlock(X, i0, m, C, 0, L, dim, S);
        for (let r = 0; r < m; r++) {
          let best = 0;
          for (let l = 1; l < L; l++) if (S[r * L + l] > S[r * L + best]) best = l;
          assign[i0 + r] = best;
        }
      }
      if (it === iters) break;
      C.fill(0);
      const count = new Int32Array(L);
      for (let i = 0; i < N; i++) {
        const l = assign[i];
        count[l]++;
        for (let d = 0; d < dim; d++) C[l * dim + d] += X[i * dim + d];
      }
      for (let l = 0; l < L; l++) {
        if (count[l] === 0) {
          const i = rng.int(N); // re-seed an empty list with a random item
          C.set(X.subarray(i * dim, (i + 1) * dim), l * dim);
        }
      }
      C.set(normaliseRows(C, dim));
    }
    // Drop lists that ended empty, so no query wastes a probe on them.
    const size = new Int32Array(L);
    for (let i = 0; i < N; i++) size[assign[i]]++;
    const remap = new Int32Array(L).fill(-1);
    let kept = 0;
    for (let l = 0; l < L; l++) if (size[l] > 0) remap[l] = kept++;
    for (let i = 0; i < N; i++) assign[i] = remap[assign[i]];
    const Ck = new Float32Array(kept * dim);
    for (let l = 0; l < L; l++) if (remap[l] >= 0) Ck.set(C.subarray(l * dim, (l + 1) * dim), remap[l] * dim);
    L = kept;
    this.lists = L;
    this.probes = Math.min(P, L);
    this.centroids = Ck;
    this.listOffsets = new Int32Array(L + 1);
    for (let i = 0; i < N; i++) this.listOffsets[assign[i] + 1]++;
    for (let l = 0; l < L; l++) this.listOffsets[l + 1] += this.listOffsets[l];
    this.listItems = new Int32Array(N);
    this.listVectors = new Float32Array(N * dim);
    const fill = this.listOffsets.slice(0, L);
    for (let i = 0; i < N; i++) {
      const w = fill[assign[i]]++;
      this.listItems[w] = i;
      this.listVectors.set(X.subarray(i * dim, (i + 1) * dim), w * dim);
    }
  }

  topK(queries: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void {
    check(Number.isInteger(k) && k > 0 && k <= this.numItems, 'IvfCosineMatcher.topK(k)', `an integer in [1, ${this.numItems}]`, k);
    check(queries.length >= n * this.dim && out.length >= n * k, 'IvfCosineMatcher.topK', `queries >= ${n * this.dim}, out >= ${n * k}`, [queries.length, out.length]);
    const D = this.dim;
    const L = this.lists;
    const P = this.probes;
    const Q = normaliseRows(queries.subarray(0, n * D), D);
    // 1. The P best lists per query.
    const probe = new Int32Array(n * P);
    const CB = 256;
    const S = new Float64Array(CB * L);
    const ps = new Float64Array(P);
    for (let u0 = 0; u0 < n; u0 += CB) {
      const m = Math.min(CB, n - u0);
      dotBlock(Q, u0, m, this.centroids, 0, L, D, S);
      for (let r = 0; r < m; r++) {
        ps.fill(-Infinity);
        const o = (u0 + r) * P;
        for (let l = 0; l < L; l++) {
          const v = S[r * L + l];
          if (v > ps[P - 1]) {
            let p = P - 1;
            while (p > 0 && ps[p - 1] < v) {
              ps[p] = ps[p - 1];
              probe[o + p] = probe[o + p - 1];
              p--;
            }
            ps[p] = v;
            probe[o + p] = l;
          }
        }
      }
    }
    // 2. Invert: the queries probing each list.
    const qOff = new Int32Array(L + 1);
    for (let i = 0; i < n * P; i++) qOff[probe[i] + 1]++;
    for (let l = 0; l < L; l++) qOff[l + 1] += qOff[l];
    const qOf = new Int32Array(n * P);
    const w = qOff.slice(0, L);
    for (let u = 0; u < n; u++) for (let p = 0; p < P; p++) qOf[w[probe[u * P + p]]++] = u;
    // 3. Score each list against its queries as one block; keep the best k per query.
    const bs = new Float64Array(n * k).fill(-Infinity);
    const bi = new Int32Array(n * k).fill(-1);
    let maxLen = 0;
    for (let l = 0; l < L; l++) maxLen = Math.max(maxLen, this.listOffsets[l + 1] - this.listOffsets[l]);
    const QB = 64;
    const Qb = new Float32Array(QB * D);
    const Sb = new Float64Array(QB * maxLen);
    for (let l = 0; l < L; l++) {
      const a = this.listOffsets[l];
      const len = this.listOffsets[l + 1] - a;
      if (len === 0) continue;
      for (let q0 = qOff[l]; q0 < qOff[l + 1]; q0 += QB) {
        const m = Math.min(QB, qOff[l + 1] - q0);
        for (let r = 0; r < m; r++) Qb.set(Q.subarray(qOf[q0 + r] * D, (qOf[q0 + r] + 1) * D), r * D);
        dotBlock(Qb, 0, m, this.listVectors, a, len, D, Sb);
        for (let r = 0; r < m; r++) {
          const bo = qOf[q0 + r] * k;
          let th = bs[bo + k - 1];
          for (let j = 0; j < len; j++) {
            const v = Sb[r * len + j];
            const item = this.listItems[a + j];
            // Ties keep the lower item id, as the exact matcher does.
            if (v > th || (v === th && item < bi[bo + k - 1])) {
              let p = k - 1;
              while (p > 0 && (bs[bo + p - 1] < v || (bs[bo + p - 1] === v && bi[bo + p - 1] > item))) {
                bs[bo + p] = bs[bo + p - 1];
                bi[bo + p] = bi[bo + p - 1];
                p--;
              }
              bs[bo + p] = v;
              bi[bo + p] = item;
              th = bs[bo + k - 1];
            }
          }
        }
      }
    }
    // Queries whose probed lists held fewer than k items fall back to the exact scan, all in one call.
    const starved: number[] = [];
    for (let u = 0; u < n; u++) if (bi[u * k + k - 1] < 0) starved.push(u);
    if (starved.length > 0) {
      const qs = new Float32Array(starved.length * D);
      starved.forEach((u, r) => qs.set(Q.subarray(u * D, (u + 1) * D), r * D));
      const o = new Int32Array(starved.length * k);
      const sc = new Float32Array(starved.length * k);
      this.exact.topK(qs, starved.length, k, o, sc);
      starved.forEach((u, r) => {
        for (let t = 0; t < k; t++) {
          bi[u * k + t] = o[r * k + t];
          bs[u * k + t] = sc[r * k + t];
        }
      });
    }
    this.lastStarved = starved.length;
    for (let i = 0; i < n * k; i++) {
      out[i] = bi[i];
      if (scores) scores[i] = bs[i];
    }
  }
}
