/** Small shared helpers for the environments: shape checks and action-space arithmetic. */
import { ShapeError, InvalidArgumentError } from '@rec/core';
import type { RecEnv } from './types.js';

/** Numbers per user in one observation (product of `observation.shape`). */
export function obsSize(env: Pick<RecEnv, 'observation'>): number {
  let n = 1;
  for (const d of env.observation.shape) n *= d;
  return n;
}

/** Numbers per user in one action: `slateSize` (discrete) or `dim` (continuous). */
export function actionSize(env: Pick<RecEnv, 'action'>): number {
  return env.action.type === 'discrete' ? env.action.slateSize : env.action.dim;
}

/** Throw ShapeError unless `actions` is the right typed array with `batch * per` entries. */
export function checkActions(
  actions: Int32Array | Float32Array,
  kind: 'discrete' | 'continuous',
  batch: number,
  per: number,
  where: string,
  numItems = 0,
): void {
  const want = kind === 'discrete' ? 'Int32Array' : 'Float32Array';
  const okType = kind === 'discrete' ? actions instanceof Int32Array : actions instanceof Float32Array;
  if (!okType || actions.length !== batch * per) {
    throw new ShapeError('actions have the wrong type or length', {
      where,
      expected: `${want} of length batch ${batch} x ${kind === 'discrete' ? 'slateSize' : 'dim'} ${per} = ${batch * per}`,
      got: actions,
      hint: kind === 'discrete' ? 'pass item ids as an Int32Array, row-major [batch, slate]' : 'pass a Float32Array, row-major [batch, dim]',
    });
  }
  if (kind === 'discrete') {
    for (let i = 0; i < actions.length; i++) {
      const a = actions[i];
      if (a < 0 || a >= numItems) {
        throw new InvalidArgumentError('item id out of range', {
          where: `${where}[${i}]`,
          expected: `an item id in [0, ${numItems})`,
          got: a,
          hint: 'actions are dense item indices of the environment; map raw ids through the item IdMap first',
        });
      }
    }
  }
}

/** Throw ShapeError unless `users` has `batch` entries in `[0, numUsers)`. */
export function checkUsers(users: Int32Array, batch: number, numUsers: number, where: string): void {
  if (!(users instanceof Int32Array) || users.length !== batch) {
    throw new ShapeError('users have the wrong type or length', {
      where,
      expected: `Int32Array of length batchSize ${batch}`,
      got: users,
    });
  }
  for (let i = 0; i < users.length; i++) {
    if (users[i] < 0 || users[i] >= numUsers) {
      throw new InvalidArgumentError('user index out of range', {
        where: `${where}[${i}]`,
        expected: `an index in [0, ${numUsers})`,
        got: users[i],
      });
    }
  }
}

/** Index of the first non-finite value of `a`, or -1 when every value is finite. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Throw InvalidArgumentError when an environment is stepped before `reset`. */
export function notReset(where: string): never {
  throw new InvalidArgumentError('step before reset', {
    where,
    expected: 'reset() to have been called',
    got: 'no active episode',
    hint: 'call env.reset() (or env.reset(users)) first',
  });
}

/** 32-bit integer finaliser (a murmur3-style avalanche) for counter-based random draws. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) from (seed, user, episode, round, slot), independent of processing order. */
export function drawUniform(seed: number, user: number, episode: number, round: number, slot: number): number {
  return drawFromKey(drawKey(seed, user, episode, round), slot);
}

/**
 * The (seed, user, episode, round) part of `drawUniform`, hashed once: `drawFromKey(drawKey(s, u, e, r), slot)` is
 * `drawUniform(s, u, e, r, slot)` exactly, for loops that draw many slots of one user's round.
 */
export function drawKey(seed: number, user: number, episode: number, round: number): number {
  let h = mix32(seed ^ 0x5bd1e995);
  h = mix32(h ^ user);
  h = mix32((h + Math.imul(episode, 0x9e3779b9)) >>> 0);
  return mix32((h ^ Math.imul(round + 1, 0x85ebca6b)) >>> 0);
}

/** The draw for `slot` from a `drawKey`. */
export function drawFromKey(key: number, slot: number): number {
  return mix32((key + Math.imul(slot + 1, 0xc2b2ae35)) >>> 0) / 4294967296;
}

