/**
 * columnSum on tfjs's wasm backend runs our own SIMD kernel on tfjs's heap: every column-chunk path (16, 4 and 1
 * columns) against a float64 reference, the kernel actually chosen, its gradient, no leaks, and a clear error for
 * a non-matrix. (backends.test.ts compares it with cpu on every backend.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { initBackend } from './backend.js';
import { COLUMN_SUM_KERNEL, columnSum } from './column-sum.js';
import { ShapeError } from './errors.js';
import { Rng } from './rng.js';

function reference(x: Float32Array, n: number, f: number, scale: number): Float64Array {
  const out = new Float64Array(f);
  for (let r = 0; r < n; r++) for (let c = 0; c < f; c++) out[c] += x[r * f + c];
  return out.map((v) => v * scale);
}

describe('columnSum on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm', { ignoreEnv: true });
  });

  it('matches a float64 reference for widths that use each chunk path and a few offsets', () => {
    const rng = new Rng('colsum');
    for (const [n, f] of [[1, 1], [3, 2], [2, 4], [5, 15], [9, 16], [4, 17], [17, 19], [512, 512], [300, 67], [0, 5]]) {
      const data = rng.fillNormal(new Float32Array(n * f)) as Float32Array;
      for (const scale of [1, 1 / Math.max(n, 1), -2.5]) {
        const x = tf.tensor2d(data, [n, f]);
        const got = columnSum(x, scale);
        expect(got.shape).toEqual([f]);
        const want = reference(data, n, f, scale);
        const g = got.dataSync();
        for (let c = 0; c < f; c++) expect(Math.abs(g[c] - want[c])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.sqrt(n)) * Math.abs(scale) + 1e-6);
        tf.dispose([x, got]);
      }
    }
  });

  it('sums a slice-produced tensor at a non-16-byte-aligned heap offset correctly', () => {
    const x = tf.tensor2d(Float32Array.from({ length: 7 * 9 }, (_, i) => i % 11), [7, 9]);
    const part = tf.slice(x, [1, 1], [5, 7]) as tf.Tensor2D;
    const got = columnSum(part).dataSync();
    const full = x.dataSync();
    for (let c = 0; c < 7; c++) {
      let s = 0;
      for (let r = 1; r < 6; r++) s += full[r * 9 + c + 1];
      expect(got[c]).toBe(s);
    }
    tf.dispose([x, part]);
  });

  it('runs as the RecColumnSum kernel, not as a matMul', async () => {
    const x = tf.ones([64, 32]) as tf.Tensor2D;
    const info = await tf.profile(() => columnSum(x));
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain(COLUMN_SUM_KERNEL);
    expect(names).not.toContain('BatchMatMul');
    expect(info.result instanceof tf.Tensor && Array.from(info.result.dataSync())).toEqual(new Array(32).fill(64));
    tf.dispose([x, info.result as tf.Tensor]);
  });

  it('differentiates to the scale broadcast over the rows, and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(new Rng('g').fillNormal(new Float32Array(6 * 5)) as Float32Array, [6, 5]);
    const w = tf.tensor1d([1, -2, 3, 0.5, 4]);
    const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(columnSum(xx as tf.Tensor2D, 0.25), w)))(x);
    expect(dx.shape).toEqual([6, 5]);
    const d = dx.dataSync();
    for (let r = 0; r < 6; r++) for (let c = 0; c < 5; c++) expect(d[r * 5 + c]).toBeCloseTo(0.25 * w.dataSync()[c], 6);
    tf.dispose([x, w, dx]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a tensor that is not a matrix, saying what it got', () => {
    const v = tf.ones([4]);
    expect(() => columnSum(v as unknown as tf.Tensor2D)).toThrow(ShapeError);
    expect(() => columnSum(v as unknown as tf.Tensor2D)).toThrow(/\[rows, columns\]/);
    v.dispose();
  });
});
