import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { paperNetwork, networkParamShapes, qValues } from './network.js';
import { createVariables, disposeVariables } from './params.js';
import { LstmDqn } from './lstm-dqn.js';
import { ItemVocab } from './vocab.js';

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

describe('item-id input with a vocabulary (LstmDqn)', () => {
  // Vocabulary index 0 = item 40, 1 = item 7, 2 = item 13. The environment writes log item ids into the state.
  const vocab = ItemVocab.fromItems(Int32Array.from([40, 7, 13]));
  const network = { seqLen: 3, featureDim: 3, hidden: 8, layers: 1, mlp: [8], itemInputDim: 4, rnnDropout: 0, mlpDropout: 0 };
  const raw = (ids: number[]) => {
    const s = new Float32Array(ids.length * 3);
    ids.forEach((id, t) => s.set([0.5, t / 3, id], t * 3));
    return s;
  };

  it('maps the state item ids through the vocabulary (out of vocabulary and padding -> the unknown row)', () => {
    const agent = new LstmDqn({ vocab, network, seed: 3 });
    const got = agent.qValues(raw([7, 40, 99]));
    // Reference: the network fed vocabulary indices directly (99 is not in the vocabulary: -1).
    const want = tf.tidy(() => qValues(agent.online as never, agent.config.network, tf.tensor3d(raw([1, 0, -1]), [1, 3, 3]), { training: false }).dataSync());
    // Same mapping on both inference paths: exact on tfjs, float-rounding close on the SIMD engine.
    const viaTfjs = new LstmDqn({ vocab, network, seed: 3, inference: 'tfjs' });
    expect(Array.from(viaTfjs.qValues(raw([7, 40, 99])))).toEqual(Array.from(want));
    viaTfjs.dispose();
    expect(agent.inferenceEngine).toBe('wasm-simd');
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    // Raw id 1 is item 1, which is not in the vocabulary: the same as any other unknown id, not vocabulary index 1.
    expect(Array.from(agent.qValues(raw([-1, 1, 13])))).toEqual(Array.from(agent.qValues(raw([-1, 99, 13]))));
    expect(Array.from(agent.qValues(raw([-1, 7, 13])))).not.toEqual(Array.from(agent.qValues(raw([-1, 99, 13]))));
    agent.dispose();
  });

  it('trains the table rows of the items in the replayed states, not the rows their raw ids would index', () => {
    const agent = new LstmDqn({ vocab, network, seed: 4, learningStarts: 1, batchSize: 4, feedbackTrainSteps: 1 });
    const before = (agent.online['items.input'] as tf.Tensor).arraySync() as number[][];
    const obs = raw([-1, 40, 7]);
    agent.updateFromFeedback({ obs, items: Int32Array.from([13]), rewards: Float32Array.from([1]), nextObs: raw([40, 7, 13]), dones: Uint8Array.from([1]) });
    const after = (agent.online['items.input'] as tf.Tensor).arraySync() as number[][];
    const changed = after.map((row, i) => row.some((v, j) => v !== before[i][j]));
    // Rows: 0 = unknown/padding, 1 = item 40, 2 = item 7, 3 = item 13 (only in the next state, which has no gradient).
    expect(changed).toEqual([true, true, true, false]);
    agent.dispose();
  });
});
