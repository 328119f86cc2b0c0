/**
 * The two model packages, through their public APIs, give the same numbers on wasm and webgpu as on cpu.
 * Each run builds its model with the same seed and the same data, so only the kernels differ.
 *
 * - LSTM-DQN agent (`LstmDqn.qValues`, `trainStep`): cpu and wasm. Its API is synchronous (`dataSync`), and
 *   tfjs-backend-webgpu 4.22 implements synchronous reads only through OffscreenCanvas, which exists in browsers
 *   but not in Node ("OffscreenCanvas is not defined"): on webgpu-in-Node the agent cannot run as is.
 * - LSTM-DQN network (`qValues` of the package, the paper network with dropout in training mode) and the gradient
 *   of trainStep's loss (Huber on the one-hot-picked Q(s, a)) w.r.t. every parameter: cpu, wasm and webgpu.
 * - TD3 (`createTd3`, `update(batch, readLosses = false)`, which makes no synchronous read): two updates (batch
 *   norm and dropout in training mode, delayed actor step), then every actor/critic weight and the actor's
 *   actions, read asynchronously: cpu, wasm and webgpu.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@rec/core';
import { TOLERANCE, closeness, describeBackends, type Tolerance } from '@rec/core/testing';
import { Adam, LstmDqn, clipByGlobalNorm, createVariables, networkParamShapes, paperNetwork, qValues } from '@rec/models-lstm-dqn';
import { createTd3 } from '@rec/models-td3';

/**
 * After one Adam step every parameter moves by about lr * sign(g) (Adam's first step is m / sqrt(v) = g / |g|), so
 * a gradient entry at rounding level could move either way on two backends. Measured here: none did (Q after the
 * step agrees to float rounding); the floor of 1e-4 stays 10x below the ~4e-3 change the step makes, which the
 * test also asserts so that the comparison means something.
 */
const AFTER_ADAM_STEP: Tolerance = { atol: 1e-4, rtol: 1e-3 };

// 2048 items and a 32-wide state feature: the Q-head's input gradient dq @ Wq^T is [32, 32] with K = 2048, the
// shape where tfjs-backend-webgpu 4.22 picks its buggy SplitK program if the transpose flag is used.
const LSTM = { items: 2048, seqLen: 5, featureDim: 6, batch: 32 };

/** Item ids for the last feature column of every step (the `itemInputDim` option): -1 = padding. */
function withItemIds(states: Float32Array, rng: Rng): Float32Array {
  for (let i = LSTM.featureDim - 1; i < states.length; i += LSTM.featureDim) states[i] = rng.next() < 0.2 ? -1 : rng.int(LSTM.items);
  return states;
}

function lstmRun(itemInputDim = 0): tf.Tensor[] {
  const agent = new LstmDqn({
    numActions: LSTM.items,
    network: { seqLen: LSTM.seqLen, featureDim: LSTM.featureDim, hidden: 16, layers: 1, mlp: [32], itemInputDim },
    batchSize: LSTM.batch,
    bufferSize: 256,
    learningStarts: LSTM.batch,
    feedbackTrainSteps: 0,
    seed: 11,
  });
  try {
    const rng = new Rng('cross-backend-lstm');
    const S = LSTM.seqLen * LSTM.featureDim;
    const n = 128;
    // Through the public feedback path (feedbackTrainSteps: 0 stores without training; the step is taken below).
    const states = (m: number) => {
      const x = rng.fillNormal(new Float32Array(m * S)) as Float32Array;
      return itemInputDim > 0 ? withItemIds(x, rng) : x;
    };
    agent.updateFromFeedback({
      obs: states(n),
      items: Int32Array.from({ length: n }, () => rng.int(LSTM.items)),
      rewards: Float32Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0)),
      nextObs: states(n),
      dones: Uint8Array.from({ length: n }, () => (rng.next() < 0.1 ? 1 : 0)),
    });
    const probe = states(8);
    const qBefore = agent.qValues(probe);
    const loss = agent.trainStep();
    const qAfter = agent.qValues(probe);
    return [tf.tensor1d(qBefore), tf.scalar(loss), tf.tensor1d(qAfter), tf.tensor1d(Float32Array.from(qAfter, (v, i) => v - qBefore[i]))];
  } finally {
    agent.dispose();
  }
}

const TD3 = { stateDim: 12, actionDim: 8, batch: 64 };

function td3Run(): tf.Tensor[] {
  const agent = createTd3({ ...TD3, batchSize: TD3.batch, actorHidden: [64, 64], criticHidden: [64, 64], replayCapacity: 256, seed: 5 });
  try {
    const rng = new Rng('cross-backend-td3');
    const batch = () => ({
      obs: rng.fillNormal(new Float32Array(TD3.batch * TD3.stateDim)) as Float32Array,
      action: rng.fillUniform(new Float32Array(TD3.batch * TD3.actionDim), -1, 1) as Float32Array,
      reward: Float32Array.from({ length: TD3.batch }, () => rng.normal()),
      nextObs: rng.fillNormal(new Float32Array(TD3.batch * TD3.stateDim)) as Float32Array,
      done: Uint8Array.from({ length: TD3.batch }, () => (rng.next() < 0.1 ? 1 : 0)),
    });
    const probe = tf.tensor2d(rng.fillNormal(new Float32Array(8 * TD3.stateDim)) as Float32Array, [8, TD3.stateDim]);
    const before = agent.actor.apply(probe, false);
    agent.update(batch(), false);
    agent.update(batch(), false); // policyDelay 2: the actor and the targets update here
    const weights = [agent.actor, agent.critic1, agent.critic2, agent.actorTarget].flatMap((m) => m.named().map(([, v]) => tf.clone(v)));
    return [before, agent.actor.apply(probe, false), ...weights];
  } finally {
    agent.dispose();
  }
}

describeBackends('LSTM-DQN agent (@rec/models-lstm-dqn)', (ctx) => {
  it('forward Q-values and the training-step loss match cpu', async () => {
    const [got, want] = [await ctx.run(lstmRun), await ctx.onCpu(lstmRun)];
    expect(closeness(got[0], want[0], TOLERANCE.forward).ok, `Q before: max |diff| ${closeness(got[0], want[0], TOLERANCE.forward).maxAbsDiff}`).toBe(true);
    expect(closeness(got[1], want[1], TOLERANCE.gradient).ok, `loss ${got[1][0]} vs ${want[1][0]}`).toBe(true);
  });

  it('Q-values after one Adam step match cpu, and the step moved them by more than the tolerance', async () => {
    const [got, want] = [await ctx.run(lstmRun), await ctx.onCpu(lstmRun)];
    const c = closeness(got[2], want[2], AFTER_ADAM_STEP);
    expect(c.ok, `Q after: max |diff| ${c.maxAbsDiff}`).toBe(true);
    const moved = Math.max(...Array.from(want[3], Math.abs));
    expect(moved).toBeGreaterThan(10 * AFTER_ADAM_STEP.atol);
  });

  it('with the item-id input (itemInputDim: a learned item table, gather + scatter-add gradient): Q, loss and Q after a step match cpu', async () => {
    const run = () => lstmRun(8);
    const [got, want] = [await ctx.run(run), await ctx.onCpu(run)];
    expect(closeness(got[0], want[0], TOLERANCE.forward).ok, 'Q before').toBe(true);
    expect(closeness(got[1], want[1], TOLERANCE.gradient).ok, `loss ${got[1][0]} vs ${want[1][0]}`).toBe(true);
    const c = closeness(got[2], want[2], AFTER_ADAM_STEP);
    expect(c.ok, `Q after: max |diff| ${c.maxAbsDiff}`).toBe(true);
  });
}, { backends: ['cpu', 'wasm'] });

/** The paper network scaled down, dropout on; the Q-head backward dq @ Wq^T is [32, 32] with K = 2048 (SplitK). */
const NET = paperNetwork(LSTM.items, { seqLen: LSTM.seqLen, featureDim: LSTM.featureDim, hidden: 16, layers: 2, mlp: [64, 32] });

/** The same with the item-id input: the last feature column holds item ids, embedded by a learned table. */
const NET_ITEMS = { ...NET, itemInputDim: 8 };

function lstmNetworkStep(net = NET): tf.Tensor[] {
  const NET_ = net;
  const shapes = networkParamShapes(NET_);
  const names = Object.keys(shapes).sort();
  const params = names.map((n, i) => tf.tensor(new Rng(`net-${n}`).fillNormal(new Float32Array(shapes[n].reduce((a, b) => a * b, 1)), 0, i % 2 ? 0.05 : 0.2) as Float32Array, shapes[n]));
  const rng = new Rng('net-batch');
  const S = LSTM.seqLen * LSTM.featureDim;
  const raw = rng.fillNormal(new Float32Array(LSTM.batch * S)) as Float32Array;
  const obs = tf.tensor3d((NET_.itemInputDim ?? 0) > 0 ? withItemIds(raw, rng) : raw, [LSTM.batch, LSTM.seqLen, LSTM.featureDim]);
  const actions = tf.tensor1d(Int32Array.from({ length: LSTM.batch }, () => rng.int(LSTM.items)), 'int32');
  const target = tf.tensor1d(Float32Array.from({ length: LSTM.batch }, () => rng.normal(0, 0.5)));
  const lossOf = (...ts: tf.Tensor[]) => {
    const p = Object.fromEntries(names.map((n, i) => [n, ts[i]]));
    const q = qValues(p, NET_, obs, { training: true, seed: 1234 });
    const qa = tf.sum(tf.mul(q, tf.oneHot(actions, LSTM.items, 1, 0, 'float32')), 1);
    const absd = tf.abs(tf.sub(qa, target));
    const m = tf.minimum(absd, 1); // Huber(1), as in LstmDqn.trainStep
    return tf.mean(tf.add(tf.mul(tf.square(m), 0.5), tf.sub(absd, m))) as tf.Scalar;
  };
  const evalQ = qValues(Object.fromEntries(names.map((n, i) => [n, params[i]])), NET_, obs, { training: false });
  const { value, grads } = tf.valueAndGrads(lossOf)(params);
  return [evalQ, value, ...grads];
}

/** The rest of trainStep: clip the gradients to global norm 0.05 (a tf.addN over every parameter) and one Adam step. */
function lstmNetworkClipAndAdam(): tf.Tensor[] {
  const [, , ...grads] = lstmNetworkStep();
  const names = Object.keys(networkParamShapes(NET)).sort();
  const vars = createVariables(networkParamShapes(NET), new Rng('net-vars'), true);
  const adam = new Adam(vars);
  try {
    const clipped = clipByGlobalNorm(Object.fromEntries(names.map((n, i) => [n, grads[i]])), 0.05);
    adam.apply(vars, clipped.grads, 1e-3);
    return [clipped.norm, ...names.map((n) => tf.clone(vars[n]))];
  } finally {
    adam.dispose();
    tf.dispose(Object.values(vars));
  }
}

describeBackends('LSTM-DQN network and training-step gradients (@rec/models-lstm-dqn qValues)', (ctx) => {
  it('gradient clipping by global norm and the Adam step match cpu', async () => {
    const { expected } = await ctx.compareWithCpu(lstmNetworkClipAndAdam, AFTER_ADAM_STEP);
    expect(expected[0][0]).toBeGreaterThan(0.05); // the clip was active (norm ~0.18)
  });

  it('Q-values, the Huber TD loss in training mode and the gradient of every parameter match cpu', async () => {
    const { actual } = await ctx.compareWithCpu(lstmNetworkStep, TOLERANCE.gradient);
    expect(actual.length).toBe(2 + Object.keys(networkParamShapes(NET)).length);
    for (const g of actual.slice(2)) expect(g.some((v) => v !== 0)).toBe(true);
  });

  it('the same with the item-id input (learned item table: gather forward, scatter-add gradient)', async () => {
    const { actual } = await ctx.compareWithCpu(() => lstmNetworkStep(NET_ITEMS), TOLERANCE.gradient);
    expect(actual.length).toBe(2 + Object.keys(networkParamShapes(NET_ITEMS)).length);
    const table = Object.keys(networkParamShapes(NET_ITEMS)).sort().indexOf('items.input');
    expect(actual[2 + table].some((v) => v !== 0)).toBe(true); // the table gets gradient
  });
});

describeBackends('TD3 update (@rec/models-td3)', (ctx) => {
  it('actions, then every actor, critic and target weight and the actions after two updates, match cpu', async () => {
    const [got, want] = [await ctx.run(td3Run), await ctx.onCpu(td3Run)];
    const before = closeness(got[0], want[0], TOLERANCE.forward);
    expect(before.ok, `actions before: max |diff| ${before.maxAbsDiff}`).toBe(true);
    for (let i = 1; i < want.length; i++) {
      const c = closeness(got[i], want[i], AFTER_ADAM_STEP);
      expect(c.ok, `output ${i} after the updates: max |diff| ${c.maxAbsDiff}`).toBe(true);
    }
    // The updates changed the actor (so the comparison after them is not a comparison of the initial weights).
    expect(closeness(want[1], want[0], AFTER_ADAM_STEP).ok).toBe(false);
  });
});
