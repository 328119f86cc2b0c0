/**
 * A supervised next-item baseline in the GRU4Rec style (Hidasi et al. 2016), on tfjs-core: item embedding -> one
 * GRU layer -> a linear layer over the whole catalogue, trained with softmax cross-entropy on "given the last L
 * items, predict the next". Small, seeded, full-softmax (no sampled negatives).
 *
 * Implementation details:
 * 1. Training examples: every position p >= 1 of every user's training sequence (time order); input = the up to
 *    `maxLen` items before p, left-padded with -1; target = item p. Capped at `maxExamples` by a seeded sample.
 * 2. Embedding lookup in training is `oneHot(items) @ E` (a -1 pad gives a zero row): its gradient is a plain
 *    matMul, where `tf.gather`'s would need UnsortedSegmentSum (missing on wasm, very slow on cpu). Inference uses gather.
 * 3. GRU (Cho et al. 2014): z = sig(x Wz + h Uz + bz), r = sig(x Wr + h Ur + br), n = tanh(x Wn + r * (h Un) + bn),
 *    h' = (1 - z) * n + z * h; padded steps keep h unchanged (mask).
 * 4. Loss = mean over the batch of -log softmax(h Wo + bo)[target]; Adam; weights from a seeded Rng (Glorot uniform);
 *    the output bias starts at centred log(1 + item count) (`popularityBias`), so training starts from popularity.
 * 5. Tensors are created and freed inside this file (`tf.tidy`, `dispose`); the boundary is typed arrays.
 * 6. Optional output cap (`maxItems`, for catalogues where a full softmax is too slow): the softmax covers only the
 *    `maxItems` most frequent training items (ties: lower id first), so those are the only items it can recommend;
 *    training examples whose target is outside them are dropped, and out-of-vocabulary context items share one
 *    learned "unknown" input row. With no cap (0, the default) or a cap >= the catalogue, nothing changes.
 * Callers must `import '@rec/core'` (done here) so tfjs gradients are registered, and pick a backend first.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, Rng } from '@rec/core';
import { userSequences } from '@rec/data';
import type { ItemsCsr } from './metrics.js';
import type { OfflineSplit } from './protocols.js';
import type { Scorer } from './baselines.js';
import { subLog } from './baselines.js';
import { TopK } from './topk.js';

export interface Gru4RecConfig {
  /** Item embedding size. */
  embeddingDim: number;
  /** GRU hidden size. */
  hiddenDim: number;
  /** Items of context fed to the GRU. */
  maxLen: number;
  /** Passes over the training examples. */
  epochs: number;
  /** Examples per gradient step. */
  batchSize: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Cap on training examples (seeded sample); keeps tests and notebooks small. */
  maxExamples: number;
  /** Seed for initialisation, example sampling and shuffling. */
  seed: number;
  /**
   * Start the output bias at log(1 + training count) minus its mean, so the untrained model ranks by popularity and
   * training learns the sequential part on top (helps a lot with few examples over a large catalogue).
   */
  popularityBias: boolean;
  /** Output vocabulary cap: the softmax covers the `maxItems` most frequent training items (0 = every item). */
  maxItems: number;
}

export const GRU4REC_DEFAULTS: Gru4RecConfig = {
  embeddingDim: 32,
  hiddenDim: 48,
  maxLen: 10,
  epochs: 5,
  batchSize: 64,
  learningRate: 0.01,
  maxExamples: 20_000,
  seed: 0,
  popularityBias: true,
  maxItems: 0,
};

export interface Gru4RecScorer extends Scorer {
  /** Mean training loss per epoch. */
  readonly losses: number[];
  readonly config: Gru4RecConfig;
  /** Items the softmax covers (the catalogue, or the `maxItems` most frequent training items). */
  readonly vocabSize: number;
  /** Training examples dropped because their target is outside the vocabulary (0 without a cap). */
  readonly droppedExamples: number;
  /** Free the model's variables. */
  dispose(): void;
}

function glorot(rng: Rng, fanIn: number, fanOut: number, shape: number[]): tf.Variable {
  const lim = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng.next() - 1) * lim;
  return tf.tidy(() => tf.variable(tf.tensor(v, shape))); // tidy frees the initial tensor
}

interface Weights {
  E: tf.Variable;
  W: tf.Variable; // [d, 3H]
  U: tf.Variable; // [H, 3H]
  b: tf.Variable; // [3H]
  Wo: tf.Variable; // [H, N]
  bo: tf.Variable; // [N]
}

/** GRU over embedded inputs x [B, L, d] with mask m [B, L]; returns the last hidden state [B, H]. */
function gruForward(w: Weights, x: tf.Tensor3D, mask: tf.Tensor2D, H: number): tf.Tensor2D {
  const [B, L, d] = x.shape;
  const xw = tf.reshape(tf.matMul(tf.reshape(x, [B * L, d]), w.W), [B, L, 3 * H]);
  let h = tf.zeros([B, H]) as tf.Tensor2D;
  for (let t = 0; t < L; t++) {
    const xt = tf.reshape(tf.slice(xw, [0, t, 0], [B, 1, 3 * H]), [B, 3 * H]);
    const hu = tf.matMul(h, w.U);
    const xb = tf.add(xt, w.b);
    const z = tf.sigmoid(tf.add(tf.slice(xb, [0, 0], [B, H]), tf.slice(hu, [0, 0], [B, H])));
    const r = tf.sigmoid(tf.add(tf.slice(xb, [0, H], [B, H]), tf.slice(hu, [0, H], [B, H])));
    const n = tf.tanh(tf.add(tf.slice(xb, [0, 2 * H], [B, H]), tf.mul(r, tf.slice(hu, [0, 2 * H], [B, H]))));
    const hNew = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
    const m = tf.reshape(tf.slice(mask, [0, t], [B, 1]), [B, 1]);
    h = tf.add(tf.mul(m, hNew), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
  }
  return h;
}

/** log(1 + count) centred to mean 0 when `popularity`, else zeros. */
function outputBias(items: Int32Array, N: number, popularity: boolean): Float32Array {
  const b = new Float32Array(N);
  if (!popularity) return b;
  for (let i = 0; i < items.length; i++) b[items[i]]++;
  let mean = 0;
  for (let i = 0; i < N; i++) mean += (b[i] = Math.log1p(b[i])) / N;
  for (let i = 0; i < N; i++) b[i] -= mean;
  return b;
}

/** Left-padded windows of the last `maxLen` items of each context. */
function windows(ctx: ItemsCsr, units: Int32Array, maxLen: number): { items: Int32Array; mask: Float32Array } {
  const items = new Int32Array(units.length * maxLen).fill(-1);
  const mask = new Float32Array(units.length * maxLen);
  for (let i = 0; i < units.length; i++) {
    const a = ctx.offsets[units[i]];
    const b = ctx.offsets[units[i] + 1];
    const n = Math.min(maxLen, b - a);
    for (let j = 0; j < n; j++) {
      items[i * maxLen + maxLen - n + j] = ctx.items[b - n + j];
      mask[i * maxLen + maxLen - n + j] = 1;
    }
  }
  return { items, mask };
}

/** Train on the split's training rows and return a Scorer over its units. */
export function trainGru4Rec(split: OfflineSplit, config: Partial<Gru4RecConfig> = {}, onEpoch?: (epoch: number, loss: number) => void): Gru4RecScorer {
  const cfg: Gru4RecConfig = { ...GRU4REC_DEFAULTS, ...config };
  for (const key of ['embeddingDim', 'hiddenDim', 'maxLen', 'epochs', 'batchSize', 'maxExamples'] as const) {
    check(Number.isInteger(cfg[key]) && cfg[key] > 0, `trainGru4Rec(config.${key})`, 'a positive integer', cfg[key]);
  }
  check(cfg.learningRate > 0, 'trainGru4Rec(config.learningRate)', 'a positive learning rate', cfg.learningRate);
  check(Number.isInteger(cfg.maxItems) && cfg.maxItems >= 0, 'trainGru4Rec(config.maxItems)', 'a non-negative integer (0 = no cap)', cfg.maxItems);
  const numItems = split.numItems;
  const { embeddingDim: d, hiddenDim: H, maxLen: L } = cfg;
  const rng = new Rng(cfg.seed);
  const sub = subLog(split.log, split.trainRows);
  // 6. output vocabulary: identity, or the maxItems most frequent training items (toVocab: item -> index or -1)
  let toItem: Int32Array | null = null;
  let toVocab: Int32Array | null = null;
  if (cfg.maxItems > 0 && cfg.maxItems < numItems) {
    const counts = new Float64Array(numItems);
    for (let i = 0; i < sub.numRows; i++) counts[sub.item[i]]++;
    const order = Int32Array.from({ length: numItems }, (_, i) => i).sort((x, y) => counts[y] - counts[x] || x - y);
    toItem = order.slice(0, cfg.maxItems);
    toVocab = new Int32Array(numItems).fill(-1);
    for (let v = 0; v < toItem.length; v++) toVocab[toItem[v]] = v;
  }
  // N = softmax size; input rows = N, plus one shared "unknown" row (index N) when capped.
  const N = toItem ? toItem.length : numItems;
  const inRows = toItem ? N + 1 : N;
  const inputIndex = (item: number): number => (toVocab ? (toVocab[item] >= 0 ? toVocab[item] : N) : item);
  // 1. examples from each user's training sequence
  const seqs = userSequences(sub);
  const ctxItems: number[] = [];
  const ctxOffsets: number[] = [0];
  const targets: number[] = [];
  let droppedExamples = 0;
  for (let u = 0; u < seqs.numUsers; u++) {
    const a = seqs.offsets[u];
    const b = seqs.offsets[u + 1];
    for (let p = a + 1; p < b; p++) {
      const target = sub.item[seqs.rows[p]];
      if (toVocab && toVocab[target] < 0) {
        droppedExamples++;
        continue;
      }
      for (let j = Math.max(a, p - L); j < p; j++) ctxItems.push(inputIndex(sub.item[seqs.rows[j]]));
      ctxOffsets.push(ctxItems.length);
      targets.push(toVocab ? toVocab[target] : target);
    }
  }
  const allCtx: ItemsCsr = { offsets: Int32Array.from(ctxOffsets), items: Int32Array.from(ctxItems) };
  let exampleIds: Int32Array = Int32Array.from({ length: targets.length }, (_, i) => i);
  if (exampleIds.length > cfg.maxExamples) exampleIds = rng.sampleWithoutReplacement(exampleIds.length, cfg.maxExamples);
  check(exampleIds.length > 0, 'trainGru4Rec(split)', 'training sequences with at least 2 events', 0);

  const w: Weights = {
    E: glorot(rng, inRows, d, [inRows, d]),
    W: glorot(rng, d, 3 * H, [d, 3 * H]),
    U: glorot(rng, H, 3 * H, [H, 3 * H]),
    b: tf.tidy(() => tf.variable(tf.zeros([3 * H]))),
    Wo: glorot(rng, H, N, [H, N]),
    bo: tf.tidy(() => tf.variable(tf.tensor1d(outputBias(toVocab ? sub.item.map((it) => toVocab[it]).filter((v) => v >= 0) : sub.item, N, cfg.popularityBias)))),
  };
  const vars = [w.E, w.W, w.U, w.b, w.Wo, w.bo];
  const opt = tf.train.adam(cfg.learningRate);
  const losses: number[] = [];
  const B = cfg.batchSize;
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    rng.shuffle(exampleIds);
    let total = 0;
    let batches = 0;
    for (let s = 0; s < exampleIds.length; s += B) {
      const ids = exampleIds.subarray(s, Math.min(exampleIds.length, s + B));
      const nb = ids.length;
      const win = windows(allCtx, ids, L);
      const tgt = Int32Array.from(ids, (i) => targets[i]);
      const lossT = tf.tidy(() => {
        const itemsT = tf.tensor2d(win.items, [nb * L, 1], 'int32');
        const maskT = tf.tensor2d(win.mask, [nb, L]);
        const yT = tf.oneHot(tf.tensor1d(tgt, 'int32'), N);
        return opt.minimize(
          () => {
            // 2. one-hot @ E: gradient is a matMul (no gather gradient)
            const oh = tf.reshape(tf.oneHot(tf.reshape(itemsT, [nb * L]), inRows), [nb * L, inRows]);
            const x = tf.reshape(tf.matMul(oh, w.E), [nb, L, d]) as tf.Tensor3D;
            const h = gruForward(w, x, maskT, H);
            const logits = tf.add(tf.matMul(h, w.Wo), w.bo);
            return tf.neg(tf.mean(tf.sum(tf.mul(yT, tf.logSoftmax(logits)), 1))) as tf.Scalar;
          },
          true,
          vars,
        ) as tf.Scalar;
      });
      total += lossT.dataSync()[0];
      lossT.dispose();
      batches++;
    }
    losses.push(total / batches);
    onEpoch?.(epoch, total / batches);
  }
  opt.dispose();

  const ctx = split.context;
  let disposed = false;
  return {
    name: 'gru4rec',
    losses,
    config: cfg,
    vocabSize: N,
    droppedExamples,
    scoreUsers(units, k, exclude) {
      check(!disposed, 'gru4rec.scoreUsers', 'a model that was not disposed', 'disposed');
      const out = new Int32Array(units.length * k);
      const top = new TopK(N, k);
      // Capped: exclusions in vocabulary indices (out-of-vocabulary ones cannot be recommended anyway).
      const ex = exclude && toVocab ? mapExclude(exclude, toVocab) : exclude;
      const chunk = 256;
      for (let a = 0; a < units.length; a += chunk) {
        const sub = units.subarray(a, Math.min(units.length, a + chunk));
        const nb = sub.length;
        const win = windows(ctx, sub, L);
        const scores = tf.tidy(() => {
          // inference: gather is fine (no gradient); -1 pads are clamped to 0 and masked out by the GRU mask
          const idx = tf.tensor1d(Int32Array.from(win.items, (v) => (v < 0 ? 0 : inputIndex(v))), 'int32');
          const x = tf.reshape(tf.gather(w.E, idx), [nb, L, d]) as tf.Tensor3D;
          const h = gruForward(w, x, tf.tensor2d(win.mask, [nb, L]), H);
          return tf.add(tf.matMul(h, w.Wo), w.bo);
        });
        const s = scores.dataSync();
        scores.dispose();
        for (let i = 0; i < nb; i++) {
          const g = a + i;
          top.select(s, out, g * k, i * N, ex?.items, ex ? ex.offsets[g] : 0, ex ? ex.offsets[g + 1] : 0);
        }
      }
      if (toItem) for (let j = 0; j < out.length; j++) if (out[j] >= 0) out[j] = toItem[out[j]];
      return out;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const v of vars) v.dispose();
    },
  };
}

/** Exclusion lists (item ids) rewritten to vocabulary indices, out-of-vocabulary entries dropped. */
function mapExclude(ex: ItemsCsr, toVocab: Int32Array): ItemsCsr {
  const offsets = new Int32Array(ex.offsets.length);
  const items: number[] = [];
  for (let u = 0; u + 1 < ex.offsets.length; u++) {
    for (let j = ex.offsets[u]; j < ex.offsets[u + 1]; j++) {
      const it = ex.items[j];
      const v = it >= 0 && it < toVocab.length ? toVocab[it] : -1;
      if (v >= 0) items.push(v);
    }
    offsets[u + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items) };
}
