import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, ModelFormatError, RecError, InvalidArgumentError, Rng } from '@rec/core';
import { LstmDqn, demoTerm, type LstmDqnOptions } from './lstm-dqn.js';
import { loadLstmDqn, loadModel, saveModel } from './model-io.js';
import { PlantedNextItemEnv } from './planted-env.testutil.js';
import { CatalogueScorer } from './catalogue.js';
import { StreamingTopK } from './topk.js';
import { ItemVocab } from './vocab.js';
import { stateFeatures } from './network.js';

const tmp = mkdtempSync(join(tmpdir(), 'lstm-dqn-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('cpu');
});

const envOpts = { numItems: 12, seqLen: 3, featureDim: 6, batchSize: 8, episodeLength: 5, seed: 3 };

function tinyAgent(extra: Partial<LstmDqnOptions> = {}): LstmDqn {
  return new LstmDqn({
    numActions: envOpts.numItems,
    network: { seqLen: envOpts.seqLen, featureDim: envOpts.featureDim, hidden: 16, layers: 1, mlp: [32], rnnDropout: 0, mlpDropout: 0 },
    seed: 1,
    gamma: 0.5,
    batchSize: 32,
    bufferSize: 5000,
    learningStarts: 64,
    learningRate: 5e-3,
    targetSyncEvery: 50,
    epsilonDecay: 'linear',
    epsilonStart: 0.9,
    epsilonEnd: 0.05,
    epsilonDecayEpisodes: 300,
    gradientSteps: 2,
    ...extra,
  });
}

/** Hit rate of a fixed policy over `rounds` batched episodes of a fresh env. */
function hitRate(policy: (obs: Float32Array) => Int32Array, seed: number, rounds = 10): number {
  const env = new PlantedNextItemEnv({ ...envOpts, seed: envOpts.seed });
  env.setState({ ...env.getState(), rng: new Rng(seed).getState() });
  let hits = 0;
  let steps = 0;
  for (let r = 0; r < rounds; r++) {
    let obs = env.reset();
    for (let t = 0; t < envOpts.episodeLength; t++) {
      const res = env.step(policy(obs));
      for (const x of res.reward) hits += x;
      steps += envOpts.batchSize;
      obs = res.obs;
    }
  }
  return hits / steps;
}

describe('LstmDqn on a planted next-item environment', () => {
  it('learns the planted structure: beats random and most-popular on hit rate (fixed seed)', async () => {
    const env = new PlantedNextItemEnv(envOpts);
    const agent = tinyAgent();
    const res = await agent.learn({ env, episodes: 480 });
    expect(res.episodes).toBe(480);
    expect(Number.isFinite(res.lastLoss)).toBe(true);
    const greedy = hitRate((obs) => agent.act(obs, 1, 0), 99);
    const rng = new Rng(7);
    const random = hitRate(() => Int32Array.from({ length: envOpts.batchSize }, () => rng.int(envOpts.numItems)), 99);
    // Most popular: the item bought most often during training, recommended to everyone.
    const top = agent.popularity.indexOf(Math.max(...agent.popularity));
    const popular = hitRate(() => new Int32Array(envOpts.batchSize).fill(top), 99);
    console.log(`planted env hit rate: dqn ${greedy.toFixed(3)}, random ${random.toFixed(3)}, most-popular ${popular.toFixed(3)}`);
    // Chance is 1/12 = 0.083 for both baselines; the planted optimum is 1.
    expect(greedy).toBeGreaterThan(0.5);
    expect(greedy).toBeGreaterThan(random + 0.3);
    expect(greedy).toBeGreaterThan(popular + 0.3);
    agent.dispose();
  });
});

function allWeights(agent: LstmDqn): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(agent.online)) out[`online.${k}`] = v.dataSync() as Float32Array;
  for (const [k, v] of Object.entries(agent.target)) out[`target.${k}`] = v.dataSync() as Float32Array;
  return out;
}

describe('full-information update', () => {
  it('learns the planted structure from far fewer episodes when the env names the purchased item', async () => {
    const env = new PlantedNextItemEnv({ ...envOpts, revealTarget: true });
    const agent = tinyAgent({ fullInformation: true, epsilonDecayEpisodes: 40 });
    await agent.learn({ env, episodes: 96 });
    const full = hitRate((obs) => agent.act(obs, 1, 0), 99);
    // The same budget with the single-action update (no info.target) for comparison.
    const plain = tinyAgent({ epsilonDecayEpisodes: 40 });
    await plain.learn({ env: new PlantedNextItemEnv(envOpts), episodes: 96 });
    const single = hitRate((obs) => plain.act(obs, 1, 0), 99);
    console.log(`planted env after 96 episodes: full-information ${full.toFixed(3)}, single-action ${single.toFixed(3)}`);
    expect(full).toBeGreaterThan(0.5);
    expect(full).toBeGreaterThan(single);
    agent.dispose();
    plain.dispose();
  });
});

describe('supervised demoLoss on the logged item (DQfD margin, softmax)', () => {
  it('both forms learn the planted structure from the logged item alone, beating the plain update on the same budget', async () => {
    const hits: Record<string, number> = {};
    for (const demoLoss of ['none', 'margin', 'softmax'] as const) {
      const agent = tinyAgent({ demoLoss, epsilonDecayEpisodes: 40 });
      await agent.learn({ env: new PlantedNextItemEnv({ ...envOpts, revealTarget: true }), episodes: 64 });
      hits[demoLoss] = hitRate((obs) => agent.act(obs, 1, 0), 99);
      agent.dispose();
    }
    console.log(`planted env after 64 episodes: ${Object.entries(hits).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
    expect(hits.margin).toBeGreaterThan(0.5);
    expect(hits.softmax).toBeGreaterThan(0.5);
    expect(hits.margin).toBeGreaterThan(hits.none + 0.2);
    expect(hits.softmax).toBeGreaterThan(hits.none + 0.2);
  });

  it('softmax term and its written-out gradient equal tfjs autodiff of T logsumexp(Q / T) - Q(a_E); margin is DQfD\'s', () => {
    const rng = new Rng(5);
    const q = tf.tensor2d(Float32Array.from({ length: 4 * 7 }, () => rng.uniform(-2, 2)), [4, 7]);
    const target = Int32Array.from([3, -1, 0, 6]); // row 1: no logged item, no term
    const T = 0.3;
    const c = { demoLoss: 'softmax' as const, demoMargin: 0.8, demoTemperature: T };
    const oneHot = tf.oneHot(tf.tensor1d([3, 0, 0, 6], 'int32'), 7, 1, 0, 'float32');
    const mask = tf.tensor1d([1, 0, 1, 1]);
    const ref = (x: tf.Tensor) => tf.mul(tf.sub(tf.mul(tf.logSumExp(tf.div(x, T), 1), T), tf.sum(tf.mul(x, oneHot), 1)), mask);
    const w = tf.tensor1d([0.5, 2, -1, 1.5]); // a non-uniform upstream gradient
    const got = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(demoTerm(x, target, c), w)))(q);
    const want = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(ref(x), w)))(q);
    expect(Array.from(demoTerm(q, target, c).dataSync())).toEqual(Array.from(ref(q).dataSync()).map((v) => expect.closeTo(v, 5)));
    const g = got.dataSync();
    want.dataSync().forEach((v, i) => expect(g[i]).toBeCloseTo(v, 5));
    expect(g.slice(7, 14).every((v) => v === 0)).toBe(true);
    // Margin: max_a [Q + 0.8 [a != a_E]] - Q(a_E), by hand for row 0.
    const q0 = Array.from(q.dataSync().slice(0, 7));
    const lead = Math.max(...q0.map((v, a) => v + (a === 3 ? 0 : 0.8)));
    expect(demoTerm(q, target, { ...c, demoLoss: 'margin' }).dataSync()[0]).toBeCloseTo(lead - q0[3], 5);
  });

  it('rejects an unknown demoLoss and a non-positive temperature, naming the option', () => {
    expect(() => tinyAgent({ demoLoss: 'hinge' as never })).toThrow(/LstmDqn\.demoLoss/);
    expect(() => tinyAgent({ demoLoss: 'softmax', demoTemperature: 0 })).toThrow(/LstmDqn\.demoTemperature/);
  });
});

describe('resume', () => {
  it('N episodes + checkpoint + resume in a new agent + N more == 2N straight (cpu, bit for bit)', async () => {
    // Prioritized replay, n-step, dropout and soft updates on, so every piece of state must round-trip.
    const opts: Partial<LstmDqnOptions> = {
      prioritized: { alpha: 0.6, beta0: 0.4, betaSteps: 200 },
      nStep: 2,
      tau: 0.05,
      learningStarts: 32,
      batchSize: 16,
      lrDecayEvery: 5,
      network: { seqLen: envOpts.seqLen, featureDim: envOpts.featureDim, hidden: 8, layers: 2, mlp: [16], rnnDropout: 0.2, mlpDropout: 0.2 },
    };
    const N = 24; // three batched resets of 8 users
    const straight = tinyAgent(opts);
    const envA = new PlantedNextItemEnv(envOpts);
    await straight.learn({ env: envA, episodes: 2 * N });

    const dir = join(tmp, 'resume');
    const first = tinyAgent(opts);
    const envB = new PlantedNextItemEnv(envOpts);
    await first.learn({ env: envB, episodes: N, checkpointDir: dir, checkpointEvery: N });
    first.dispose();
    const resumed = tinyAgent(opts);
    const envC = new PlantedNextItemEnv({ ...envOpts }); // fresh env: its state comes from the checkpoint
    const res = await resumed.learn({ env: envC, episodes: N, checkpointDir: dir, resume: true });
    expect(resumed.episodes).toBe(2 * N);
    expect(res.episodes).toBe(N);
    expect(resumed.gradientSteps).toBe(straight.gradientSteps);
    expect(resumed.gradientSteps).toBeGreaterThan(10);
    const a = allWeights(straight);
    const b = allWeights(resumed);
    for (const k of Object.keys(a)) expect(b[k], k).toEqual(a[k]);
    // and training actually moved the weights away from a fresh agent's
    const fresh = tinyAgent(opts);
    expect(allWeights(fresh)['online.head.q']).not.toEqual(a['online.head.q']);
    for (const x of [straight, resumed, fresh]) x.dispose();
  });

  it('refuses a checkpoint written by a different network, naming the field', async () => {
    const dir = join(tmp, 'mismatch');
    const agent = tinyAgent();
    await agent.saveCheckpoint(dir, 'ep-0');
    const other = tinyAgent({ network: { seqLen: envOpts.seqLen, featureDim: envOpts.featureDim, hidden: 24, layers: 1, mlp: [32] } });
    await expect(other.restore(join(dir, 'ep-0'))).rejects.toThrow(/hidden/);
    await expect(other.restore(join(dir, 'ep-0'))).rejects.toBeInstanceOf(ModelFormatError);
    agent.dispose();
    other.dispose();
  });
});

describe('no tensor leaks', () => {
  it('keeps tf.memory().numTensors unchanged over many training steps, acting and recommending', async () => {
    const agent = tinyAgent({ prioritized: true, nStep: 3, learningStarts: 16, batchSize: 16 });
    const env = new PlantedNextItemEnv(envOpts);
    await agent.learn({ env, episodes: 16 }); // fill the buffer, create everything lazily created
    const before = tf.memory().numTensors;
    await agent.learn({ env, episodes: 40 });
    for (let i = 0; i < 20; i++) agent.trainStep();
    const obs = env.reset();
    agent.act(obs, 2, 0.5);
    agent.recommendBatch(obs, 3);
    agent.recommend(obs.subarray(0, envOpts.seqLen * envOpts.featureDim), 3, { exclude: [1, 2] });
    expect(agent.gradientSteps).toBeGreaterThan(40);
    expect(tf.memory().numTensors).toBe(before);
    agent.dispose();
  });
});

describe('recommend', () => {
  const S = envOpts.seqLen * envOpts.featureDim;
  it('returns top-k by Q, honours exclusions, and flags cold-start users with popularity items', () => {
    const agent = tinyAgent({ coldStartThreshold: 2 });
    const env = new PlantedNextItemEnv(envOpts);
    const obs = env.reset();
    const state = obs.slice(0, S);
    const q = agent.qValues(state);
    const order = Array.from(q.keys()).sort((a, b) => q[b] - q[a]);
    const r = agent.recommend(state, 4);
    expect(r.coldStart).toBe(false);
    expect(Array.from(r.items)).toEqual(order.slice(0, 4));
    expect(r.scores[0]).toBeCloseTo(q[order[0]], 6);
    const ex = agent.recommend(state, 4, { exclude: [order[0], order[2]] });
    expect(Array.from(ex.items)).toEqual([order[1], order[3], order[4], order[5]]);
    // A user with one non-zero step (< 2) is cold: popularity ranking.
    agent.addPopularity([5, 5, 5, 9, 9, 3]);
    const cold = new Float32Array(S);
    cold.set(state.subarray(S - envOpts.featureDim), S - envOpts.featureDim);
    const c = agent.recommend(cold, 3);
    expect(c.coldStart).toBe(true);
    expect(Array.from(c.items)).toEqual([5, 9, 3]);
    expect(Array.from(c.scores)).toEqual([3, 2, 1]);
    // Batch: rows keep their own answers.
    const batch = agent.recommendBatch(Float32Array.from([...state, ...cold]), 3);
    expect(Array.from(batch.coldStart)).toEqual([0, 1]);
    expect(Array.from(batch.items.subarray(0, 3))).toEqual(order.slice(0, 3));
    expect(Array.from(batch.items.subarray(3))).toEqual([5, 9, 3]);
    agent.dispose();
  });

  it('initHeadBiasFromPopularity: a zero-initialised head then ranks by popularity, Q = T (log(1 + count) - mean)', () => {
    const agent = tinyAgent({ coldStartThreshold: 1, demoLoss: 'softmax', demoTemperature: 0.2, network: { seqLen: envOpts.seqLen, featureDim: envOpts.featureDim, hidden: 16, layers: 1, mlp: [32], rnnDropout: 0, mlpDropout: 0, zeroInitHead: true } });
    agent.addPopularity([5, 5, 5, 9, 9, 3, 7]);
    agent.initHeadBiasFromPopularity();
    const state = new PlantedNextItemEnv(envOpts).reset().slice(0, S);
    const r = agent.recommend(state, 4);
    expect(r.coldStart).toBe(false);
    expect(Array.from(r.items.subarray(0, 2))).toEqual([5, 9]);
    expect(new Set(r.items.subarray(2, 4))).toEqual(new Set([3, 7]));
    const logs = Array.from({ length: envOpts.numItems }, (_, a) => Math.log1p([5, 9, 3, 7].includes(a) ? { 5: 3, 9: 2, 3: 1, 7: 1 }[a]! : 0));
    const mean = logs.reduce((x, y) => x + y, 0) / logs.length;
    const q = agent.qValues(state);
    logs.forEach((l, a) => expect(q[a]).toBeCloseTo(0.2 * (l - mean), 5));
    // The target network starts from the same bias.
    expect(Array.from(agent.target['head.q.bias'].dataSync())).toEqual(Array.from(agent.online['head.q.bias'].dataSync()));
    expect(() => agent.initHeadBias(new Float32Array(3))).toThrow(/12 values/);
    expect(() => agent.initHeadBias(new Float32Array(12).fill(NaN))).toThrow(/finite/);
    agent.dispose();
  });

  it('rejects states of the wrong size with a RecError that says what was expected', () => {
    const agent = tinyAgent();
    expect(() => agent.recommend(new Float32Array(5), 3)).toThrow(InvalidArgumentError);
    expect(() => agent.recommend(new Float32Array(5), 3)).toThrow(/n x 18 numbers/);
    agent.dispose();
  });

  it('maps vocabulary indices to item ids and skips out-of-vocabulary feedback', () => {
    const vocab = ItemVocab.fromCounts([40, 40, 40, 7, 7, 99, 12, 13, 14, 15, 16, 17, 18, 19, 20], 12);
    expect(vocab.toItem[0]).toBe(40);
    expect(vocab.toItem[1]).toBe(7);
    expect(vocab.indexOf(123456)).toBe(-1);
    const agent = tinyAgent({ vocab, numActions: undefined, learningStarts: 1, batchSize: 2 });
    const S2 = S;
    const fb = agent.updateFromFeedback({
      obs: new Float32Array(3 * S2).fill(0.5),
      items: Int32Array.of(40, 123456, 7),
      rewards: Float32Array.of(1, 1, 0),
      nextObs: new Float32Array(3 * S2).fill(0.25),
      dones: Uint8Array.of(0, 0, 1),
    });
    expect(fb.stored).toBe(2);
    expect(fb.skippedOutOfVocab).toBe(1);
    expect(fb.losses.length).toBe(1);
    expect(agent.replay.size).toBe(2);
    const r = agent.recommend(new Float32Array(S2).fill(0.5), 12);
    expect(new Set(r.items).size).toBe(12);
    for (const it of r.items) expect(vocab.indexOf(it)).toBeGreaterThanOrEqual(0);
    agent.dispose();
  });
});

describe('saved model format', () => {
  it('round-trips: loadLstmDqn recommends exactly what the trained agent did', async () => {
    const agent = tinyAgent();
    await agent.learn({ env: new PlantedNextItemEnv(envOpts), episodes: 40 });
    agent.addPopularity([3, 3, 4]);
    const dir = join(tmp, 'model-v1');
    await saveModel(agent, dir);
    const served = await loadLstmDqn(dir, { expect: { seqLen: envOpts.seqLen, featureDim: envOpts.featureDim } });
    const obs = new PlantedNextItemEnv(envOpts).reset();
    const a = agent.recommendBatch(obs, 5);
    const b = served.recommendBatch(obs, 5);
    expect(b.items).toEqual(a.items);
    expect(b.scores).toEqual(a.scores);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg.backend).toBe('cpu');
    expect(cfg.seed).toBe(1);
    expect(cfg.versions['@tensorflow/tfjs-core']).toBe(tf.version_core);
    served.dispose();
    agent.dispose();
  });

  it('gives clear errors for a config mismatch, a corrupt file and a missing file', async () => {
    const agent = tinyAgent();
    const dir = join(tmp, 'model-bad');
    await saveModel(agent, dir);
    agent.dispose();
    await expect(loadModel(dir, { expect: { seqLen: 10 } })).rejects.toThrow(/"seqLen":10.*"seqLen":3/);
    const w = readFileSync(join(dir, 'weights.bin'));
    w[10] ^= 0xff;
    writeFileSync(join(dir, 'weights.bin'), w);
    await expect(loadModel(dir)).rejects.toThrow(/corrupt/);
    rmSync(join(dir, 'vocab.bin'));
    const err = await loadModel(dir).catch((e) => e);
    expect(RecError.isInstance(err)).toBe(true);
    expect(String(err.message)).toMatch(/vocab\.bin.*missing a file/);
  });
});

describe('networks', () => {
  it('the variant (bidirectional, attention, dueling) and GRU networks train without NaNs or leaks', () => {
    for (const network of [
      { cell: 'lstm' as const, bidirectional: true, layers: 2, attentionHeads: 2, dueling: true, rnnDropout: 0.3, mlpDropout: 0.3 },
      { cell: 'gru' as const, layers: 2, head: 'embedding' as const, embeddingDim: 8, dueling: true },
    ]) {
      const agent = tinyAgent({ learningStarts: 4, batchSize: 8, network: { seqLen: envOpts.seqLen, featureDim: envOpts.featureDim, hidden: 8, mlp: [16], ...network } });
      const rng = new Rng(2);
      const n = 16;
      const obs = rng.fillNormal(new Float32Array(n * envOpts.seqLen * envOpts.featureDim)) as Float32Array;
      agent.updateFromFeedback({ obs, items: Int32Array.from({ length: n }, (_, i) => i % 12), rewards: Float32Array.from({ length: n }, (_, i) => i % 2), nextObs: obs, dones: new Uint8Array(n) });
      const before = tf.memory().numTensors;
      const q0 = agent.qValues(obs.subarray(0, 18));
      const losses = Array.from({ length: 5 }, () => agent.trainStep());
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      expect(agent.qValues(obs.subarray(0, 18))).not.toEqual(q0);
      if (network.dueling) {
        // Dueling: Q = V + A - mean_a A, so mean_a Q(s, a) = V(s) = h(s) . w_v + b_v exactly.
        const S = envOpts.seqLen * envOpts.featureDim;
        const q = agent.qValues(obs.subarray(0, S));
        const meanQ = q.reduce((x, y) => x + y, 0) / q.length;
        const v = tf.tidy(() => {
          const h = stateFeatures(agent.online, agent.config.network, tf.tensor3d(obs.subarray(0, S), [1, envOpts.seqLen, envOpts.featureDim]), { training: false });
          return tf.add(tf.matMul(h, agent.online['head.value'] as tf.Tensor2D), agent.online['head.value.bias']).dataSync()[0];
        });
        expect(meanQ).toBeCloseTo(v, 4);
      }
      agent.dispose();
    }
  });
});

describe('streaming top-k and the catalogue scorer', () => {
  it('StreamingTopK equals a full sort', () => {
    const rng = new Rng(4);
    const v = rng.fillNormal(new Float32Array(1000)) as Float32Array;
    const top = new StreamingTopK(7);
    top.pushRange(v, 0, 1000, 0, (id) => id % 10 === 0);
    const want = Array.from(v.keys()).filter((i) => i % 10 !== 0).sort((a, b) => v[b] - v[a]).slice(0, 7);
    expect(Array.from(top.result().items)).toEqual(want);
  });

  it('CatalogueScorer scores in chunks and matches brute force f . e_a + b_a', () => {
    const rng = new Rng(8);
    const E = 4;
    const N = 1000;
    const embT = rng.fillNormal(new Float32Array(E * N)) as Float32Array;
    const bias = rng.fillNormal(new Float32Array(N)) as Float32Array;
    const q = rng.fillNormal(new Float32Array(2 * E)) as Float32Array;
    const before = tf.memory().numTensors;
    const scorer = new CatalogueScorer(embT, bias, E, { chunkSize: 128 });
    const got = scorer.topK(q, 5, (row, item) => row === 1 && item === 0);
    for (let b = 0; b < 2; b++) {
      const s = Array.from({ length: N }, (_, a) => bias[a] + Array.from({ length: E }, (_, e) => q[b * E + e] * embT[e * N + a]).reduce((x, y) => x + y, 0));
      const want = Array.from(s.keys()).filter((a) => !(b === 1 && a === 0)).sort((x, y) => s[y] - s[x]).slice(0, 5);
      expect(Array.from(got.items.subarray(b * 5, b * 5 + 5))).toEqual(want);
      expect(got.scores[b * 5]).toBeCloseTo(s[want[0]], 4);
    }
    expect(scorer.memoryBytes).toBe(N * (E + 1) * 4);
    scorer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('interrupt', () => {
  it('SIGTERM during learn writes a checkpoint that a new agent resumes from', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const { latestCheckpoint } = await import('@rec/core');
    const here = fileURLToPath(new URL('.', import.meta.url));
    const dir = join(tmp, 'interrupt');
    // The child uses the built packages (dist/), as an application would.
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'interrupt-child.testutil.ts'), dir], {
      env: { ...process.env, TSX_TSCONFIG_PATH: join(here, '..', 'tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    // Never leave the child running if the test fails or times out.
    const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    afterAll(() => {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => String(d).includes('training') && resolve());
      child.on('exit', (code) => reject(new Error(`child exited early (${code}); is dist/ built? ${err.slice(-500)}`)));
    });
    const code = await new Promise<number | null>((resolve) => {
      child.removeAllListeners('exit');
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(143);
    const latest = await latestCheckpoint(dir);
    expect(latest).toMatch(/ep-\d+-interrupted$/);
    const agent = new LstmDqn({ numActions: 12, network: { seqLen: 3, featureDim: 6, hidden: 8, layers: 1, mlp: [16] }, seed: 1, learningStarts: 16, batchSize: 16 });
    await agent.restore(latest!);
    expect(agent.episodes).toBeGreaterThanOrEqual(8);
    expect(agent.replay.size).toBeGreaterThan(0);
    agent.dispose();
  });
});
