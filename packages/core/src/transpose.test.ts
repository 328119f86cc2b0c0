/**
 * transpose2d on tfjs's wasm backend (our SIMD kernel on tfjs's heap): exact against a plain loop for shapes that
 * use the 4 x 4 blocks, the column tail, the row tail and all three, its gradient, and the matMul gradient that
 * now uses it (against the cpu backend). backends.test.ts runs the matMul gradients on every backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { initBackend } from './backend.js';
import { ShapeError } from './errors.js';
import { Rng } from './rng.js';
import { TRANSPOSE_2D_KERNEL, transpose2d } from './transpose.js';

describe('transpose2d on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm', { ignoreEnv: true });
  });

  it('moves every value exactly, for block, tail-column, tail-row and tiny shapes', () => {
    const rng = new Rng('tr');
    for (const [r, c] of [[1, 1], [1, 7], [7, 1], [4, 4], [8, 12], [5, 4], [4, 6], [13, 11], [512, 512], [3, 130], [0, 3]]) {
      const data = rng.fillNormal(new Float32Array(r * c)) as Float32Array;
      const x = tf.tensor2d(data, [r, c]);
      const y = transpose2d(x);
      expect(y.shape).toEqual([c, r]);
      const got = y.dataSync();
      const want = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) want[j * r + i] = data[i * c + j];
      expect(Array.from(got)).toEqual(Array.from(want));
      tf.dispose([x, y]);
    }
  });

  it('runs as the RecTranspose2D kernel, and a slice at an odd heap offset is read right', async () => {
    const x = tf.tensor2d(Float32Array.from({ length: 9 * 10 }, (_, i) => i), [9, 10]);
    const part = tf.slice(x, [1, 1], [6, 7]) as tf.Tensor2D;
    const info = await tf.profile(() => transpose2d(part));
    expect(info.kernels.map((k) => k.name)).toContain(TRANSPOSE_2D_KERNEL);
    const got = (info.result as tf.Tensor).dataSync();
    for (let i = 0; i < 6; i++) for (let j = 0; j < 7; j++) expect(got[j * 6 + i]).toBe((i + 1) * 10 + j + 1);
    tf.dispose([x, part, info.result as tf.Tensor]);
  });

  it('differentiates (the gradient is dy transposed) and the matMul gradient through it matches cpu', async () => {
    const rng = new Rng('trg');
    const a = rng.fillNormal(new Float32Array(6 * 5)) as Float32Array;
    const b = rng.fillNormal(new Float32Array(5 * 3)) as Float32Array;
    const w = rng.fillNormal(new Float32Array(6 * 3)) as Float32Array;
    const run = () =>
      tf.tidy(() => {
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), tf.tensor2d(w, [6, 3]))))([tf.tensor2d(a, [6, 5]), tf.tensor2d(b, [5, 3])]);
        const gt = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(transpose2d(x as tf.Tensor2D), tf.tensor2d(w, [3, 6]))))(tf.tensor2d(w, [6, 3]));
        return [ga.dataSync(), gb.dataSync(), gt.dataSync()].map((d) => Array.from(d));
      });
    const onWasm = run();
    await initBackend('cpu', { ignoreEnv: true });
    const onCpu = run();
    await initBackend('wasm', { ignoreEnv: true });
    for (let i = 0; i < 2; i++) onWasm[i].forEach((v, j) => expect(v).toBeCloseTo(onCpu[i][j], 5));
    // d/dx sum(transpose(x) * W) = transpose(W) exactly.
    const wt = new Float32Array(6 * 3);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 6; j++) wt[j * 3 + i] = w[i * 6 + j];
    expect(onWasm[2]).toEqual(Array.from(wt));
  });

  it('refuses a tensor that is not a matrix', () => {
    const v = tf.ones([2, 2, 2]);
    expect(() => transpose2d(v as unknown as tf.Tensor2D)).toThrow(ShapeError);
    v.dispose();
  });
});
