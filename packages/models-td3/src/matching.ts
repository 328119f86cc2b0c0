/**
 * From a 64-d action (a "virtual item") to real items: exact cosine top-k against L2-normalised item embeddings
 * (@rec/env's `SimdCosineMatcher`, the belief simulator's own kernel: wasm SIMD, exact, ties to the lower index),
 * merged with a pre-trained model's list (user-item embedding dot products: one tfjs matMul per chunk of users,
 * then `topk`) into distinct items.
 */
import * as tf from '@tensorflow/tfjs-core';
import { check, ShapeError } from '@rec/core';
import { SimdCosineMatcher } from '@rec/env';

export interface ItemMatcherOptions {
  /** Users per matMul chunk of the pre-trained list (bounds the `[chunk, numItems]` score matrix). Default 1,024. */
  chunk?: number;
}

export interface MergedLists {
  /** `[batch * (rlCount + pretrainedCount)]` distinct item indices per user: the RL list first. */
  items: Int32Array;
  /** `[batch * rlCount]` items matched from the actions (cosine top-k). */
  rl: Int32Array;
  /** `[batch * pretrainedCount]` items the pre-trained list added (after removing the RL list's items). */
  pretrained: Int32Array;
}

export class ItemMatcher {
  readonly numItems: number;
  readonly dim: number;
  private readonly chunk: number;
  /** The exact cosine matcher of the actions (shared with the belief simulator's implementation). */
  private readonly cosine: SimdCosineMatcher;
  /** Raw embeddings, transposed, for the pre-trained list's dot-product scores. */
  private readonly rawT: tf.Tensor2D;

  /** `itemEmbeddings` is `[numItems * dim]`, row-major. */
  constructor(itemEmbeddings: Float32Array, dim: number, options: ItemMatcherOptions = {}) {
    check(Number.isInteger(dim) && dim > 0, 'ItemMatcher(dim)', 'a positive integer', dim);
    if (itemEmbeddings.length === 0 || itemEmbeddings.length % dim !== 0) {
      throw new ShapeError('item embeddings do not split into rows', {
        where: 'ItemMatcher(itemEmbeddings)',
        expected: `a non-empty Float32Array whose length is a multiple of dim ${dim}`,
        got: itemEmbeddings.length,
      });
    }
    this.dim = dim;
    this.numItems = itemEmbeddings.length / dim;
    this.chunk = options.chunk ?? 1024;
    this.cosine = new SimdCosineMatcher(itemEmbeddings, dim);
    this.rawT = tf.tidy(() => tf.transpose(tf.tensor2d(itemEmbeddings, [this.numItems, dim])) as tf.Tensor2D);
  }

  private checkVectors(vectors: Float32Array, batch: number, k: number): void {
    check(Number.isInteger(k) && k > 0 && k <= this.numItems, 'ItemMatcher.topK(k)', `an integer in [1, ${this.numItems}]`, k);
    if (vectors.length !== batch * this.dim) {
      throw new ShapeError('vectors do not match the batch', { where: 'ItemMatcher', expected: `${batch} x ${this.dim} = ${batch * this.dim} numbers`, got: vectors.length });
    }
  }

  private topK(vectors: Float32Array, batch: number, k: number, table: tf.Tensor2D): Int32Array {
    this.checkVectors(vectors, batch, k);
    const out = new Int32Array(batch * k);
    for (let start = 0; start < batch; start += this.chunk) {
      const rows = Math.min(this.chunk, batch - start);
      const idx = tf.tidy(() => {
        const v = tf.tensor2d(vectors.subarray(start * this.dim, (start + rows) * this.dim), [rows, this.dim]);
        return tf.topk(tf.matMul(v, table), k, true).indices;
      });
      out.set(idx.dataSync() as Int32Array, start * k);
      idx.dispose();
    }
    return out;
  }

  /** The `k` items most cosine-similar to each action: `actions [batch * dim]` -> `[batch * k]`, best first. */
  match(actions: Float32Array, batch: number, k: number): Int32Array {
    this.checkVectors(actions, batch, k);
    const out = new Int32Array(batch * k);
    this.cosine.topK(actions, batch, k, out);
    return out;
  }

  /** The pre-trained list: top `k` items by user-item embedding dot product, `[batch * k]`. */
  pretrained(userEmbeddings: Float32Array, batch: number, k: number): Int32Array {
    return this.topK(userEmbeddings, batch, k, this.rawT);
  }

  /**
   * RL list (`rlCount` cosine matches) then the pre-trained list's best items not already in it, `pretrainedCount`
   * of them: `rlCount + pretrainedCount` distinct items per user.
   */
  recommend(actions: Float32Array, userEmbeddings: Float32Array, batch: number, rlCount = 10, pretrainedCount = 10): MergedLists {
    const total = rlCount + pretrainedCount;
    check(total <= this.numItems, 'ItemMatcher.recommend', `rlCount + pretrainedCount <= numItems (${this.numItems})`, total);
    const rl = this.match(actions, batch, rlCount);
    // Ask the pre-trained model for enough candidates that `pretrainedCount` survive removing the RL items.
    const candidates = Math.min(this.numItems, pretrainedCount + rlCount);
    const pre = this.pretrained(userEmbeddings, batch, candidates);
    const items = new Int32Array(batch * total);
    const added = new Int32Array(batch * pretrainedCount);
    for (let b = 0; b < batch; b++) {
      const base = b * total;
      for (let j = 0; j < rlCount; j++) items[base + j] = rl[b * rlCount + j];
      let filled = 0;
      for (let c = 0; c < candidates && filled < pretrainedCount; c++) {
        const item = pre[b * candidates + c];
        let dup = false;
        for (let j = 0; j < rlCount; j++) if (items[base + j] === item) dup = true;
        if (dup) continue;
        items[base + rlCount + filled] = item;
        added[b * pretrainedCount + filled] = item;
        filled++;
      }
    }
    return { items, rl, pretrained: added };
  }

  dispose(): void {
    this.cosine.dispose();
    this.rawT.dispose();
  }
}
