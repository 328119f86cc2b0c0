/**
 * From a 64-d action (a "virtual item") to real items: exact cosine top-k against L2-normalised item embeddings,
 * merged with a pre-trained model's list (user-item embedding dot products) into distinct items. Both lists come
 * from @rec/env's `SimdCosineMatcher`, the belief simulator's own kernel (wasm SIMD int16 prefilter + exact re-rank
 * on worker threads; ties to the lower index): once with the cosine metric, once with the dot-product metric.
 */
import { check, ShapeError } from '@rec/core';
import { SimdCosineMatcher } from '@rec/env';

export interface ItemMatcherOptions {
  /** Threads of each of the two matchers (the caller + workers). Default min(2, available cores). */
  threads?: number;
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
  /** The exact cosine matcher of the actions (shared with the belief simulator's implementation). */
  private readonly cosine: SimdCosineMatcher;
  /** The exact dot-product matcher of the pre-trained list. */
  private readonly dot: SimdCosineMatcher;

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
    this.cosine = new SimdCosineMatcher(itemEmbeddings, dim, { threads: options.threads });
    this.dot = new SimdCosineMatcher(itemEmbeddings, dim, { threads: options.threads, metric: 'dot' });
  }

  private run(m: SimdCosineMatcher, vectors: Float32Array, batch: number, k: number, where: string): Int32Array {
    check(Number.isInteger(k) && k > 0 && k <= this.numItems, `${where}(k)`, `an integer in [1, ${this.numItems}]`, k);
    if (vectors.length !== batch * this.dim) {
      throw new ShapeError('vectors do not match the batch', { where, expected: `${batch} x ${this.dim} = ${batch * this.dim} numbers`, got: vectors.length });
    }
    const out = new Int32Array(batch * k);
    m.topK(vectors, batch, k, out);
    return out;
  }

  /** The `k` items most cosine-similar to each action: `actions [batch * dim]` -> `[batch * k]`, best first. */
  match(actions: Float32Array, batch: number, k: number): Int32Array {
    return this.run(this.cosine, actions, batch, k, 'ItemMatcher.match');
  }

  /** The pre-trained list: top `k` items by user-item embedding dot product, `[batch * k]`. */
  pretrained(userEmbeddings: Float32Array, batch: number, k: number): Int32Array {
    return this.run(this.dot, userEmbeddings, batch, k, 'ItemMatcher.pretrained');
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
    this.dot.dispose();
  }
}
