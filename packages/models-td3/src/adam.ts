/**
 * Adam (Kingma & Ba 2015) with the bias correction written as PyTorch does it, plus clipping by global norm.
 * Written here rather than using `tf.train.adam` so that its whole state (moments and step count) can be read and
 * restored synchronously as typed arrays for exact checkpoint resume.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export class Adam {
  /** Number of updates applied so far. */
  step = 0;
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];

  constructor(
    readonly params: tf.Variable[],
    readonly options: AdamOptions,
  ) {
    this.m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
    this.v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
  }

  /** Apply one update from `grads` (same order as `params`). Frees nothing it did not create. */
  apply(grads: tf.Tensor[]): void {
    this.step++;
    const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps } = this.options;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2 = 1 - Math.pow(b2, this.step);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    tf.tidy(() => {
      for (let i = 0; i < this.params.length; i++) {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        // p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps);
        this.params[i].assign(tf.sub(this.params[i], tf.mul(tf.div(m, denom), stepSize)));
      }
    });
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}

/**
 * Scale `grads` so that their global L2 norm is at most `maxNorm` (as torch.nn.utils.clip_grad_norm_).
 * Returns new tensors and the norm before clipping (a scalar tensor); the caller disposes them.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    let sq: tf.Tensor = tf.scalar(0);
    for (const g of grads) sq = tf.add(sq, tf.sum(tf.square(g)));
    const norm = tf.sqrt(sq) as tf.Scalar;
    const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
    return { grads: grads.map((g) => tf.mul(g, scale)), norm };
  });
}
