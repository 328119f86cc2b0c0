import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@rec/core';
import { fullRankingTopK, embeddingScorer } from './fullrank.js';
import { csrFromArrays } from './metrics.js';

describe('fullRankingTopK', () => {
  beforeAll(async () => {
    await initBackend('wasm', { ignoreEnv: true });
  });

  it('hand-computed 2 users x 4 items', () => {
    // user0 = [1, 0], user1 = [0, 1]; items: i0 = [1, 0], i1 = [0, 2], i2 = [3, 0], i3 = [1, 1]
    // user0 scores [1, 0, 3, 1] -> top-2 [2, 0] (0 and 3 tie at 1: lower id first)
    // user1 scores [0, 2, 0, 1] -> top-2 [1, 3]; excluding {1}: [3, 0] (0 and 2 tie at 0 -> 0)
    const u = Float32Array.from([1, 0, 0, 1]);
    const it = Float32Array.from([1, 0, 0, 2, 3, 0, 1, 1]);
    expect(Array.from(fullRankingTopK(u, it, 2, 2))).toEqual([2, 0, 1, 3]);
    expect(Array.from(fullRankingTopK(u, it, 2, 2, { exclude: csrFromArrays([[], [1]]) }))).toEqual([2, 0, 3, 0]);
  });

  it('embeddingScorer maps units to user rows and passes exclusions', () => {
    // same embeddings as above; units [0, 1] -> user rows [1, 0]
    const u = Float32Array.from([1, 0, 0, 1]);
    const it = Float32Array.from([1, 0, 0, 2, 3, 0, 1, 1]);
    const s = embeddingScorer('mf', u, it, 2, Int32Array.from([1, 0]));
    expect(Array.from(s.scoreUsers(Int32Array.from([0, 1]), 2, csrFromArrays([[1], []])))).toEqual([3, 0, 2, 0]);
  });

  it('matches a brute-force ranking across blocks and leaks no tensors', () => {
    const rng = new Rng(2);
    const nu = 37, ni = 300, d = 8, k = 5;
    const u = rng.fillNormal(new Float32Array(nu * d)) as Float32Array;
    const it = rng.fillNormal(new Float32Array(ni * d)) as Float32Array;
    const before = tf.memory().numTensors;
    const got = fullRankingTopK(u, it, d, k, { blockSize: 10 });
    expect(tf.memory().numTensors).toBe(before);
    for (let a = 0; a < nu; a++) {
      const s = Array.from({ length: ni }, (_, j) => {
        let x = 0;
        for (let q = 0; q < d; q++) x += u[a * d + q] * it[j * d + q];
        return x;
      });
      const ref = s.map((_, j) => j).sort((x, y) => s[y] - s[x]).slice(0, k);
      expect(Array.from(got.subarray(a * k, a * k + k))).toEqual(ref);
    }
  });
});
