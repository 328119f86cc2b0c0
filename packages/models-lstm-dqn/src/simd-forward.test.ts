import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend, Rng, ShapeError } from '@rec/core';
import { networkParamShapes, paperNetwork, qValues, variantNetwork, type NetworkConfig } from './network.js';
import { createVariables, disposeVariables, readVariables } from './params.js';
import { SimdForward, simdForwardAvailable } from './simd-forward.js';
import { LstmDqn } from './lstm-dqn.js';

beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});

/** Random states; with an item input the last feature of each step is an id in [-1, numActions + 1] (padding and out of range included). */
function randomStates(c: NetworkConfig, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = rng.fillNormal(new Float32Array(n * c.seqLen * c.featureDim)) as Float32Array;
  if (c.itemInputDim > 0) for (let i = c.featureDim - 1; i < x.length; i += c.featureDim) x[i] = rng.int(c.numActions + 3) - 1;
  return x;
}

/** Largest |a - b| relative to the largest |b|. */
function relErr(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return worst / scale;
}

const small = { seqLen: 4, featureDim: 5, hidden: 12, layers: 2, mlp: [16, 9], rnnDropout: 0, mlpDropout: 0 };
const cases: [string, NetworkConfig][] = [
  ['paper network (LSTM 128 x 2, MLP 256-128, 300 items)', paperNetwork(300)],
  ['GRU', paperNetwork(37, { ...small, cell: 'gru' })],
  ['bidirectional LSTM, 3 layers', paperNetwork(37, { ...small, layers: 3, bidirectional: true })],
  ['bidirectional GRU', paperNetwork(37, { ...small, cell: 'gru', bidirectional: true })],
  ['item-id input', paperNetwork(21, { ...small, itemInputDim: 6 })],
  ['embedding head', paperNetwork(45, { ...small, head: 'embedding', embeddingDim: 7 })],
  ['dueling dense head', paperNetwork(45, { ...small, dueling: true })],
  ['dueling embedding head, no MLP, odd widths', paperNetwork(13, { ...small, hidden: 5, mlp: [], head: 'embedding', embeddingDim: 3, dueling: true })],
  ['one step, one layer', paperNetwork(10, { ...small, seqLen: 1, layers: 1 })],
  ['GRU, 6 units (one SIMD group and a 2-unit tail)', paperNetwork(17, { ...small, cell: 'gru', hidden: 6 })],
  ['LSTM narrower than one SIMD vector (3 units)', paperNetwork(9, { ...small, hidden: 3, layers: 1 })],
];

describe.skipIf(!simdForwardAvailable())('SimdForward (wasm SIMD inference) against the tfjs forward', () => {
  for (const [label, c] of cases) {
    it(label, () => {
      const vars = createVariables(networkParamShapes(c), new Rng(7));
      // Give biases non-zero values so their handling is checked too.
      const rng = new Rng(8);
      for (const [name, v] of Object.entries(vars)) {
        if (name.toLowerCase().endsWith('bias')) tf.tidy(() => v.assign(tf.tensor(rng.fillNormal(new Float32Array(v.size)) as Float32Array, v.shape)));
      }
      const engine = new SimdForward(c, readVariables(vars), { maxBatch: 4 });
      // 1, 4 (one block), 7 and 11 users (several blocks and a 1-3 row remainder).
      for (const n of [1, 4, 7, 11]) {
        const x = randomStates(c, n, 100 + n);
        const want = tf.tidy(() => qValues(vars, c, tf.tensor3d(x, [n, c.seqLen, c.featureDim]), { training: false })).dataSync() as Float32Array;
        const got = engine.qValues(x);
        expect(got.length).toBe(n * c.numActions);
        expect(relErr(got, want)).toBeLessThan(2e-5);
      }
      disposeVariables(vars);
    });
  }

  it('keeps saturated gates exact (inputs 40x larger: exp far outside [-1, 1], clamped at the float range)', () => {
    const c = paperNetwork(50, { ...small, hidden: 16 });
    const vars = createVariables(networkParamShapes(c), new Rng(3));
    const engine = new SimdForward(c, readVariables(vars));
    const x = randomStates(c, 5, 9).map((v) => v * 40);
    const want = tf.tidy(() => qValues(vars, c, tf.tensor3d(x, [5, c.seqLen, c.featureDim]), { training: false })).dataSync() as Float32Array;
    const got = engine.qValues(x);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(relErr(got, want)).toBeLessThan(2e-5);
    disposeVariables(vars);
  });

  it('says which networks it does not run (self-attention) and refuses to build them', () => {
    const c = variantNetwork(10, { seqLen: 3, featureDim: 4, hidden: 8, layers: 1 });
    expect(SimdForward.unsupported(c)).toMatch(/attention/);
    expect(SimdForward.unsupported(paperNetwork(10))).toBeNull();
    const vars = createVariables(networkParamShapes(c), new Rng(1));
    expect(() => new SimdForward(c, readVariables(vars))).toThrow(/not supported/);
    disposeVariables(vars);
  });

  it('names a missing or wrongly sized parameter', () => {
    const c = paperNetwork(10, small);
    const vars = createVariables(networkParamShapes(c), new Rng(1));
    const params = readVariables(vars);
    params['mlp.1'] = params['mlp.1'].subarray(1);
    expect(() => new SimdForward(c, params)).toThrow(/mlp\.1/);
    expect(() => new SimdForward(c, params)).toThrow(ShapeError);
    disposeVariables(vars);
  });

  it("LstmDqn's 'auto' falls back to tfjs when the engine cannot be built; 'wasm-simd' reports why", () => {
    const opts = { numActions: 30, network: small, seed: 5, coldStartThreshold: 1 } as const;
    const x = randomStates(paperNetwork(30, small), 3, 4);
    const want = new LstmDqn({ ...opts, inference: 'tfjs' }).qValues(x);
    const spy = vi.spyOn(WebAssembly, 'Instance').mockImplementation(function refuse(): never {
      throw new RangeError('WebAssembly.Compile is disallowed on the main thread, if the buffer size is larger than 4KB');
    });
    try {
      const auto = new LstmDqn({ ...opts, inference: 'auto' });
      expect(Array.from(auto.qValues(x))).toEqual(Array.from(want));
      expect(auto.inferenceEngine).toBe('tfjs');
      auto.dispose();
      const strict = new LstmDqn({ ...opts, inference: 'wasm-simd' });
      expect(() => strict.qValues(x)).toThrow(/4KB/);
      strict.dispose();
    } finally {
      spy.mockRestore();
    }
  });

  it('LstmDqn recommends the same lists on either inference path, and the engine follows weight changes', () => {
    const opts = { numActions: 60, network: { ...small, itemInputDim: 4 }, seed: 3, batchSize: 8, learningStarts: 8, bufferSize: 64, coldStartThreshold: 1 } as const;
    const simd = new LstmDqn({ ...opts, inference: 'wasm-simd' });
    const plain = new LstmDqn({ ...opts, inference: 'tfjs' });
    const c = simd.config.network;
    const x = randomStates(c, 6, 5);
    // Non-zero history so nobody is a cold-start user.
    const hist = new Int32Array(6).fill(c.seqLen);
    const same = () => {
      const a = simd.recommendBatch(x, 10, { historyLengths: hist });
      const b = plain.recommendBatch(x, 10, { historyLengths: hist });
      expect(a.coldStart.every((v) => v === 0)).toBe(true);
      expect(Array.from(a.items)).toEqual(Array.from(b.items));
      for (let i = 0; i < a.scores.length; i++) expect(a.scores[i]).toBeCloseTo(b.scores[i], 4);
      expect(relErr(simd.qValues(x), plain.qValues(x))).toBeLessThan(2e-5);
    };
    same();
    expect(simd.inferenceEngine).toBe('wasm-simd');
    expect(plain.inferenceEngine).toBe('tfjs');
    // Train both identically (training runs on tfjs either way); the engine must pick up the new weights.
    const before = simd.qValues(x);
    const rng = new Rng(9);
    const n = 16;
    const batch = {
      obs: randomStates(c, n, 11),
      nextObs: randomStates(c, n, 12),
      action: Int32Array.from({ length: n }, () => rng.int(60)),
      reward: Float32Array.from({ length: n }, () => rng.next()),
      discount: new Float32Array(n).fill(0.99),
      target: new Int32Array(n).fill(-1),
    };
    for (const agent of [simd, plain]) {
      for (let i = 0; i < n; i++) agent.replay.add({ obs: batch.obs.subarray(i * simd['stateSize'], (i + 1) * simd['stateSize']), action: [batch.action[i]], reward: [batch.reward[i]], nextObs: batch.nextObs.subarray(i * simd['stateSize'], (i + 1) * simd['stateSize']), discount: [batch.discount[i]], target: [-1] });
      for (let s = 0; s < 5; s++) agent.trainStep();
    }
    expect(relErr(simd.qValues(x), before)).toBeGreaterThan(1e-4);
    same();
    simd.dispose();
    plain.dispose();
  });
});

describe("LstmDqn inference 'auto' by batch size", () => {
  it("on wasm and cpu scores every batch size on the engine, with the tfjs graph's values", async () => {
    const small: Partial<NetworkConfig> = { hidden: 8, layers: 1, mlp: [16] };
    const c = paperNetwork(40, small);
    const spy = vi.spyOn(SimdForward.prototype, 'qValues');
    try {
      for (const backend of ['wasm', 'cpu'] as const) {
        await initBackend(backend, { ignoreEnv: true });
        const agent = new LstmDqn({ numActions: 40, network: small, seed: 2, inference: 'auto' });
        const ref = new LstmDqn({ numActions: 40, network: small, seed: 2, inference: 'tfjs' });
        for (const n of [1, 15, 16, 40, 300]) {
          spy.mockClear();
          const x = randomStates(c, n, n);
          expect(relErr(agent.qValues(x), ref.qValues(x))).toBeLessThan(2e-5);
          expect(spy.mock.calls.length, `${backend}, ${n} users`).toBe(1);
        }
        agent.dispose();
        ref.dispose();
      }
    } finally {
      spy.mockRestore();
      await initBackend('cpu', { ignoreEnv: true });
    }
  });
});
