/**
 * The Q-networks. Paper model (Fan & Lin, IPEC 2022): sequence of 10 steps x 10 features -> LSTM(128) x 2 layers
 * (dropout 0.2) -> Dense 256 ReLU (dropout 0.2) -> Dense 128 ReLU (dropout 0.2) -> one Q-value per item.
 * Variant: 20 x 20 input -> bidirectional LSTM(256) x 3 (dropout 0.3) -> 8-head self-attention -> MLP -> dueling head.
 * Heads: `dense` (a weight column per item) or `embedding` (Q(s, a) = f(s) . e_a + b_a, for large catalogues).
 * Networks are pure functions of a parameter map, so the online and target networks share this code.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '@rec/core';
import { attentionParamShapes, selfAttentionPool } from './attention.js';
import type { ParamShapes, ParamTensors } from './params.js';
import { recurrentOutputSize, recurrentParamShapes, runRecurrent, type CellType, type RecurrentSpec } from './rnn.js';

export interface NetworkConfig {
  /** Steps per state sequence (5, 10 or 20 in the paper's sweep). */
  seqLen: number;
  /** Features per step. */
  featureDim: number;
  /** Number of actions (items in the vocabulary). */
  numActions: number;
  /** Recurrent cell. */
  cell: CellType;
  /** Hidden units per direction. */
  hidden: number;
  /** Stacked recurrent layers. */
  layers: number;
  bidirectional: boolean;
  /** Dropout between recurrent layers. */
  rnnDropout: number;
  /** How recurrent inputs are projected (see RecurrentSpec.inputProjection); same numbers, different speed. */
  inputProjection: 'allSteps' | 'perStep';
  /**
   * `fused` (default): on the wasm backend an LSTM step's gate arithmetic is one SIMD kernel each way (lstm-cell.ts);
   * `ops`: the op-by-op cell on every backend. Same numbers to float rounding, different speed.
   */
  cellKernel?: 'fused' | 'ops';
  /** Self-attention heads over the recurrent outputs (0 = none: use the last step). */
  attentionHeads: number;
  /** Hidden sizes of the ReLU MLP after the recurrent part. */
  mlp: number[];
  /** Dropout after each MLP layer. */
  mlpDropout: number;
  /** `dense`: a weight column per item; `embedding`: Q = f(s) . e_a + b_a. */
  head: 'dense' | 'embedding';
  /** Size of f(s) and e_a for the embedding head. */
  embeddingDim: number;
  /** Dueling: Q = V(s) + A(s, a) - mean_a A(s, a). */
  dueling: boolean;
  /**
   * Start the Q-head weights at zero (Q(s, .) = 0 for every state at step 0), so the initial random spread of
   * Q across thousands of items does not have to be unlearned before small reward differences can rank them.
   */
  zeroInitHead: boolean;
  /**
   * Item-id input: when > 0, the last of the `featureDim` numbers of every step is an item id (a vocabulary index
   * here; -1 or out-of-range = padding/unknown: LstmDqn maps the log item ids of its states through its vocabulary
   * with `itemIdsToVocab` first), looked up in a learned `[numActions + 1, itemInputDim]` table and
   * concatenated with the other `featureDim - 1` features before the recurrent layers. The paper's state (user
   * profile features only) carries no item identity, so without this a Q-network can at best rank items by
   * user-conditioned popularity. 0 (default) = the paper's input.
   */
  itemInputDim: number;
}

/** The paper's network for `numActions` items. */
export function paperNetwork(numActions: number, overrides: Partial<NetworkConfig> = {}): NetworkConfig {
  return {
    seqLen: 10,
    featureDim: 10,
    numActions,
    cell: 'lstm',
    hidden: 128,
    layers: 2,
    bidirectional: false,
    rnnDropout: 0.2,
    inputProjection: 'perStep',
    attentionHeads: 0,
    mlp: [256, 128],
    mlpDropout: 0.2,
    head: 'dense',
    embeddingDim: 64,
    dueling: false,
    zeroInitHead: false,
    itemInputDim: 0,
    ...overrides,
  };
}

/** The stronger variant: 20-d x 20 steps, BiLSTM(256) x 3, 8-head attention, dueling head. */
export function variantNetwork(numActions: number, overrides: Partial<NetworkConfig> = {}): NetworkConfig {
  return {
    ...paperNetwork(numActions),
    seqLen: 20,
    featureDim: 20,
    hidden: 256,
    layers: 3,
    bidirectional: true,
    rnnDropout: 0.3,
    attentionHeads: 8,
    mlpDropout: 0.3,
    dueling: true,
    ...overrides,
  };
}

export function validateNetwork(c: NetworkConfig, where = 'NetworkConfig'): void {
  for (const k of ['seqLen', 'featureDim', 'numActions', 'hidden', 'layers'] as const) {
    check(Number.isInteger(c[k]) && c[k] > 0, `${where}.${k}`, 'a positive integer', c[k]);
  }
  check(c.cell === 'lstm' || c.cell === 'gru', `${where}.cell`, "'lstm' or 'gru'", c.cell);
  check(c.head === 'dense' || c.head === 'embedding', `${where}.head`, "'dense' or 'embedding'", c.head);
  check(c.rnnDropout >= 0 && c.rnnDropout < 1, `${where}.rnnDropout`, 'a number in [0, 1)', c.rnnDropout);
  check(c.mlpDropout >= 0 && c.mlpDropout < 1, `${where}.mlpDropout`, 'a number in [0, 1)', c.mlpDropout);
  const d = c.hidden * (c.bidirectional ? 2 : 1);
  check(c.attentionHeads === 0 || d % c.attentionHeads === 0, `${where}.attentionHeads`, `0 or a divisor of ${d}`, c.attentionHeads);
  check(Array.isArray(c.mlp) && c.mlp.every((x) => Number.isInteger(x) && x > 0), `${where}.mlp`, 'an array of positive integers', c.mlp);
  const itemDim = c.itemInputDim ?? 0;
  check(Number.isInteger(itemDim) && itemDim >= 0, `${where}.itemInputDim`, 'a non-negative integer', itemDim);
  check(itemDim === 0 || c.featureDim >= 2, `${where}.featureDim`, 'at least 2 (features + the item-id column) with itemInputDim > 0', c.featureDim);
}

function recurrentSpec(c: NetworkConfig): RecurrentSpec {
  const itemDim = c.itemInputDim ?? 0;
  const inputSize = itemDim > 0 ? c.featureDim - 1 + itemDim : c.featureDim;
  return { cell: c.cell, inputSize, hiddenSize: c.hidden, numLayers: c.layers, bidirectional: c.bidirectional, dropout: c.rnnDropout, inputProjection: c.inputProjection, cellKernel: c.cellKernel };
}

/** Parameters that `zeroInitHead` starts at zero. */
export function headParamNames(c: NetworkConfig): string[] {
  return c.head === 'dense' ? ['head.q'] : ['items.embT'];
}

/** Size of the state representation that feeds the Q-head. */
export function featureSize(c: NetworkConfig): number {
  return c.mlp.length ? c.mlp[c.mlp.length - 1] : recurrentOutputSize(recurrentSpec(c));
}

export function networkParamShapes(c: NetworkConfig): ParamShapes {
  validateNetwork(c);
  const spec = recurrentSpec(c);
  const shapes: ParamShapes = { ...recurrentParamShapes(spec) };
  let d = recurrentOutputSize(spec);
  if (c.attentionHeads > 0) Object.assign(shapes, attentionParamShapes(d));
  // Row 0 is padding/unknown; item a is row a + 1.
  if ((c.itemInputDim ?? 0) > 0) shapes['items.input'] = [c.numActions + 1, c.itemInputDim];
  c.mlp.forEach((units, i) => {
    shapes[`mlp.${i}`] = [d, units];
    shapes[`mlp.${i}.bias`] = [units];
    d = units;
  });
  if (c.head === 'dense') {
    shapes['head.q'] = [d, c.numActions];
    shapes['head.q.bias'] = [c.numActions];
  } else {
    shapes['head.proj'] = [d, c.embeddingDim];
    shapes['head.proj.bias'] = [c.embeddingDim];
    // Stored transposed ([E, N]) so scoring is a plain matMul f(s) [B, E] x [E, N].
    shapes['items.embT'] = [c.embeddingDim, c.numActions];
    shapes['items.bias'] = [c.numActions];
  }
  if (c.dueling) {
    shapes['head.value'] = [d, 1];
    shapes['head.value.bias'] = [1];
  }
  return shapes;
}

export interface ForwardOptions {
  training: boolean;
  seed?: number;
}

/** State representation `[B, featureSize]` for states `[B, seqLen, featureDim]`. Call inside tf.tidy. */
export function stateFeatures(params: ParamTensors, c: NetworkConfig, x: tf.Tensor3D, opts: ForwardOptions): tf.Tensor2D {
  const rnn = runRecurrent(params, recurrentSpec(c), withItemInput(params, c, x), opts);
  let h: tf.Tensor2D = c.attentionHeads > 0 ? selfAttentionPool(params, rnn.steps, c.attentionHeads) : rnn.last;
  const seed = opts.seed ?? 0;
  c.mlp.forEach((_, i) => {
    h = tf.relu(tf.add(tf.matMul(h, params[`mlp.${i}`] as tf.Tensor2D), params[`mlp.${i}.bias`])) as tf.Tensor2D;
    if (opts.training && c.mlpDropout > 0) h = tf.dropout(h, c.mlpDropout, undefined, seed + 104729 * (i + 1)) as tf.Tensor2D;
  });
  return h;
}

/** Replace the item-id column of `x` by its learned embedding (identity when `itemInputDim` is 0). */
function withItemInput(params: ParamTensors, c: NetworkConfig, x: tf.Tensor3D): tf.Tensor3D {
  const dim = c.itemInputDim ?? 0;
  if (dim === 0) return x;
  const [B, T, F] = x.shape;
  const feats = tf.slice(x, [0, 0, 0], [B, T, F - 1]);
  const ids = tf.reshape(tf.slice(x, [0, 0, F - 1], [B, T, 1]), [B * T]);
  // id -> row id + 1; padding (-1), NaN and ids outside the vocabulary -> row 0.
  const valid = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, c.numActions));
  const rows = tf.cast(tf.where(valid, tf.add(ids, 1), tf.zerosLike(ids)), 'int32') as tf.Tensor1D;
  const emb = tf.reshape(lookupRows(params['items.input'] as tf.Tensor2D, rows), [B, T, dim]);
  return tf.concat([feats, emb], 2) as tf.Tensor3D;
}

/** E[rows] `[n, D]` with a scatter-add gradient (tfjs' gather gradient needs UnsortedSegmentSum, which wasm lacks). */
function lookupRows(E: tf.Tensor2D, rows: tf.Tensor1D): tf.Tensor2D {
  const [N, D] = E.shape;
  // The rows go in as an input (not a closure) so they stay alive until the backward pass.
  const f = tf.customGrad(((eIn: tf.Tensor, rIn: tf.Tensor, save: tf.GradSaveFunc) => {
    save([rIn]);
    return {
      value: tf.gather(eIn, rIn as tf.Tensor1D, 0),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
        tf.scatterND(tf.reshape(saved[0], [-1, 1]), dy as tf.Tensor, [N, D]),
        tf.zerosLike(saved[0]),
      ],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(E, rows) as tf.Tensor2D;
}

/** The query vector f(s) `[B, E]` of the embedding head. */
export function embeddingQuery(params: ParamTensors, h: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(h, params['head.proj'] as tf.Tensor2D), params['head.proj.bias']) as tf.Tensor2D;
}

/** Q-values `[B, numActions]` for states `[B, seqLen, featureDim]`. Call inside tf.tidy. */
export function qValues(params: ParamTensors, c: NetworkConfig, x: tf.Tensor3D, opts: ForwardOptions): tf.Tensor2D {
  const h = stateFeatures(params, c, x, opts);
  let q: tf.Tensor2D;
  if (c.head === 'dense') q = tf.add(tf.matMul(h, params['head.q'] as tf.Tensor2D), params['head.q.bias']) as tf.Tensor2D;
  else q = tf.add(tf.matMul(embeddingQuery(params, h), params['items.embT'] as tf.Tensor2D), params['items.bias']) as tf.Tensor2D;
  if (c.dueling) {
    const v = tf.add(tf.matMul(h, params['head.value'] as tf.Tensor2D), params['head.value.bias']);
    q = tf.add(v, tf.sub(q, tf.mean(q, 1, true))) as tf.Tensor2D;
  }
  return q;
}

/**
 * Q(s, a) `[B]` for the taken actions `a` only: what the TD loss needs. Same value and gradients as
 * `sum(qValues(s) * oneHot(a), 1)`, but for a non-dueling head the `[B, N]` product and its two gradient matMuls
 * (each B x D x N) are replaced by a column gather forward and a scatter-add backward (a custom gradient; tfjs'
 * own gather gradient needs UnsortedSegmentSum, which wasm lacks). Dueling heads need every A(s, .) for the mean,
 * so they use the one-hot mask. Call inside tf.tidy.
 */
export function actionValues(params: ParamTensors, c: NetworkConfig, x: tf.Tensor3D, actions: tf.Tensor1D, opts: ForwardOptions): tf.Tensor1D {
  if (c.dueling) {
    const q = qValues(params, c, x, opts);
    return tf.sum(tf.mul(q, tf.oneHot(actions, c.numActions, 1, 0, 'float32')), 1) as tf.Tensor1D;
  }
  const h = stateFeatures(params, c, x, opts);
  if (c.head === 'dense') return pickColumns(h, params['head.q'] as tf.Tensor2D, params['head.q.bias'] as tf.Tensor1D, actions);
  return pickColumns(embeddingQuery(params, h), params['items.embT'] as tf.Tensor2D, params['items.bias'] as tf.Tensor1D, actions);
}

/** value[b] = h[b] . W[:, a[b]] + bias[a[b]], with a scatter-add gradient. */
function pickColumns(h: tf.Tensor2D, W: tf.Tensor2D, bias: tf.Tensor1D, actions: tf.Tensor1D): tf.Tensor1D {
  const [D, N] = W.shape;
  const f = tf.customGrad(((hIn: tf.Tensor, wIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const wa = tf.transpose(tf.gather(wIn, actions, 1)); // [B, D]
    const value = tf.add(tf.sum(tf.mul(hIn, wa), 1), tf.gather(bIn, actions));
    save([hIn, wa]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [hs, was] = saved;
        const g = tf.reshape(dy as tf.Tensor, [-1, 1]);
        const idx = tf.reshape(actions, [-1, 1]);
        // scatterND adds duplicate indices, as the one-hot product would.
        const dW = tf.transpose(tf.scatterND(idx, tf.mul(g, hs), [N, D]));
        const db = tf.scatterND(idx, tf.reshape(g, [-1]), [N]);
        return [tf.mul(g, was), dW, db];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(h, W, bias) as tf.Tensor1D;
}
