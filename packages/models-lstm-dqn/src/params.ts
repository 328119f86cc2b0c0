/**
 * Named parameters as tf.Variables, initialised from a seeded `Rng` (never tfjs' own random state, so a run is
 * reproducible and resumable bit for bit). Adam, clipByGlobalNorm and softUpdate (target sync) live in @rec/core,
 * shared with @rec/models-td3.
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
