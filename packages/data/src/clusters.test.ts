import { describe, expect, it } from 'vitest';
import { Rng } from '@rec/core';
import { kMeans, userClusterAffinity } from './clusters.js';
import { logOf } from './sessions.testutil.js';

/** n points per blob around k well-separated centres in `dim` dims; returns points and true labels. */
function blobs(k: number, n: number, dim: number, seed: number) {
  const rng = new Rng(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => rng.normal(0, 10)));
  const x = new Float32Array(k * n * dim);
  const label = new Int32Array(k * n);
  for (let i = 0; i < k * n; i++) {
    const c = i % k;
    label[i] = c;
    for (let t = 0; t < dim; t++) x[i * dim + t] = centres[c][t] + rng.normal(0, 1);
  }
  return { x, label };
}

/** Share of pairs on which two labelings agree about "same cluster" (Rand index). */
function randIndex(a: Int32Array, b: Int32Array): number {
  let agree = 0;
  let total = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      total++;
      if ((a[i] === a[j]) === (b[i] === b[j])) agree++;
    }
  }
  return agree / total;
}

describe('kMeans', () => {
  it('recovers planted clusters, deterministically by seed', () => {
    const { x, label } = blobs(5, 60, 8, 3);
    const res = kMeans(x, 8, { k: 5, seed: 1 });
    expect(randIndex(res.assignment, label)).toBe(1);
    expect(Array.from(res.sizes)).toEqual([60, 60, 60, 60, 60]);
    // Distances are to the assigned centre: recompute one by hand.
    const i = 17;
    const j = res.assignment[i];
    let s = 0;
    for (let t = 0; t < 8; t++) s += (x[i * 8 + t] - res.centroids[j * 8 + t]) ** 2;
    expect(res.distance[i]).toBeCloseTo(Math.sqrt(s), 4);
    // Unit-variance noise in 8 dims: squared distance to the centre averages about 8 (a bit less, fitted centres).
    expect(res.inertia / 300).toBeGreaterThan(6);
    expect(res.inertia / 300).toBeLessThan(9);
    const again = kMeans(x, 8, { k: 5, seed: 1 });
    expect(again.assignment).toEqual(res.assignment);
    expect(again.centroids).toEqual(res.centroids);
  });

  it('handles k = 1, duplicate points and bad input', () => {
    // k = 1: the centre is the mean. Points 0, 2, 4 on a line -> centre 2, distances 2, 0, 2.
    const r1 = kMeans(Float32Array.of(0, 2, 4), 1, { k: 1 });
    expect(r1.centroids[0]).toBeCloseTo(2, 6);
    expect(Array.from(r1.distance)).toEqual([2, 0, 2]);
    // All points identical with k = 3: no NaN, every distance 0.
    const r3 = kMeans(new Float32Array(12).fill(1), 2, { k: 3 });
    expect(Array.from(r3.distance).every((d) => d === 0)).toBe(true);
    expect(() => kMeans(Float32Array.of(1, 2), 1, { k: 3 })).toThrow(/kMeans: k/);
    expect(() => kMeans(Float32Array.of(1, NaN), 1, { k: 1 })).toThrow(/points\[1\]/);
  });
});

describe('userClusterAffinity', () => {
  it('is the share of each user events per cluster', () => {
    // items 0,1 -> cluster 0; item 2 -> cluster 1. User 0: items 0, 0, 2 -> [2/3, 1/3]; user 1: none; user 2: item 1.
    const log = logOf([
      [0, 0, 0, 0, 1],
      [0, 0, 0, 0, 2],
      [0, 2, 0, 0, 3],
      [2, 1, 0, 0, 4],
    ]);
    const aff = userClusterAffinity(log, Int32Array.of(0, 0, 1), 2);
    expect(Array.from(aff).map((v) => +v.toFixed(6))).toEqual([0.666667, 0.333333, 0, 0, 1, 0]);
    expect(Array.from(userClusterAffinity(log, Int32Array.of(0, 0, 1), 2, { rows: Int32Array.of(2) }).subarray(0, 2))).toEqual([0, 1]);
  });
});
