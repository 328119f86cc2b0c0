import { describe, expect, it } from 'vitest';
import { itemStats } from '@rec/data';
import { BehaviorSimEnv, Response, behaviorSimDataFromLog, type BehaviorSimData } from './behavior-sim.js';
import { checkEnv } from './check-env.js';
import { rollout } from './rollout.js';
import { popularityPolicy, randomPolicy } from './policies.js';
import { hasHead, loadHead, syntheticLog } from './testdata.testutil.js';

/** 2 users, 3 items: item 0 (cat 0) popular and always bought; item 1 (cat 1) never viewed; item 2 (cat 0) unpopular. */
function handData(): BehaviorSimData {
  return {
    numUsers: 2,
    numItems: 3,
    itemCategory: new Int32Array([0, 1, 0]),
    itemPopularity: new Float32Array([1, 0, 0.1]),
    itemPropensity: new Float32Array([1, 0, 0.05]),
    itemCartRate: new Float32Array([0, 0, 0]),
    itemFavRate: new Float32Array([0, 0, 0]),
    itemBuyRate: new Float32Array([1, 0, 0]),
    prefOffsets: new Int32Array([0, 1, 1]),
    prefCategory: new Int32Array([0]),
    prefWeight: new Float32Array([1]),
    historyItem: new Int32Array([-1, 2, -1, -1]),
    historyBehavior: new Uint8Array([0, 0, 0, 0]),
    historyLength: 2,
  };
}

describe('BehaviorSimEnv', () => {
  it('scores responses with the spec rewards and bonuses', () => {
    // user 0 prefers cat 0 (weight 1): P(view item 0) = clip(0.02 + 0.6 + 0.3, 0, 0.95) = 0.92; viewBase 1 forces a view.
    const env = new BehaviorSimEnv(handData(), { batchSize: 2, viewBase: 1, maxSteps: 3 });
    env.reset(new Int32Array([0, 1]));
    // item 0: buy rate 1 -> buy (10); popular, so no diversity bonus; cat 0 is user 0's top category: +2 -> 12.
    // user 1 gets item 2: viewed, buy rate 0 -> pv (1); popularity 0.1 < 0.5: +2; user 1 has no preferences -> 3.
    const r = env.step(new Int32Array([0, 2]));
    expect(Array.from(r.info.response)).toEqual([Response.buy, Response.pv]);
    expect(Array.from(r.reward)).toEqual([12, 3]);
    // With no view at all (viewBase -10), nothing is engaged and bonuses do not count: reward 0.
    const cold = new BehaviorSimEnv(handData(), { batchSize: 2, viewBase: -10, viewPreference: 0, viewPopularity: 0, quitProbability: 0 });
    cold.reset(new Int32Array([0, 1]));
    const c = cold.step(new Int32Array([2, 2]));
    expect(Array.from(c.info.response)).toEqual([0, 0]);
    expect(Array.from(c.reward)).toEqual([0, 0]);
    // ... unless configured otherwise: user 0 gets diversity + preference = 4, user 1 diversity = 2.
    const loose = new BehaviorSimEnv(handData(), { batchSize: 2, viewBase: -10, viewPreference: 0, viewPopularity: 0, bonusesRequireEngagement: false });
    loose.reset(new Int32Array([0, 1]));
    expect(Array.from(loose.step(new Int32Array([2, 2])).reward)).toEqual([4, 2]);
    // The reward hook sees the default reward and replaces it.
    const hooked = new BehaviorSimEnv(handData(), { batchSize: 2, viewBase: 1, rewardFn: (u, item, resp, def) => (resp === Response.buy ? -def : 0) });
    hooked.reset(new Int32Array([0, 1]));
    expect(Array.from(hooked.step(new Int32Array([0, 2])).reward)).toEqual([-12, 0]);
  });

  it('keeps a history window in the observation and ends episodes at maxSteps', () => {
    const env = new BehaviorSimEnv(handData(), { batchSize: 1, viewBase: 1, maxSteps: 2 });
    const obs = env.reset(new Int32Array([0]));
    // history [pad, item 2 viewed]: row 1 = (2+1)/3, popularity 0.1, rates 0, pref(cat 0) = 1, pv one-hot
    expect(Array.from(obs.subarray(0, 10))).toEqual(new Array(10).fill(0));
    expect(Array.from(obs.subarray(10, 20))).toEqual([1, Math.fround(0.1), 0, 0, 0, 1, 1, 0, 0, 0]);
    const r1 = env.step(new Int32Array([0]));
    expect(r1.obs[10]).toBeCloseTo(1 / 3, 6); // item 0 entered as the newest row, after item 2 moved up
    expect(r1.obs[19]).toBe(1); // bought
    expect(r1.done[0]).toBe(0);
    const r2 = env.step(new Int32Array([0]));
    expect(r2.done[0]).toBe(1);
    const r3 = env.step(new Int32Array([0]));
    expect(r3.info.active[0]).toBe(0);
    expect(r3.reward[0]).toBe(0);
    const m = env.episodeMetrics();
    // reset restores the logged history (not the simulated one) and clears the episode counters
    expect(env.reset(new Int32Array([0]))).toEqual(obs);
    expect(env.episodeMetrics().episodeLength).toBe(0);
    expect(m.episodeLength).toBe(2);
    expect(m.ctr).toBe(1);
    expect(m.conversionRate).toBe(1);
    expect(m.coverage).toBeCloseTo(1 / 3, 6);
    expect(m.diversity).toBe(0.5); // the same category twice
  });

  it('is deterministic by seed and passes checkEnv (synthetic log)', () => {
    const data = behaviorSimDataFromLog(syntheticLog(20_000, 200, 2));
    const mk = (seed: number) => new BehaviorSimEnv(data, { batchSize: 32, slateSize: 3, seed });
    expect(checkEnv(mk(0)).warnings).toEqual([]);
    const a = rollout(mk(5), randomPolicy(1));
    const b = rollout(mk(5), randomPolicy(1));
    const c = rollout(mk(6), randomPolicy(1));
    expect(b.episodeReturn).toEqual(a.episodeReturn);
    expect(c.episodeReturn).not.toEqual(a.episodeReturn);
  });

  const compare = (data: BehaviorSimData, counts: Int32Array, batchSize: number) => {
    const run = (policy: ReturnType<typeof randomPolicy>) => {
      const env = new BehaviorSimEnv(data, { batchSize, seed: 3 });
      const r = rollout(env, policy, { users: Int32Array.from({ length: batchSize }, (_, i) => i % data.numUsers) });
      return { r, m: env.episodeMetrics() };
    };
    return { rnd: run(randomPolicy(7)), pop: run(popularityPolicy(counts)) };
  };

  it('popularity earns more reward than random on the synthetic log', () => {
    const log = syntheticLog(20_000, 200, 2);
    const { rnd, pop } = compare(behaviorSimDataFromLog(log), itemStats(log).count, 400);
    expect(pop.m.averageReward).toBeGreaterThan(rnd.m.averageReward);
    expect(pop.m.ctr).toBeGreaterThan(rnd.m.ctr);
    expect(pop.m.coverage).toBeLessThan(rnd.m.coverage);
  });

  it.skipIf(!hasHead)('popularity earns more reward than random on the real UserBehavior sample', async () => {
    const log = await loadHead();
    const data = behaviorSimDataFromLog(log);
    expect(data.numUsers).toBe(log.numUsers);
    // 10 episodes per user of the 43 (the sample is tiny; one episode each is too noisy to compare).
    const { rnd, pop } = compare(data, itemStats(log).count, 430);
    expect(pop.m.averageReward).toBeGreaterThan(rnd.m.averageReward);
    expect(pop.m.episodeLength).toBeGreaterThan(rnd.m.episodeLength); // fewer quits
    expect(pop.m.coverage).toBeLessThan(rnd.m.coverage);
    expect(pop.m.diversity).toBeLessThan(rnd.m.diversity + 1e-9);
  });
});
