/**
 * Multi-head self-attention (Vaswani et al. 2017) over the recurrent outputs, with a residual connection, then
 * mean-pooled over time. Transposes are explicit `tf.transpose` calls (no matMul transpose flags: slow on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamShapes, ParamTensors } from './params.js';

export function attentionParamShapes(dim: number, prefix = 'attn'): ParamShapes {
  return {
    [`${prefix}.q`]: [dim, dim],
    [`${prefix}.k`]: [dim, dim],
    [`${prefix}.v`]: [dim, dim],
    [`${prefix}.o`]: [dim, dim],
    [`${prefix}.q.bias`]: [dim],
    [`${prefix}.k.bias`]: [dim],
    [`${prefix}.v.bias`]: [dim],
    [`${prefix}.o.bias`]: [dim],
  };
}

/** `steps`: T tensors `[B, D]` (time-major). Returns the pooled `[B, D]`. Call inside tf.tidy. */
export function selfAttentionPool(params: ParamTensors, steps: tf.Tensor2D[], heads: number, prefix = 'attn'): tf.Tensor2D {
  const T = steps.length;
  const [B, D] = steps[0].shape;
  const dk = D / heads;
  const x = tf.concat(steps, 0) as tf.Tensor2D; // [T*B, D]
  const proj = (name: string) => {
    const y = tf.add(tf.matMul(x, params[`${prefix}.${name}`] as tf.Tensor2D), params[`${prefix}.${name}.bias`]);
    // [T, B, h, dk] -> [B, h, T, dk] -> [B*h, T, dk]
    return tf.reshape(tf.transpose(tf.reshape(y, [T, B, heads, dk]), [1, 2, 0, 3]), [B * heads, T, dk]) as tf.Tensor3D;
  };
  const q = proj('q');
  const k = proj('k');
  const v = proj('v');
  const scores = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1]) as tf.Tensor3D), 1 / Math.sqrt(dk));
  const attn = tf.softmax(scores, -1) as tf.Tensor3D;
  const ctx = tf.matMul(attn, v); // [B*h, T, dk]
  // back to [T*B, D] time-major
  const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [B, heads, T, dk]), [2, 0, 1, 3]), [T * B, D]) as tf.Tensor2D;
  const out = tf.add(tf.add(tf.matMul(merged, params[`${prefix}.o`] as tf.Tensor2D), params[`${prefix}.o.bias`]), x);
  return tf.mean(tf.reshape(out, [T, B, D]), 0) as tf.Tensor2D;
}
