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
   * of them: `rlCount + pretrainedCount` distinct items per user. `exclude` (a CSR of item indices per user, the
   * shape of a RecEnv's `excluded()`: user b's items are `items[offsets[b] .. offsets[b + 1]]`) removes items from
   * both lists (e.g. what the user already bought); the next-best matches take their places. When too few items
   * remain, the lists end in -1.
   */
  recommend(actions: Float32Array, userEmbeddings: Float32Array, batch: number, rlCount = 10, pretrainedCount = 10, exclude?: { offsets: Int32Array; items: Int32Array }): MergedLists {
    const total = rlCount + pretrainedCount;
    check(total <= this.numItems, 'ItemMatcher.recommend', `rlCount + pretrainedCount <= numItems (${this.numItems})`, total);
    let maxExcluded = 0;
    if (exclude) {
      const { offsets, items: ex } = exclude;
      check(offsets instanceof Int32Array && offsets.length === batch + 1 && offsets[0] === 0 && offsets[batch] === ex.length, 'ItemMatcher.recommend(exclude.offsets)', `an Int32Array of ${batch + 1} offsets from 0 to exclude.items.length (${ex.length})`, offsets?.length);
      for (let b = 0; b < batch; b++) {
        check(offsets[b + 1] >= offsets[b], 'ItemMatcher.recommend(exclude.offsets)', 'non-decreasing offsets', `${offsets[b]} then ${offsets[b + 1]} at user ${b}`);
        maxExcluded = Math.max(maxExcluded, offsets[b + 1] - offsets[b]);
      }
      for (let i = 0; i < ex.length; i++) {
        if (!(Number.isInteger(ex[i]) && ex[i] >= 0 && ex[i] < this.numItems)) check(false, 'ItemMatcher.recommend(exclude.items)', `item indices in [0, ${this.numItems})`, `${ex[i]} at position ${i}`);
      }
    }
    // Enough candidates that rlCount (and then pretrainedCount) survive the exclusions and the RL items.
    const rlCandidates = Math.min(this.numItems, rlCount + maxExcluded);
    const rlAll = this.match(actions, batch, rlCandidates);
    const candidates = Math.min(this.numItems, pretrainedCount + rlCount + maxExcluded);
    const pre = this.pretrained(userEmbeddings, batch, candidates);
    const items = new Int32Array(batch * total).fill(-1);
    const rl = new Int32Array(batch * rlCount).fill(-1);
    const added = new Int32Array(batch * pretrainedCount).fill(-1);
    // stamp[item] === b + 1: the item is excluded or already listed for user b.
    const stamp = new Int32Array(this.numItems);
    for (let b = 0; b < batch; b++) {
      const mark = b + 1;
      if (exclude) for (let i = exclude.offsets[b]; i < exclude.offsets[b + 1]; i++) stamp[exclude.items[i]] = mark;
      const base = b * total;
      let n = 0;
      for (let c = 0; c < rlCandidates && n < rlCount; c++) {
        const item = rlAll[b * rlCandidates + c];
        if (stamp[item] === mark) continue;
        stamp[item] = mark;
        items[base + n] = item;
        rl[b * rlCount + n] = item;
        n++;
      }
      let filled = 0;
      for (let c = 0; c < candidates && filled < pretrainedCount; c++) {
        const item = pre[b * candidates + c];
        if (stamp[item] === mark) continue;
        stamp[item] = mark;
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
