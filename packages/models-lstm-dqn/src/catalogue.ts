/**
 * Large-catalogue scoring for the embedding head: Q(s, a) = f(s) . e_a + b_a over millions of items without ever
 * holding a `[users, items]` score matrix. Item embeddings are kept as column chunks `[E, chunk]` (so each chunk
 * is one plain matMul `[B, E] x [E, chunk]`), and each chunk's scores stream into a per-user top-k heap.
 * Memory: N * (E + 1) * 4 bytes (4.1M items, E = 32: 541 MB; E = 64: 1.07 GB), plus one `[B, chunk]` score block.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check } from '@rec/core';
import { StreamingTopK } from './topk.js';

export interface CatalogueScorerOptions {
  /** Items per chunk (default 131,072). */
  chunkSize?: number;
}

export class CatalogueScorer {
  readonly numItems: number;
  readonly dim: number;
  readonly chunkSize: number;
  private readonly chunks: { emb: tf.Tensor2D; bias: tf.Tensor1D; start: number; size: number }[] = [];

  /**
   * `embT`: `[E, N]` row-major (the layout of the agent's `items.embT` weight); `bias`: `[N]`.
   */
  constructor(embT: Float32Array, bias: Float32Array, dim: number, options: CatalogueScorerOptions = {}) {
    check(Number.isInteger(dim) && dim > 0 && embT.length % dim === 0, 'CatalogueScorer(embT, dim)', `an [E, N] array with E = ${dim}`, embT.length);
    const N = embT.length / dim;
    check(bias.length === N, 'CatalogueScorer(bias)', `${N} biases`, bias.length);
    this.numItems = N;
    this.dim = dim;
    this.chunkSize = options.chunkSize ?? 131_072;
    for (let start = 0; start < N; start += this.chunkSize) {
      const size = Math.min(this.chunkSize, N - start);
      const part = new Float32Array(dim * size);
      for (let e = 0; e < dim; e++) part.set(embT.subarray(e * N + start, e * N + start + size), e * size);
      this.chunks.push({ emb: tf.tensor2d(part, [dim, size]), bias: tf.tensor1d(bias.subarray(start, start + size)), start, size });
    }
  }

  /** Bytes held by the item table. */
  get memoryBytes(): number {
    return this.numItems * (this.dim + 1) * 4;
  }

  /**
   * Top-k item indices and scores for `B` queries `[B * E]` (f(s) from the embedding head), best first.
   * `excluded(row, item)` masks items per user.
   */
  topK(queries: Float32Array, k: number, excluded?: (row: number, item: number) => boolean): { items: Int32Array; scores: Float32Array } {
    check(queries.length % this.dim === 0 && queries.length > 0, 'CatalogueScorer.topK(queries)', `n x ${this.dim} numbers`, queries.length);
    const B = queries.length / this.dim;
    const heaps = Array.from({ length: B }, () => new StreamingTopK(k));
    const q = tf.tensor2d(queries, [B, this.dim]);
    try {
      for (const c of this.chunks) {
        const s = tf.tidy(() => tf.add(tf.matMul(q, c.emb), c.bias));
        const values = s.dataSync();
        s.dispose();
        for (let b = 0; b < B; b++) {
          heaps[b].pushRange(values, b * c.size, (b + 1) * c.size, c.start, excluded ? (id) => excluded(b, id) : undefined);
        }
      }
    } finally {
      q.dispose();
    }
    const items = new Int32Array(B * k).fill(-1);
    const scores = new Float32Array(B * k).fill(-Infinity);
    heaps.forEach((h, b) => {
      const r = h.result();
      items.set(r.items, b * k);
      scores.set(r.scores, b * k);
    });
    return { items, scores };
  }

  dispose(): void {
    for (const c of this.chunks) {
      c.emb.dispose();
      c.bias.dispose();
    }
    this.chunks.length = 0;
  }
}
