import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { actionValues, networkParamShapes, paperNetwork, qValues } from './network.js';
import { createVariables, disposeVariables } from './params.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('actionValues (gather forward, scatter-add backward)', () => {
  for (const head of ['dense', 'embedding'] as const) {
    it(`${head} head: same value and gradients as the one-hot mask, duplicate actions included`, () => {
      const c = paperNetwork(9, { seqLen: 3, featureDim: 4, hidden: 5, layers: 1, mlp: [6], head, embeddingDim: 3, rnnDropout: 0, mlpDropout: 0 });
      const vars = createVariables(networkParamShapes(c), new Rng(1));
      const rng = new Rng(2);
      const x = tf.tensor3d(rng.fillNormal(new Float32Array(4 * 3 * 4)) as Float32Array, [4, 3, 4]);
      const a = tf.tensor1d([2, 7, 2, 0], 'int32'); // action 2 twice: its gradients must add up
      const w = tf.tensor1d([0.5, -1, 2, 1.5]);
      const list = Object.values(vars);
      const viaPick = tf.variableGrads(() => tf.sum(tf.mul(actionValues(vars, c, x, a, { training: false }), w)) as tf.Scalar, list);
      const viaMask = tf.variableGrads(() => tf.sum(tf.mul(tf.sum(tf.mul(qValues(vars, c, x, { training: false }), tf.oneHot(a, 9, 1, 0, 'float32')), 1), w)) as tf.Scalar, list);
      expect(viaPick.value.dataSync()[0]).toBeCloseTo(viaMask.value.dataSync()[0], 5);
      let checked = 0;
      for (const v of list) {
        const g1 = viaPick.grads[v.name].dataSync();
        const g2 = viaMask.grads[v.name].dataSync();
        for (let i = 0; i < g1.length; i++) expect(g1[i]).toBeCloseTo(g2[i], 5);
        checked += g1.length;
      }
      expect(checked).toBeGreaterThan(100);
      disposeVariables(vars);
    });
  }
});
