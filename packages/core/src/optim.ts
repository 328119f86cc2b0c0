/**
 * Adam (Kingma & Ba 2015), clipping by global norm and soft target updates, shared by the model packages. Adam is
 * written here rather than using `tf.train.adam` so that its whole state (both moments and the step count) can be
 * read and restored synchronously as typed arrays, for checkpoints that resume bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, InvalidArgumentError, ModelFormatError, ShapeError } from './errors.js';
import { fusedAdamAvailable, fusedAdamStep } from './adam-wasm.js';

/**
 * Where the bias correction goes; the two give slightly different numbers because epsilon is added at a different
 * scale, so a package keeps the form its results were produced with.
 * - `folded` (Kingma & Ba's "efficient" form, as tf.train.adam and Keras):
 *   p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 * - `pytorch` (as torch.optim.Adam): p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */
export type AdamForm = 'folded' | 'pytorch';

export interface AdamOptions {
  /** Learning rate used when `apply` is given none (default 1e-3); pass one to `apply` for schedules. */
  learningRate?: number;
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-7, as tf.train.adam; PyTorch uses 1e-8). */
  epsilon?: number;
  /** Placement of the bias correction (default `folded`). */
  form?: AdamForm;
}

/** Name of a moment array in `getState`/`setState` records; the default gives `adam.m.<param>` / `adam.v.<param>`. */
export type AdamStateKey = (moment: 'm' | 'v', param: string) => string;

const defaultKey: AdamStateKey = (moment, param) => `adam.${moment}.${param}`;

/** Adam over a record of named `tf.Variable`s; moments are non-trainable variables of the same shapes. */
export class Adam {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly form: AdamForm;
  /** Learning rate used when `apply` gets none. */
  learningRate: number;
  /** Number of updates applied so far (drives the bias correction; saved and restored with the moments). */
  step = 0;
  /** The parameters this optimizer was built for, by name. */
  readonly params: Readonly<Record<string, tf.Variable>>;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};

  constructor(params: Record<string, tf.Variable>, options: AdamOptions = {}) {
    this.learningRate = options.learningRate ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.form = options.form ?? 'folded';
    check(Number.isFinite(this.learningRate) && this.learningRate >= 0, 'Adam options.learningRate', 'a finite number >= 0', this.learningRate);
    check(this.beta1 >= 0 && this.beta1 < 1, 'Adam options.beta1', 'a number in [0, 1)', this.beta1);
    check(this.beta2 >= 0 && this.beta2 < 1, 'Adam options.beta2', 'a number in [0, 1)', this.beta2);
    check(this.epsilon > 0 && Number.isFinite(this.epsilon), 'Adam options.epsilon', 'a finite number > 0', this.epsilon);
    check(this.form === 'folded' || this.form === 'pytorch', 'Adam options.form', "'folded' or 'pytorch'", this.form);
    this.params = { ...params };
    for (const [name, p] of Object.entries(params)) {
      this.m[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.v[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    }
  }

  /**
   * One update of `vars[name]` by `grads[name]` for every name in `grads` (usually `vars` is `this.params`), at
   * learning rate `lr`. Frees nothing it did not create.
   */
  apply(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number = this.learningRate): void {
    check(Number.isFinite(lr) && lr >= 0, 'Adam.apply(lr)', 'a finite number >= 0', lr);
    for (const name of Object.keys(grads)) {
      if (!this.m[name] || !vars[name]) {
        throw new InvalidArgumentError('gradient for an unknown parameter', {
          where: `Adam.apply (${name})`,
          expected: `one of ${Object.keys(this.m).slice(0, 8).join(', ')}${Object.keys(this.m).length > 8 ? ', ...' : ''}, present in vars`,
          got: name,
          hint: 'Key the gradients by the same names as the record the optimizer was built with.',
        });
      }
    }
    this.step++;
    const t = this.step;
    const { beta1: b1, beta2: b2, epsilon: eps } = this;
    // On wasm: one fused pass per parameter (adam-wasm.ts), the same numbers as the ops below.
    const fused = fusedAdamAvailable();
    const stepSize = this.form === 'folded' ? (lr * Math.sqrt(1 - Math.pow(b2, t))) / (1 - Math.pow(b1, t)) : lr / (1 - Math.pow(b1, t));
    const sqrtBc2 = Math.sqrt(1 - Math.pow(b2, t));
    tf.tidy(() => {
      for (const name of Object.keys(grads)) {
        const g = grads[name];
        if (fused && g.dtype === 'float32' && g.size === vars[name].size) {
          const [p, m, v] = fusedAdamStep(vars[name], g, this.m[name], this.v[name], { b1, c1: 1 - b1, b2, c2: 1 - b2, eps, step: stepSize, pytorch: this.form === 'pytorch', sqrtBc2 });
          this.m[name].assign(m);
          this.v[name].assign(v);
          vars[name].assign(p);
        } else if (this.form === 'folded') {
          const { m, v } = this.updateMoments(name, g);
          vars[name].assign(tf.sub(vars[name], tf.mul(tf.div(m, tf.add(tf.sqrt(v), eps)), stepSize)));
        } else {
          const { m, v } = this.updateMoments(name, g);
          const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), eps);
          vars[name].assign(tf.sub(vars[name], tf.mul(tf.div(m, denom), stepSize)));
        }
      }
    });
  }

  /** m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2; stores and returns both (call inside a tidy). */
  private updateMoments(name: string, g: tf.Tensor): { m: tf.Tensor; v: tf.Tensor } {
    const m = tf.add(tf.mul(this.m[name], this.beta1), tf.mul(g, 1 - this.beta1));
    const v = tf.add(tf.mul(this.v[name], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    this.m[name].assign(m);
    this.v[name].assign(v);
    return { m, v };
  }

  /**
   * Both moments of every parameter as typed arrays, named by `key` (the step count is `this.step`): every first
   * moment, then every second moment, each in the order of the record the optimizer was built with.
   */
  getState(key: AdamStateKey = defaultKey): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const name of Object.keys(this.m)) out[key('m', name)] = this.m[name].dataSync() as Float32Array;
    for (const name of Object.keys(this.v)) out[key('v', name)] = this.v[name].dataSync() as Float32Array;
    return out;
  }

  /**
   * Restore the moments from arrays named by `key` (as `getState` wrote them) and, when given, the step count.
   * Throws `ModelFormatError` naming the first missing or mis-sized array.
   */
  setState(values: Record<string, ArrayLike<number>>, step?: number, key: AdamStateKey = defaultKey, where = 'Adam.setState'): void {
    if (step !== undefined) check(Number.isInteger(step) && step >= 0, `${where}(step)`, 'an integer >= 0', step);
    // Check everything before assigning anything, so a bad file leaves the optimizer as it was.
    for (const name of Object.keys(this.m)) {
      for (const moment of ['m', 'v'] as const) {
        const k = key(moment, name);
        const arr = values[k];
        const size = this.m[name].size;
        if (!arr || arr.length !== size) {
          throw new ModelFormatError('optimizer moment missing or wrong size', {
            where: `${where} (${k})`,
            expected: `${size} values of shape [${this.m[name].shape.join(', ')}]`,
            got: arr ? `${arr.length} values` : 'nothing',
            hint: 'The saved state was written for a different network configuration; load it with the config it was saved with.',
          });
        }
      }
    }
    for (const name of Object.keys(this.m)) {
      for (const moment of ['m', 'v'] as const) {
        const target = moment === 'm' ? this.m[name] : this.v[name];
        tf.tidy(() => target.assign(tf.tensor(Float32Array.from(values[key(moment, name)]), target.shape)));
      }
    }
    if (step !== undefined) this.step = step;
  }

  dispose(): void {
    for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.dispose();
  }
}

export interface ClipOptions {
  /**
   * Added to the norm before dividing: scale = min(maxNorm / (norm + epsilon), 1). Default 0, which gives exactly
   * tf.clipByGlobalNorm's maxNorm / max(norm, maxNorm); torch.nn.utils.clip_grad_norm_ uses 1e-6.
   */
  epsilon?: number;
}

/**
 * Scale `grads` so that their global L2 norm sqrt(sum of every squared element) is at most `maxNorm`. Returns the
 * scaled gradients (new tensors, same keys) and the norm before clipping (a scalar tensor); the caller disposes them.
 * When `maxNorm` is not a positive finite number nothing is clipped and `grads` itself comes back.
 */
export function clipByGlobalNorm<G extends Record<string, tf.Tensor>>(grads: G, maxNorm: number, options: ClipOptions = {}): { grads: G; norm: tf.Scalar } {
  const epsilon = options.epsilon ?? 0;
  check(epsilon >= 0 && Number.isFinite(epsilon), 'clipByGlobalNorm options.epsilon', 'a finite number >= 0', epsilon);
  const names = Object.keys(grads);
  check(names.length > 0, 'clipByGlobalNorm(grads)', 'at least one gradient', names.length);
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar;
    if (!(maxNorm > 0 && Number.isFinite(maxNorm))) return { grads, norm };
    const scale = tf.minimum(tf.div(maxNorm, epsilon > 0 ? tf.add(norm, epsilon) : norm), 1);
    const out: Record<string, tf.Tensor> = {};
    for (const n of names) out[n] = tf.mul(grads[n], scale);
    return { grads: out as G, norm };
  });
}

/**
 * Move target-network variables towards the online network: `target = tau * source + (1 - tau) * target` for every
 * name in `target` (Polyak averaging, as DDPG/TD3 and soft-update DQN use); `tau` 1 (the default) copies exactly,
 * 0 leaves the target as it is.
 */
export function softUpdate(target: Record<string, tf.Variable>, source: Record<string, tf.Tensor>, tau = 1): void {
  check(tau >= 0 && tau <= 1, 'softUpdate(tau)', 'a number in [0, 1]', tau);
  for (const name of Object.keys(target)) {
    const s = source[name];
    const shape = target[name].shape;
    if (!s || s.rank !== shape.length || s.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeError('source missing or of another shape', {
        where: `softUpdate (${name})`,
        expected: `a tensor of shape [${shape.join(', ')}]`,
        got: s ? `shape [${s.shape.join(', ')}]` : 'nothing',
        hint: 'Target and source must be built from the same network configuration, with the same names.',
      });
    }
  }
  tf.tidy(() => {
    for (const name of Object.keys(target)) {
      const s = source[name];
      target[name].assign(tau === 1 ? tf.clone(s) : tf.add(tf.mul(s, tau), tf.mul(target[name], 1 - tau)));
    }
  });
}
