/** Reference policies every environment is checked with: uniform random and most-popular. */
import { InvalidArgumentError, Rng, ShapeError } from '@rec/core';
import type { Policy, RecEnv } from './types.js';

function batchOf(obs: Float32Array, env: RecEnv): number {
  let osz = 1;
  for (const d of env.observation.shape) osz *= d;
  return obs.length / osz;
}

/** Per-user excluded-item sets from `env.excluded()`, as a lookup that costs nothing when there are none. */
function exclusionLookup(env: RecEnv, batch: number): ((u: number, item: number) => boolean) | null {
  if (!env.excluded) return null;
  const { offsets, items } = env.excluded();
  if (offsets.length !== batch + 1 || offsets[batch] === 0) return null;
  return (u, item) => {
    for (let i = offsets[u]; i < offsets[u + 1]; i++) if (items[i] === item) return true;
    return false;
  };
}

/**
 * Uniform random actions: distinct random items per slate (skipping `env.excluded()` items), or a uniform vector in
 * [low, high] for continuous spaces.
 */
export function randomPolicy(seed: number | Rng = 0): Policy {
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  return {
    name: 'random',
    act(obs, env) {
      const b = batchOf(obs, env);
      if (env.action.type === 'continuous') {
        const { dim, low, high } = env.action;
        const out = new Float32Array(b * dim);
        for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * rng.next();
        return out;
      }
      const { numItems, slateSize } = env.action;
      const excluded = exclusionLookup(env, b);
      const out = new Int32Array(b * slateSize);
      for (let u = 0; u < b; u++) {
        let filled = 0;
        let tries = 0;
        while (filled < slateSize) {
          const item = rng.int(numItems);
          tries++;
          let dup = false;
          for (let j = 0; j < filled; j++) if (out[u * slateSize + j] === item) dup = true;
          // After many tries (tiny catalogues), allow excluded items rather than loop forever.
          if (dup || (excluded && tries < 50 * slateSize && excluded(u, item))) continue;
          out[u * slateSize + filled++] = item;
        }
      }
      return out;
    },
  };
}

export interface PopularityPolicyOptions {
  /** Continuous spaces: item embeddings `[numItems * dim]`; the action is the most popular item's embedding. */
  embeddings?: Float32Array;
}

/**
 * Most-popular: the same top-`slateSize` items (by `scores`, e.g. interaction counts) for everyone, skipping each
 * user's `env.excluded()` items. For continuous spaces it sends the embedding of the top item, scaled into
 * [low, high] (cosine matching is scale-invariant), so the environment matches it to that item's neighbours.
 */
export function popularityPolicy(scores: ArrayLike<number>, options: PopularityPolicyOptions = {}): Policy {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Stable descending sort by score; ties by lower item id.
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return {
    name: 'popularity',
    act(obs, env) {
      const b = batchOf(obs, env);
      if (env.action.type === 'continuous') {
        const { dim, low, high } = env.action;
        const e = options.embeddings;
        if (!e || e.length !== n * dim) {
          throw new ShapeError('popularityPolicy needs item embeddings for a continuous action space', {
            where: 'popularityPolicy(options.embeddings)',
            expected: `Float32Array of length numItems ${n} x dim ${dim}`,
            got: e,
          });
        }
        const top = order[0];
        let m = 0;
        for (let j = 0; j < dim; j++) m = Math.max(m, Math.abs(e[top * dim + j]));
        const s = m > 0 ? Math.min(Math.abs(low), Math.abs(high)) / m : 0;
        const out = new Float32Array(b * dim);
        for (let u = 0; u < b; u++) for (let j = 0; j < dim; j++) out[u * dim + j] = e[top * dim + j] * s;
        return out;
      }
      const { numItems, slateSize } = env.action;
      if (numItems !== n) {
        throw new InvalidArgumentError('scores do not cover the catalogue', {
          where: 'popularityPolicy.act',
          expected: `${numItems} scores (env.action.numItems)`,
          got: n,
        });
      }
      const excluded = exclusionLookup(env, b);
      const out = new Int32Array(b * slateSize);
      for (let u = 0; u < b; u++) {
        let filled = 0;
        for (let r = 0; r < n && filled < slateSize; r++) {
          const item = order[r];
          if (excluded && excluded(u, item)) continue;
          out[u * slateSize + filled++] = item;
        }
      }
      return out;
    },
  };
}
