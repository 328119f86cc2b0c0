import { describe, expect, it } from 'vitest';
import type { Policy, RecEnv, StepResult } from '@rec/env';
import { evaluatePolicy } from './evaluate.js';
import { leaveLastOutSplit } from './protocols.js';

/**
 * A deterministic toy simulator: 4 users per batch, 6 items, slate of 2, episodes of 3 steps.
 * A slate item is clicked when it equals the user's favourite (user id mod 6); a click on item 0 is also a purchase.
 * reward = clicks. info: click [batch * slate], purchase [batch].
 */
class ToyEnv implements RecEnv {
  readonly name = 'toy';
  readonly observation = { shape: [1] as const };
  readonly action = { type: 'discrete' as const, numItems: 6, slateSize: 2 };
  readonly batchSize = 4;
  private users = new Int32Array(4);
  private t = 0;
  reset(users?: Int32Array): Float32Array {
    this.users = users ? Int32Array.from(users) : Int32Array.from([0, 1, 2, 3]);
    this.t = 0;
    return Float32Array.from(this.users);
  }
  step(actions: Int32Array | Float32Array): StepResult {
    this.t++;
    const click = new Float32Array(8);
    const purchase = new Float32Array(4);
    const reward = new Float32Array(4);
    for (let u = 0; u < 4; u++) {
      for (let j = 0; j < 2; j++) {
        if (actions[u * 2 + j] === this.users[u] % 6) {
          click[u * 2 + j] = 1;
          reward[u] += 1;
          if (actions[u * 2 + j] === 0) purchase[u] = 1;
        }
      }
    }
    return { obs: Float32Array.from(this.users), reward, done: new Uint8Array(4).fill(this.t >= 3 ? 1 : 0), info: { click, purchase } };
  }
}

describe('evaluatePolicy online (business metrics from a simulator)', () => {
  it('hand-computed CTR, conversion, reward, session length, coverage, diversity', () => {
    // Policy: slate [user mod 6, 5] for users 0..3 -> user u clicks slot 0 every step (favourite = u).
    // Per step: 4 clicks out of 8 slots -> CTR = 0.5; user 0's click is item 0 -> 1 purchase per step over 4
    // user-steps -> conversion 0.25. Return per user = 3 (3 steps x 1 click), reward/step = 1, session length 3.
    // Items shown: {0,1,2,3,5} of 6 -> coverage 5/6.
    // Categories: item -> item mod 2. Slates [0,5]: 0 vs 1 differ -> 1; [1,5]: same (1,1) -> 0; [2,5]: differ -> 1;
    // [3,5]: same -> 0. Mean diversity 0.5.
    const policy: Policy = {
      name: 'favourite-first',
      act: (obs) => Int32Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? obs[i >> 1] % 6 : 5)),
    };
    const r = evaluatePolicy(policy, new ToyEnv(), { episodes: 2, itemCategory: Int32Array.from([0, 1, 0, 1, 0, 1]), bootstrap: 100 });
    expect(r.users).toBe(8);
    expect(r.ctr).toBeCloseTo(0.5, 12);
    expect(r.conversion).toBeCloseTo(0.25, 12);
    expect(r.meanReturn.value).toBeCloseTo(3, 12);
    expect(r.meanReturn.lo).toBeCloseTo(3, 12); // every user returns exactly 3
    expect(r.meanReward).toBeCloseTo(1, 12);
    expect(r.sessionLength).toBe(3);
    expect(r.coverage).toBeCloseTo(5 / 6, 12);
    expect(r.diversity).toBeCloseTo(0.5, 12);
  });

  it('rejects a scorer on an environment and a policy on a split', () => {
    const scorer = { name: 's', scoreUsers: () => new Int32Array(0) };
    expect(() => evaluatePolicy(scorer as never, new ToyEnv() as never)).toThrow(/needs a Policy/);
    const log = {
      numRows: 3,
      user: Int32Array.from([0, 0, 0]),
      item: Int32Array.from([0, 1, 2]),
      category: Int32Array.from([0, 0, 0]),
      behavior: Uint8Array.from([0, 0, 0]),
      timestamp: Int32Array.from([1, 2, 3]),
    };
    const split = leaveLastOutSplit(log);
    expect(() => evaluatePolicy({ name: 'p', act: () => new Int32Array(1) } as never, split as never)).toThrow(/Scorer/);
    const bad = { name: 'bad', scoreUsers: () => new Int32Array(3) };
    expect(() => evaluatePolicy(bad, split, { k: 2 })).toThrow(/wrong shape/);
  });
});

describe('evaluatePolicy online on the real BehaviorSimEnv (@rec/env)', () => {
  it('reads CTR and conversion from info.response; popularity beats random on the simulated UserBehavior sample', async () => {
    const { existsSync } = await import('node:fs');
    const { resolve, dirname } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const dataDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../..', process.env.REC_DATA_DIR ?? '../shared/data');
    const file = resolve(dataDir, 'userbehavior-head/UserBehavior.csv');
    if (!existsSync(file)) {
      if (process.env.CI) throw new Error(`missing ${file}`);
      return;
    }
    const { ingest, itemStats } = await import('@rec/data');
    const { BehaviorSimEnv, behaviorSimDataFromLog, randomPolicy, popularityPolicy } = await import('@rec/env');
    const { log } = await ingest(file, { preset: 'userBehavior', cache: false });
    const data = behaviorSimDataFromLog(log);
    const cats = data.itemCategory;
    const run = (p: Policy) =>
      evaluatePolicy(p, new BehaviorSimEnv(data, { batchSize: 32, slateSize: 5, seed: 3 }), { episodes: 3, itemCategory: cats, bootstrap: 200 });
    const rnd = run(randomPolicy(1));
    const pop = run(popularityPolicy(itemStats(log).count));
    console.log(`behavior-sim: random CTR ${rnd.ctr.toFixed(4)} conv ${rnd.conversion.toFixed(4)} return ${rnd.meanReturn.value.toFixed(2)} len ${rnd.sessionLength.toFixed(2)} cov ${rnd.coverage.toFixed(3)} div ${rnd.diversity.toFixed(3)}; popularity CTR ${pop.ctr.toFixed(4)} conv ${pop.conversion.toFixed(4)} return ${pop.meanReturn.value.toFixed(2)} len ${pop.sessionLength.toFixed(2)} cov ${pop.coverage.toFixed(3)} div ${pop.diversity.toFixed(3)}`);
    expect(rnd.sources.click).toBe('response');
    expect(rnd.ctr).toBeGreaterThanOrEqual(0);
    expect(rnd.ctr).toBeLessThanOrEqual(1);
    expect(pop.ctr).toBeGreaterThan(rnd.ctr);
    expect(pop.meanReturn.value).toBeGreaterThan(rnd.meanReturn.value);
    // popularity shows the same 5 items to everyone
    expect(pop.coverage).toBeLessThan(rnd.coverage);
    expect(rnd.users).toBe(96);
  });
});
