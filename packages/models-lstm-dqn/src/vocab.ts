/**
 * Item vocabulary: which catalogue items the Q-head has an output for. Most popular first, capped at `maxSize`;
 * every other item is out of vocabulary (OOV). Actions are vocabulary indices; `toItem` maps them back.
 * An OOV item in feedback maps to -1 and is skipped (the agent cannot recommend it, so it cannot learn a Q for it).
 */
import { check, ModelFormatError, packArrays, unpackArrays } from '@rec/core';

export class ItemVocab {
  /** Item id per vocabulary index. */
  readonly toItem: Int32Array;
  private readonly index: Map<number, number> | null;
  /** For the identity vocabulary (item id == index) no map is kept. */
  readonly identity: boolean;

  private constructor(toItem: Int32Array, identity: boolean) {
    this.toItem = toItem;
    this.identity = identity;
    this.index = identity ? null : new Map(Array.from(toItem, (item, i) => [item, i]));
  }

  get size(): number {
    return this.toItem.length;
  }

  /** Items 0..n-1 map to themselves. */
  static identity(n: number): ItemVocab {
    check(Number.isInteger(n) && n > 0, 'ItemVocab.identity(n)', 'a positive integer', n);
    return new ItemVocab(Int32Array.from({ length: n }, (_, i) => i), true);
  }

  /** The `maxSize` most frequent items of `items` (ties: lower id first). */
  static fromCounts(items: ArrayLike<number>, maxSize: number): ItemVocab {
    check(Number.isInteger(maxSize) && maxSize > 0, 'ItemVocab.fromCounts(maxSize)', 'a positive integer', maxSize);
    const counts = new Map<number, number>();
    for (let i = 0; i < items.length; i++) counts.set(items[i], (counts.get(items[i]) ?? 0) + 1);
    const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, maxSize);
    return new ItemVocab(Int32Array.from(sorted, (e) => e[0]), false);
  }

  static fromItems(toItem: Int32Array): ItemVocab {
    const identity = toItem.every((v, i) => v === i);
    return new ItemVocab(toItem, identity);
  }

  /** Vocabulary index of `item`, or -1 when out of vocabulary. */
  indexOf(item: number): number {
    if (this.identity) return item >= 0 && item < this.toItem.length && Number.isInteger(item) ? item : -1;
    return this.index!.get(item) ?? -1;
  }

  /** Bytes for the `vocab` file of a saved model. */
  serialize(): Uint8Array {
    return packArrays({ toItem: this.toItem });
  }

  static deserialize(bytes: Uint8Array, where: string): ItemVocab {
    const arrays = unpackArrays(bytes);
    const toItem = arrays.toItem;
    if (!(toItem instanceof Int32Array)) throw new ModelFormatError('vocab file has no int32 toItem array', { where, expected: 'toItem: Int32Array', got: Object.keys(arrays) });
    return ItemVocab.fromItems(toItem);
  }
}

/**
 * States with an item-id column (the last of `featureDim` numbers per step, as @rec/env's replay writes it: log item
 * ids) rewritten to vocabulary indices, the rows of a network's item-input table: out of vocabulary and padding
 * become -1 (the unknown row). Returns `states` itself for an identity vocabulary, else a copy.
 */
export function itemIdsToVocab(states: Float32Array, featureDim: number, vocab: ItemVocab): Float32Array {
  if (vocab.identity) return states;
  const out = states.slice();
  for (let j = featureDim - 1; j < out.length; j += featureDim) {
    const id = out[j];
    out[j] = id >= 0 ? vocab.indexOf(id) : -1;
  }
  return out;
}
