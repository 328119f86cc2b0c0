import * as tf from '@tensorflow/tfjs-core';
import { initBackend, latestCheckpoint, ModelFormatError } from '@rec/core';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { syntheticBeliefSimData, UserBeliefEnv, UserBeliefSim } from '@rec/env';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTd3, loadTd3, type Td3Config } from './td3.js';
import { learnTd3 } from './train.js';
import { TargetCosineEnv } from './test-env.js';

const root = mkdtempSync(join(tmpdir(), 'td3-resume-'));
beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config: Partial<Td3Config> = {
  stateDim: 7,
  actionDim: 6,
  actorHidden: [12, 12],
  criticHidden: [12, 12],
  batchSize: 16,
  replayCapacity: 200,
  warmup: 40,
  trainEvery: 1,
  updatesPerTrain: 3,
  rounds: 4,
  inferenceBatch: 8,
  seed: 11,
};
const env = () => new TargetCosineEnv(16, 6, 4, 2);

/** Everything that defines the agent's future: all files but the backend name. */
function fingerprint(files: Record<string, Uint8Array | string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) {
    const text = typeof v === 'string' ? v : Buffer.from(v).toString('base64');
    out[k] = k === 'state.json' ? text.replace(/"backend": "[^"]*",?/, '') : text;
  }
  return out;
}

describe('save, load and resume', () => {
  it('N episodes + resume + N episodes equals 2N episodes exactly (cpu)', async () => {
    const straight = createTd3(config);
    const statsStraight = await learnTd3(straight, env(), { episodes: 4, quiet: true });
    expect(straight.updates).toBeGreaterThan(0);

    const dir = join(root, 'ckpt');
    const first = createTd3(config);
    await learnTd3(first, env(), { episodes: 2, quiet: true, checkpointDir: dir });
    first.dispose();
    expect(await latestCheckpoint(dir)).toMatch(/episode-0002$/);

    const resumed = createTd3(config); // fresh weights: everything must come from the checkpoint
    const statsResumed = await learnTd3(resumed, env(), { episodes: 4, quiet: true, checkpointDir: dir });
    expect(statsResumed.map((s) => s.episode)).toEqual([2, 3]);
    expect(statsResumed.map((s) => s.totalReward)).toEqual(statsStraight.slice(2).map((s) => s.totalReward));
    const a = fingerprint(straight.serialize({ replay: true }));
    const b = fingerprint(resumed.serialize({ replay: true }));
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(b[k], k).toBe(a[k]);
    straight.dispose();
    resumed.dispose();
  });

  it('save/load round-trips weights, batch-norm statistics and behaviour; leaks nothing', async () => {
    const agent = createTd3(config);
    await learnTd3(agent, env(), { episodes: 2, quiet: true });
    const obs = env().reset();
    const before = agent.act(obs);
    const dir = join(root, 'model');
    await agent.save(dir);
    expect(readdirSync(dir).sort()).toEqual(['MANIFEST.json', 'config.json', 'optimizer.bin', 'state.json', 'weights.bin']);
    const tensors = tf.memory().numTensors;
    const loaded = await loadTd3(dir);
    expect(Array.from(loaded.act(obs))).toEqual(Array.from(before));
    expect(Array.from(loaded.actor.norms[0].runningMean.dataSync())).toEqual(Array.from(agent.actor.norms[0].runningMean.dataSync()));
    expect(loaded.updates).toBe(agent.updates);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    // Loading into an existing agent also works, and a corrupt file is refused.
    const other = createTd3(config);
    await other.load(dir);
    expect(Array.from(other.act(obs))).toEqual(Array.from(before));
    writeFileSync(join(dir, 'weights.bin'), 'garbage');
    await expect(loadTd3(dir)).rejects.toThrow(ModelFormatError);
    const wrong = createTd3({ ...config, actorHidden: [5] });
    await expect(wrong.load(join(root, 'ckpt', 'episode-0004'))).rejects.toThrow(/actorHidden/);
    for (const x of [agent, other, wrong]) x.dispose();
  });

  it('resumes exactly in the belief simulator too, writing JSON-line metrics and current_user_beliefs.json', async () => {
    const beliefEnv = () =>
      new UserBeliefEnv(new UserBeliefSim(syntheticBeliefSimData({ numUsers: 24, numItems: 60, seed: 4 }), { populationBatch: 10, roundsPerEpisode: 3, seed: 2 }));
    const cfg: Partial<Td3Config> = { ...config, stateDim: 69, actionDim: 64, warmup: 30, rewardScale: 0.01 };
    const straight = createTd3(cfg);
    await learnTd3(straight, beliefEnv(), { episodes: 3, quiet: true });
    const dir = join(root, 'belief-ckpt');
    const metricsPath = join(root, 'belief-metrics.jsonl');
    const beliefsDir = join(root, 'beliefs');
    const first = createTd3(cfg);
    await learnTd3(first, beliefEnv(), { episodes: 2, quiet: true, checkpointDir: dir, metricsPath, beliefsDir });
    first.dispose();
    const resumed = createTd3(cfg);
    const stats = await learnTd3(resumed, beliefEnv(), { episodes: 3, quiet: true, checkpointDir: dir, metricsPath, beliefsDir });
    expect(stats.map((s) => s.episode)).toEqual([2]);
    const a = fingerprint(straight.serialize({ replay: true }));
    const b = fingerprint(resumed.serialize({ replay: true }));
    for (const k of Object.keys(a)) expect(b[k], k).toBe(a[k]);
    // 24 users x 3 rounds per episode; training after rounds 1, 2, 3 once 30 transitions exist.
    expect(resumed.transitions).toBe(3 * 24 * 3);
    const lines = readFileSync(metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.episode)).toEqual([0, 1, 2]);
    for (const l of lines) {
      expect(l).toHaveProperty('averageReward');
      expect(l).toHaveProperty('acceptanceRate');
      expect(l).toHaveProperty('improvedShare');
      expect(l).toHaveProperty('secondsPerRound');
      expect(l).toHaveProperty('rewardTrend');
      expect(l).toHaveProperty('totalReward');
    }
    expect(existsSync(join(beliefsDir, 'current_user_beliefs.json'))).toBe(true);
    const doc = JSON.parse(readFileSync(join(beliefsDir, 'current_user_beliefs.json'), 'utf8'));
    expect(doc.episode).toBe(2);
    straight.dispose();
    resumed.dispose();
  });
});
