/**
 * Learning in the user-belief simulator of @rec/env (synthetic population, fixed seeds): after a small budget the
 * greedy TD3 policy must beat uniform random actions and the pre-trained-list-only policy (the RL list taken from
 * the user's own embedding, so all 20 items come from the pre-trained model) on average reward and on the final
 * distance to the optimal beliefs, match or beat them on the share of users whose beliefs improved, and its
 * per-episode training reward must trend upward.
 *
 * Scaled-down configuration (documented, not the design's): 400 users, 1,000 items, 5 rounds per episode, 64-64
 * networks, gamma 0.5 (the simulator's reward is nearly immediate; 0.95 learnt more slowly within this budget),
 * learning rate 1e-3, rewards x 0.01, batch-normalised inputs (beliefs near 0.001 next to an N(0, 1) embedding).
 */
import { initBackend, Rng } from '@rec/core';
import { syntheticBeliefSimData, UserBeliefEnv, UserBeliefSim } from '@rec/env';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTd3 } from './td3.js';
import { evaluateAny, type EpisodeStats } from './train.js';

beforeAll(async () => {
  await initBackend('wasm', { ignoreEnv: true });
});

const fmt = (s: EpisodeStats) =>
  `avg reward ${s.averageReward.toFixed(2)} | improved ${(100 * (s.improvedShare ?? 0)).toFixed(1)}% | final distance ${s.finalDistance?.toFixed(4)} | ` +
  `acceptance ${(100 * (s.acceptanceRate ?? 0)).toFixed(1)}% | per round ${s.roundRewards.map((r) => r.toFixed(1)).join(' ')}`;

describe('TD3 in the user-belief simulator', () => {
  it('beats random actions and the pre-trained list', async () => {
    const rounds = 5;
    const data = syntheticBeliefSimData({ numUsers: 400, numItems: 1000, seed: 3 });
    const env = new UserBeliefEnv(new UserBeliefSim(data, { populationBatch: 400, roundsPerEpisode: rounds, seed: 1 }));
    const agent = createTd3({
      actorHidden: [64, 64],
      criticHidden: [64, 64],
      batchSize: 256,
      gamma: 0.5,
      actorLearningRate: 1e-3,
      criticLearningRate: 1e-3,
      rewardScale: 0.01,
      inputBatchNorm: true,
      replayCapacity: 30_000,
      warmup: 4_000,
      trainEvery: 1,
      updatesPerTrain: 40,
      seed: 1,
    });
    const t0 = performance.now();
    const history = await agent.learn(env, { episodes: 12, quiet: true });
    const seconds = (performance.now() - t0) / 1000;

    const seed = 777;
    const td3 = await agent.evaluate(env, { seed });
    const rng = new Rng(5);
    const random = await evaluateAny(env, (obs) => rng.fillUniform(new Float32Array((obs.length / 69) * 64), -1, 1) as Float32Array, rounds, seed);
    // Pre-trained list only: point the RL list at the user's own embedding (state[5:69]), scaled into [-1, 1].
    const pretrained = await evaluateAny(env, (obs) => {
      const n = obs.length / 69;
      const a = new Float32Array(n * 64);
      for (let u = 0; u < n; u++) {
        let m = 1e-9;
        for (let j = 0; j < 64; j++) m = Math.max(m, Math.abs(obs[u * 69 + 5 + j]));
        for (let j = 0; j < 64; j++) a[u * 64 + j] = obs[u * 69 + 5 + j] / m;
      }
      return a;
    }, rounds, seed);
    console.log(
      `TD3 in the belief simulator (${seconds.toFixed(1)} s training, ${agent.updates} updates)\n` +
        `  training avg reward per episode: ${history.map((h) => h.averageReward.toFixed(1)).join(' ')}\n` +
        `  TD3:        ${fmt(td3)}\n  random:     ${fmt(random)}\n  pretrained: ${fmt(pretrained)}`,
    );
    expect(td3.averageReward).toBeGreaterThan(random.averageReward);
    expect(td3.averageReward).toBeGreaterThan(pretrained.averageReward);
    expect(td3.finalDistance!).toBeLessThan(random.finalDistance!);
    expect(td3.finalDistance!).toBeLessThan(pretrained.finalDistance!);
    // Every policy improves nearly every user here (the pre-trained list alone gets accepted); TD3 must not lose.
    expect(td3.improvedShare!).toBeGreaterThanOrEqual(random.improvedShare!);
    expect(td3.improvedShare!).toBeGreaterThanOrEqual(pretrained.improvedShare!);
    const ys = history.map((h) => h.averageReward);
    const mx = (ys.length - 1) / 2;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const slope = ys.reduce((s, y, i) => s + (i - mx) * (y - my), 0) / ys.reduce((s, _, i) => s + (i - mx) ** 2, 0);
    expect(slope).toBeGreaterThan(0);
    agent.dispose();
  }, 400_000);
});
