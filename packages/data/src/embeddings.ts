/**
 * 64-d item and user embeddings learned from an interaction log with tfjs-core (the TD3 design's action space).
 *
 * Model: item2vec in its CBOW form with a full softmax. For an event at position p of a user's sequence, the
 * context is the bag of items at positions p-window..p+window (p excluded), averaged:
 *   h = c V_in                 c: [B, N] context weights (1/|context| per context item), V_in: [N, d]
 *   logits = h W_out           W_out: [d, N]
 *   loss = mean cross-entropy(softmax(logits), item at p)
 * Items that share contexts (co-occur in users' sequences) get nearby V_in rows. The item embedding is the row
 * of V_in; a user's embedding is the mean of V_in over the items of the user's events (the same "bag of items"
 * map the model was trained through, so it is defined for any user with at least one event).
 *
 * Why this form on tfjs: the whole step is matMuls, logSoftmax and sums, whose gradients are fast on wasm/cpu
 * (with @rec/core's transpose-free matMul gradient). Embedding lookups with `tf.gather` would need the
 * UnsortedSegmentSum gradient, which wasm lacks. The cost per step is O(B * N * d), fine up to tens of
 * thousands of items (10k items, d = 64, B = 128: about 40 ms per step on wasm).
 *
 * Seeded: the initial weights and the sampled batches come from an `Rng`; the same seed on the same backend
 * gives the same Float32Arrays. Every tensor is created and disposed inside `learnEmbeddings`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, InvalidArgumentError, Rng } from '@rec/core';
import { checkLog, denseSize, userSequences } from './sessions.js';
import type { InteractionLog, UserSequences } from './types.js';

export interface EmbeddingOptions {
  /** Embedding size (default 64). */
  dim?: number;
  /** Context half-width in events (default 5). */
  window?: number;
  /** Training steps (default 400). */
  steps?: number;
  /** Target events per step (default 128). */
  batchSize?: number;
  /** Adam learning rate (default 0.01). */
  learningRate?: number;
  /** L2 penalty on the batch's hidden vectors and the output weights (default 0). */
  l2?: number;
  /** Seed (default 0). */
  seed?: number;
  /** Train from these row indices only (a training split); default all rows. User embeddings use the same rows. */
  rows?: Int32Array;
  /** Number of items / users (default numItems / numUsers of an IndexedLog, or max id + 1). */
  numItems?: number;
  numUsers?: number;
  /** Largest item count accepted (default 100,000): the full softmax costs O(items) per event. */
  maxItems?: number;
  /** Called every `logEvery` steps with the step and mean loss since the last call. */
  onProgress?: (step: number, loss: number) => void;
  logEvery?: number;
}

export interface Embeddings {
  dim: number;
  numItems: number;
  numUsers: number;
  /** Item embeddings, row-major [numItems, dim]. Items never seen keep their small random initial vector. */
  items: Float32Array;
  /** User embeddings, row-major [numUsers, dim]: mean item embedding over the user's events (zeros if none). */
  users: Float32Array;
  /** Mean training loss over the first and the last 10% of steps (shows it learned). */
  lossFirst: number;
  lossLast: number;
  steps: number;
}

/** Build a sequences view restricted to some rows (still time-sorted, same user ids). */
function sequencesOf(log: InteractionLog, rows: Int32Array | undefined, numUsers: number): UserSequences {
  if (!rows) return userSequences(log, numUsers);
  const sub: InteractionLog = {
    numRows: rows.length,
    user: new Int32Array(rows.length),
    item: log.item,
    category: log.category,
    behavior: log.behavior,
    timestamp: new Int32Array(rows.length),
  };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < log.numRows)) check(false, `learnEmbeddings: rows[${i}]`, `a row index in [0, ${log.numRows})`, r);
    sub.user[i] = log.user[r];
    sub.timestamp[i] = log.timestamp[r];
  }
  const s = userSequences(sub, numUsers);
  // Map positions in `rows` back to log rows.
  for (let p = 0; p < s.rows.length; p++) s.rows[p] = rows[s.rows[p]];
  return s;
}

/**
 * Learn item and user embeddings (see the module comment). Needs a tfjs backend set by the caller
 * (`initBackend('wasm')` or `'cpu'`).
 */
export function learnEmbeddings(log: InteractionLog, options: EmbeddingOptions = {}): Embeddings {
  checkLog(log, 'learnEmbeddings');
  const dim = options.dim ?? 64;
  const window = options.window ?? 5;
  const steps = options.steps ?? 400;
  const B = options.batchSize ?? 128;
  const lr = options.learningRate ?? 0.01;
  const l2 = options.l2 ?? 0;
  const maxItems = options.maxItems ?? 100_000;
  check(Number.isInteger(dim) && dim > 0, 'learnEmbeddings: dim', 'a positive integer', dim);
  check(Number.isInteger(window) && window > 0, 'learnEmbeddings: window', 'a positive integer', window);
  check(Number.isInteger(steps) && steps >= 0, 'learnEmbeddings: steps', 'a non-negative integer', steps);
  check(Number.isInteger(B) && B > 0, 'learnEmbeddings: batchSize', 'a positive integer', B);
  check(lr > 0 && Number.isFinite(lr), 'learnEmbeddings: learningRate', 'a positive number', lr);
  check(l2 >= 0 && Number.isFinite(l2), 'learnEmbeddings: l2', 'a number >= 0', l2);
  const N = options.numItems ?? denseSize(log, 'item', 'learnEmbeddings');
  const U = options.numUsers ?? denseSize(log, 'user', 'learnEmbeddings');
  check(Number.isInteger(N) && N >= 2, 'learnEmbeddings: numItems', 'an integer >= 2 (dense item ids)', N);
  if (N > maxItems) {
    throw new InvalidArgumentError('too many items for the full-softmax model', {
      where: 'learnEmbeddings: numItems',
      expected: `at most maxItems = ${maxItems}`,
      got: N,
      hint: 'Keep the most popular items (re-index a filtered log), or raise maxItems if the time per step is acceptable.',
    });
  }
  for (let r = 0; r < log.numRows; r++) {
    const it = log.item[r];
    if (!(it >= 0 && it < N)) check(false, `learnEmbeddings: row ${r}`, `a dense item id in [0, ${N})`, it, 'Re-index the log first.');
  }
  const rng = new Rng(options.seed ?? 0);
  const seqs = sequencesOf(log, options.rows, U);
  const { offsets, rows } = seqs;
  const item = log.item;

  // Training positions: events of users with at least two events (so a context exists).
  const allPositions = new Int32Array(rows.length);
  let nPos = 0;
  for (let u = 0; u < U; u++) {
    if (offsets[u + 1] - offsets[u] < 2) continue;
    for (let p = offsets[u]; p < offsets[u + 1]; p++) allPositions[nPos++] = p;
  }
  const positions = allPositions.subarray(0, nPos);
  const userOfPos = new Int32Array(rows.length);
  for (let u = 0; u < U; u++) userOfPos.fill(u, offsets[u], offsets[u + 1]);

  const initRng = rng.split('init');
  const vInit = new Float32Array(N * dim);
  const wInit = new Float32Array(dim * N);
  // Small normal init (std 0.1) keeps early softmax near uniform.
  initRng.fillNormal(vInit, 0, 0.1);
  initRng.fillNormal(wInit, 0, 0.1);
  const v0 = tf.tensor2d(vInit, [N, dim]);
  const w0 = tf.tensor2d(wInit, [dim, N]);
  const vIn = tf.variable(v0, true);
  const wOut = tf.variable(w0, true);
  v0.dispose();
  w0.dispose();
  const opt = tf.train.adam(lr);
  const ctx = new Float32Array(B * N);
  const tgt = new Float32Array(B * N);
  const losses: number[] = [];
  const batchRng = rng.split('batches');
  let logSum = 0;
  let logCount = 0;
  const logEvery = options.logEvery ?? 50;
  try {
    for (let step = 0; step < steps && nPos > 0; step++) {
      ctx.fill(0);
      tgt.fill(0);
      for (let b = 0; b < B; b++) {
        const p = positions[batchRng.int(nPos)];
        const u = userOfPos[p];
        const lo = Math.max(offsets[u], p - window);
        const hi = Math.min(offsets[u + 1] - 1, p + window);
        const w = 1 / (hi - lo); // hi - lo + 1 positions minus p itself
        for (let q = lo; q <= hi; q++) if (q !== p) ctx[b * N + item[rows[q]]] += w;
        tgt[b * N + item[rows[p]]] = 1;
      }
      const lossT = opt.minimize(
        () => {
          const c = tf.tensor2d(ctx, [B, N]);
          const y = tf.tensor2d(tgt, [B, N]);
          const h = tf.matMul(c, vIn);
          const logits = tf.matMul(h, wOut);
          const ce = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)));
          if (l2 === 0) return ce as tf.Scalar;
          const reg = tf.mul(tf.scalar(l2), tf.add(tf.mean(tf.sum(tf.square(h), 1)), tf.sum(tf.square(wOut))));
          return tf.add(ce, reg) as tf.Scalar;
        },
        true,
        [vIn, wOut],
      );
      const loss = lossT ? lossT.dataSync()[0] : NaN;
      lossT?.dispose();
      losses.push(loss);
      if (options.onProgress) {
        logSum += loss;
        logCount++;
        if ((step + 1) % logEvery === 0 || step === steps - 1) {
          options.onProgress(step + 1, logSum / logCount);
          logSum = 0;
          logCount = 0;
        }
      }
    }
    const items = vIn.dataSync().slice() as Float32Array;
    const users = userEmbeddingsFromItems(log, items, dim, { numUsers: U, rows: options.rows });
    const tenth = Math.max(1, Math.floor(losses.length / 10));
    const avg = (a: number[]) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN);
    return {
      dim,
      numItems: N,
      numUsers: U,
      items,
      users,
      lossFirst: avg(losses.slice(0, tenth)),
      lossLast: avg(losses.slice(-tenth)),
      steps: losses.length,
    };
  } finally {
    opt.dispose();
    vIn.dispose();
    wOut.dispose();
  }
}

/**
 * User embeddings as the mean item embedding over each user's events (`rows` restricts to a split).
 * Row-major [numUsers, dim]; zeros for users without events.
 */
export function userEmbeddingsFromItems(
  log: InteractionLog,
  itemEmbeddings: Float32Array,
  dim: number,
  options: { numUsers?: number; rows?: Int32Array } = {},
): Float32Array {
  checkLog(log, 'userEmbeddingsFromItems');
  check(Number.isInteger(dim) && dim > 0 && itemEmbeddings.length % dim === 0, 'userEmbeddingsFromItems: dim', `a divisor of the embeddings length ${itemEmbeddings.length}`, dim);
  const N = itemEmbeddings.length / dim;
  const U = options.numUsers ?? denseSize(log, 'user', 'userEmbeddingsFromItems');
  const out = new Float32Array(U * dim);
  const count = new Int32Array(U);
  const n = options.rows ? options.rows.length : log.numRows;
  for (let i = 0; i < n; i++) {
    const r = options.rows ? options.rows[i] : i;
    const u = log.user[r];
    const it = log.item[r];
    if (!(u >= 0 && u < U && it >= 0 && it < N)) {
      check(false, `userEmbeddingsFromItems: row ${r}`, `user in [0, ${U}) and item in [0, ${N})`, { user: u, item: it }, 'Re-index the log first.');
    }
    count[u]++;
    const o = u * dim;
    const io = it * dim;
    for (let k = 0; k < dim; k++) out[o + k] += itemEmbeddings[io + k];
  }
  for (let u = 0; u < U; u++) {
    if (count[u] === 0) continue;
    const inv = 1 / count[u];
    for (let k = 0; k < dim; k++) out[u * dim + k] *= inv;
  }
  return out;
}

/** Cosine similarity of rows a and b of a row-major [n, dim] matrix. */
export function cosineSimilarity(emb: Float32Array, dim: number, a: number, b: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < dim; k++) {
    const x = emb[a * dim + k];
    const y = emb[b * dim + k];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
