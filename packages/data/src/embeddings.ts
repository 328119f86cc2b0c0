/**
 * 64-d item and user embeddings learned from an interaction log with tfjs-core (the TD3 design's action space).
 *
 * Model: item2vec, i.e. skip-gram with negative sampling over each user's time-ordered sequence. A training pair
 * is (item at position p, item at a position q within `window` events of p, same user); for each pair, `negatives`
 * items are drawn from the unigram^0.75 distribution of the training rows. With input vectors V_in and output
 * vectors V_out:
 *   loss = mean over pairs of [ softplus(-<V_in[i], V_out[j]>) + sum_n softplus(<V_in[i], V_out[n]>) ]
 * i.e. -log sigmoid(pos) - sum log sigmoid(-neg). Items that co-occur in users' sequences get nearby V_in rows.
 * The item embedding is V_in; a user's embedding is the mean of V_in over the items of the user's events (defined
 * for any user with at least one event, also one added after training).
 *
 * Split of work: per step the batch's rows of V_in/V_out are copied into small tensors ([B, d] and [B, 1+K, d]);
 * tfjs-core computes the scores, the loss and its gradients with respect to those batch tensors
 * (`sgnsLossAndGradients`), and the gradients are applied back to the tables row by row with Adagrad. No `tf.gather`
 * gradient is needed (its UnsortedSegmentSum kernel is missing on wasm and very slow on cpu), and the cost per step
 * is O(B * (1 + K) * d), independent of the number of items.
 *
 * Seeded: initial weights, pairs and negatives come from an `Rng`; the same seed on the same backend gives the
 * same Float32Arrays. Every tensor is created and disposed inside `learnEmbeddings`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, Rng } from '@rec/core';
import { checkLog, denseSize, userSequences } from './sessions.js';
import type { InteractionLog, UserSequences } from './types.js';

export interface EmbeddingOptions {
  /** Embedding size (default 64). */
  dim?: number;
  /** Context half-width in events (default 5). */
  window?: number;
  /** Negative items per pair (default 5). */
  negatives?: number;
  /** Pairs per step (default 1024). */
  batchSize?: number;
  /** Training steps (default: 3 passes over the training positions, i.e. ceil(3 * positions / batchSize), at most 2000). */
  steps?: number;
  /** Adagrad learning rate (default 0.2). */
  learningRate?: number;
  /** Seed (default 0). */
  seed?: number;
  /** Train from these row indices only (a training split); default all rows. User embeddings use the same rows. */
  rows?: Int32Array;
  /** Number of items / users (default numItems / numUsers of an IndexedLog, or max id + 1). */
  numItems?: number;
  numUsers?: number;
  /** Called every `logEvery` steps with the step and mean loss since the last call. */
  onProgress?: (step: number, loss: number) => void;
  logEvery?: number;
}

export interface Embeddings {
  dim: number;
  numItems: number;
  numUsers: number;
  /** Item embeddings (V_in), row-major [numItems, dim]. Items never seen keep their small random initial vector. */
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

/** Draw from a discrete distribution given its cumulative weights (binary search). */
function drawCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  const x = u * cdf[hi];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Loss and gradients of one batch, written out by hand (twice as fast on wasm as tf.valueAndGrads here, which
 * differentiates the broadcast multiply; `embeddings.test.ts` checks these against tf.grads).
 *   s[b,k] = <u[b], c[b,k]>,  z = sign * s,  loss = sum softplus(-z) / B
 *   dloss/ds[b,k] = -sign[b,k] * sigmoid(-z[b,k]) / B          (d softplus(x)/dx = sigmoid(x))
 *   dloss/du[b] = sum_k dloss/ds[b,k] * c[b,k],   dloss/dc[b,k] = dloss/ds[b,k] * u[b]
 * u: [B, d], c: [B, C, d], sign: [B, C] (+1 positive, -1 negative). Call inside tf.tidy.
 */
export function sgnsLossAndGradients(
  u: tf.Tensor2D,
  c: tf.Tensor3D,
  sign: tf.Tensor2D,
): { loss: tf.Scalar; dU: tf.Tensor2D; dC: tf.Tensor3D } {
  const [B, C, dim] = c.shape;
  const u3 = tf.reshape(u, [B, 1, dim]);
  const z = tf.mul(sign, tf.sum(tf.mul(u3, c), 2));
  const loss = tf.div(tf.sum(tf.softplus(tf.neg(z))), B) as tf.Scalar;
  const gS = tf.reshape(tf.div(tf.mul(tf.neg(sign), tf.sigmoid(tf.neg(z))), B), [B, C, 1]);
  return { loss, dU: tf.sum(tf.mul(gS, c), 1) as tf.Tensor2D, dC: tf.mul(gS, u3) as tf.Tensor3D };
}

/**
 * Learn item and user embeddings (see the module comment). Needs a tfjs backend set by the caller
 * (`initBackend('wasm')` or `'cpu'`).
 */
export function learnEmbeddings(log: InteractionLog, options: EmbeddingOptions = {}): Embeddings {
  checkLog(log, 'learnEmbeddings');
  const dim = options.dim ?? 64;
  const window = options.window ?? 5;
  const K = options.negatives ?? 5;
  const B = options.batchSize ?? 1024;
  const lr = options.learningRate ?? 0.2;
  check(Number.isInteger(dim) && dim > 0, 'learnEmbeddings: dim', 'a positive integer', dim);
  check(Number.isInteger(window) && window > 0, 'learnEmbeddings: window', 'a positive integer', window);
  check(Number.isInteger(K) && K >= 1, 'learnEmbeddings: negatives', 'a positive integer', K);
  check(Number.isInteger(B) && B > 0, 'learnEmbeddings: batchSize', 'a positive integer', B);
  check(lr > 0 && Number.isFinite(lr), 'learnEmbeddings: learningRate', 'a positive number', lr);
  const N = options.numItems ?? denseSize(log, 'item', 'learnEmbeddings');
  const U = options.numUsers ?? denseSize(log, 'user', 'learnEmbeddings');
  check(Number.isInteger(N) && N >= 2, 'learnEmbeddings: numItems', 'an integer >= 2 (dense item ids)', N);
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
  const userOfPos = new Int32Array(rows.length);
  let nPos = 0;
  const freq = new Float64Array(N);
  for (let u = 0; u < U; u++) {
    userOfPos.fill(u, offsets[u], offsets[u + 1]);
    if (offsets[u + 1] - offsets[u] < 2) continue;
    for (let p = offsets[u]; p < offsets[u + 1]; p++) {
      allPositions[nPos++] = p;
      freq[item[rows[p]]]++;
    }
  }
  const positions = allPositions.subarray(0, nPos);
  // Negatives from the unigram distribution to the 3/4 power (word2vec's choice: flattens the head).
  const negCdf = new Float64Array(N);
  let acc = 0;
  for (let i = 0; i < N; i++) negCdf[i] = acc += Math.pow(freq[i], 0.75);
  const steps = options.steps ?? Math.min(2000, Math.ceil((3 * nPos) / B));
  check(Number.isInteger(steps) && steps >= 0, 'learnEmbeddings: steps', 'a non-negative integer', steps);

  // word2vec initialisation: inputs uniform in +-0.5/dim, outputs zero.
  const vIn = new Float32Array(N * dim);
  const vOut = new Float32Array(N * dim);
  const initRng = rng.split('init');
  for (let i = 0; i < vIn.length; i++) vIn[i] = (initRng.next() - 0.5) / dim;
  const gIn = new Float32Array(N * dim); // Adagrad accumulators
  const gOut = new Float32Array(N * dim);
  const C = 1 + K;
  const centerIdx = new Int32Array(B);
  const ctxIdx = new Int32Array(B * C);
  const uBuf = new Float32Array(B * dim);
  const cBuf = new Float32Array(B * C * dim);
  // +1 for the positive (column 0), -1 for negatives: loss terms are softplus(-sign * score).
  const sign = new Float32Array(B * C);
  for (let b = 0; b < B; b++) {
    sign[b * C] = 1;
    for (let k = 1; k < C; k++) sign[b * C + k] = -1;
  }
  const signT = tf.tensor2d(sign, [B, C]);
  const batchRng = rng.split('batches');
  const losses: number[] = [];
  let logSum = 0;
  let logCount = 0;
  const logEvery = options.logEvery ?? 100;
  const eps = 1e-8;
  const adagrad = (table: Float32Array, accum: Float32Array, row: number, grad: Float32Array, go: number) => {
    const o = row * dim;
    for (let t = 0; t < dim; t++) {
      const g = grad[go + t];
      const a = (accum[o + t] += g * g);
      table[o + t] -= (lr * g) / Math.sqrt(a + eps);
    }
  };
  try {
    for (let step = 0; step < steps && nPos > 0; step++) {
      for (let b = 0; b < B; b++) {
        const p = positions[batchRng.int(nPos)];
        const u = userOfPos[p];
        const lo = Math.max(offsets[u], p - window);
        const hi = Math.min(offsets[u + 1] - 1, p + window);
        let q = lo + batchRng.int(hi - lo); // hi - lo >= 1 other positions
        if (q >= p) q++;
        const i = item[rows[p]];
        const j = item[rows[q]];
        centerIdx[b] = i;
        uBuf.set(vIn.subarray(i * dim, i * dim + dim), b * dim);
        ctxIdx[b * C] = j;
        cBuf.set(vOut.subarray(j * dim, j * dim + dim), b * C * dim);
        for (let k = 1; k < C; k++) {
          let n = drawCdf(negCdf, batchRng.next());
          if (n === j) n = drawCdf(negCdf, batchRng.next());
          ctxIdx[b * C + k] = n;
          cBuf.set(vOut.subarray(n * dim, n * dim + dim), (b * C + k) * dim);
        }
      }
      const out = tf.tidy(() => sgnsLossAndGradients(tf.tensor2d(uBuf, [B, dim]), tf.tensor3d(cBuf, [B, C, dim]), signT));
      const loss = out.loss.dataSync()[0];
      const dU = out.dU.dataSync() as Float32Array;
      const dC = out.dC.dataSync() as Float32Array;
      tf.dispose([out.loss, out.dU, out.dC]);
      // Apply in batch order: repeated rows get each of their gradients in turn (deterministic).
      for (let b = 0; b < B; b++) {
        adagrad(vIn, gIn, centerIdx[b], dU, b * dim);
        for (let k = 0; k < C; k++) adagrad(vOut, gOut, ctxIdx[b * C + k], dC, (b * C + k) * dim);
      }
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
  } finally {
    signT.dispose();
  }
  const users = userEmbeddingsFromItems(log, vIn, dim, { numUsers: U, rows: options.rows });
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const avg = (a: number[]) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : NaN);
  return {
    dim,
    numItems: N,
    numUsers: U,
    items: vIn,
    users,
    lossFirst: avg(losses.slice(0, tenth)),
    lossLast: avg(losses.slice(-tenth)),
    steps: losses.length,
  };
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
