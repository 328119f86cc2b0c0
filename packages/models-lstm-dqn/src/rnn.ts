/**
 * Recurrent layers written on tfjs-core ops: LSTM and GRU, multi-layer, optionally bidirectional, with dropout
 * between layers. Two choices keep the op count low (what decides speed on wasm and cpu):
 * - the input projection of all time steps is one big matMul `[T*B, in] x [in, G*H]` per layer and direction;
 * - each step does one fused matMul `[B, H] x [H, G*H]` for all gates, then one sigmoid over all gates (tanh is
 *   computed as 2 sigmoid(2x) - 1, much faster on wasm); on wasm an LSTM step's gate arithmetic is instead one
 *   fused SIMD kernel each way (lstm-cell.ts).
 * LSTM gate layout in our kernels is [i, f, o, g] (Keras uses [i, f, g, o]; `fromKerasLstm` reorders).
 * GRU follows the "reset after" form used by PyTorch and Keras 2 (gates [z, r, n]):
 *   z = s(x Wz + bz + h Uz + cz), r = s(x Wr + br + h Ur + cr), n = tanh(x Wn + bn + r * (h Un + cn)),
 *   h' = (1 - z) n + z h.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamShapes, ParamTensors } from './params.js';
import { fusedLstmCell, fusedLstmCellAvailable } from './lstm-cell.js';

export type CellType = 'lstm' | 'gru';

export interface RecurrentSpec {
  cell: CellType;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  /** Dropout on each layer's output sequence except the last (training only). */
  dropout: number;
  /**
   * `allSteps`: one matMul `[T*B, in] x [in, G*H]` projects every time step, then a split hands each step its block;
   * `perStep`: one `[B, in] x [in, G*H]` matMul per step, no split/concat (faster on wasm, where the big matMul
   * is no faster than T small ones and SplitV/Concat copies cost more than they save). Same numbers either way.
   */
  inputProjection?: 'allSteps' | 'perStep';
  /** `fused` (default): the fused LSTM cell kernels where they run (wasm); `ops`: the op-by-op cell. */
  cellKernel?: 'fused' | 'ops';
}

function gates(cell: CellType): number {
  return cell === 'lstm' ? 4 : 3;
}

/** Parameter names and shapes, prefixed `prefix` (e.g. `rnn.l0.fw.kernel`). */
export function recurrentParamShapes(spec: RecurrentSpec, prefix = 'rnn'): ParamShapes {
  const shapes: ParamShapes = {};
  const G = gates(spec.cell);
  const H = spec.hiddenSize;
  const dirs = spec.bidirectional ? ['fw', 'bw'] : ['fw'];
  for (let l = 0; l < spec.numLayers; l++) {
    const inSize = l === 0 ? spec.inputSize : H * dirs.length;
    for (const d of dirs) {
      const p = `${prefix}.l${l}.${d}`;
      shapes[`${p}.kernel`] = [inSize, G * H];
      shapes[`${p}.recurrent`] = [H, G * H];
      if (spec.cell === 'lstm') shapes[`${p}.lstmBias`] = [G * H];
      else {
        shapes[`${p}.bias`] = [G * H];
        shapes[`${p}.recurrentBias`] = [G * H];
      }
    }
  }
  return shapes;
}

export function recurrentOutputSize(spec: RecurrentSpec): number {
  return spec.hiddenSize * (spec.bidirectional ? 2 : 1);
}

/**
 * tanh(x) = 2 sigmoid(2x) - 1. On wasm, tfjs' Tanh kernel is about 7x slower than Sigmoid (69 vs 9 us on a
 * 64 x 128 block, measured here), so the four cheap ops win; on other backends it costs little.
 */
function tanh(x: tf.Tensor): tf.Tensor {
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
}

/** Run one direction of one layer over the per-step projected inputs `xProj` (each `[B, G*H]`). */
function runDirection(cell: CellType, xProj: tf.Tensor[], U: tf.Tensor2D, recurrentBias: tf.Tensor | null, H: number, reverse: boolean, allowFused: boolean): tf.Tensor2D[] {
  const T = xProj.length;
  const B = xProj[0].shape[0];
  const outs: tf.Tensor2D[] = new Array(T);
  let h: tf.Tensor2D | null = null;
  let c: tf.Tensor2D | null = null;
  // On wasm: the fused cell kernels (lstm-cell.ts), one call per step each way.
  const fused = cell === 'lstm' && allowFused && fusedLstmCellAvailable(H);
  // Otherwise one sigmoid over all four gates, the candidate block pre-scaled by 2 so g = 2 s_g - 1 = tanh(z_g).
  const gateScale = cell === 'lstm' && !fused ? tf.concat([tf.ones([3 * H]), tf.fill([H], 2)]) : null;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    if (fused) {
      const z = (h ? tf.add(xProj[t], tf.matMul(h, U)) : xProj[t]) as tf.Tensor2D;
      [h, c] = fusedLstmCell(z, c ?? (tf.zeros([B, H]) as tf.Tensor2D));
    } else if (cell === 'lstm') {
      // h = 0 at the first step, so its recurrent matMul is skipped.
      const z = h ? tf.add(xProj[t], tf.matMul(h, U)) : xProj[t];
      const [i, f, o, g2] = tf.split(tf.sigmoid(tf.mul(z, gateScale!)), 4, 1) as tf.Tensor2D[];
      const g = tf.sub(tf.mul(g2, 2), 1);
      c = c ? (tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D) : (tf.mul(i, g) as tf.Tensor2D);
      h = tf.mul(o, tanh(c)) as tf.Tensor2D;
    } else {
      const x = xProj[t];
      const hp = h ? tf.add(tf.matMul(h, U), recurrentBias!) : tf.reshape(tf.tile(tf.reshape(recurrentBias!, [1, 3 * H]), [B, 1]), [B, 3 * H]);
      const zr = tf.sigmoid(tf.add(tf.slice(x, [0, 0], [B, 2 * H]), tf.slice(hp, [0, 0], [B, 2 * H])));
      const [zg, rg] = tf.split(zr, 2, 1);
      const n = tanh(tf.add(tf.slice(x, [0, 2 * H], [B, H]), tf.mul(rg, tf.slice(hp, [0, 2 * H], [B, H]))));
      // h' = (1 - z) n + z h = n + z (h - n); with h = 0: n - z n.
      h = (h ? tf.add(n, tf.mul(zg, tf.sub(h, n))) : tf.sub(n, tf.mul(zg, n))) as tf.Tensor2D;
    }
    outs[t] = h;
  }
  return outs;
}

export interface RecurrentOutput {
  /** Per-step outputs of the last layer, time-major: T tensors `[B, D]`. */
  steps: tf.Tensor2D[];
  /** Summary state `[B, D]`: last step of the forward direction, joined with the first step of the backward one. */
  last: tf.Tensor2D;
}

export interface RunOptions {
  training: boolean;
  /** Dropout seed (required for reproducible training). */
  seed?: number;
}

/**
 * Apply the stacked recurrent layers to `x` `[B, T, F]`. Call inside `tf.tidy` (intermediates are not disposed here).
 */
export function runRecurrent(params: ParamTensors, spec: RecurrentSpec, x: tf.Tensor3D, opts: RunOptions, prefix = 'rnn'): RecurrentOutput {
  const [B, T, F] = x.shape;
  const H = spec.hiddenSize;
  const dirs = spec.bidirectional ? ['fw', 'bw'] : ['fw'];
  const allSteps = (spec.inputProjection ?? 'allSteps') === 'allSteps';
  // Time-major 2-D input: a step's rows are contiguous.
  const x2 = tf.reshape(tf.transpose(x, [1, 0, 2]), [T * B, F]) as tf.Tensor2D;
  let layerIn: tf.Tensor2D | null = allSteps ? x2 : null;
  let layerSteps: tf.Tensor2D[] | null = allSteps ? null : T === 1 ? [x2] : (tf.split(x2, T, 0) as tf.Tensor2D[]);
  let steps: tf.Tensor2D[] = [];
  let dirOuts: tf.Tensor2D[][] = [];
  for (let l = 0; l < spec.numLayers; l++) {
    dirOuts = [];
    for (const d of dirs) {
      const p = `${prefix}.l${l}.${d}`;
      const kernel = params[`${p}.kernel`] as tf.Tensor2D;
      const bias = spec.cell === 'lstm' ? params[`${p}.lstmBias`] : params[`${p}.bias`];
      let xs: tf.Tensor[];
      if (allSteps) {
        // One matMul projects every step; split along axis 0 gives each step's [B, G*H] block.
        const proj = tf.add(tf.matMul(layerIn!, kernel), bias);
        xs = T === 1 ? [proj] : tf.split(proj, T, 0);
      } else {
        xs = layerSteps!.map((r) => tf.add(tf.matMul(r, kernel), bias));
      }
      dirOuts.push(runDirection(spec.cell, xs, params[`${p}.recurrent`] as tf.Tensor2D, spec.cell === 'gru' ? params[`${p}.recurrentBias`] : null, H, d === 'bw', spec.cellKernel !== 'ops'));
    }
    steps = dirs.length === 1 ? dirOuts[0] : dirOuts[0].map((o, t) => tf.concat([o, dirOuts[1][t]], 1) as tf.Tensor2D);
    if (l < spec.numLayers - 1) {
      const drop = opts.training && spec.dropout > 0;
      const seed = (opts.seed ?? 0) + 7919 * (l + 1);
      if (allSteps) {
        const seq = tf.concat(steps, 0) as tf.Tensor2D; // [T*B, D], time-major
        layerIn = drop ? (tf.dropout(seq, spec.dropout, undefined, seed) as tf.Tensor2D) : seq;
      } else {
        layerSteps = drop ? steps.map((s, t) => tf.dropout(s, spec.dropout, undefined, seed + 31 * t) as tf.Tensor2D) : steps;
      }
    }
  }
  const last = dirs.length === 1 ? steps[T - 1] : (tf.concat([dirOuts[0][T - 1], dirOuts[1][0]], 1) as tf.Tensor2D);
  return { steps, last };
}

/**
 * Convert Keras/tfjs-layers LSTM weights (kernel [in, 4H], recurrent [H, 4H], bias [4H], gate order i, f, c, o)
 * into ours (gate order i, f, o, g).
 */
export function fromKerasLstm(kernel: Float32Array, recurrent: Float32Array, bias: Float32Array, inSize: number, H: number): { kernel: Float32Array; recurrent: Float32Array; lstmBias: Float32Array } {
  const order = [0, 1, 3, 2]; // ours[k] = keras[order[k]]
  const reorder = (src: Float32Array, rows: number) => {
    const dst = new Float32Array(src.length);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < 4; k++) {
        for (let j = 0; j < H; j++) dst[r * 4 * H + k * H + j] = src[r * 4 * H + order[k] * H + j];
      }
    }
    return dst;
  };
  return { kernel: reorder(kernel, inSize), recurrent: reorder(recurrent, H), lstmBias: reorder(bias, 1) };
}
