/**
 * Batch normalisation on tfjs-core (Ioffe & Szegedy 2015), for `[batch, features]` inputs.
 * Training mode normalises with the batch's own mean and (biased) variance and moves the running statistics
 * towards them; inference mode uses the running statistics, folded into one scale and shift.
 * The running statistics are non-trainable variables that checkpoints save next to the weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { columnSum } from '@rec/core';

export interface BatchNormOptions {
  /** Weight of the old running statistic per update (0.9 = PyTorch's momentum 0.1). */
  momentum: number;
  /** Added to the variance before the square root. */
  epsilon: number;
}

export class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(
    readonly features: number,
    readonly options: BatchNormOptions,
  ) {
    // Inside tidy: the initial-value tensors are freed, the variables (never tidied) survive.
    [this.gamma, this.beta, this.runningMean, this.runningVar] = tf.tidy(() => [
      tf.variable(tf.ones([features]), true),
      tf.variable(tf.zeros([features]), true),
      tf.variable(tf.zeros([features]), false),
      tf.variable(tf.ones([features]), false),
    ]);
  }

  /**
   * Normalise `x [batch, features]`. In training mode the running statistics are updated as a side effect
   * (no gradient flows into them); call it inside `tf.tidy`/`variableGrads`, which free the intermediates.
   */
  apply(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    if (training) {
      const { y, mean, variance } = batchNormTrain(x, this.gamma, this.beta, this.options.epsilon);
      const m = this.options.momentum;
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, m), tf.mul(mean, 1 - m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, m), tf.mul(variance, 1 - m)));
      mean.dispose();
      variance.dispose();
      return y;
    }
    // y = gamma * (x - mean) / sqrt(var + eps) + beta = x * scale + (beta - mean * scale)
    const scale = tf.mul(this.gamma, tf.rsqrt(tf.add(this.runningVar, this.options.epsilon)));
    const shift = tf.sub(this.beta, tf.mul(this.runningMean, scale));
    return tf.add(tf.mul(x, scale), shift) as tf.Tensor2D;
  }

  /** The evaluation-mode transform `x * scale + shift`, read out of the variables (as `apply` computes it, in f32). */
  evalAffine(): { scale: Float32Array; shift: Float32Array } {
    const gamma = this.gamma.dataSync();
    const beta = this.beta.dataSync();
    const mean = this.runningMean.dataSync();
    const variance = this.runningVar.dataSync();
    const scale = new Float32Array(this.features);
    const shift = new Float32Array(this.features);
    for (let i = 0; i < this.features; i++) {
      scale[i] = gamma[i] / Math.sqrt(Math.fround(variance[i] + this.options.epsilon));
      shift[i] = beta[i] - Math.fround(mean[i] * scale[i]);
    }
    return { scale, shift };
  }

  get trainable(): tf.Variable[] {
    return [this.gamma, this.beta];
  }

  get statistics(): tf.Variable[] {
    return [this.runningMean, this.runningVar];
  }

  dispose(): void {
    for (const v of [...this.trainable, ...this.statistics]) v.dispose();
  }
}

/**
 * Training-mode batch norm with a hand-written gradient. Returns `y` and the batch `mean`/`variance` `[f]`; the last
 * two are kept out of any enclosing tidy and must be disposed by the caller. Every reduction over the batch is
 * @rec/core's `columnSum` (tfjs's own gradients of the broadcasting ops reduce over axis 0, which dominates the
 * TD3 update on wasm otherwise).
 * With xhat = (x - mean) * inv, inv = 1 / sqrt(var + eps) and g = dy * gamma (per column, n rows):
 *   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = inv / n * (n g - sum(g) - xhat * sum(g * xhat)).
 * Checked against tfjs's automatic gradient of the plain formula in td3.test.ts.
 */
export function batchNormTrain(x: tf.Tensor2D, gamma: tf.Tensor1D | tf.Variable, beta: tf.Tensor1D | tf.Variable, epsilon: number): { y: tf.Tensor2D; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const n = x.shape[0];
  let mean!: tf.Tensor1D;
  let variance!: tf.Tensor1D;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const mu = columnSum(xi as tf.Tensor2D, 1 / n);
    const centred = tf.sub(xi, mu);
    const v = columnSum(tf.square(centred) as tf.Tensor2D, 1 / n);
    const inv = tf.rsqrt(tf.add(v, epsilon));
    const xhat = tf.mul(centred, inv);
    // Kept past the custom op's scope (which frees everything but its value); the caller disposes them.
    mean = tf.keep(mu);
    variance = tf.keep(v);
    save([xhat, inv, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor2D;
        const [sx, sinv, sg] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
        const gx = tf.mul(d, sg) as tf.Tensor2D;
        const sumG = columnSum(gx);
        const sumGX = columnSum(tf.mul(gx, sx) as tf.Tensor2D);
        const dx = tf.mul(tf.sub(tf.sub(tf.mul(gx, n), sumG), tf.mul(sx, sumGX)), tf.div(sinv, n));
        return [dx, columnSum(tf.mul(d, sx) as tf.Tensor2D), columnSum(d)];
      },
    };
  });
  const y = op(x, gamma, beta) as tf.Tensor2D;
  return { y, mean, variance };
}

/** `x [n, f] + b [f]` whose bias gradient is a matMul column sum instead of an axis-0 reduction. */
export const addBias = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, b] = args as tf.Tensor[];
  return {
    value: tf.add(x, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor, columnSum(dy as tf.Tensor2D)],
  };
}) as (x: tf.Tensor2D, b: tf.Tensor1D | tf.Variable) => tf.Tensor2D;
