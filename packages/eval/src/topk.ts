/**
 * Top-k selection over a score row with exclusions, in plain JS over typed arrays. O(n + k log k) per row
 * with a bounded min-heap; the exclusion list is applied through a stamp array so it costs O(|exclude|).
 */

/** Reusable top-k selector for rows of `numItems` scores. Not thread-safe; one per caller. */
export class TopK {
  private readonly stamp: Int32Array;
  private tag = 0;
  private heapScore: Float64Array;
  private heapItem: Int32Array;

  constructor(readonly numItems: number, readonly k: number) {
    this.stamp = new Int32Array(numItems);
    this.heapScore = new Float64Array(k);
    this.heapItem = new Int32Array(k);
  }

  /**
   * Write the top-k item ids of `scores[offset .. offset + numItems)` (descending; ties by lower id) into
   * `out[outOffset ..]`, skipping `exclude[exStart .. exEnd)`; pads with -1 when fewer than k items remain.
   */
  select(
    scores: ArrayLike<number>,
    out: Int32Array,
    outOffset = 0,
    offset = 0,
    exclude?: Int32Array,
    exStart = 0,
    exEnd = exclude ? exclude.length : 0,
  ): void {
    const k = this.k;
    const n = this.numItems;
    this.tag++;
    if (this.tag === 0x7fffffff) {
      this.stamp.fill(0);
      this.tag = 1;
    }
    const tag = this.tag;
    if (exclude) for (let j = exStart; j < exEnd; j++) if (exclude[j] >= 0 && exclude[j] < n) this.stamp[exclude[j]] = tag;
    const hs = this.heapScore;
    const hi = this.heapItem;
    let size = 0;
    // Once the heap is full, `thr` is its worst score: most items fail this one comparison (NaN fails it too).
    let thr = -Infinity;
    const stamp = this.stamp;
    for (let i = 0; i < n; i++) {
      const s = scores[offset + i];
      if (!(s >= thr)) continue;
      if (stamp[i] === tag) continue; // excluded
      if (size < k) {
        // sift up
        let c = size++;
        while (c > 0) {
          const p = (c - 1) >> 1;
          if (worse(hs[p], hi[p], s, i)) break;
          hs[c] = hs[p];
          hi[c] = hi[p];
          c = p;
        }
        hs[c] = s;
        hi[c] = i;
        if (size === k) thr = hs[0];
      } else if (better(s, i, hs[0], hi[0])) {
        siftDownFromRoot(hs, hi, size, s, i); // replace the root (the worst kept item)
        thr = hs[0];
      }
    }
    // heap holds the best `size`; the root is the worst. Pop into out from the back.
    for (let j = size; j < k; j++) out[outOffset + j] = -1;
    for (let j = size - 1; j >= 0; j--) {
      out[outOffset + j] = hi[0];
      const ls = hs[size - 1];
      const li = hi[size - 1];
      size--;
      siftDownFromRoot(hs, hi, size, ls, li);
    }
  }
}

// Min-heap order: "better" = ranks lower in the heap = worse item. An item is worse when its score is lower,
// or equal with a higher id.
/** Put (s, i) at the root of the min-heap `hs/hi[0, size)` (worst at the root) and sift it down to its place. */
function siftDownFromRoot(hs: Float64Array | Float32Array, hi: Int32Array, size: number, s: number, i: number): void {
  let c = 0;
  for (;;) {
    const l = 2 * c + 1;
    if (l >= size) break;
    const r = l + 1;
    const m = r < size && better(hs[l], hi[l], hs[r], hi[r]) ? r : l;
    if (!better(s, i, hs[m], hi[m])) break;
    hs[c] = hs[m];
    hi[c] = hi[m];
    c = m;
  }
  hs[c] = s;
  hi[c] = i;
}

function better(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa > sb || (sa === sb && ia < ib);
}
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  // true when (sa, ia) is worse-or-equal than (sb, ib) in heap terms: the parent must be <= the child
  return sa < sb || (sa === sb && ia > ib);
}

/** Convenience: top-k of one score row with optional exclusions. */
export function topKIndices(scores: ArrayLike<number>, k: number, exclude?: Int32Array): Int32Array {
  const t = new TopK(scores.length, k);
  const out = new Int32Array(k);
  t.select(scores, out, 0, 0, exclude);
  return out;
}
