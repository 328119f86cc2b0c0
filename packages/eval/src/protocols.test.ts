import { describe, expect, it } from 'vitest';
import { Rng } from '@rec/core';
import type { InteractionLog } from '@rec/data';
import { leaveLastOutSplit, temporalSplit, lstmDqnSessionSplit } from './protocols.js';
import { mostPopularScorer, randomScorer, recentPopularScorer, itemKnnScorer } from './baselines.js';
import { evaluatePolicy } from './evaluate.js';
import { topKIndices } from './topk.js';

// A tiny dense log (pv = 0, buy = 3):
// row user item cat beh ts
//  0   0    1    0   pv  100
//  1   0    2    0   pv  200
//  2   0    3    1   buy 300
//  3   1    1    0   pv  100
//  4   1    4    1   pv  5000
//  5   2    5    1   pv  10
function tinyLog(): InteractionLog {
  return {
    numRows: 6,
    user: Int32Array.from([0, 0, 0, 1, 1, 2]),
    item: Int32Array.from([1, 2, 3, 1, 4, 5]),
    category: Int32Array.from([0, 0, 1, 0, 1, 1]),
    behavior: Uint8Array.from([0, 0, 3, 0, 0, 0]),
    timestamp: Int32Array.from([100, 200, 300, 100, 5000, 10]),
  };
}

const items = (csr: { offsets: Int32Array; items: Int32Array }, u: number) => Array.from(csr.items.subarray(csr.offsets[u], csr.offsets[u + 1]));

describe('protocols on a hand-made log', () => {
  it('leave-last-out: last item held out, single-event users skipped', () => {
    const s = leaveLastOutSplit(tinyLog());
    expect(Array.from(s.unitUser)).toEqual([0, 1]);
    expect(items(s.truth, 0)).toEqual([3]);
    expect(items(s.context, 0)).toEqual([1, 2]);
    expect(items(s.truth, 1)).toEqual([4]);
    expect(items(s.context, 1)).toEqual([1]);
    expect(Array.from(s.trainRows)).toEqual([0, 1, 3, 5]);
    expect(s.numItems).toBe(6);
  });

  it('leave-last-out with a target behavior holds out the last purchase', () => {
    const s = leaveLastOutSplit(tinyLog(), { targetBehavior: 3 });
    expect(Array.from(s.unitUser)).toEqual([0]);
    expect(items(s.truth, 0)).toEqual([3]);
  });

  it('temporal split at t = 250', () => {
    const s = temporalSplit(tinyLog(), { cutoff: 250 });
    // u0: before {1,2}, after {3}; u1: before {1}, after {4}; u2: nothing after -> skipped
    expect(Array.from(s.unitUser)).toEqual([0, 1]);
    expect(items(s.truth, 1)).toEqual([4]);
    expect(Array.from(s.trainRows)).toEqual([0, 1, 3, 5]);
    expect(s.trainEndTime).toBe(200);
  });

  it('session split: only test sessions with a purchase become units; context stops before the purchase', () => {
    // sessions (30-min gap): u0 {0,1,2}, u1 {3}, u1 {4}, u2 {5}; 70% of 4 -> 3 train, 1 test.
    let found = 0;
    for (let seed = 0; seed < 12; seed++) {
      const s = lstmDqnSessionSplit(tinyLog(), { seed });
      expect(s.numUnits).toBeLessThanOrEqual(1);
      if (s.numUnits === 1) {
        found++;
        expect(items(s.truth, 0)).toEqual([3]);
        expect(items(s.context, 0)).toEqual([1, 2]);
        expect(Array.from(s.trainRows)).not.toContain(2);
      } else {
        expect(Array.from(s.trainRows)).toContain(2);
      }
    }
    expect(found).toBeGreaterThan(0);
    expect(found).toBeLessThan(12);
  });
});

describe('baselines and evaluatePolicy (hand-computed)', () => {
  it('most-popular with seen items excluded', () => {
    // leave-last-out train rows [0,1,3,5]: counts item1 = 2, item2 = 1, item5 = 1, others 0; ties -> lower id.
    // u0 (seen {1,2}): [5, 0]; u1 (seen {1}): [2, 5]
    const s = leaveLastOutSplit(tinyLog());
    const pop = mostPopularScorer(s);
    const r = evaluatePolicy(pop, s, { k: 2, bootstrap: 0 });
    expect(Array.from(r.lists)).toEqual([5, 0, 2, 5]);
    // neither list holds the held-out item (3 for u0, 4 for u1): all metrics 0
    expect(r.summary.precision.value).toBe(0);
    // coverage: {0, 2, 5} of 6 items = 0.5
    expect(r.coverage).toBeCloseTo(0.5, 12);
  });

  it('recent-popular weights recent events more', () => {
    // temporal split at 250: train rows [0 (t100, item1), 1 (t200, item2), 3 (t100, item1), 5 (t10, item5)], now = 200
    // half-life 50 s: item1 = 2 * 2^-2 = 0.5, item2 = 2^0 = 1, item5 = 2^(-190/50) = 0.072 -> item2 ranks first
    const s = temporalSplit(tinyLog(), { cutoff: 250, excludeSeen: false });
    const rp = recentPopularScorer(s, { halfLifeSeconds: 50 });
    expect(Array.from(rp.scoreUsers(Int32Array.from([0]), 3))).toEqual([2, 1, 5]);
    const mp = mostPopularScorer(s);
    expect(Array.from(mp.scoreUsers(Int32Array.from([0]), 3))).toEqual([1, 2, 5]);
  });

  it('top-k with exclusions and ties', () => {
    // scores [0.5, 0.9, 0.9, NaN, 0.1], exclude {2}: 1 (0.9), 0 (0.5), 4 (0.1), then -1 padding
    expect(Array.from(topKIndices(Float64Array.from([0.5, 0.9, 0.9, NaN, 0.1]), 4, Int32Array.from([2])))).toEqual([1, 0, 4, -1]);
    const rng = new Rng(1);
    const sc = Float64Array.from({ length: 500 }, () => rng.next());
    const ref = Array.from(sc.keys()).sort((a, b) => sc[b] - sc[a]).slice(0, 20);
    expect(Array.from(topKIndices(sc, 20))).toEqual(ref);
  });

  it('top-k matches a sort-based reference with ties, NaN and exclusions', () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + rng.int(200);
      const k = 1 + rng.int(25);
      // scores on a coarse grid -> many ties; a few NaN
      const sc = Float64Array.from({ length: n }, () => (rng.next() < 0.05 ? NaN : Math.floor(rng.next() * 8)));
      const ex = Int32Array.from({ length: rng.int(10) }, () => rng.int(n));
      const exSet = new Set(ex);
      const ref = Array.from(sc.keys())
        .filter((i) => !Number.isNaN(sc[i]) && !exSet.has(i))
        .sort((a, b) => sc[b] - sc[a] || a - b)
        .slice(0, k);
      while (ref.length < k) ref.push(-1);
      expect(Array.from(topKIndices(sc, k, ex))).toEqual(ref);
    }
  });

  it('random scorer is seeded, distinct, and respects exclusions', () => {
    const s = leaveLastOutSplit(tinyLog());
    const a = randomScorer(6, 3).scoreUsers(Int32Array.from([0, 1]), 4, s.seen);
    const b = randomScorer(6, 3).scoreUsers(Int32Array.from([0, 1]), 4, s.seen);
    expect(a).toEqual(b);
    expect(new Set(a.subarray(0, 4)).size).toBe(4);
    for (const it of a.subarray(0, 4)) expect([1, 2]).not.toContain(it);
  });
});

/** A synthetic log with structure: items come in 20 groups of 10; a session walks within one group. */
function structuredLog(seed: number, users = 150): InteractionLog {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let u = 0; u < users; u++) {
    let t = 1_000_000 + rng.int(100_000);
    const sessions = 2 + rng.int(3);
    for (let s = 0; s < sessions; s++) {
      // popular groups are picked more often (Zipf-ish)
      const g = Math.min(19, Math.floor(rng.exponential(0.25)));
      const len = 3 + rng.int(5);
      for (let j = 0; j < len; j++) {
        const item = g * 10 + rng.int(10);
        const buy = j === len - 1 && rng.next() < 0.7;
        rows.push([u, item, g, buy ? 3 : 0, t]);
        t += 30 + rng.int(300);
      }
      t += 5000 + rng.int(50_000);
    }
  }
  return {
    numRows: rows.length,
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    category: Int32Array.from(rows, (r) => r[2]),
    behavior: Uint8Array.from(rows, (r) => r[3]),
    timestamp: Int32Array.from(rows, (r) => r[4]),
  };
}

describe('baselines on a structured synthetic log', () => {
  it('item-KNN > popularity > random on the session protocol', () => {
    const log = structuredLog(4);
    const split = lstmDqnSessionSplit(log, { seed: 1 });
    expect(split.numUnits).toBeGreaterThan(30);
    const res = [randomScorer(split.numItems, 0), mostPopularScorer(split), itemKnnScorer(split)].map((p) =>
      evaluatePolicy(p, split, { k: 10, bootstrap: 200 }),
    );
    const [rnd, pop, knn] = res.map((r) => r.summary.recall.value);
    expect(pop).toBeGreaterThan(rnd);
    expect(knn).toBeGreaterThan(pop);
    expect(res[2].summary.map.value).toBeGreaterThan(res[1].summary.map.value);
    // random recommends widely, popularity narrowly
    expect(res[0].coverage).toBeGreaterThan(res[1].coverage);
  });
});

describe('reports', () => {
  it('markdown and JSON rows carry every policy and metric', async () => {
    const { offlineMarkdown, offlineRows } = await import('./report.js');
    const log = structuredLog(2, 60);
    const split = leaveLastOutSplit(log);
    const res = [randomScorer(split.numItems, 1), mostPopularScorer(split)].map((p) => evaluatePolicy(p, split, { k: 5, bootstrap: 50 }));
    const md = offlineMarkdown(res);
    expect(md.split('\n')).toHaveLength(4); // header, separator, two policies
    expect(md).toContain('| most-popular |');
    expect(md).toMatch(/precision@5/);
    const rows = offlineRows(res);
    // 7 ranking metrics + f1OfMeans + coverage + diversity + novelty = 11 per policy
    expect(rows).toHaveLength(22);
    const p = rows.find((r) => r.policy === 'most-popular' && r.metric === 'precision')!;
    expect(p.value).toBeCloseTo(res[1].summary.precision.value, 12);
  });
});
