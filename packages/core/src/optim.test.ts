import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { InvalidArgumentError, ModelFormatError, ShapeError } from './errors.js';
import { Adam, clipByGlobalNorm, softUpdate } from './optim.js';

beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});

/** Run `grads` (one number per step) through Adam on a single parameter starting at 1; returns p after each step. */
function trajectory(options: ConstructorParameters<typeof Adam>[1], grads: number[], lr?: number): number[] {
  const p = tf.variable(tf.tensor1d([1]));
  const opt = new Adam({ p }, options);
  const out: number[] = [];
  for (const gv of grads) {
    const g = tf.tensor1d([gv]);
    opt.apply({ p }, { p: g }, lr);
    g.dispose();
    out.push(p.dataSync()[0]);
  }
  expect(opt.step).toBe(grads.length);
  opt.dispose();
  p.dispose();
  return out;
}

describe('Adam', () => {
  // A large epsilon (0.1) makes the two bias-correction forms differ visibly. lr 0.1, b1 0.9, b2 0.999, p0 = 1,
  // gradients 0.5 then -1. Moments are the same in both forms:
  //   step 1: m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025, bc1 = 0.1, bc2 = 0.001
  //   step 2: m = 0.9 * 0.05 - 0.1 = -0.055, v = 0.999 * 0.00025 + 0.001 = 0.00124975, bc1 = 0.19, bc2 = 0.001999
  it('pytorch form: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), checked by hand', () => {
    // step 1: mhat = 0.05 / 0.1 = 0.5, sqrt(vhat) = sqrt(0.25) = 0.5 -> 0.1 * 0.5 / (0.5 + 0.1) = 0.0833333 -> 0.9166667
    // step 2: mhat = -0.055 / 0.19 = -0.2894737, sqrt(vhat) = sqrt(0.625188) = 0.7906881
    //   -> 0.1 * -0.2894737 / 0.8906881 = -0.0325000 -> 0.9491667
    const p = trajectory({ learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 0.1, form: 'pytorch' }, [0.5, -1]);
    expect(p[0]).toBeCloseTo(0.9166667, 5);
    expect(p[1]).toBeCloseTo(0.9491667, 5);
  });

  it('folded form: p -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + eps), checked by hand', () => {
    // step 1: step size 0.1 * sqrt(0.001) / 0.1 = 0.0316228; 0.0316228 * 0.05 / (sqrt(0.00025) + 0.1)
    //   = 0.00158114 / 0.1158114 = 0.0136527 -> 0.9863473
    // step 2: step size 0.1 * sqrt(0.001999) / 0.19 = 0.0235317; 0.0235317 * -0.055 / (0.0353518 + 0.1)
    //   = -0.0095621 -> 0.9959094
    const p = trajectory({ learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 0.1 }, [0.5, -1]);
    expect(p[0]).toBeCloseTo(0.9863473, 5);
    expect(p[1]).toBeCloseTo(0.9959094, 5);
  });

  it('takes steps of about lr * sign(g) while the gradient is constant, in both forms', () => {
    // With eps tiny, mhat = g and vhat = g^2 exactly for a constant g (m = (1 - b1^t) g, v = (1 - b2^t) g^2), so
    // every step is lr * g / |g| = 0.1 for g = 0.5: 1 -> 0.9 -> 0.8.
    for (const form of ['folded', 'pytorch'] as const) {
      const p = trajectory({ learningRate: 0.1, epsilon: 1e-8, form }, [0.5, 0.5]);
      expect(p[0]).toBeCloseTo(0.9, 5);
      expect(p[1]).toBeCloseTo(0.8, 5);
    }
  });

  it('takes the learning rate per step (schedules) and falls back to options.learningRate', () => {
    // lr 0 on every step: parameters stay, moments and step still advance. A constant g with lr 0.05 per call
    // gives steps of 0.05 (as above), ignoring options.learningRate 0.1.
    expect(trajectory({ learningRate: 0.1 }, [0.5, 0.5], 0)).toEqual([1, 1]);
    const p = trajectory({ learningRate: 0.1, epsilon: 1e-8 }, [0.5, 0.5], 0.05);
    expect(p[1]).toBeCloseTo(0.9, 5);
  });

  it('saves and restores its state exactly: a resumed optimizer continues bit for bit', () => {
    const init = new Float32Array([0.3, -1.2, 2.5, 0.01, -0.7, 1.9]);
    const make = () => ({ w: tf.variable(tf.tensor2d(init, [2, 3])), b: tf.variable(tf.tensor1d([0.5, -0.5])) });
    const grad = (k: number) => ({ w: tf.tensor2d([k, -2 * k, 0.3, 1 / k, -k * k, 0.01], [2, 3]), b: tf.tensor1d([Math.sin(k), Math.cos(k)]) });
    const step = (opt: Adam, vars: Record<string, tf.Variable>, k: number) => {
      const g = grad(k);
      opt.apply(vars, g, 0.01 / k);
      tf.dispose(g);
    };
    const a = make();
    const optA = new Adam(a, { form: 'pytorch', epsilon: 1e-8 });
    for (let k = 1; k <= 3; k++) step(optA, a, k);
    const saved = optA.getState((m, name) => `opt/${m}${name}`);
    expect(Object.keys(saved)).toEqual(['opt/mw', 'opt/mb', 'opt/vw', 'opt/vb']);
    const b = make();
    b.w.assign(a.w);
    b.b.assign(a.b);
    const optB = new Adam(b, { form: 'pytorch', epsilon: 1e-8 });
    optB.setState(saved, optA.step, (m, name) => `opt/${m}${name}`);
    expect(optB.step).toBe(3);
    for (let k = 4; k <= 6; k++) {
      step(optA, a, k);
      step(optB, b, k);
    }
    expect(Array.from(b.w.dataSync())).toEqual(Array.from(a.w.dataSync()));
    expect(Array.from(b.b.dataSync())).toEqual(Array.from(a.b.dataSync()));
    expect(optB.getState()).toEqual(optA.getState());
    // setState without a step count restores the moments and keeps the optimizer's own count.
    const c = make();
    c.w.assign(a.w);
    const optC = new Adam(c, { form: 'pytorch', epsilon: 1e-8 });
    optC.setState(optA.getState());
    expect(optC.step).toBe(0);
    expect(optC.getState()).toEqual(optA.getState());
    tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
    for (const o of [optA, optB, optC]) o.dispose();
  });

  it('rejects a missing or mis-sized moment without changing anything, and unknown gradient names', () => {
    const p = tf.variable(tf.tensor1d([1, 2]));
    const opt = new Adam({ p });
    const g = tf.tensor1d([1, 1]);
    opt.apply({ p }, { p: g });
    const before = opt.getState();
    expect(() => opt.setState({ 'adam.m.p': new Float32Array(2) }, 7)).toThrow(ModelFormatError);
    expect(() => opt.setState({ 'adam.m.p': new Float32Array(2), 'adam.v.p': new Float32Array(3) }, 7)).toThrow(/adam\.v\.p/);
    expect(opt.getState()).toEqual(before);
    expect(opt.step).toBe(1);
    expect(() => opt.apply({ p }, { q: g })).toThrow(InvalidArgumentError);
    expect(() => opt.apply({ p }, { p: g }, NaN)).toThrow(InvalidArgumentError);
    expect(() => new Adam({ p }, { beta1: 1 })).toThrow(InvalidArgumentError);
    expect(opt.step).toBe(1);
    tf.dispose([p, g]);
    opt.dispose();
  });

  it('leaks no tensors per step', () => {
    const p = tf.variable(tf.ones([3, 4]));
    const opt = new Adam({ p });
    const g = tf.ones([3, 4]);
    opt.apply({ p }, { p: g });
    const n = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const clipped = clipByGlobalNorm({ p: g }, 1);
      opt.apply({ p }, clipped.grads);
      tf.dispose(clipped);
    }
    expect(tf.memory().numTensors).toBe(n);
    opt.dispose();
    tf.dispose([p, g]);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales to the global norm and leaves gradients under the limit unchanged', () => {
    // Grads [3] and [4]: global norm sqrt(9 + 16) = 5; max 1 -> scale 1/5 -> [0.6], [0.8]. Max 10 -> scale 1.
    const a = tf.tensor1d([3]);
    const b = tf.tensor2d([[4]]);
    const out = clipByGlobalNorm({ a, b }, 1);
    expect(out.norm.dataSync()[0]).toBeCloseTo(5, 5);
    expect(out.grads.a.dataSync()[0]).toBeCloseTo(0.6, 6);
    expect(out.grads.b.dataSync()[0]).toBeCloseTo(0.8, 6);
    expect(out.grads.b.shape).toEqual([1, 1]);
    const same = clipByGlobalNorm({ a, b }, 10);
    expect(same.grads.a.dataSync()[0]).toBe(3);
    expect(same.grads.b.dataSync()[0]).toBe(4);
    tf.dispose([out, same]);
    tf.dispose([a, b]);
  });

  it('adds epsilon to the norm when asked (torch form) and passes gradients through when maxNorm is not positive', () => {
    // epsilon 1: scale = 1 / (5 + 1) -> [0.5], [0.6667] (a large epsilon so the difference shows in float32).
    const a = tf.tensor1d([3]);
    const b = tf.tensor1d([4]);
    const out = clipByGlobalNorm({ a, b }, 1, { epsilon: 1 });
    expect(out.grads.a.dataSync()[0]).toBeCloseTo(0.5, 6);
    expect(out.grads.b.dataSync()[0]).toBeCloseTo(4 / 6, 6);
    const grads = { a, b };
    for (const maxNorm of [0, Infinity]) {
      const off = clipByGlobalNorm(grads, maxNorm);
      expect(off.grads).toBe(grads);
      expect(off.norm.dataSync()[0]).toBeCloseTo(5, 5);
      off.norm.dispose();
    }
    expect(() => clipByGlobalNorm({}, 1)).toThrow(InvalidArgumentError);
    tf.dispose([out]);
    tf.dispose([a, b]);
  });
});

describe('softUpdate', () => {
  it('moves the target by tau towards the source, copies with tau 1, and checks names and shapes', () => {
    // tau 0.25: 0.25 * 4 + 0.75 * 0 = 1, then 0.25 * 4 + 0.75 * 1 = 1.75; tau 1 copies 4 exactly; tau 0 keeps it.
    const source = { w: tf.fill([2, 2], 4) };
    const target = { w: tf.variable(tf.zeros([2, 2])) };
    const n = tf.memory().numTensors;
    softUpdate(target, source, 0.25);
    expect(Array.from(target.w.dataSync())).toEqual([1, 1, 1, 1]);
    softUpdate(target, source, 0.25);
    expect(Array.from(target.w.dataSync())).toEqual([1.75, 1.75, 1.75, 1.75]);
    expect(tf.memory().numTensors).toBe(n);
    softUpdate(target, source);
    expect(Array.from(target.w.dataSync())).toEqual([4, 4, 4, 4]);
    const other = tf.fill([2, 2], -9);
    softUpdate(target, { w: other }, 0);
    expect(Array.from(target.w.dataSync())).toEqual([4, 4, 4, 4]);
    expect(() => softUpdate(target, source, 1.5)).toThrow(InvalidArgumentError);
    const flat = tf.fill([4], 4);
    expect(() => softUpdate(target, { w: flat }, 0.5)).toThrow(ShapeError);
    flat.dispose();
    expect(() => softUpdate(target, {}, 0.5)).toThrow(/softUpdate \(w\)/);
    expect(Array.from(target.w.dataSync())).toEqual([4, 4, 4, 4]);
    tf.dispose([source.w, target.w, other]);
  });
});

describe('Adam on wasm (the fused one-pass step)', () => {
  /** Five steps of both forms on parameters whose sizes use the vector loop, the tail and both; all state read back. */
  async function run(backend: 'cpu' | 'wasm'): Promise<{ arrays: number[][]; kernels: string[] }> {
    await initBackend(backend, { ignoreEnv: true });
    const { Rng } = await import('./rng.js');
    const rng = new Rng('adam-fused');
    const arrays: number[][] = [];
    const kernels: string[] = [];
    for (const form of ['folded', 'pytorch'] as const) {
      const shapes: Record<string, number[]> = { w: [7, 9], b: [3], big: [130, 17] };
      const vars = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.variable(tf.tensor(rng.fillNormal(new Float32Array(s.reduce((a, c) => a * c, 1))) as Float32Array, s))]));
      const opt = new Adam(vars, { form, learningRate: 3e-3, epsilon: form === 'pytorch' ? 1e-8 : 1e-7 });
      for (let step = 0; step < 5; step++) {
        const grads = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.tensor(rng.fillNormal(new Float32Array(s.reduce((a, c) => a * c, 1)), 0, step + 1) as Float32Array, s)]));
        const info = await tf.profile(() => opt.apply(vars, grads));
        kernels.push(...info.kernels.map((k) => k.name));
        tf.dispose(Object.values(grads));
      }
      for (const v of Object.values(vars)) arrays.push(Array.from(v.dataSync()));
      for (const a of Object.values(opt.getState())) arrays.push(Array.from(a));
      tf.dispose(Object.values(vars));
    }
    return { arrays, kernels };
  }

  it('gives the op-by-op update (cpu) bit for bit, parameters and both moments, in both forms, as one kernel per parameter', async () => {
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    await initBackend('cpu', { ignoreEnv: true });
    expect(wasm.kernels.filter((k) => k === 'RecAdamStep').length).toBe(2 * 5 * 3);
    expect(wasm.kernels).not.toContain('Sqrt');
    expect(cpu.kernels).toContain('Sqrt');
    expect(wasm.arrays.length).toBe(cpu.arrays.length);
    wasm.arrays.forEach((a, i) => expect(a, `array ${i}`).toEqual(cpu.arrays[i]));
  });
});
