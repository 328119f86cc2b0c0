import * as tf from '@tensorflow/tfjs-core';
import { initBackend, InvalidArgumentError, Rng, ShapeError, EnvContractError, RecError } from '@rec/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addBias, BatchNorm, batchNormTrain } from './batch-norm.js';
import { dropoutMask } from './mlp.js';
import { createTd3, TD3_DEFAULTS } from './td3.js';
import { TargetCosineEnv } from './test-env.js';

beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});

const tiny = { stateDim: 9, actionDim: 8, actorHidden: [16, 16], criticHidden: [16, 16], batchSize: 32, replayCapacity: 1000, seed: 3 };

function randomBatch(n: number, s: number, a: number, seed = 1) {
  const r = new Rng(seed);
  return {
    obs: r.fillNormal(new Float32Array(n * s)) as Float32Array,
    action: r.fillUniform(new Float32Array(n * a), -1, 1) as Float32Array,
    reward: r.fillNormal(new Float32Array(n)) as Float32Array,
    nextObs: r.fillNormal(new Float32Array(n * s)) as Float32Array,
    done: Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : 0)),
  };
}

describe('batch norm', () => {
  it('normalises with batch statistics in training, running statistics in inference', () => {
    const bn = new BatchNorm(2, { momentum: 0.9, epsilon: 1e-5 });
    // x = [[1, 2], [3, 6]]: batch mean [2, 4], biased variance [1, 4] -> normalised [[-1, -1], [1, 1]]
    // (up to eps: 1/sqrt(1 + 1e-5) = 0.999995).
    const y = tf.tidy(() => bn.apply(tf.tensor2d([[1, 2], [3, 6]]), true));
    expect(Array.from(y.dataSync())).toEqual([-1, -1, 1, 1].map((v) => expect.closeTo(v, 4)));
    // Running: mean 0.9 * 0 + 0.1 * [2, 4] = [0.2, 0.4]; var 0.9 * 1 + 0.1 * [1, 4] = [1.0, 1.3].
    expect(Array.from(bn.runningMean.dataSync())).toEqual([expect.closeTo(0.2, 6), expect.closeTo(0.4, 6)]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([expect.closeTo(1.0, 6), expect.closeTo(1.3, 6)]);
    // Inference on [1, 2]: (1 - 0.2) / sqrt(1.0) = 0.8; (2 - 0.4) / sqrt(1.3) = 1.6 / 1.140175 = 1.403292.
    const z = tf.tidy(() => bn.apply(tf.tensor2d([[1, 2]]), false));
    expect(Array.from(z.dataSync())).toEqual([expect.closeTo(0.8, 4), expect.closeTo(1.403292, 4)]);
    // Inference leaves the running statistics alone.
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.2, 6);
    tf.dispose([y, z]);
    bn.dispose();
  });

  it('has hand-written gradients equal to tfjs autodiff of the plain formulas', () => {
    const r = new Rng(4);
    const x = tf.tensor2d(r.fillNormal(new Float32Array(6 * 5)) as Float32Array, [6, 5]);
    const gamma = tf.tensor1d(r.fillUniform(new Float32Array(5), 0.5, 1.5) as Float32Array);
    const beta = tf.tensor1d(r.fillNormal(new Float32Array(5)) as Float32Array);
    const w = tf.tensor2d(r.fillNormal(new Float32Array(6 * 5)) as Float32Array, [6, 5]); // a loss sum(w * y) probes every output
    const reference = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(xi, 0);
      return tf.sum(tf.mul(w, tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b)));
    };
    const ours = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const out = batchNormTrain(xi as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5);
      out.mean.dispose();
      out.variance.dispose();
      return tf.sum(tf.mul(w, out.y));
    };
    const expected = tf.grads(reference)([x, gamma, beta]);
    const got = tf.grads(ours)([x, gamma, beta]);
    for (let i = 0; i < 3; i++) {
      const e = expected[i].dataSync();
      const g = got[i].dataSync();
      for (let j = 0; j < e.length; j++) expect(g[j]).toBeCloseTo(e[j], 4);
    }
    const biasExpected = tf.grads((xi: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(w, tf.add(xi, b))))([x, beta]);
    const biasGot = tf.grads((xi: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(w, addBias(xi as tf.Tensor2D, b as tf.Tensor1D))))([x, beta]);
    expect(Array.from(biasGot[1].dataSync())).toEqual(Array.from(biasExpected[1].dataSync()).map((v) => expect.closeTo(v, 5)));
    expect(Array.from(biasGot[0].dataSync())).toEqual(Array.from(biasExpected[0].dataSync()));
    tf.dispose([x, gamma, beta, w, ...expected, ...got, ...biasExpected, ...biasGot]);
  });
});

// Adam and clipByGlobalNorm live in @rec/core (optim.test.ts holds their hand-checked tests).
describe('dropout masks', () => {
  it('draws dropout masks with the requested rate and inverted scaling', () => {
    const m = dropoutMask(100, 1000, 0.1, new Rng(1));
    const kept = m.filter((x) => x > 0);
    // 100,000 Bernoulli(0.9) draws: sd of the share = sqrt(0.09 / 1e5) = 0.00095; allow 5 sd.
    expect(kept.length / m.length).toBeCloseTo(0.9, 2);
    expect(kept[0]).toBeCloseTo(1 / (1 - 6554 / 65536), 6);
    expect(m.every((x) => x === 0 || x === kept[0])).toBe(true);
  });
});

describe('Td3Agent', () => {
  it('has the design defaults', () => {
    expect(TD3_DEFAULTS).toMatchObject({ stateDim: 69, actionDim: 64, actorHidden: [512, 512, 256], criticHidden: [512, 512, 256], dropout: 0.1, tau: 0.005, gamma: 0.95, policyNoise: 0.2, noiseClip: 0.5, policyDelay: 2, batchSize: 512, actorLearningRate: 3e-4, criticLearningRate: 3e-4, warmup: 100_000, trainEvery: 3, rounds: 20, episodes: 10, inferenceBatch: 4000 });
  });

  it('builds the default networks with the right parameter counts', () => {
    const agent = createTd3({ replayCapacity: 10 });
    // Actor: 69*512+512 + 512*512+512 + 512*256+256 + 256*64+64 = 35,840 + 262,656 + 131,328 + 16,448 = 446,272
    // plus batch-norm gamma/beta 2 * (512 + 512 + 256) = 2,560 -> 448,832.
    const count = (vs: tf.Variable[]) => vs.reduce((s, v) => s + v.size, 0);
    expect(count(agent.actor.trainable)).toBe(448_832);
    // Critic: 133*512+512 + 262,656 + 131,328 + 256+1 = 68,608 + 262,656 + 131,328 + 257 = 462,849 + 2,560 = 465,409.
    expect(count(agent.critic1.trainable)).toBe(465_409);
    const a = agent.act(new Float32Array(3 * 69).fill(0.5));
    expect(a.length).toBe(3 * 64);
    expect(a.every((x) => x >= -1 && x <= 1)).toBe(true);
    agent.dispose();
  });

  it('starts targets as copies, moves them by tau on delayed actor updates, and reduces the critic loss', () => {
    const agent = createTd3({ ...tiny, criticLearningRate: 3e-3 });
    const batch = randomBatch(32, 9, 8);
    const w0 = agent.actor.layers[0].w.dataSync().slice();
    expect(Array.from(agent.actorTarget.layers[0].w.dataSync())).toEqual(Array.from(w0));
    const first = agent.update(batch);
    expect(first.actorLoss).toBeNull(); // policyDelay 2: critic only
    expect(Array.from(agent.actor.layers[0].w.dataSync())).toEqual(Array.from(w0));
    const second = agent.update(batch);
    expect(second.actorLoss).not.toBeNull();
    // target = 0.005 * new + 0.995 * old for every weight.
    const w1 = agent.actor.layers[0].w.dataSync();
    const t1 = agent.actorTarget.layers[0].w.dataSync();
    for (let i = 0; i < 20; i++) expect(t1[i]).toBeCloseTo(0.005 * w1[i] + 0.995 * w0[i], 6);
    let last = first.criticLoss;
    for (let i = 0; i < 60; i++) last = agent.update(batch).criticLoss;
    expect(last).toBeLessThan(first.criticLoss);
    expect(agent.updates).toBe(62);
    agent.dispose();
  });

  it('leaks no tensors in update, act, recommend-free paths and save/load', async () => {
    const agent = createTd3(tiny);
    const batch = randomBatch(32, 9, 8);
    agent.remember(batch);
    agent.update(batch);
    agent.update();
    agent.act(batch.obs, { explore: true });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) {
      agent.update(batch);
      agent.update();
      agent.act(batch.obs, { explore: true });
      agent.serialize({ replay: true });
    }
    expect(tf.memory().numTensors).toBe(before);
    agent.dispose();
    const empty = tf.memory().numTensors;
    const other = createTd3(tiny);
    expect(tf.memory().numTensors).toBeGreaterThan(empty);
    other.dispose();
    expect(tf.memory().numTensors).toBe(empty);
  });

  it('rejects bad config, bad batches and mismatched environments with RecErrors', () => {
    expect(() => createTd3({ gamma: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => createTd3({ actorHidden: [] })).toThrow(/actorHidden/);
    const agent = createTd3(tiny);
    const bad = { ...randomBatch(32, 9, 8), action: new Float32Array(10) };
    expect(() => agent.update(bad)).toThrow(ShapeError);
    expect(() => agent.act(new Float32Array(10))).toThrow(ShapeError);
    const env = new TargetCosineEnv(4, 5, 3);
    try {
      agent.checkEnv(env);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EnvContractError);
      expect(RecError.isInstance(e)).toBe(true);
      expect(String(e)).toMatch(/stateDim/);
    }
    agent.dispose();
    expect(() => agent.act(new Float32Array(9))).toThrow(/disposed/);
  });
});
