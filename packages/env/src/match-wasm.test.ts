import { describe, expect, it } from 'vitest';
import { RecError, Rng } from '@rec/core';
import { CosineMatcher, normaliseRows } from './match.js';
import { SimdCosineMatcher, prefilterMargin, wasmSimdAvailable } from './match-wasm.js';

const S = 32767;

function randomRows(rng: Rng, rows: number, dim: number): Float32Array {
  return Float32Array.from({ length: rows * dim }, () => rng.uniform(-1, 1));
}

/** Brute force: every item's f64 score (dimension order), sorted by score desc then index asc. */
function reference(items: Float32Array, queries: Float32Array, n: number, dim: number, k: number, metric: 'cosine' | 'dot' = 'cosine'): { idx: Int32Array; sc: Float32Array } {
  const X = metric === 'dot' ? items : normaliseRows(items, dim);
  const Q = metric === 'dot' ? queries.subarray(0, n * dim) : normaliseRows(queries.subarray(0, n * dim), dim);
  const N = X.length / dim;
  const idx = new Int32Array(n * k);
  const sc = new Float32Array(n * k);
  for (let u = 0; u < n; u++) {
    const s = new Float64Array(N);
    for (let j = 0; j < N; j++) {
      let v = 0;
      for (let d = 0; d < dim; d++) v += Q[u * dim + d] * X[j * dim + d];
      s[j] = v;
    }
    const order = Array.from({ length: N }, (_, j) => j).sort((a, b) => s[b] - s[a] || a - b);
    for (let t = 0; t < k; t++) {
      idx[u * k + t] = order[t];
      sc[u * k + t] = s[order[t]];
    }
  }
  return { idx, sc };
}

function both(items: Float32Array, queries: Float32Array, n: number, dim: number, k: number, options: { metric?: 'cosine' | 'dot'; marginScale?: number; threads?: number } = {}) {
  const a = new CosineMatcher(items, dim, { metric: options.metric });
  const b = new SimdCosineMatcher(items, dim, { threads: 1, ...options });
  const oa = new Int32Array(n * k), sa = new Float32Array(n * k);
  const ob = new Int32Array(n * k), sb = new Float32Array(n * k);
  a.topK(queries, n, k, oa, sa);
  b.topK(queries, n, k, ob, sb);
  b.dispose();
  return { oa, sa, ob, sb, b };
}

describe('SimdCosineMatcher', () => {
  it('runs the wasm kernel here (Node 20 has simd128 and shared memory)', () => {
    expect(wasmSimdAvailable()).toBe(true);
  });

  it.each([
    [1, 37, 1, 5],
    [10, 1000, 10, 64],
    [20, 1003, 33, 64],
    [10, 17, 6, 7],
    [17, 500, 9, 3],
  ])('k = %i, %i items, %i queries, dim %i: the same indices and scores as CosineMatcher and brute force', (k, N, n, dim) => {
    const rng = new Rng(k * 1000 + N + dim);
    const items = randomRows(rng, N, dim);
    const queries = randomRows(rng, n, dim);
    const { oa, sa, ob, sb, b } = both(items, queries, n, dim, k);
    expect(Array.from(ob)).toEqual(Array.from(oa));
    expect(Array.from(sb)).toEqual(Array.from(sa));
    const ref = reference(items, queries, n, dim, k);
    expect(Array.from(ob)).toEqual(Array.from(ref.idx));
    expect(Array.from(sb)).toEqual(Array.from(ref.sc));
    expect(b.lastFallbacks).toBe(0); // answered by the prefilter, not by the exact fallback
  });

  it('ties: duplicate items, zero rows and a zero query keep the lower index first, like CosineMatcher', () => {
    const rng = new Rng(5);
    const dim = 16;
    const base = randomRows(rng, 300, dim);
    const items = new Float32Array(600 * dim);
    items.set(base);
    items.set(base, 300 * dim); // every item twice: exact ties
    for (let j = 0; j < 40; j++) items.fill(0, (5 * j + 3) * dim, (5 * j + 4) * dim); // zero rows (score 0)
    const queries = randomRows(rng, 12, dim);
    queries.fill(0, 0, dim); // zero query: every score 0, all tied
    queries.set(items.subarray(7 * dim, 8 * dim), dim); // a query equal to an item
    for (const k of [1, 10, 20]) {
      const { oa, sa, ob, sb } = both(items, queries, 12, dim, k);
      expect(Array.from(ob)).toEqual(Array.from(oa));
      expect(Array.from(sb)).toEqual(Array.from(sa));
      expect(Array.from(ob)).toEqual(Array.from(reference(items, queries, 12, dim, k).idx));
    }
    // Many equal top scores overflow the candidate buffer: the exact fallback answers (still identical, above).
    const dup = new Float32Array(2000 * dim);
    for (let j = 0; j < 2000; j++) dup.set(base.subarray(0, dim), j * dim);
    const r = both(dup, queries, 3, dim, 10);
    expect(Array.from(r.ob)).toEqual(Array.from(r.oa));
    expect(r.b.lastFallbacks).toBe(3);
  });

  it('adversarial near-ties: the proven margin is needed and sufficient', () => {
    // 150 items within 1e-5 per component of the query: exact scores differ by less than the int16 step, so the
    // quantised order is scrambled against the exact one (fewer than the candidate buffer holds); 850 random items.
    const rng = new Rng(11);
    const dim = 64;
    const q = randomRows(rng, 1, dim);
    const items = new Float32Array(1000 * dim);
    for (let j = 0; j < 150; j++) for (let d = 0; d < dim; d++) items[j * dim + d] = q[d] + rng.uniform(-1e-5, 1e-5);
    items.set(randomRows(rng, 850, dim), 150 * dim);
    const queries = new Float32Array(4 * dim);
    for (let u = 0; u < 4; u++) for (let d = 0; d < dim; d++) queries[u * dim + d] = q[d] + (u === 0 ? 0 : rng.uniform(-3e-6, 3e-6));
    for (const k of [1, 10, 20]) {
      const ok = both(items, queries, 4, dim, k);
      expect(Array.from(ok.ob)).toEqual(Array.from(ok.oa));
      expect(Array.from(ok.ob)).toEqual(Array.from(reference(items, queries, 4, dim, k).idx));
      expect(ok.b.lastFallbacks).toBe(0);
      // Without the margin the prefilter drops items of the exact top k: this test can fail.
      const bad = both(items, queries, 4, dim, k, { marginScale: 0 });
      expect(Array.from(bad.ob)).not.toEqual(Array.from(bad.oa));
    }
  });

  it('metric dot: the same indices and scores as CosineMatcher and brute force, for items and queries of any norm', () => {
    // Hand example: items A = (10, 0), B = (1, 1), C = (0, 1); query (1, 0.2): dots 10, 1.2, 0.2 (cosine would put B first).
    const hand = both(Float32Array.of(10, 0, 1, 1, 0, 1), Float32Array.of(1, 0.2), 1, 2, 3, { metric: 'dot' });
    expect(Array.from(hand.ob)).toEqual([0, 1, 2]);
    expect(Array.from(hand.sb)).toEqual([10, Math.fround(1.2), Math.fround(0.2)]);
    const rng = new Rng(21);
    for (const dim of [64, 7]) {
      const items = randomRows(rng, 1200, dim);
      for (let j = 0; j < 1200; j++) {
        const f = 10 ** rng.uniform(-2, 2); // norms over four orders of magnitude: the long items win dot products
        for (let d = 0; d < dim; d++) items[j * dim + d] *= f;
      }
      const queries = randomRows(rng, 21, dim);
      for (let d = 0; d < dim; d++) {
        queries[dim + d] *= 1e-20; // a tiny query and a huge one rank like any other
        queries[2 * dim + d] *= 1e20;
      }
      for (const k of [1, 10, 25]) {
        const r = both(items, queries, 21, dim, k, { metric: 'dot' });
        expect(Array.from(r.ob)).toEqual(Array.from(r.oa));
        expect(Array.from(r.sb)).toEqual(Array.from(r.sa));
        const ref = reference(items, queries, 21, dim, k, 'dot');
        expect(Array.from(r.ob)).toEqual(Array.from(ref.idx));
        expect(Array.from(r.sb)).toEqual(Array.from(ref.sc));
        expect(r.b.lastFallbacks).toBe(0);
        // Not what cosine ranking gives (the norms matter).
        expect(Array.from(r.ob)).not.toEqual(Array.from(both(items, queries, 21, dim, k).ob));
      }
    }
    // Near-ties in dot products (150 items within 1e-5 of the query, one long item setting the scale): the margin
    // is needed and sufficient here too.
    const dim = 64;
    const q = randomRows(rng, 1, dim);
    const items = new Float32Array(1000 * dim);
    for (let j = 0; j < 150; j++) for (let d = 0; d < dim; d++) items[j * dim + d] = q[d] + rng.uniform(-1e-5, 1e-5);
    items.set(randomRows(rng, 850, dim), 150 * dim);
    for (let d = 0; d < dim; d++) items[999 * dim + d] = -3 * q[d]; // the longest item, pointing away
    const queries = new Float32Array(4 * dim);
    for (let u = 0; u < 4; u++) for (let d = 0; d < dim; d++) queries[u * dim + d] = q[d] + (u === 0 ? 0 : rng.uniform(-3e-6, 3e-6));
    for (const k of [1, 10, 20]) {
      const ok = both(items, queries, 4, dim, k, { metric: 'dot' });
      expect(Array.from(ok.ob)).toEqual(Array.from(ok.oa));
      expect(Array.from(ok.ob)).toEqual(Array.from(reference(items, queries, 4, dim, k, 'dot').idx));
      expect(ok.b.lastFallbacks).toBe(0);
      const bad = both(items, queries, 4, dim, k, { metric: 'dot', marginScale: 0 });
      expect(Array.from(bad.ob)).not.toEqual(Array.from(bad.oa));
    }
    expect(() => new SimdCosineMatcher(items, dim, { metric: 'l2' as never })).toThrow(/metric/);
  });

  it('the error bound holds: |int16 score - f64 score| <= M / (2 S^2) on random and extreme vectors', () => {
    const rng = new Rng(3);
    for (const dim of [3, 64, 257]) {
      const M = prefilterMargin(dim);
      const bound = (M - 2) / (2 * S * S);
      const X = normaliseRows(randomRows(rng, 400, dim), dim);
      // Extreme rows: one-hot and constant vectors (largest quantised components, largest L1 norms).
      X.fill(0, 0, dim);
      X[0] = 1;
      X.fill(1 / Math.sqrt(dim), dim, 2 * dim);
      let worst = 0;
      for (let a = 0; a < 400; a++) {
        for (let b = 0; b < 400; b++) {
          let exact = 0;
          let quant = 0;
          for (let d = 0; d < dim; d++) {
            exact += X[a * dim + d] * X[b * dim + d];
            quant += Math.round(X[a * dim + d] * S) * Math.round(X[b * dim + d] * S);
          }
          worst = Math.max(worst, Math.abs(quant / (S * S) - exact));
        }
      }
      expect(worst).toBeLessThanOrEqual(bound);
      expect(worst).toBeGreaterThan(bound / 50); // the bound is not vacuous
    }
  });

  it('non-finite queries and items give what CosineMatcher gives', () => {
    const rng = new Rng(8);
    const dim = 8;
    const items = randomRows(rng, 100, dim);
    const queries = randomRows(rng, 3, dim);
    queries[dim + 2] = Number.NaN;
    let r = both(items, queries, 3, dim, 5);
    expect(Array.from(r.ob)).toEqual(Array.from(r.oa));
    expect(Array.from(r.sb)).toEqual(Array.from(r.sa));
    items[10 * dim] = Number.POSITIVE_INFINITY;
    r = both(items, queries, 3, dim, 5);
    expect(Array.from(r.ob)).toEqual(Array.from(r.oa));
    expect(r.b.lastFallbacks).toBe(3);
  });

  it('two threads (worker + caller, shared memory) give the single-thread answer, deterministically', () => {
    const rng = new Rng(21);
    const dim = 64;
    const N = 10_003;
    const n = 450; // n * N above the threshold that starts the worker
    const items = randomRows(rng, N, dim);
    const queries = randomRows(rng, n, dim);
    const one = new SimdCosineMatcher(items, dim, { threads: 1 });
    const two = new SimdCosineMatcher(items, dim, { threads: 2, groupSize: 8 });
    const o1 = new Int32Array(n * 10);
    one.topK(queries, n, 10, o1);
    for (let rep = 0; rep < 3; rep++) {
      const o2 = new Int32Array(n * 10);
      two.topK(queries, n, 10, o2);
      expect(Array.from(o2)).toEqual(Array.from(o1));
    }
    expect((two as unknown as { workers: unknown[] }).workers.length).toBe(1);
    const oa = new Int32Array(n * 10);
    new CosineMatcher(items, dim).topK(queries, n, 10, oa);
    expect(Array.from(o1)).toEqual(Array.from(oa));
    one.dispose();
    two.dispose();
    expect(() => two.topK(queries, 1, 10, o1)).toThrow(/disposed/);
  });

  it('k above 256 (answered by CosineMatcher) and k = numItems give CosineMatcher\'s lists', () => {
    const rng = new Rng(31);
    const items = randomRows(rng, 301, 12);
    const queries = randomRows(rng, 5, 12);
    for (const k of [257, 301]) {
      const r = both(items, queries, 5, 12, k);
      expect(Array.from(r.ob)).toEqual(Array.from(r.oa));
      expect(r.b.lastFallbacks).toBe(5);
    }
    const r = both(items.subarray(0, 200 * 12), queries, 5, 12, 200); // k = numItems through the prefilter
    expect(Array.from(r.ob)).toEqual(Array.from(r.oa));
    expect(r.b.lastFallbacks).toBe(0);
  });

  it('validates its input with RecErrors', () => {
    const items = new Float32Array(40).fill(0.5);
    const catchErr = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const f of [
      () => new SimdCosineMatcher(new Float32Array(7), 4),
      () => new SimdCosineMatcher(items, 4, { threads: 0 }),
      () => new SimdCosineMatcher(items, 4, { groupSize: 6 }),
      () => new SimdCosineMatcher(items, 4, { threads: 1 }).topK(new Float32Array(8), 2, 11, new Int32Array(22)),
      () => new SimdCosineMatcher(items, 4, { threads: 1 }).topK(new Float32Array(8), 2, 3, new Int32Array(5)),
      () => new SimdCosineMatcher(items, 4, { threads: 1 }).topK(new Float32Array(7), 2, 3, new Int32Array(6)),
    ]) {
      const e = catchErr(f);
      expect(RecError.isInstance(e)).toBe(true);
      expect(String((e as Error).message)).toMatch(/SimdCosineMatcher/);
    }
  });
});

describe('UserBeliefSim with the default matcher', () => {
  it('uses SimdCosineMatcher and plays the same round as with CosineMatcher', async () => {
    const { UserBeliefSim, syntheticBeliefSimData } = await import('./index.js');
    const data = syntheticBeliefSimData({ numUsers: 300, numItems: 700, dim: 64, seed: 4 });
    const fast = new UserBeliefSim(data, { roundsPerEpisode: 2 });
    const slow = new UserBeliefSim(data, { roundsPerEpisode: 2 }, new CosineMatcher(data.itemEmbeddings, 64));
    expect(fast.matcher).toBeInstanceOf(SimdCosineMatcher);
    const rng = new Rng(9);
    const users = Int32Array.from({ length: 300 }, (_, i) => i);
    const actions = Float32Array.from({ length: 300 * 64 }, () => rng.uniform(-1, 1));
    const a = fast.stepUsers(users, actions);
    const b = slow.stepUsers(users, actions);
    expect(Array.from(a.info.items)).toEqual(Array.from(b.info.items));
    expect(Array.from(a.reward)).toEqual(Array.from(b.reward));
  });
});
