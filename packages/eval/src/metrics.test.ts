import { describe, expect, it } from 'vitest';
import { RecError } from '@rec/core';
import {
  rankingMetricsPerUser,
  summarizeRanking,
  catalogCoverage,
  intraListDiversity,
  novelty,
  csrFromArrays,
  bootstrapMeans,
  harmonicF1,
  quantileSorted,
} from './metrics.js';

describe('ranking metrics at k (hand-computed)', () => {
  // k = 5.
  // user 0: list [1, 2, 3, 4, 5], truth {2, 5, 9} (R = 3)
  //   hits at ranks 2 and 5 -> hits = 2
  //   precision = 2/5 = 0.4; recall = 2/3; F1 = 2*0.4*(2/3)/(0.4+2/3) = (8/15)/(16/15) = 0.5
  //   AP = (1/2 + 2/5) / min(3,5) = 0.9/3 = 0.3
  //   DCG = 1/log2(3) + 1/log2(6); IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5
  //   hit = 1; RR = 1/2
  // user 1: list [7, 7, 8, -1, -1], truth {7} (R = 1)
  //   the duplicate 7 counts once: hits = 1 at rank 1
  //   precision = 1/5 = 0.2 (k in the denominator); recall = 1; F1 = 2*0.2*1/1.2 = 1/3
  //   AP = (1/1)/min(1,5) = 1; NDCG = 1/1 = 1; hit = 1; RR = 1
  // user 2: list [4, 3, 2, 1, 0], truth {} -> not scored (NaN)
  // user 3: list [10, 11, 12, 13, 14], truth {1, 2} -> all zeros (AP = 0/2)
  const k = 5;
  const lists = Int32Array.from([1, 2, 3, 4, 5, 7, 7, 8, -1, -1, 4, 3, 2, 1, 0, 10, 11, 12, 13, 14]);
  const truth = csrFromArrays([[2, 5, 9], [7], [], [1, 2]]);
  const per = rankingMetricsPerUser(lists, truth, k);

  it('per user', () => {
    expect(per.precision[0]).toBeCloseTo(0.4, 12);
    expect(per.recall[0]).toBeCloseTo(2 / 3, 12);
    expect(per.f1[0]).toBeCloseTo(0.5, 12);
    expect(per.ap[0]).toBeCloseTo(0.3, 12);
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(6);
    const idcg = 1 + 1 / Math.log2(3) + 0.5;
    expect(per.ndcg[0]).toBeCloseTo(dcg / idcg, 12);
    expect(per.ndcg[0]).toBeCloseTo(0.4776, 4); // (0.63093 + 0.38685) / 2.13093 = 1.01778 / 2.13093
    expect(per.hit[0]).toBe(1);
    expect(per.rr[0]).toBe(0.5);

    expect(per.precision[1]).toBeCloseTo(0.2, 12);
    expect(per.recall[1]).toBe(1);
    expect(per.f1[1]).toBeCloseTo(1 / 3, 12);
    expect(per.ap[1]).toBe(1);
    expect(per.ndcg[1]).toBe(1);
    expect(per.rr[1]).toBe(1);

    expect(Number.isNaN(per.precision[2])).toBe(true);
    expect(per.truthSize[2]).toBe(0);

    for (const m of ['precision', 'recall', 'f1', 'ap', 'ndcg', 'hit', 'rr'] as const) expect(per[m][3]).toBe(0);
  });

  it('summary averages over users with truth only', () => {
    const s = summarizeRanking(per, { samples: 0 });
    expect(s.usersScored).toBe(3);
    expect(s.usersSkipped).toBe(1);
    // precision mean = (0.4 + 0.2 + 0) / 3 = 0.2; recall mean = (2/3 + 1 + 0)/3 = 5/9
    expect(s.precision.value).toBeCloseTo(0.2, 12);
    expect(s.recall.value).toBeCloseTo(5 / 9, 12);
    // mean F1 = (0.5 + 1/3 + 0) / 3 = 5/18; F1 of means = 2*0.2*(5/9)/(0.2+5/9) = (2/9)/(34/45) = 10/34
    expect(s.f1.value).toBeCloseTo(5 / 18, 12);
    expect(s.f1OfMeans).toBeCloseTo(10 / 34, 12);
    // MAP = (0.3 + 1 + 0)/3; MRR = (0.5 + 1 + 0)/3 = 0.5; hit rate = 2/3
    expect(s.map.value).toBeCloseTo(1.3 / 3, 12);
    expect(s.mrr.value).toBeCloseTo(0.5, 12);
    expect(s.hitRate.value).toBeCloseTo(2 / 3, 12);
    expect(harmonicF1(0, 0)).toBe(0);
  });

  it('AP is capped by k when there are more relevant items than slots', () => {
    // k = 2, list [0, 1], truth {0, 1, 2, 3}: AP = (1/1 + 2/2) / min(4, 2) = 1; recall = 2/4
    const p = rankingMetricsPerUser(Int32Array.from([0, 1]), csrFromArrays([[0, 1, 2, 3]]), 2);
    expect(p.ap[0]).toBe(1);
    expect(p.recall[0]).toBe(0.5);
    expect(p.ndcg[0]).toBe(1);
  });

  it('rejects bad shapes with a RecError naming the place', () => {
    expect(() => rankingMetricsPerUser(Int32Array.from([1, 2, 3]), csrFromArrays([[1]]), 2)).toThrow(/divisible by k/);
    try {
      rankingMetricsPerUser(Int32Array.from([1, 2]), csrFromArrays([[1], [2]]), 2);
      expect.unreachable();
    } catch (e) {
      expect(RecError.isInstance(e)).toBe(true);
      expect(String(e)).toMatch(/rankingMetricsPerUser/);
    }
  });
});

describe('beyond-accuracy metrics (hand-computed)', () => {
  it('catalogue coverage', () => {
    // lists cover {0, 1, 2, 5} (the -1 pad is ignored) out of 10 items -> 0.4
    expect(catalogCoverage(Int32Array.from([0, 1, 2, -1, 5, 0]), 10)).toBeCloseTo(0.4, 12);
    expect(() => catalogCoverage(Int32Array.from([10]), 10)).toThrow(/outside the catalogue/);
  });

  it('intra-list diversity by category', () => {
    // categories: item0->A(0), item1->A, item2->B(1), item3->C(2)
    // list [0, 1, 2, 3]: 6 pairs, 1 same-category pair (0,1) -> 1 - 1/6 = 5/6
    // list [0, 1, -1, -1]: 1 pair, same category -> 0
    // list [2, -1, -1, -1]: fewer than 2 items -> NaN
    const cat = Int32Array.from([0, 0, 1, 2]);
    const d = intraListDiversity(Int32Array.from([0, 1, 2, 3, 0, 1, -1, -1, 2, -1, -1, -1]), 4, cat);
    expect(d[0]).toBeCloseTo(5 / 6, 12);
    expect(d[1]).toBe(0);
    expect(Number.isNaN(d[2])).toBe(true);
  });

  it('novelty', () => {
    // 8 training users; item0 seen by 8 users (p=1 -> 0 bits), item1 by 2 (p=1/4 -> 2 bits),
    // item2 by 0 (treated as 1 user: p=1/8 -> 3 bits).
    // list [0, 1] -> (0 + 2)/2 = 1 ; list [1, 2] -> (2 + 3)/2 = 2.5
    const nov = novelty(Int32Array.from([0, 1, 1, 2]), 2, [8, 2, 0], 8);
    expect(nov[0]).toBeCloseTo(1, 12);
    expect(nov[1]).toBeCloseTo(2.5, 12);
  });
});

describe('bootstrap intervals', () => {
  it('are seeded, contain the mean and shrink like 1/sqrt(n)', () => {
    const mk = (n: number) => Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 1 : 0));
    const a = bootstrapMeans({ x: mk(400) }, { samples: 500, seed: 3 });
    const b = bootstrapMeans({ x: mk(400) }, { samples: 500, seed: 3 });
    expect(a.x).toEqual(b.x);
    expect(a.x.value).toBe(0.5);
    expect(a.x.lo).toBeLessThan(0.5);
    expect(a.x.hi).toBeGreaterThan(0.5);
    // Bernoulli(0.5) mean, n = 400: se = 0.5/20 = 0.025, 95% width ~ 2*1.96*0.025 = 0.098
    expect(a.x.hi - a.x.lo).toBeGreaterThan(0.08);
    expect(a.x.hi - a.x.lo).toBeLessThan(0.12);
    const big = bootstrapMeans({ x: mk(1600) }, { samples: 500, seed: 3 });
    // 4x the units -> about half the width
    expect((big.x.hi - big.x.lo) / (a.x.hi - a.x.lo)).toBeGreaterThan(0.4);
    expect((big.x.hi - big.x.lo) / (a.x.hi - a.x.lo)).toBeLessThan(0.6);
  });

  it('type-7 quantile', () => {
    // [1,2,3,4], q = 0.25: h = 3*0.25 = 0.75 -> 1 + 0.75*(2-1) = 1.75 (numpy.quantile gives 1.75)
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
  });
});
