import { describe, expect, it } from 'vitest';
import { EnvContractError, RecError, ShapeError } from '@rec/core';
import { checkEnv } from './check-env.js';
import { rollout } from './rollout.js';
import { popularityPolicy, randomPolicy } from './policies.js';
import { MockEnv } from './testing.js';
import type { RecEnv, StepResult } from './types.js';

describe('checkEnv', () => {
  it('passes the MockEnv (discrete and continuous)', () => {
    expect(checkEnv(new MockEnv()).steps).toBe(3);
    const r = checkEnv(new MockEnv({ action: { type: 'continuous', dim: 4, low: -1, high: 1 }, obsShape: [2, 3] }));
    expect(r.warnings).toEqual([]);
  });

  it('names each broken rule with what to do', () => {
    // An env that breaks three rules: reward too short, non-0/1 done, Math.random observations, no validation.
    const broken: RecEnv = {
      name: 'broken',
      observation: { shape: [2] },
      action: { type: 'discrete', numItems: 5, slateSize: 1 },
      batchSize: 3,
      seed() {},
      reset: () => new Float32Array(6).map(() => Math.random()),
      step: (): StepResult => ({ obs: new Float32Array(6), reward: new Float32Array(2), done: new Uint8Array([0, 2, 0]), info: {} }),
    };
    let err: unknown;
    try {
      checkEnv(broken);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvContractError);
    const msg = (err as Error).message;
    expect(msg).toContain('reward must be a Float32Array of length batchSize 3');
    expect(msg).toContain('done must hold only 0 and 1');
  });

  it('catches nondeterminism and unvalidated actions', () => {
    const env: RecEnv = {
      name: 'sloppy',
      observation: { shape: [1] },
      action: { type: 'discrete', numItems: 5, slateSize: 1 },
      batchSize: 2,
      seed() {},
      reset: () => new Float32Array(2).map(() => Math.random()),
      step: () => ({ obs: new Float32Array(2), reward: new Float32Array(2), done: new Uint8Array(2), info: {} }),
    };
    expect(() => checkEnv(env)).toThrow(/different trajectory/);
    expect(() => checkEnv(env, { determinism: false })).toThrow(/accepted actions one short/);
  });

  it('rejects a bad static description', () => {
    const env = { name: '', observation: { shape: [0] }, action: { type: 'grid' }, batchSize: 1.5, reset() {}, step() {} } as unknown as RecEnv;
    expect(() => checkEnv(env)).toThrow(/name.*batchSize.*observation.shape.*action.type/s);
  });
});

describe('MockEnv', () => {
  it('records calls, validates actions, freezes users after done', () => {
    const env = new MockEnv({ batchSize: 2, episodeLength: 2 });
    env.reset(new Int32Array([1, 2]));
    // Target of user 1 at t=0 is 7 mod 20 = 7; user 2 -> 14.
    const r0 = env.step(new Int32Array([7, 0]));
    expect(Array.from(r0.reward)).toEqual([1, 0]);
    const r1 = env.step(new Int32Array([8, 15])); // t=1 targets 8 and 15
    expect(Array.from(r1.reward)).toEqual([1, 1]);
    expect(Array.from(r1.done)).toEqual([1, 1]);
    const r2 = env.step(new Int32Array([9, 16]));
    expect(Array.from(r2.reward)).toEqual([0, 0]);
    expect(Array.from(r2.info.active)).toEqual([0, 0]);
    expect(env.calls.map((c) => c.method)).toEqual(['reset', 'step', 'step', 'step']);
    expect(() => env.step(new Int32Array([1]))).toThrow(ShapeError);
    expect(() => env.reset(new Int32Array([1, 100]))).toThrow(RecError);
  });
});

describe('rollout and reference policies', () => {
  it('runs to the end of the episodes and sums rewards', () => {
    const env = new MockEnv({ batchSize: 3, episodeLength: 4 });
    const res = rollout(env, randomPolicy(1));
    expect(res.steps).toBe(4);
    expect(Array.from(res.episodeLength)).toEqual([4, 4, 4]);
    expect(res.finished).toBe(3);
    // An oracle reading the target from the observation gets exactly 1 per step.
    const oracle = { name: 'oracle', act: (obs: Float32Array) => new Int32Array(3).map((_, u) => Math.round(obs[u * 8] * 20)) };
    const best = rollout(env, oracle);
    expect(best.meanReturn).toBe(4);
    expect(res.meanReturn).toBeLessThan(best.meanReturn);
  });

  it('popularity picks the top items and skips excluded ones; random is seeded', () => {
    const env = new MockEnv({ batchSize: 2, action: { type: 'discrete', numItems: 5, slateSize: 2 } });
    const excl = Object.assign(env, { excluded: () => ({ offsets: new Int32Array([0, 1, 1]), items: new Int32Array([3]) }) });
    const obs = excl.reset();
    const a = popularityPolicy([1, 0, 2, 9, 5]).act(obs, excl);
    expect(Array.from(a)).toEqual([4, 2, 3, 4]); // user 0 may not get item 3
    const r1 = randomPolicy(5).act(obs, excl);
    const r2 = randomPolicy(5).act(obs, excl);
    expect(Array.from(r1)).toEqual(Array.from(r2));
    expect(r1[0]).not.toBe(r1[1]);
  });
});
