/**
 * Named parameters as tf.Variables, initialised from a seeded `Rng` (never tfjs' own random state, so a run is
 * reproducible and resumable bit for bit), and a small Adam whose moments are plain variables we can save.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelFormatError, type Rng } from '@rec/core';

export type ParamShapes = Record<string, number[]>;
export type ParamTensors = Record<string, tf.Tensor>;
export type ParamVariables = Record<string, tf.Variable>;

/** How each parameter is initialised: by its name suffix (`.bias` zeros, `.forgetBias` ones, else Glorot uniform). */
export function initialValue(name: string, shape: number[], rng: Rng): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (name.endsWith('bias') || name.endsWith('Bias')) {
    // LSTM: forget-gate bias 1 (Jozefowicz et al. 2015); our gate layout is [i, f, o, g] so f is the 2nd quarter.
    if (name.endsWith('.lstmBias')) {
      const h = size / 4;
      for (let i = h; i < 2 * h; i++) out[i] = 1;
    }
    return out;
  }
  const fanIn = shape.length >= 2 ? shape[0] : size;
  const fanOut = shape.length >= 2 ? shape[shape.length - 1] : size;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < size; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

export function createVariables(shapes: ParamShapes, rng: Rng, trainable = true): ParamVariables {
  const vars: ParamVariables = {};
  for (const name of Object.keys(shapes).sort()) {
    const shape = shapes[name];
    vars[name] = tf.tidy(() => tf.variable(tf.tensor(initialValue(name, shape, rng), shape), trainable));
  }
  return vars;
}

/** Copy every value of `src` into `dst` (hard sync) or `dst = tau*src + (1-tau)*dst` (soft sync). */
export function syncVariables(dst: ParamVariables, src: ParamVariables, tau = 1): void {
  tf.tidy(() => {
    for (const name of Object.keys(dst)) {
      if (tau >= 1) dst[name].assign(src[name]);
      else dst[name].assign(tf.add(tf.mul(src[name], tau), tf.mul(dst[name], 1 - tau)));
    }
  });
}

export function readVariables(vars: ParamVariables, prefix = ''): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of Object.keys(vars).sort()) out[prefix + name] = vars[name].dataSync() as Float32Array;
  return out;
}

export function writeVariables(vars: ParamVariables, values: Record<string, ArrayLike<number>>, where: string, prefix = ''): void {
  for (const name of Object.keys(vars)) {
    const v = values[prefix + name];
    const size = vars[name].size;
    if (!v || v.length !== size) {
      throw new ModelFormatError('parameter missing or wrong size', {
        where: `${where} (${prefix + name})`,
        expected: `${size} values of shape [${vars[name].shape.join(', ')}]`,
        got: v ? `${v.length} values` : 'nothing',
        hint: 'The saved file was written by a different network configuration; load it with the config it was saved with.',
      });
    }
    tf.tidy(() => vars[name].assign(tf.tensor(Float32Array.from(v), vars[name].shape)));
  }
}

export function disposeVariables(vars: ParamVariables): void {
  for (const v of Object.values(vars)) v.dispose();
}

export function countParameters(shapes: ParamShapes): number {
  let n = 0;
  for (const s of Object.values(shapes)) n += s.reduce((a, b) => a * b, 1);
  return n;
}

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam (Kingma & Ba 2015) with bias correction folded into the step size. Written here rather than using
 * tf.train.adam so that its moments and step count are ordinary named arrays in checkpoints.
 */
export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  step = 0;
  private readonly m: ParamVariables = {};
  private readonly v: ParamVariables = {};

  constructor(vars: ParamVariables, options: AdamOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    for (const [name, v] of Object.entries(vars)) {
      this.m[name] = tf.variable(tf.zerosLike(v), false);
      this.v[name] = tf.variable(tf.zerosLike(v), false);
    }
  }

  /** One update of `vars` by `grads` at learning rate `lr`. */
  apply(vars: ParamVariables, grads: Record<string, tf.Tensor>, lr: number): void {
    this.step++;
    const t = this.step;
    const stepSize = (lr * Math.sqrt(1 - Math.pow(this.beta2, t))) / (1 - Math.pow(this.beta1, t));
    tf.tidy(() => {
      for (const name of Object.keys(grads)) {
        const g = grads[name];
        const m = tf.add(tf.mul(this.m[name], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[name], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        this.m[name].assign(m);
        this.v[name].assign(v);
        vars[name].assign(tf.sub(vars[name], tf.mul(tf.div(m, tf.add(tf.sqrt(v), this.epsilon)), stepSize)));
      }
    });
  }

  getState(): Record<string, Float32Array> {
    return { ...readVariables(this.m, 'adam.m.'), ...readVariables(this.v, 'adam.v.') };
  }

  setState(values: Record<string, ArrayLike<number>>, step: number): void {
    writeVariables(this.m, values, 'Adam.setState', 'adam.m.');
    writeVariables(this.v, values, 'Adam.setState', 'adam.v.');
    this.step = step;
  }

  dispose(): void {
    disposeVariables(this.m);
    disposeVariables(this.v);
  }
}

/** Scale gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  const names = Object.keys(grads);
  const sq = names.map((n) => tf.sum(tf.square(grads[n])));
  const norm = tf.sqrt(tf.addN(sq)) as tf.Scalar;
  if (!(maxNorm > 0 && Number.isFinite(maxNorm))) return { grads, norm };
  // scale = maxNorm / max(norm, maxNorm): 1 when under the limit.
  const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm));
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.mul(grads[n], scale);
  return { grads: out, norm };
}
