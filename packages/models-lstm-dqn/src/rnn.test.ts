import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { fromKerasLstm, recurrentParamShapes, runRecurrent, type RecurrentSpec } from './rnn.js';
import { createVariables, disposeVariables } from './params.js';

beforeAll(async () => {
  await initBackend('cpu');
});

function randn(n: number, rng: Rng, scale = 0.5): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

describe('own LSTM against tfjs-layers LSTM', () => {
  it('matches a 2-layer Keras-style LSTM stack to 1e-5 with weights copied across', () => {
    const rng = new Rng(11);
    const B = 3;
    const T = 6;
    const F = 5;
    const H = 7;
    const x = tf.tensor3d(randn(B * T * F, rng, 1), [B, T, F]);
    // Reference: two tfjs-layers LSTMs, the first returning sequences.
    // Zero initialisers: the orthogonal default needs chained tensor methods that tfjs-core leaves out in Node.
    const init = { kernelInitializer: 'zeros', recurrentInitializer: 'zeros', recurrentActivation: 'sigmoid' } as const; // tfjs-layers defaults to hardSigmoid
    const l1 = tfl.layers.lstm({ units: H, returnSequences: true, inputShape: [T, F], ...init });
    const l2 = tfl.layers.lstm({ units: H, returnSequences: true, ...init });
    const seq1 = l1.apply(x) as tf.Tensor3D;
    const seq2 = l2.apply(seq1) as tf.Tensor3D;
    const kerasW = [l1, l2].map((layer, i) => {
      const inSize = i === 0 ? F : H;
      const k = randn(inSize * 4 * H, rng);
      const r = randn(H * 4 * H, rng);
      const b = randn(4 * H, rng, 0.3);
      layer.setWeights([tf.tensor2d(k, [inSize, 4 * H]), tf.tensor2d(r, [H, 4 * H]), tf.tensor1d(b)]);
      return { k, r, b, inSize };
    });
    const ref1 = l1.apply(x) as tf.Tensor3D;
    const ref = (l2.apply(ref1) as tf.Tensor3D).arraySync();

    const spec: RecurrentSpec = { cell: 'lstm', inputSize: F, hiddenSize: H, numLayers: 2, bidirectional: false, dropout: 0.5 };
    const params: Record<string, tf.Tensor> = {};
    kerasW.forEach((w, l) => {
      const ours = fromKerasLstm(w.k, w.r, w.b, w.inSize, H);
      params[`rnn.l${l}.fw.kernel`] = tf.tensor2d(ours.kernel, [w.inSize, 4 * H]);
      params[`rnn.l${l}.fw.recurrent`] = tf.tensor2d(ours.recurrent, [H, 4 * H]);
      params[`rnn.l${l}.fw.lstmBias`] = tf.tensor1d(ours.lstmBias);
    });
    expect(Object.keys(params).sort()).toEqual(Object.keys(recurrentParamShapes(spec)).sort());
    for (const inputProjection of ['allSteps', 'perStep'] as const) {
    // training: false, so the 0.5 dropout between layers must not apply.
    const out = runRecurrent(params, { ...spec, inputProjection }, x, { training: false });
    const steps = out.steps.map((s) => s.arraySync());
    let maxDiff = 0;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) maxDiff = Math.max(maxDiff, Math.abs(steps[t][b][j] - ref[b][t][j]));
    expect(maxDiff).toBeLessThan(1e-5);
    // and the outputs are not trivially zero
    expect(Math.abs(steps[T - 1][0][0])).toBeGreaterThan(1e-4);
    const last = out.last.arraySync();
    for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) expect(last[b][j]).toBeCloseTo(ref[b][T - 1][j], 5);
    }
  });
});

/** Scalar JavaScript GRU ("reset after" form, see rnn.ts) used as an independent reference. */
function gruReference(x: Float32Array, B: number, T: number, F: number, H: number, W: Float32Array, U: Float32Array, bx: Float32Array, bh: Float32Array): Float64Array {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out = new Float64Array(B * H);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const xp = new Float64Array(3 * H);
      const hp = new Float64Array(3 * H);
      for (let g = 0; g < 3 * H; g++) {
        xp[g] = bx[g];
        hp[g] = bh[g];
        for (let f = 0; f < F; f++) xp[g] += x[(b * T + t) * F + f] * W[f * 3 * H + g];
        for (let k = 0; k < H; k++) hp[g] += h[k] * U[k * 3 * H + g];
      }
      const nh = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const z = sig(xp[j] + hp[j]);
        const r = sig(xp[H + j] + hp[H + j]);
        const n = Math.tanh(xp[2 * H + j] + r * hp[2 * H + j]);
        nh[j] = (1 - z) * n + z * h[j];
      }
      h = nh;
    }
    out.set(h, b * H);
  }
  return out;
}

describe('own GRU', () => {
  it('matches a scalar reference implementation', () => {
    const rng = new Rng(5);
    const B = 2;
    const T = 4;
    const F = 3;
    const H = 5;
    const xv = randn(B * T * F, rng, 1);
    const W = randn(F * 3 * H, rng);
    const U = randn(H * 3 * H, rng);
    const bx = randn(3 * H, rng, 0.3);
    const bh = randn(3 * H, rng, 0.3);
    const spec: RecurrentSpec = { cell: 'gru', inputSize: F, hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0 };
    const params = {
      'rnn.l0.fw.kernel': tf.tensor2d(W, [F, 3 * H]),
      'rnn.l0.fw.recurrent': tf.tensor2d(U, [H, 3 * H]),
      'rnn.l0.fw.bias': tf.tensor1d(bx),
      'rnn.l0.fw.recurrentBias': tf.tensor1d(bh),
    };
    const got = runRecurrent(params, spec, tf.tensor3d(xv, [B, T, F]), { training: false }).last.dataSync();
    const want = gruReference(xv, B, T, F, H, W, U, bx, bh);
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
  });

  it('bidirectional output joins forward-last and backward-first and equals a forward run on reversed input', () => {
    const rng = new Rng(9);
    const spec: RecurrentSpec = { cell: 'gru', inputSize: 3, hiddenSize: 4, numLayers: 1, bidirectional: true, dropout: 0 };
    const vars = createVariables(recurrentParamShapes(spec), rng);
    const xv = randn(2 * 5 * 3, rng, 1);
    const x = tf.tensor3d(xv, [2, 5, 3]);
    const bi = runRecurrent(vars, spec, x, { training: false }).last.arraySync();
    // The backward direction over x equals a forward pass with the bw weights over time-reversed x.
    const fwSpec = { ...spec, bidirectional: false };
    const bwParams = {
      'rnn.l0.fw.kernel': vars['rnn.l0.bw.kernel'],
      'rnn.l0.fw.recurrent': vars['rnn.l0.bw.recurrent'],
      'rnn.l0.fw.bias': vars['rnn.l0.bw.bias'],
      'rnn.l0.fw.recurrentBias': vars['rnn.l0.bw.recurrentBias'],
    };
    const rev = runRecurrent(bwParams, fwSpec, tf.reverse(x, 1) as tf.Tensor3D, { training: false }).last.arraySync();
    const fw = runRecurrent(vars, fwSpec, x, { training: false }).last.arraySync();
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 4; j++) {
        expect(bi[b][j]).toBeCloseTo(fw[b][j], 6);
        expect(bi[b][4 + j]).toBeCloseTo(rev[b][j], 6);
      }
    }
    disposeVariables(vars);
  });
});
