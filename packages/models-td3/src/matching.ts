/**
 * From a 64-d action (a "virtual item") to real items: exact cosine top-k against L2-normalised item embeddings,
 * merged with a pre-trained model's list (user-item embedding dot products) into distinct items. Both lists come
 * from @rec/env's `SimdCosineMatcher`, the belief simulator's own kernel (wasm SIMD int16 prefilter + exact re-rank
 * on worker threads; ties to the lower index): once with the cosine metric, once with the dot-product metric.
 */
import { check, ShapeError, validateCsr, type ItemsCsr } from '@rec/core';
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
  recommend(actions: Float32Array, userEmbeddings: Float32Array, batch: number, rlCount = 10, pretrainedCount = 10, exclude?: ItemsCsr): MergedLists {
    const total = rlCount + pretrainedCount;
    check(total <= this.numItems, 'ItemMatcher.recommend', `rlCount + pretrainedCount <= numItems (${this.numItems})`, total);
    let maxExcluded = 0;
    if (exclude) {
      validateCsr('ItemMatcher.recommend(exclude)', exclude);
      const { offsets, items: ex } = exclude;
      check(offsets.length === batch + 1, 'ItemMatcher.recommend(exclude.offsets)', `${batch + 1} offsets (one user per action)`, offsets.length);
      for (let b = 0; b < batch; b++) {
        check(offsets[b + 1] >= offsets[b], 'ItemMatcher.recommend(exclude.offsets)', 'non-decreasing offsets', `${offsets[b]} then ${offsets[b + 1]} at user ${b}`);
        maxExcluded = Math.max(maxExcluded, offsets[b + 1] - offsets[b]);
      }
      const bad = ex.findIndex((i) => i < 0 || i >= this.numItems);
      check(bad < 0, 'ItemMatcher.recommend(exclude.items)', `item indices in [0, ${this.numItems})`, bad < 0 ? undefined : `${ex[bad]} at position ${bad}`);
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
      // The first `count` unstamped items of user b's `width` candidates in `src`, into `list` and at `at` in `items`.
      const take = (src: Int32Array, width: number, count: number, list: Int32Array, at: number) => {
        let n = 0;
        for (let c = 0; c < width && n < count; c++) {
          const item = src[b * width + c];
          if (stamp[item] === mark) continue;
          stamp[item] = mark;
          items[at + n] = item;
          list[b * count + n] = item;
          n++;
        }
      };
      take(rlAll, rlCandidates, rlCount, rl, b * total);
      take(pre, candidates, pretrainedCount, added, b * total + rlCount);
    }
    return { items, rl, pretrained: added };
  }

  dispose(): void {
    this.cosine.dispose();
    this.dot.dispose();
  }
}
