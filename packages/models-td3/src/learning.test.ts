/**
 * End-to-end learning on a fixed seed: after a small training budget TD3 must beat a uniform random-action policy
 * and the pre-trained-list-only policy on average reward and on the share of users whose beliefs improved, and
 * its per-episode reward must trend upward. Runs in the test environment of `test-env.ts` (see there why the
 * pre-trained list is a real but beatable baseline).
 */
import { initBackend, Rng } from '@rec/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTd3 } from './td3.js';
import { evaluatePolicy, learnTd3, type EpisodeStats } from './train.js';
import { TargetCosineEnv } from './test-env.js';

beforeAll(async () => {
  await initBackend('wasm', { ignoreEnv: true });
});

const fmt = (s: EpisodeStats) => `avg reward ${s.averageReward.toFixed(3)}, improved ${(100 * (s.improvedShare ?? 0)).toFixed(1)}%, acceptance ${(100 * (s.acceptanceRate ?? 0)).toFixed(1)}%`;

describe('TD3 learns', () => {
  it('beats random actions and the pre-trained list in the target-cosine environment', async () => {
    const dim = 8;
    const rounds = 10;
    const env = new TargetCosineEnv(256, dim, rounds, 7);
    const agent = createTd3({
      stateDim: 1 + dim,
      actionDim: dim,
      actorHidden: [64, 64],
      criticHidden: [64, 64],
      batchSize: 128,
      actorLearningRate: 1e-3,
      criticLearningRate: 1e-3,
      replayCapacity: 30_000,
      warmup: 2_560,
      trainEvery: 3,
      updatesPerTrain: 40,
      rounds,
      seed: 1,
    });
    const t0 = performance.now();
    const history = await learnTd3(agent, env, { episodes: 8, quiet: true });
    const trainSeconds = (performance.now() - t0) / 1000;

    const evalSeed = 12345;
    const td3 = evaluatePolicy(env, (obs) => agent.act(obs), rounds, evalSeed);
    const rng = new Rng(99);
    const random = evaluatePolicy(env, (obs) => rng.fillUniform(new Float32Array((obs.length / (1 + dim)) * dim), -1, 1) as Float32Array, rounds, evalSeed);
    const pretrained = evaluatePolicy(env, (obs) => env.pretrainedAction(obs), rounds, evalSeed);
    const curve = history.map((s) => s.averageReward.toFixed(3)).join(' ');
    console.log(
      `TD3 learning test (${trainSeconds.toFixed(1)} s, ${agent.updates} updates)\n` +
        `  training avg reward per episode: ${curve}\n` +
        `  TD3:        ${fmt(td3)}\n  random:     ${fmt(random)}\n  pretrained: ${fmt(pretrained)}`,
    );
    expect(td3.averageReward).toBeGreaterThan(random.averageReward);
    expect(td3.averageReward).toBeGreaterThan(pretrained.averageReward);
    expect(td3.improvedShare!).toBeGreaterThan(random.improvedShare!);
    expect(td3.improvedShare!).toBeGreaterThan(pretrained.improvedShare!);
    // Upward trend across episodes: least-squares slope of the per-episode average reward is positive, and the
    // last three episodes beat the first three (the first ones are warm-up with random actions).
    const n = history.length;
    const xs = history.map((_, i) => i);
    const ys = history.map((s) => s.averageReward);
    const mx = (n - 1) / 2;
    const my = ys.reduce((a, b) => a + b, 0) / n;
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    expect(slope).toBeGreaterThan(0);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(ys.slice(-3))).toBeGreaterThan(mean(ys.slice(0, 3)));
    agent.dispose();
  });
});
