import * as tf from '@tensorflow/tfjs-core';
import { initBackend, InvalidArgumentError, Rng, ShapeError } from '@rec/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mlp, type MlpOptions } from './mlp.js';
import { foldBatchNorm, SimdMlp, type DenseLayer } from './simd-mlp.js';
import { createTd3 } from './td3.js';

beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});

const engines: SimdMlp[] = [];
afterAll(() => engines.forEach((e) => e.dispose()));
const engine = (layers: DenseLayer[], options: ConstructorParameters<typeof SimdMlp>[1] = {}) => {
  const e = new SimdMlp(layers, options);
  engines.push(e);
  return e;
};

/** An Mlp whose batch-norm parameters and running statistics are far from their initial 1s and 0s. */
function mlpWithStatistics(options: Partial<MlpOptions>, seed: number): Mlp {
  const opts: MlpOptions = { input: 9, hidden: [13, 7], output: 5, dropout: 0.1, batchNorm: { momentum: 0.9, epsilon: 1e-5 }, outputActivation: 'linear', outputScale: 1, ...options };
  const r = new Rng(seed);
  const mlp = new Mlp(opts, r.split('init'));
  for (const n of [...mlp.norms, ...(mlp.inputNorm ? [mlp.inputNorm] : [])]) {
    n.gamma.assign(tf.tensor1d(r.fillUniform(new Float32Array(n.features), 0.3, 2) as Float32Array));
    n.beta.assign(tf.tensor1d(r.fillNormal(new Float32Array(n.features)) as Float32Array));
    n.runningMean.assign(tf.tensor1d(r.fillNormal(new Float32Array(n.features)) as Float32Array));
    n.runningVar.assign(tf.tensor1d(r.fillUniform(new Float32Array(n.features), 0.05, 3) as Float32Array));
  }
  return mlp;
}

function tfjsForward(mlp: Mlp, x: Float32Array): Float32Array {
  const y = tf.tidy(() => mlp.apply(tf.tensor2d(x, [x.length / mlp.options.input, mlp.options.input]), false));
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / Math.max(scale, 1e-30);
}

describe('SimdMlp', () => {
  it('matches the tfjs evaluation-mode forward (batch norm folded), for widths and batches off its blocks', () => {
    const cases: [string, Partial<MlpOptions>][] = [
      ['hidden 13-7, batch norm', {}],
      ['input batch norm too', { inputBatchNorm: true }],
      ['no batch norm', { batchNorm: null }],
      ['one hidden layer of 8', { hidden: [8], input: 4, output: 1 }],
      ['the design actor, narrowed: 69 -> 64 -> 48 -> 32 -> 64', { input: 69, hidden: [64, 48, 32], output: 64 }],
    ];
    for (const [label, options] of cases) {
      const mlp = mlpWithStatistics(options, 11);
      const layers = mlp.denseLayers();
      for (const threads of [1, 2]) {
        const e = engine(layers, { threads, maxBatch: 150, groupRows: 8 });
        for (const n of [1, 3, 5, 37, 130, 333]) {
          const x = new Rng(n).fillNormal(new Float32Array(n * mlp.options.input), 0, 2) as Float32Array;
          const err = maxRelativeError(e.forward(x), tfjsForward(mlp, x));
          expect(err, `${label}, ${threads} threads, batch ${n}`).toBeLessThan(2e-5);
        }
      }
      mlp.dispose();
    }
  });

  it('gives the same bits on one thread and on two, and after setWeights the new network', () => {
    const a = mlpWithStatistics({ input: 20, hidden: [40, 24], output: 16 }, 1);
    const b = mlpWithStatistics({ input: 20, hidden: [40, 24], output: 16 }, 2);
    const x = new Rng(5).fillNormal(new Float32Array(1000 * 20)) as Float32Array;
    const one = engine(a.denseLayers(), { threads: 1 });
    const two = engine(a.denseLayers(), { threads: 2, groupRows: 4 });
    const y1 = one.forward(x);
    expect(one.lastWorkerGroups).toBe(0);
    // The worker starts on the first parallel call and may miss it; within a few calls it takes its share.
    let y2 = two.forward(x);
    for (let i = 0; i < 20 && two.lastWorkerGroups === 0; i++) y2 = two.forward(x);
    expect(two.lastWorkerGroups).toBeGreaterThan(0);
    expect(Array.from(y2)).toEqual(Array.from(y1));
    two.setWeights(b.denseLayers());
    const yb = two.forward(x);
    expect(maxRelativeError(yb, tfjsForward(b, x))).toBeLessThan(2e-5);
    expect(maxRelativeError(yb, y1)).toBeGreaterThan(0.1); // really the other network
    a.dispose();
    b.dispose();
  });

  it('folds batch normalisation exactly in real arithmetic (hand-computed example)', () => {
    // One input feature, BN scale 2 shift 1 after the ReLU of hidden unit h = relu(3x): y = 5 (2 h + 1) + 0.5.
    const layers = foldBatchNorm(
      [
        { w: Float32Array.of(3), b: Float32Array.of(0) },
        { w: Float32Array.of(5), b: Float32Array.of(0.5) },
      ],
      [1, 1, 1],
      [{ scale: Float32Array.of(2), shift: Float32Array.of(1) }],
      null,
    );
    expect(Array.from(layers[1].w)).toEqual([10]);
    expect(Array.from(layers[1].b)).toEqual([5.5]);
    const y = engine(layers, { threads: 1 }).forward(Float32Array.of(2, -1));
    expect(Array.from(y)).toEqual([5 * (2 * 6 + 1) + 0.5, 5.5]); // 65.5; relu(-3) = 0 -> 5.5
  });

  it('refuses bad layers, bad options and bad inputs with errors that say where', () => {
    const l = (K: number, N: number, relu: boolean): DenseLayer => ({ w: new Float32Array(K * N), b: new Float32Array(N), K, N, relu });
    expect(() => new SimdMlp([l(4, 8, true), l(7, 2, false)])).toThrow(ShapeError);
    expect(() => new SimdMlp([l(4, 8, false), l(8, 2, false)])).toThrow(/only hidden layers take a ReLU/);
    expect(() => new SimdMlp([])).toThrow(InvalidArgumentError);
    expect(() => new SimdMlp([l(4, 2, false)], { threads: 0 })).toThrow(/threads/);
    expect(() => new SimdMlp([l(4, 2, false)], { groupRows: 6 })).toThrow(/groupRows/);
    const e = engine([l(4, 8, true), l(8, 2, false)]);
    expect(() => e.forward(new Float32Array(5))).toThrow(/multiple of 4/);
    expect(() => e.setWeights([l(4, 8, true), l(8, 3, false)])).toThrow(ShapeError);
    e.dispose();
    expect(() => e.forward(new Float32Array(4))).toThrow(/disposed/);
  });
});

describe('Td3Agent inference engine', () => {
  const cfg = { stateDim: 9, actionDim: 8, actorHidden: [24, 16], criticHidden: [16, 16], batchSize: 32, replayCapacity: 1000, warmup: 0, seed: 3 };

  it('acts like the tfjs forward, and follows the weights through updates', () => {
    const simd = createTd3({ ...cfg, inference: 'auto', inferenceThreads: 2 });
    const ref = createTd3({ ...cfg, inference: 'tfjs' });
    expect(simd.inferenceEngine).toBe('wasm-simd');
    expect(ref.inferenceEngine).toBe('tfjs');
    const r = new Rng(9);
    const obs = r.fillNormal(new Float32Array(300 * 9)) as Float32Array;
    expect(maxRelativeError(simd.act(obs), ref.act(obs))).toBeLessThan(2e-5);
    // Training changes weights and batch-norm statistics; the engine must score with the new ones.
    const batch = { obs: obs.subarray(0, 64 * 9), action: r.fillUniform(new Float32Array(64 * 8), -1, 1) as Float32Array, reward: r.fillNormal(new Float32Array(64)) as Float32Array, nextObs: obs.subarray(64 * 9, 128 * 9), done: new Uint8Array(64) };
    const before = simd.act(obs);
    for (let i = 0; i < 4; i++) {
      simd.update(batch, false);
      ref.update(batch, false);
    }
    const after = simd.act(obs);
    expect(maxRelativeError(after, before)).toBeGreaterThan(1e-4);
    expect(maxRelativeError(after, ref.act(obs))).toBeLessThan(2e-5);
    simd.dispose();
    ref.dispose();
  });

  it('validates the setting', () => {
    expect(() => createTd3({ ...cfg, inference: 'gpu' as never })).toThrow(/inference/);
    expect(() => createTd3({ ...cfg, inferenceThreads: -1 })).toThrow(/inferenceThreads/);
  });
});
