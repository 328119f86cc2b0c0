/**
 * tfjs-core registers no gradients when loaded in Node (its Node bundle leaves them out, and the deep ESM import
 * `dist/register_all_gradients` uses extensionless paths that Node refuses). This module is bundled by tsup
 * together with that deep import, so importing @rec/core registers every gradient once.
 *
 * It then replaces the BatchMatMul gradient: tfjs-core's version calls matMul with transpose flags, which is
 * 10-30x slower on wasm (XNNPACK is used only without flags) and hits a wrong-result bug of
 * tfjs-backend-webgpu 4.22 (SplitK program with transposeB). Ours transposes explicitly (a matrix by `transpose2d`,
 * our SIMD kernel on wasm), then multiplies plainly.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { transpose2d } from './transpose.js';

type T = tf.Tensor;

function swapLast2(x: T): T {
  if (x.rank === 2) return transpose2d(x as tf.Tensor2D);
  const r = x.rank;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return tf.transpose(x, perm);
}

/** Plain matMul of (optionally explicitly transposed) operands; never passes transpose flags. */
export function matMulNoFlags(a: T, b: T, transposeA = false, transposeB = false): T {
  const aa = transposeA ? swapLast2(a) : a;
  const bb = transposeB ? swapLast2(b) : b;
  return tf.matMul(aa as tf.Tensor2D, bb as tf.Tensor2D);
}

function reduceToShape(g: T, shape: number[]): T {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const extra = g.rank - shape.length;
  let out = g;
  if (extra > 0) out = tf.sum(out, Array.from({ length: extra }, (_, i) => i));
  const axes: number[] = [];
  for (let i = 0; i < shape.length; i++) if (shape[i] === 1 && out.shape[i] !== 1) axes.push(i);
  if (axes.length) out = tf.sum(out, axes, true);
  return tf.reshape(out, shape);
}

let registered = false;

/** Register the transpose-free BatchMatMul gradient (idempotent). Called on import of @rec/core. */
export function registerFastGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy: T | T[], saved: T[], attrs: tf.NamedAttrMap) => {
      const [a, b] = saved;
      const g = dy as T;
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const mm = (x: T, y: T) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D);
      if (!transposeA && !transposeB) {
        return { a: () => reduceToShape(mm(g, swapLast2(b)), a.shape), b: () => reduceToShape(mm(swapLast2(a), g), b.shape) };
      }
      if (!transposeA && transposeB) {
        return { a: () => reduceToShape(mm(g, b), a.shape), b: () => reduceToShape(mm(swapLast2(g), a), b.shape) };
      }
      if (transposeA && !transposeB) {
        return { a: () => reduceToShape(mm(b, swapLast2(g)), a.shape), b: () => reduceToShape(mm(a, g), b.shape) };
      }
      return {
        a: () => reduceToShape(mm(swapLast2(b), swapLast2(g)), a.shape),
        b: () => reduceToShape(mm(swapLast2(g), swapLast2(a)), b.shape),
      };
    },
  });
}

registerFastGradients();
