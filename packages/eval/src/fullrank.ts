/**
 * Full-ranking top-k for embedding models: scores = U I^T over the whole catalogue, in blocks of users, with
 * per-user exclusions (seen items), ties broken by lower item id. No sampled negatives.
 * Tensors live only inside this function; in and out are typed arrays.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, ShapeError } from '@rec/core';
import type { ItemsCsr } from './metrics.js';
import { TopK } from './topk.js';
import type { Scorer } from './baselines.js';

export interface FullRankingOptions {
  /** Items per user to exclude (CSR aligned with the user rows). */
  exclude?: ItemsCsr;
  /** Users scored per matMul (default 256). */
  blockSize?: number;
}

/**
 * Top-k item ids per user, `Int32Array [numUsers * k]`, from `userEmb [numUsers * dim]` and `itemEmb [numItems * dim]`
 * (row-major), by inner product.
 */
export function fullRankingTopK(
  userEmb: Float32Array,
  itemEmb: Float32Array,
  dim: number,
  k: number,
  options: FullRankingOptions = {},
): Int32Array {
  check(Number.isInteger(dim) && dim > 0, 'fullRankingTopK(dim)', 'a positive integer', dim);
  check(Number.isInteger(k) && k > 0, 'fullRankingTopK(k)', 'a positive integer', k);
  if (userEmb.length % dim !== 0 || itemEmb.length % dim !== 0) {
    throw new ShapeError('embedding length is not a multiple of dim', {
      where: 'fullRankingTopK',
      expected: `lengths divisible by dim = ${dim}`,
      got: [userEmb.length, itemEmb.length],
    });
  }
  const nu = userEmb.length / dim;
  const ni = itemEmb.length / dim;
  const ex = options.exclude;
  if (ex) check(ex.offsets.length === nu + 1, 'fullRankingTopK(exclude)', `offsets of length numUsers + 1 = ${nu + 1}`, ex.offsets.length);
  const bs = options.blockSize ?? 256;
  const out = new Int32Array(nu * k);
  const top = new TopK(ni, k);
  // Pre-transposed item matrix [dim, numItems]: a plain matMul (no transpose flags, the fast path on wasm).
  const itemsT = tf.tidy(() => tf.transpose(tf.tensor2d(itemEmb, [ni, dim])));
  try {
    for (let a = 0; a < nu; a += bs) {
      const b = Math.min(nu, a + bs);
      const scoresT = tf.tidy(() => tf.matMul(tf.tensor2d(userEmb.subarray(a * dim, b * dim), [b - a, dim]), itemsT));
      const scores = scoresT.dataSync() as Float32Array;
      scoresT.dispose();
      for (let u = a; u < b; u++) {
        top.select(scores, out, u * k, (u - a) * ni, ex?.items, ex ? ex.offsets[u] : 0, ex ? ex.offsets[u + 1] : 0);
      }
    }
  } finally {
    itemsT.dispose();
  }
  return out;
}

/**
 * A Scorer for embedding models (matrix factorisation, two-tower, a TD3 actor's item space): unit i is scored with
 * the user row `unitUser[i]` of `userEmb` by inner product over the full catalogue.
 */
export function embeddingScorer(name: string, userEmb: Float32Array, itemEmb: Float32Array, dim: number, unitUser: Int32Array): Scorer {
  return {
    name,
    scoreUsers(units, k, exclude) {
      const u = new Float32Array(units.length * dim);
      for (let i = 0; i < units.length; i++) {
        const row = unitUser[units[i]];
        u.set(userEmb.subarray(row * dim, (row + 1) * dim), i * dim);
      }
      return fullRankingTopK(u, itemEmb, dim, k, { exclude });
    },
  };
}
