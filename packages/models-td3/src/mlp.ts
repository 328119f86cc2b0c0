/**
 * The multilayer perceptron both TD3 networks are made of: Linear -> ReLU -> BatchNorm -> Dropout per hidden layer,
 * then a linear output (tanh-scaled for the actor). Parameters are plain tfjs-core variables initialised from a
 * seeded `Rng` (PyTorch's default Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases),
 * so the same seed gives the same network on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, softUpdate, type Rng } from '@rec/core';
import { addBias, BatchNorm, type BatchNormOptions } from './batch-norm.js';
import { foldBatchNorm, type DenseLayer } from './simd-mlp.js';

export interface MlpOptions {
  input: number;
  hidden: readonly number[];
  output: number;
  /** Dropout rate after each hidden layer (0 disables it). */
  dropout: number;
  /** Batch normalisation after each hidden layer's ReLU (null disables it). */
  batchNorm: BatchNormOptions | null;
  /** Also batch-normalise the input (state features of very different scales, e.g. beliefs near 0.001). */
  inputBatchNorm?: boolean;
  /** `tanh` output scaled by `outputScale` (the actor) or a plain linear output (the critics). */
  outputActivation: 'tanh' | 'linear';
  outputScale: number;
}

interface Linear {
  w: tf.Variable;
  b: tf.Variable;
}

function linear(fanIn: number, fanOut: number, rng: Rng): Linear {
  const bound = 1 / Math.sqrt(fanIn);
  const w = rng.fillUniform(new Float32Array(fanIn * fanOut), -bound, bound) as Float32Array;
  const b = rng.fillUniform(new Float32Array(fanOut), -bound, bound) as Float32Array;
  return tf.tidy(() => ({ w: tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true), b: tf.variable(tf.tensor1d(b), true) }));
}

/**
 * Inverted-dropout mask `[rows * cols]`: 0 for dropped units, 1/(1-p) for kept ones. Each 32-bit draw gives two
 * 16-bit uniforms, so p is rounded to a multiple of 1/65536 (0.1 -> 6554/65536 = 0.10001).
 */
export function dropoutMask(rows: number, cols: number, rate: number, rng: Rng): Float32Array {
  const n = rows * cols;
  const out = new Float32Array(n);
  const threshold = Math.round(rate * 65536);
  const keep = 1 / (1 - threshold / 65536);
  let i = 0;
  while (i < n) {
    const u = rng.nextUint32();
    out[i++] = (u & 0xffff) >= threshold ? keep : 0;
    if (i < n) out[i++] = u >>> 16 >= threshold ? keep : 0;
  }
  return out;
}

export class Mlp {
  readonly layers: Linear[] = [];
  readonly norms: BatchNorm[] = [];
  readonly inputNorm: BatchNorm | null = null;

  constructor(
    readonly options: MlpOptions,
    rng: Rng,
  ) {
    let fanIn = options.input;
    if (options.inputBatchNorm) this.inputNorm = new BatchNorm(fanIn, options.batchNorm ?? { momentum: 0.9, epsilon: 1e-5 });
    for (const h of options.hidden) {
      this.layers.push(linear(fanIn, h, rng));
      if (options.batchNorm) this.norms.push(new BatchNorm(h, options.batchNorm));
      fanIn = h;
    }
    this.layers.push(linear(fanIn, options.output, rng));
  }

  /**
   * Forward pass of `x [batch, input]`. `training` selects batch statistics (and updates the running ones) and
   * dropout, whose masks are drawn from `rng`; inference uses running statistics and no dropout.
   */
  apply(x: tf.Tensor2D, training: boolean, rng?: Rng): tf.Tensor2D {
    const { hidden, dropout, outputActivation, outputScale } = this.options;
    const batch = x.shape[0];
    let h = this.inputNorm ? this.inputNorm.apply(x, training) : x;
    for (let i = 0; i < hidden.length; i++) {
      h = tf.relu(addBias(tf.matMul(h, this.layers[i].w as tf.Tensor2D), this.layers[i].b)) as tf.Tensor2D;
      if (this.norms.length) h = this.norms[i].apply(h, training);
      if (training && dropout > 0) {
        if (!rng) throw new InvalidArgumentError('missing generator', { where: 'Mlp.apply', expected: 'an Rng for training-mode dropout masks', got: rng });
        h = tf.mul(h, tf.tensor2d(dropoutMask(batch, hidden[i], dropout, rng), [batch, hidden[i]]));
      }
    }
    const last = this.layers[this.layers.length - 1];
    const out = addBias(tf.matMul(h, last.w as tf.Tensor2D), last.b);
    if (outputActivation === 'tanh') return tf.mul(tf.tanh(out), outputScale);
    return out;
  }

  /**
   * The evaluation-mode network as plain dense layers, batch normalisation folded into the weights (for SimdMlp;
   * the output activation is not included).
   */
  denseLayers(): DenseLayer[] {
    const { input, hidden, output } = this.options;
    const layers = this.layers.map((l) => ({ w: l.w.dataSync() as Float32Array, b: l.b.dataSync() as Float32Array }));
    const norms = hidden.map((_, i) => (this.norms[i] ? this.norms[i].evalAffine() : null));
    return foldBatchNorm(layers, [input, ...hidden, output], norms, this.inputNorm ? this.inputNorm.evalAffine() : null);
  }

  /** Variables the optimiser updates. */
  get trainable(): tf.Variable[] {
    const out: tf.Variable[] = [];
    this.layers.forEach((l, i) => {
      out.push(l.w, l.b);
      if (this.norms[i]) out.push(...this.norms[i].trainable);
    });
    if (this.inputNorm) out.push(...this.inputNorm.trainable);
    return out;
  }

  /** Batch-norm running statistics (saved, soft-updated into targets, never trained). */
  get statistics(): tf.Variable[] {
    return [...this.norms, ...(this.inputNorm ? [this.inputNorm] : [])].flatMap((n) => n.statistics);
  }

  /** Every variable in a fixed order with a stable name, for checkpoints and target copies. */
  named(): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    this.layers.forEach((l, i) => {
      out.push([`l${i}.w`, l.w], [`l${i}.b`, l.b]);
      const n = this.norms[i];
      if (n) out.push([`bn${i}.gamma`, n.gamma], [`bn${i}.beta`, n.beta], [`bn${i}.mean`, n.runningMean], [`bn${i}.var`, n.runningVar]);
    });
    const n = this.inputNorm;
    if (n) out.push(['bnIn.gamma', n.gamma], ['bnIn.beta', n.beta], ['bnIn.mean', n.runningMean], ['bnIn.var', n.runningVar]);
    return out;
  }

  /** Soft update `this <- tau * source + (1 - tau) * this` over all variables (tau = 1 copies). */
  softUpdateFrom(source: Mlp, tau: number): void {
    softUpdate(Object.fromEntries(this.named()), Object.fromEntries(source.named()), tau);
  }

  dispose(): void {
    for (const l of this.layers) {
      l.w.dispose();
      l.b.dispose();
    }
    for (const n of this.norms) n.dispose();
    this.inputNorm?.dispose();
  }
}
