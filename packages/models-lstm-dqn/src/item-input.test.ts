import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { paperNetwork, networkParamShapes, qValues } from './network.js';
import { createVariables, disposeVariables } from './params.js';

beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});

/** States [B, T, 3]: two features and an item id per step. */
function states(ids: number[][]): tf.Tensor3D {
  const B = ids.length;
  const T = ids[0].length;
  const data = new Float32Array(B * T * 3);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    data[(b * T + t) * 3] = 0.5;
    data[(b * T + t) * 3 + 1] = t / T;
    data[(b * T + t) * 3 + 2] = ids[b][t];
  }
  return tf.tensor3d(data, [B, T, 3]);
}

describe('item-id input (itemInputDim)', () => {
  const c = paperNetwork(6, { seqLen: 3, featureDim: 3, hidden: 8, layers: 1, mlp: [8], itemInputDim: 4, rnnDropout: 0, mlpDropout: 0 });

  it('adds an embedding table with a padding row, and the item ids change the Q-values', () => {
    expect(networkParamShapes(c)['items.input']).toEqual([7, 4]);
    expect(networkParamShapes(paperNetwork(6))['items.input']).toBeUndefined();
    const params = createVariables(networkParamShapes(c), new Rng(1));
    const q = tf.tidy(() => qValues(params, c, states([[0, 1, 2], [0, 1, 3], [-1, -1, 2], [9, 99, 2]]), { training: false }).arraySync());
    // Different last items give different Q rows; -1 and out-of-vocabulary ids (9, 99) all hit the padding row.
    expect(q[0]).not.toEqual(q[1]);
    expect(q[2].map((v) => v.toFixed(5))).toEqual(q[3].map((v) => v.toFixed(5)));
    disposeVariables(params);
  });

  it('its scatter-add gradient equals the gradient of the equivalent one-hot product', () => {
    const params = createVariables(networkParamShapes(c), new Rng(2));
    const x = states([[1, 1, 4], [2, -1, 4]]);
    const E = params['items.input'];
    const viaLookup = tf.grad((e: tf.Tensor) => tf.sum(qValues({ ...params, 'items.input': e as tf.Tensor2D } as never, c, x, { training: false })))(E);
    // Reference: the same network with the id column turned into one-hot rows times E (plain matMul gradient).
    const ref = tf.grad((e: tf.Tensor) => {
      const [B, T] = x.shape;
      const ids = tf.reshape(tf.slice(x, [0, 0, 2], [B, T, 1]), [B * T]);
      const rows = tf.cast(tf.where(tf.greaterEqual(ids, 0), tf.add(ids, 1), tf.zerosLike(ids)), 'int32') as tf.Tensor1D;
      const emb = tf.reshape(tf.matMul(tf.oneHot(rows, 7, 1, 0, 'float32') as tf.Tensor2D, e as tf.Tensor2D), [B, T, 4]);
      const noItems = { ...c, itemInputDim: 0, featureDim: 6 };
      const xin = tf.concat([tf.slice(x, [0, 0, 0], [B, T, 2]), emb], 2) as tf.Tensor3D;
      return tf.sum(qValues(params as never, noItems, xin, { training: false }));
    })(E);
    const a = viaLookup.arraySync() as number[][];
    const b = ref.arraySync() as number[][];
    for (let i = 0; i < 7; i++) for (let j = 0; j < 4; j++) expect(a[i][j]).toBeCloseTo(b[i][j], 5);
    // Items 1, 2 and 4 and the padding row got gradient; items 0, 3 and 5 never appeared.
    for (const row of [0, 2, 3, 5]) expect(a[row].some((v) => v !== 0)).toBe(true);
    for (const row of [1, 4, 6]) expect(a[row].every((v) => v === 0)).toBe(true);
    disposeVariables(params);
    tf.dispose([x, viaLookup, ref]);
  });
});
