/**
 * The fused LSTM cell (lstm-cell.ts) on wasm against the op-by-op cell on cpu: outputs of a 2-layer bidirectional
 * stack and the gradients of every parameter and of the input, on ordinary and saturating pre-activations; that
 * wasm really takes the fused path (and the op path where H is not a multiple of 4); and no tensor leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { LSTM_CELL_GRAD_KERNEL, LSTM_CELL_KERNEL, fusedLstmCellAvailable } from './lstm-cell.js';
import { recurrentParamShapes, runRecurrent, type RecurrentSpec } from './rnn.js';

const B = 5;
const T = 4;
const F = 6;

/** Loss and gradients (input first, then parameters by name) of a 2-layer bidirectional LSTM, read as arrays. */
function lossAndGrads(spec: RecurrentSpec, scale: number): { loss: number; grads: Float32Array[] } {
  const rng = new Rng(`cell-${spec.hiddenSize}-${scale}`);
  const shapes = recurrentParamShapes(spec);
  const names = Object.keys(shapes).sort();
  const values = names.map((n) => rng.fillNormal(new Float32Array(shapes[n].reduce((a, b) => a * b, 1)), 0, scale) as Float32Array);
  const x = rng.fillNormal(new Float32Array(B * T * F)) as Float32Array;
  const w = rng.fillNormal(new Float32Array(B * 2 * spec.hiddenSize)) as Float32Array;
  return tf.tidy(() => {
    const inputs = [tf.tensor3d(x, [B, T, F]), ...names.map((n, i) => tf.tensor(values[i], shapes[n]))];
    const f = (...args: tf.Tensor[]) => {
      const params = Object.fromEntries(names.map((n, i) => [n, args[i + 1]]));
      const out = runRecurrent(params, spec, args[0] as tf.Tensor3D, { training: false });
      // Every step's output and the summary state feed the loss, so dh and dc reach every cell.
      const all = tf.addN(out.steps.map((s) => tf.sum(tf.mul(s, s))));
      return tf.add(all, tf.sum(tf.mul(out.last, tf.tensor2d(w, [B, 2 * spec.hiddenSize])))) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)(inputs);
    return { loss: value.dataSync()[0], grads: grads.map((g) => g.dataSync() as Float32Array) };
  });
}

async function onBackend<R>(name: 'cpu' | 'wasm', f: () => R): Promise<R> {
  await initBackend(name, { ignoreEnv: true });
  return f();
}

describe('fused LSTM cell on wasm', () => {
  for (const scale of [0.5, 4]) {
    it(`matches the op-by-op cell on cpu, values and every gradient (weights ~ N(0, ${scale}))`, async () => {
      const spec: RecurrentSpec = { cell: 'lstm', inputSize: F, hiddenSize: 8, numLayers: 2, bidirectional: true, dropout: 0, inputProjection: 'perStep' };
      const cpu = await onBackend('cpu', () => lossAndGrads(spec, scale));
      const wasm = await onBackend('wasm', () => {
        expect(fusedLstmCellAvailable(8)).toBe(true);
        return lossAndGrads(spec, scale);
      });
      expect(Number.isFinite(wasm.loss)).toBe(true);
      expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(cpu.loss)));
      expect(wasm.grads.length).toBe(cpu.grads.length);
      wasm.grads.forEach((g, i) => {
        let maxAbs = 0;
        let maxDiff = 0;
        for (let k = 0; k < g.length; k++) {
          maxAbs = Math.max(maxAbs, Math.abs(cpu.grads[i][k]));
          maxDiff = Math.max(maxDiff, Math.abs(g[k] - cpu.grads[i][k]));
        }
        expect(maxAbs).toBeGreaterThan(0);
        expect(maxDiff, `gradient ${i}`).toBeLessThan(2e-5 * Math.max(1, maxAbs));
      });
    });
  }

  it('runs the fused kernels on wasm each way, and the op path where H is not a multiple of 4', async () => {
    await initBackend('wasm', { ignoreEnv: true });
    const kernelsFor = async (H: number) => {
      const spec: RecurrentSpec = { cell: 'lstm', inputSize: F, hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0 };
      const shapes = recurrentParamShapes(spec);
      const params = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.variable(tf.randomNormal(s, 0, 0.3, 'float32', 3))]));
      const x = tf.randomNormal([B, T, F], 0, 1, 'float32', 4) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(runRecurrent(params, spec, x, { training: true }).last) as tf.Scalar);
        tf.dispose([value, ...Object.values(grads)]);
      });
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, ...Object.values(params)]);
      return info.kernels.map((k) => k.name);
    };
    const fused = await kernelsFor(8);
    expect(fused.filter((k) => k === LSTM_CELL_KERNEL).length).toBe(T);
    expect(fused.filter((k) => k === LSTM_CELL_GRAD_KERNEL).length).toBe(T);
    expect(fused).not.toContain('Sigmoid');
    const plain = await kernelsFor(7);
    expect(plain).not.toContain(LSTM_CELL_KERNEL);
    expect(plain).toContain('Sigmoid');
  });
});
