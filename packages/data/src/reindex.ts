/**
 * Dense re-indexing: raw user/item/category ids to 0..n-1, with the maps kept both ways.
 *
 * Order: `first-seen` (default) numbers ids in the order they first appear in the log (one pass; for the
 * UserBehavior log, users come out in file order). `sorted` numbers them by ascending raw id (one more pass).
 */
import { InvalidArgumentError } from '@rec/core';
import type { IdMap, IndexedLog, InteractionLog } from './types.js';

export type IdOrder = 'first-seen' | 'sorted';

const EMPTY = -1;

/** An open-addressing int32 -> int32 hash table (linear probing, load <= 0.5). */
class Int32HashMap {
  private keys: Int32Array;
  private vals: Int32Array;
  private mask: number;
  private shift: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  private slot(k: number): number {
    return Math.imul(k, 0x9e3779b1) >>> this.shift;
  }

  get(k: number): number {
    let s = this.slot(k);
    for (;;) {
      const v = this.vals[s];
      if (v === EMPTY || this.keys[s] === k) return v;
      s = (s + 1) & this.mask;
    }
  }

  /** Value for `k`, inserting `next` when absent (the caller increments its counter when this returns `next`). */
  getOrInsert(k: number, next: number): number {
    let s = this.slot(k);
    for (;;) {
      const v = this.vals[s];
      if (v === EMPTY) {
        this.keys[s] = k;
        this.vals[s] = next;
        if (++this.size * 2 > this.keys.length) this.grow();
        return next;
      }
      if (this.keys[s] === k) return v;
      s = (s + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldK = this.keys;
    const oldV = this.vals;
    const cap = oldK.length * 2;
    this.keys = new Int32Array(cap);
    this.vals = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    for (let i = 0; i < oldK.length; i++) {
      if (oldV[i] === EMPTY) continue;
      let s = this.slot(oldK[i]);
      while (this.vals[s] !== EMPTY) s = (s + 1) & this.mask;
      this.keys[s] = oldK[i];
      this.vals[s] = oldV[i];
    }
  }
}

/**
 * IdMap over a `toRaw` array. `toDense` builds its lookup table on first use, so a map reloaded from the cache
 * costs nothing until asked. Raw ids must be integers (they are int32 after parsing).
 */
export class DenseIdMap implements IdMap {
  readonly size: number;
  private lookup: Int32HashMap | null = null;

  constructor(readonly toRaw: Float64Array) {
    this.size = toRaw.length;
  }

  toDense(raw: number): number {
    if (!Number.isInteger(raw) || raw < -2147483648 || raw > 2147483647) return -1;
    if (this.lookup === null) {
      const h = new Int32HashMap(this.size);
      for (let i = 0; i < this.size; i++) h.getOrInsert(this.toRaw[i], i);
      this.lookup = h;
    }
    return this.lookup.get(raw);
  }
}

/** Dense ids for one raw column. Returns the dense column and `toRaw`. `out` may be `raw` itself (in place). */
export function denseColumn(raw: Int32Array, order: IdOrder = 'first-seen', out?: Int32Array): { dense: Int32Array; toRaw: Float64Array } {
  const n = raw.length;
  const dense = out ?? new Int32Array(n);
  let min = 0;
  let max = 0;
  if (n > 0) {
    min = raw[0];
    max = raw[0];
    for (let i = 1; i < n; i++) {
      const v = raw[i];
      if (v < min) min = v;
      else if (v > max) max = v;
    }
  }
  const rawList: number[] = [];
  let next = 0;
  // Direct addressing when the id range is small relative to the log (ids up to ~5M in UserBehavior): one array read per row.
  if (n > 0 && min >= 0 && max < Math.max(1 << 22, 4 * n)) {
    const table = new Int32Array(max + 1).fill(EMPTY);
    let prev = raw[0] - 1;
    let prevD = -1;
    for (let i = 0; i < n; i++) {
      const v = raw[i];
      if (v !== prev) {
        let d = table[v];
        if (d === EMPTY) {
          d = next++;
          table[v] = d;
          rawList.push(v);
        }
        prev = v;
        prevD = d;
      }
      dense[i] = prevD;
    }
  } else if (n > 0) {
    const h = new Int32HashMap(1024);
    let prev = raw[0] - 1;
    let prevD = -1;
    for (let i = 0; i < n; i++) {
      const v = raw[i];
      if (v !== prev || i === 0) {
        const d = h.getOrInsert(v, next);
        if (d === next) {
          next++;
          rawList.push(v);
        }
        prev = v;
        prevD = d;
      }
      dense[i] = prevD;
    }
  }
  let toRaw = Float64Array.from(rawList);
  if (order === 'sorted' && toRaw.length > 1) {
    const sorted = toRaw.slice().sort();
    // old dense id -> new dense id: position of its raw id in the sorted list
    const perm = new Int32Array(toRaw.length);
    const pos = new Map<number, number>();
    for (let i = 0; i < sorted.length; i++) pos.set(sorted[i], i);
    for (let i = 0; i < toRaw.length; i++) perm[i] = pos.get(toRaw[i])!;
    for (let i = 0; i < n; i++) dense[i] = perm[dense[i]];
    toRaw = sorted;
  }
  return { dense, toRaw };
}

export interface ReindexOptions {
  /** `first-seen` (default) or `sorted` by raw id. */
  order?: IdOrder;
  /** Overwrite the log's user/item/category columns with the dense ids instead of allocating (saves 12 bytes a row). */
  inPlace?: boolean;
}

/**
 * Dense ids for users, items and categories. The behavior and timestamp columns are shared with `log`, not copied.
 */
export function reindex(log: InteractionLog, options: ReindexOptions = {}): IndexedLog {
  const order = options.order ?? 'first-seen';
  if (order !== 'first-seen' && order !== 'sorted') throw new InvalidArgumentError('invalid option', { where: 'reindex.order', expected: '"first-seen" or "sorted"', got: order });
  checkLog(log, 'reindex(log)');
  const inPlace = options.inPlace ?? false;
  const u = denseColumn(log.user, order, inPlace ? log.user : undefined);
  const it = denseColumn(log.item, order, inPlace ? log.item : undefined);
  const c = denseColumn(log.category, order, inPlace ? log.category : undefined);
  return {
    numRows: log.numRows,
    user: u.dense,
    item: it.dense,
    category: c.dense,
    behavior: log.behavior,
    timestamp: log.timestamp,
    numUsers: u.toRaw.length,
    numItems: it.toRaw.length,
    numCategories: c.toRaw.length,
    users: new DenseIdMap(u.toRaw),
    items: new DenseIdMap(it.toRaw),
    categories: new DenseIdMap(c.toRaw),
  };
}

/** The raw-id log behind an IndexedLog (new id columns, shared behavior/timestamp). */
export function rawLog(log: IndexedLog): InteractionLog {
  const back = (dense: Int32Array, map: IdMap) => {
    const out = new Int32Array(dense.length);
    const t = map.toRaw;
    for (let i = 0; i < dense.length; i++) out[i] = t[dense[i]];
    return out;
  };
  return {
    numRows: log.numRows,
    user: back(log.user, log.users),
    item: back(log.item, log.items),
    category: back(log.category, log.categories),
    behavior: log.behavior,
    timestamp: log.timestamp,
  };
}

/** Throws InvalidArgumentError unless all five columns have `numRows` entries. */
export function checkLog(log: InteractionLog, where: string): void {
  const n = log?.numRows;
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('invalid log', { where: `${where}.numRows`, expected: 'an integer >= 0', got: n });
  for (const k of ['user', 'item', 'category', 'timestamp'] as const) {
    if (!(log[k] instanceof Int32Array) || log[k].length !== n) throw new InvalidArgumentError('invalid log column', { where: `${where}.${k}`, expected: `Int32Array of length ${n}`, got: log[k] });
  }
  if (!(log.behavior instanceof Uint8Array) || log.behavior.length !== n) throw new InvalidArgumentError('invalid log column', { where: `${where}.behavior`, expected: `Uint8Array of length ${n}`, got: log.behavior });
}
