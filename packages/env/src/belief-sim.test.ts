import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, ShapeError } from '@rec/core';
import { UserBeliefEnv, UserBeliefSim, acceptanceProbability, runBeliefEpisode, type BeliefSimConfig, type BeliefSimData } from './belief-sim.js';
import { beliefSimDataFromLog, buildBeliefSimData, syntheticBeliefSimData } from './belief-data.js';
import { hasHead, loadHead, syntheticLog } from './testdata.testutil.js';
import { CosineMatcher, TfjsCosineMatcher, createCosineMatcher } from './match.js';
import { IvfCosineMatcher } from './ivf.js';
import { checkEnv } from './check-env.js';
import { popularityPolicy, randomPolicy } from './policies.js';
import type { Policy } from './types.js';

describe('acceptanceProbability (spec tables)', () => {
  it('matches 0.898 / 0.30 / 0.10', () => {
    // belief 0.0006, distance 1: (1 - 1/5) * sigmoid(6) + 0.1 = 0.8 * 0.997527 + 0.1 = 0.898022
    expect(acceptanceProbability(0.0006, 1)).toBeCloseTo(0.898, 3);
    // belief 0, distance 3: (1 - 3/5) * sigmoid(0) + 0.1 = 0.4 * 0.5 + 0.1 = 0.30
    expect(acceptanceProbability(0, 3)).toBeCloseTo(0.3, 10);
    // distance 5: the distance factor is 0, only the baseline is left, whatever the belief
    expect(acceptanceProbability(0, 5)).toBeCloseTo(0.1, 10);
    expect(acceptanceProbability(0.5, 5)).toBeCloseTo(0.1, 10);
    expect(acceptanceProbability(0.5, 7)).toBeCloseTo(0.1, 10); // beyond maxDistance: clamped at 0, not negative
    // switched off: the fixed fallback rate
    expect(acceptanceProbability(0.9, 0, { useSigmoid: false })).toBe(0.25);
    // distance 0, belief 1: 1 * ~1 + 0.1 is clipped to a probability of 1
    expect(acceptanceProbability(1, 0)).toBe(1);
  });
});

/** A hand-built 1-user world: item 0 in cluster 0 at distance 0 (always accepted once belief > 0.001), item 1 in cluster 1 at distance 5. */
function tinyWorld(beliefs: number[], optimal: number[], config: Partial<BeliefSimConfig> = {}): UserBeliefEnv {
  const data: BeliefSimData = {
    dim: 2,
    numClusters: 2,
    itemEmbeddings: new Float32Array([1, 0, 0, 1]),
    itemCluster: new Int32Array([0, 1]),
    itemDistance: new Float32Array([0, 5]),
    userEmbeddings: new Float32Array([0.5, 0.5]),
    initialBeliefs: new Float32Array(beliefs),
    optimalBeliefs: new Float32Array(optimal),
  };
  const sim = new UserBeliefSim(data, { rlListSize: 1, pretrainedListSize: 0, baseline: 0, ...config });
  const env = new UserBeliefEnv(sim, { batchSize: 1 });
  env.reset(new Int32Array([0]));
  return env;
}
const toItem0 = new Float32Array([1, 0]);
const toItem1 = new Float32Array([0, 1]);

describe('UserBeliefSim rewards', () => {
  it('is positive for a step towards optimal, 0 for nothing accepted, negative when renormalising moves away', () => {
    // [0.002, 0] -> item 0 accepted with p = 1 * sigmoid(20) ~ 1 -> [0.012, 0]; L1 to [0.5, 0.5] falls by 0.01 -> 1000 * 0.01 = 10.
    const up = tinyWorld([0.002, 0], [0.5, 0.5]).step(toItem0);
    expect(up.info.accepted[0]).toBe(1);
    expect(up.reward[0]).toBeCloseTo(10, 3);
    expect(up.info.improvement[0]).toBeCloseTo(0.01, 6);
    expect(up.info.improved[0]).toBe(1);
    // item 1 sits at distance 5 and the baseline is 0: p = 0, nothing accepted, nothing changes, reward 0.
    const none = tinyWorld([0.002, 0], [0.5, 0.5]).step(toItem1);
    expect(none.info.accepted[0]).toBe(0);
    expect(none.reward[0]).toBe(0);
    expect(none.info.improved[0]).toBe(0);
    // At optimal [0.6, 0.4]: accept item 0 -> [0.61, 0.4], sum 1.01 -> /1.01 = [0.60396, 0.39604] -> cap 0.6:
    // distance goes 0 -> 0.4 - 0.4/1.01 = 0.0039604, reward 1000 * -0.0039604 (good-state maintenance switched off).
    const away = tinyWorld([0.6, 0.4], [0.6, 0.4], { goodStateDistance: 0 }).step(toItem0);
    expect(away.info.accepted[0]).toBe(1);
    expect(away.reward[0]).toBeCloseTo(-3.9604, 3);
    // Same round with the default good state (distance <= 0.05): holding it earns 0.7 * 1000 * 0.01 = 7.
    expect(tinyWorld([0.6, 0.4], [0.6, 0.4]).step(toItem0).reward[0]).toBeCloseTo(7, 5);
  });

  it('applies clipping, the progressive factor, exploration bonus and the engagement-alignment mode', () => {
    expect(tinyWorld([0.002, 0], [0.5, 0.5], { rewardScale: 1e6 }).step(toItem0).reward[0]).toBe(100);
    // progressive: start distance 0.498 + 0.5 = 0.998, after 0.988: progress = 1 - 0.988/0.998 = 0.01002 -> 10 * 1.01002
    expect(tinyWorld([0.002, 0], [0.5, 0.5], { progressive: true }).step(toItem0).reward[0]).toBeCloseTo(10.1002, 3);
    // top cluster at round start is 1 (0.003 > 0.002), so the accepted cluster-0 item earns the 0.2 bonus: 10 + 0.2
    expect(tinyWorld([0.002, 0.003], [0.5, 0.5]).step(toItem0).reward[0]).toBeCloseTo(10.2, 3);
    // engagement-alignment: 100 * (0.5 * 1 accepted of 1 + 0.5 * cos([0.012, 0], [0.5, 0.5]) = 0.5 * 0.70711) = 85.355
    expect(tinyWorld([0.002, 0], [0.5, 0.5], { rewardMode: 'engagement-alignment' }).step(toItem0).reward[0]).toBeCloseTo(85.355, 2);
  });
});

function smallSim(config: Partial<BeliefSimConfig> = {}, seed = 3) {
  const data = syntheticBeliefSimData({ numUsers: 60, numItems: 300, dim: 16, seed });
  return { data, sim: new UserBeliefSim(data, { populationBatch: 25, ...config }) };
}

describe('UserBeliefSim dynamics', () => {
  it('keeps beliefs non-negative, summing to at most 1 and never above optimal over many random rounds', () => {
    // A big belief step makes renormalisation and the optimal cap bind often.
    for (const beliefStep of [0.01, 0.3]) {
      const { data, sim } = smallSim({ beliefStep, baseline: 0.3 });
      const env = new UserBeliefEnv(sim, { batchSize: 20 });
      const policy = randomPolicy(9);
      let bound = 0;
      let negative = 0;
      let aboveOptimal = 0;
      let sumAboveOne = 0;
      for (let ep = 0; ep < 6; ep++) {
        let obs = env.reset();
        for (let r = 0; r < 20; r++) {
          const res = env.step(policy.act(obs, env));
          obs = res.obs;
          for (let u = 0; u < sim.numUsers; u++) {
            let s = 0;
            for (let c = 0; c < 5; c++) {
              const b = sim.beliefs[u * 5 + c];
              if (b < 0) negative++;
              if (b > data.optimalBeliefs[u * 5 + c] + 1e-7) aboveOptimal++;
              if (Math.abs(b - data.optimalBeliefs[u * 5 + c]) < 1e-7) bound++;
              s += b;
            }
            if (s > 1 + 1e-5) sumAboveOne++;
          }
        }
      }
      expect({ negative, aboveOptimal, sumAboveOne }).toEqual({ negative: 0, aboveOptimal: 0, sumAboveOne: 0 });
      if (beliefStep > 0.1) expect(bound).toBeGreaterThan(100); // the cap really was exercised
    }
  });

  it('resets beliefs and rounds, ends episodes after 20 rounds and freezes finished users', () => {
    const { data, sim } = smallSim();
    const env = new UserBeliefEnv(sim, { batchSize: 4 });
    const users = new Int32Array([0, 1, 2, 3]);
    const obs0 = env.reset(users);
    expect(obs0.length).toBe(4 * 69 - 4 * 48); // dim 16: 5 beliefs + 16 = 21 per user
    expect(Array.from(obs0.subarray(0, 5))).toEqual(Array.from(data.initialBeliefs.subarray(0, 5)));
    const act = randomPolicy(1);
    let res = env.step(act.act(obs0, env));
    for (let r = 1; r < 20; r++) {
      expect(Array.from(res.done)).toEqual([0, 0, 0, 0]);
      res = env.step(act.act(res.obs, env));
    }
    expect(Array.from(res.done)).toEqual([1, 1, 1, 1]);
    const frozen = sim.beliefs.slice();
    const after = env.step(act.act(res.obs, env));
    expect(Array.from(after.reward)).toEqual([0, 0, 0, 0]);
    expect(Array.from(after.info.active)).toEqual([0, 0, 0, 0]);
    expect(sim.beliefs).toEqual(frozen);
    const obs1 = env.reset(users);
    expect(obs1).toEqual(obs0);
    expect(Array.from(sim.round.subarray(0, 4))).toEqual([0, 0, 0, 0]);
  });

  it('observeGap appends optimal - belief per cluster, after reset and after every step; the design state is unchanged', () => {
    const plain = smallSim();
    const { data, sim } = smallSim({ observeGap: true });
    expect([plain.sim.obsSize, sim.obsSize]).toEqual([5 + 16, 5 + 16 + 5]);
    const env = new UserBeliefEnv(sim, { batchSize: 4 });
    const envPlain = new UserBeliefEnv(plain.sim, { batchSize: 4 });
    expect(env.observation.shape).toEqual([26]);
    const users = new Int32Array([3, 0, 7, 1]);
    const act = randomPolicy(3);
    let obs = env.reset(users);
    let obsPlain = envPlain.reset(users);
    for (let r = 0; r < 6; r++) {
      for (let i = 0; i < users.length; i++) {
        const u = users[i];
        const row = obs.subarray(i * 26, (i + 1) * 26);
        // the first 21 values are the design's observation, the same as without the option
        expect(Array.from(row.subarray(0, 21))).toEqual(Array.from(obsPlain.subarray(i * 21, (i + 1) * 21)));
        for (let c = 0; c < 5; c++) {
          expect(row[21 + c]).toBeCloseTo(data.optimalBeliefs[u * 5 + c] - sim.beliefs[u * 5 + c], 6);
          expect(row[21 + c]).toBeGreaterThanOrEqual(-1e-6); // beliefs never exceed the optimum
        }
      }
      // the same actions with and without the option: the dynamics do not depend on what is observed
      const a = act.act(obsPlain, envPlain) as Float32Array;
      const res = env.step(a);
      const resPlain = envPlain.step(a);
      expect(Array.from(res.reward)).toEqual(Array.from(resPlain.reward));
      obs = res.obs;
      obsPlain = resPlain.obs;
    }
    expect(sim.beliefs).toEqual(plain.sim.beliefs);
    expect(() => smallSim({ observeGap: 1 as unknown as boolean })).toThrow(/observeGap/);
  });

  it('is deterministic by seed and independent of how the population is batched', async () => {
    const run = async (seed: number, batch: number) => {
      const { sim } = smallSim({ seed, populationBatch: batch });
      const m = await runBeliefEpisode(new UserBeliefEnv(sim), randomPolicy(4));
      return { m, beliefs: sim.beliefs.slice() };
    };
    const a = await run(1, 25);
    const b = await run(1, 60);
    expect(b.beliefs).toEqual(a.beliefs);
    expect(b.m.totalReward).toBeCloseTo(a.m.totalReward, 3);
    // The random policy draws per batch, so batch 60 vs 25 only matches because both see every user in order with
    // one shared generator: same seed, same user order, same draws.
    const c = await run(2, 25);
    expect(c.beliefs).not.toEqual(a.beliefs);
  });

  it('counts no improvement, acceptance or reward when nothing can be accepted', async () => {
    // baseline 0 and maxDistance 1e-6: every item (distance > 0) has p = max(0, 1 - d / 1e-6) * s + 0 = 0.
    const { sim } = smallSim({ baseline: 0, maxDistance: 1e-6 });
    const m = await runBeliefEpisode(new UserBeliefEnv(sim), randomPolicy(2));
    expect([m.acceptanceRate, m.usersImproved, m.totalReward]).toEqual([0, 0, 0]);
    expect(m.finalDistance).toBeCloseTo(m.startDistance, 12);
  });

  it('passes checkEnv and rejects bad actions', () => {
    const { sim } = smallSim();
    const env = new UserBeliefEnv(sim, { batchSize: 8 });
    expect(checkEnv(env, { steps: 4 }).warnings).toEqual([]);
    env.reset();
    expect(() => env.step(new Float32Array(8 * 16).fill(NaN))).toThrow(/non-finite action/);
    expect(() => env.step(new Float32Array(3))).toThrow(ShapeError);
    expect(() => env.reset(new Int32Array([0, 1, 2, 3, 4, 5, 6, 0]))).toThrow(/user twice/);
    expect(() => new UserBeliefEnv(sim, { batchSize: 61 })).toThrow(/numUsers = 60/);
  });

  it('runs a population episode, writes current_user_beliefs.json atomically, and a gap-seeking policy beats random', async () => {
    const { data, sim } = smallSim({}, 11);
    const env = new UserBeliefEnv(sim);
    const dir = mkdtempSync(join(tmpdir(), 'rec-env-'));
    try {
      const rnd = await runBeliefEpisode(env, randomPolicy(5), { outDir: dir, episode: 3 });
      const doc = JSON.parse(readFileSync(join(dir, 'current_user_beliefs.json'), 'utf8'));
      expect(doc.episode).toBe(3);
      expect(doc.total_users).toBe(60);
      expect(Object.keys(doc.users)).toHaveLength(60);
      expect(doc.users['7'].beliefs).toHaveLength(5);
      expect(doc.users['7'].pp1_distance).toBeCloseTo(sim.distanceToOptimal(7), 5);
      expect(doc.users['7'].cluster_distances).toHaveLength(5);
      expect(rnd.rounds).toBe(20);
      expect(rnd.acceptanceRate).toBeGreaterThan(0);
      expect(rnd.acceptanceRate).toBeLessThan(1);

      // Oracle: aim at the centre of the cluster with the largest remaining gap to optimal (it knows the targets).
      const C = 5;
      const D = 16;
      const centres = new Float32Array(C * D);
      const cnt = new Float32Array(C);
      for (let i = 0; i < sim.numItems; i++) {
        cnt[data.itemCluster[i]]++;
        for (let j = 0; j < D; j++) centres[data.itemCluster[i] * D + j] += data.itemEmbeddings[i * D + j];
      }
      const gap: Policy = {
        name: 'gap',
        act(obs) {
          const n = obs.length / (C + D);
          const out = new Float32Array(n * D);
          for (let i = 0; i < n; i++) {
            // users run in order 0..59 in batches, so the user of row i is recovered from the embedding match
            const u = findUser(obs.subarray(i * (C + D) + C, (i + 1) * (C + D)));
            let best = 0;
            for (let c = 1; c < C; c++) if (data.optimalBeliefs[u * C + c] - obs[i * (C + D) + c] > data.optimalBeliefs[u * C + best] - obs[i * (C + D) + best]) best = c;
            let m = 0;
            for (let j = 0; j < D; j++) m = Math.max(m, Math.abs(centres[best * D + j]));
            for (let j = 0; j < D; j++) out[i * D + j] = centres[best * D + j] / m;
          }
          return out;
        },
      };
      const findUser = (emb: Float32Array): number => {
        for (let u = 0; u < sim.numUsers; u++) if (data.userEmbeddings[u * D] === emb[0] && data.userEmbeddings[u * D + 1] === emb[1]) return u;
        throw new Error('user not found');
      };
      const best = await runBeliefEpisode(env, gap);
      const pop = await runBeliefEpisode(env, popularityPolicy(data.itemPopularity, { embeddings: data.itemEmbeddings }));
      expect(best.averageReward).toBeGreaterThan(rnd.averageReward * 1.1);
      expect(best.finalDistance).toBeLessThan(rnd.finalDistance);
      expect(rnd.finalDistance).toBeLessThan(rnd.startDistance);
      // Popularity sends everyone to one cluster: it soon stops improving, so it earns less than the oracle.
      expect(pop.averageReward).toBeLessThan(best.averageReward);
      expect(pop.finalDistance).toBeGreaterThan(best.finalDistance);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds its inputs from embeddings, clusters and a log', () => {
    // 3 items in 2 clusters, 2 users: user 0 touched items 0, 0, 2; user 1 nothing.
    const log = { numRows: 3, user: new Int32Array([0, 0, 0]), item: new Int32Array([0, 0, 2]), category: new Int32Array(3), behavior: new Uint8Array(3), timestamp: new Int32Array([1, 2, 3]) };
    const d = buildBeliefSimData({ dim: 2, itemEmbeddings: new Float32Array([0, 0, 2, 0, 0, 4]), itemCluster: new Int32Array([0, 0, 1]), log, numUsers: 2 });
    // cluster 0 centre (1, 0): items 0 and 1 at distance 1; cluster 1 centre = item 2 (distance 0); max 1 -> scaled to 5.
    expect(Array.from(d.itemDistance)).toEqual([5, 5, 0]);
    // user 0: shares 2/3, 1/3 -> initial 0.001 x shares; optimal = shares; user 1: no history -> 0 and uniform.
    expect(d.initialBeliefs[0]).toBeCloseTo(0.000667, 6);
    expect(Array.from(d.optimalBeliefs)).toEqual([Math.fround(2 / 3), Math.fround(1 / 3), 0.5, 0.5]);
    // user 0 embedding = mean of (0,0), (0,0), (0,4) = (0, 4/3)
    expect(d.userEmbeddings[1]).toBeCloseTo(4 / 3, 6);
    const sim = new UserBeliefSim(d, { pretrainedListSize: 1, rlListSize: 1 });
    expect(sim.numClusters).toBe(2);
  });

  const fromLog = async (log: Parameters<typeof beliefSimDataFromLog>[0]) => {
    await initBackend('wasm'); // item2vec training in @rec/data runs on tfjs; wasm is several times faster than cpu
    const data = beliefSimDataFromLog(log, { embeddingOptions: { steps: 20, batchSize: 256 }, seed: 1 });
    const sim = new UserBeliefSim(data, { populationBatch: 64 });
    const env = new UserBeliefEnv(sim);
    expect(checkEnv(env, { steps: 2 }).warnings).toEqual([]);
    const counts = new Float32Array(sim.numItems);
    for (let r = 0; r < log.numRows; r++) counts[log.item[r]]++;
    const rnd = await runBeliefEpisode(env, randomPolicy(3));
    const pop = await runBeliefEpisode(env, popularityPolicy(counts, { embeddings: data.itemEmbeddings }));
    return { sim, data, rnd, pop };
  };

  it.skipIf(!hasHead)('runs on the real UserBehavior sample through @rec/data embeddings and clusters', async () => {
    const log = await loadHead();
    const { sim, data, rnd, pop } = await fromLog(log);
    expect(sim.numUsers).toBe(log.numUsers);
    expect(sim.numClusters).toBe(5);
    expect(data.userIds?.[0]).toBe(log.users.toRaw[0]);
    // Both policies move beliefs towards the log's own cluster shares; popularity aims at one region of the
    // embedding space for everyone, so it reaches fewer clusters and ends farther from the targets than random.
    expect(rnd.finalDistance).toBeLessThan(rnd.startDistance);
    expect(pop.finalDistance).toBeGreaterThan(rnd.finalDistance);
    expect(pop.averageReward).toBeLessThan(rnd.averageReward);
    expect(pop.coverage).toBeLessThan(rnd.coverage);
  });

  it('runs on a synthetic log from @rec/data through its embeddings and clusters', async () => {
    const { rnd, pop } = await fromLog(syntheticLog(5_000, 60, 5));
    expect(rnd.finalDistance).toBeLessThan(rnd.startDistance);
    expect(pop.finalDistance).toBeLessThan(pop.startDistance);
    // Here both policies end near the targets (the pre-trained half of each slate does most of the work on this
    // small log), so only the coverage gap is a stable direction: popularity sends everyone the same RL list.
    expect(pop.coverage).toBeLessThan(rnd.coverage);
  });
});

describe('matchers', () => {
  it('CosineMatcher equals a brute-force reference, and TfjsCosineMatcher equals CosineMatcher', async () => {
    await initBackend('cpu');
    const { data } = smallSim();
    const q = new Float32Array(13 * 16).map((_, i) => Math.sin(i * 1.7));
    const m = new CosineMatcher(data.itemEmbeddings, 16);
    const out = new Int32Array(13 * 5);
    const sc = new Float32Array(13 * 5);
    m.topK(q, 13, 5, out, sc);
    for (let u = 0; u < 13; u++) {
      const cos = Array.from({ length: 300 }, (_, i) => {
        let d = 0, a = 0, b = 0;
        for (let j = 0; j < 16; j++) {
          d += q[u * 16 + j] * data.itemEmbeddings[i * 16 + j];
          a += q[u * 16 + j] ** 2;
          b += data.itemEmbeddings[i * 16 + j] ** 2;
        }
        return [d / Math.sqrt(a * b), i];
      }).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
      expect(Array.from(out.subarray(u * 5, u * 5 + 5))).toEqual(cos.slice(0, 5).map((c) => c[1]));
      expect(sc[u * 5]).toBeCloseTo(cos[0][0], 5);
    }
    const before = tf.memory().numTensors;
    const t = new TfjsCosineMatcher(data.itemEmbeddings, 16, { chunk: 5 });
    const out2 = new Int32Array(13 * 5);
    t.topK(q, 13, 5, out2);
    t.dispose();
    expect(Array.from(out2)).toEqual(Array.from(out));
    expect(tf.memory().numTensors).toBe(before);
    // On the cpu backend the factory picks the typed-array matcher (no tensors), on wasm the tfjs one.
    expect(createCosineMatcher(data.itemEmbeddings, 16)).toBeInstanceOf(CosineMatcher);
    await initBackend('wasm');
    const auto = createCosineMatcher(data.itemEmbeddings, 16);
    expect(auto).toBeInstanceOf(TfjsCosineMatcher);
    auto.dispose?.();
  });

  it('IvfCosineMatcher is exact when it probes every list, and keeps high recall with a few probes', () => {
    const data = syntheticBeliefSimData({ numUsers: 10, numItems: 2000, dim: 16, seed: 8 });
    const exact = new CosineMatcher(data.itemEmbeddings, 16);
    // Queries near items (as matched actions are), plus pure noise.
    const n = 200;
    const q = new Float32Array(n * 16);
    for (let u = 0; u < n; u++) for (let j = 0; j < 16; j++) q[u * 16 + j] = u < 150 ? data.itemEmbeddings[(u * 13) * 16 + j] + 0.3 * Math.sin(u * 7 + j) : Math.cos(u * 3.1 + j * 1.7);
    const want = new Int32Array(n * 10);
    exact.topK(q, n, 10, want);
    const all = new IvfCosineMatcher(data.itemEmbeddings, 16, { lists: 20, probes: 20 });
    const got = new Int32Array(n * 10);
    all.topK(q, n, 10, got);
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(all.listOffsets[20]).toBe(2000);
    const few = new IvfCosineMatcher(data.itemEmbeddings, 16, { lists: 40, probes: 6 });
    few.topK(q, n, 10, got);
    let hit = 0;
    for (let u = 0; u < n; u++) {
      const s = new Set(want.subarray(u * 10, u * 10 + 10));
      for (let t = 0; t < 10; t++) if (s.has(got[u * 10 + t])) hit++;
    }
    expect(hit / (n * 10)).toBeGreaterThan(0.9);
  });
});
