/**
 * Batch normalisation on tfjs-core (Ioffe & Szegedy 2015), for `[batch, features]` inputs.
 * Training mode normalises with the batch's own mean and (biased) variance and moves the running statistics
 * towards them; inference mode uses the running statistics, folded into one scale and shift.
 * The running statistics are non-trainable variables that checkpoints save next to the weights.
 */
import * as tf from '@tensorflow/tfjs-core';

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
      const { mean, variance } = tf.moments(x, 0);
      const m = this.options.momentum;
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, m), tf.mul(mean, 1 - m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, m), tf.mul(variance, 1 - m)));
      const inv = tf.rsqrt(tf.add(variance, this.options.epsilon));
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), inv), this.gamma), this.beta) as tf.Tensor2D;
    }
    // y = gamma * (x - mean) / sqrt(var + eps) + beta = x * scale + (beta - mean * scale)
    const scale = tf.mul(this.gamma, tf.rsqrt(tf.add(this.runningVar, this.options.epsilon)));
    const shift = tf.sub(this.beta, tf.mul(this.runningMean, scale));
    return tf.add(tf.mul(x, scale), shift) as tf.Tensor2D;
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
