/**
 * Streaming top-k on typed arrays: a size-k min-heap fed chunk by chunk, so the full catalogue's scores never
 * have to exist at once (4.1M items are scored in chunks by the embedding head).
 */

export class StreamingTopK {
  readonly k: number;
  private readonly scores: Float32Array;
  private readonly ids: Int32Array;
  private n = 0;

  constructor(k: number) {
    this.k = k;
    this.scores = new Float32Array(k);
    this.ids = new Int32Array(k);
  }

  /** The smallest score kept (the bar a new item must clear), -Infinity until the heap is full. */
  get threshold(): number {
    return this.n < this.k ? -Infinity : this.scores[0];
  }

  push(id: number, score: number): void {
    if (this.k === 0 || Number.isNaN(score)) return;
    if (this.n < this.k) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (this.scores[p] <= score) break;
        this.scores[i] = this.scores[p];
        this.ids[i] = this.ids[p];
        i = p;
      }
      this.scores[i] = score;
      this.ids[i] = id;
      return;
    }
    if (score <= this.scores[0]) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= this.k) break;
      const r = l + 1;
      const c = r < this.k && this.scores[r] < this.scores[l] ? r : l;
      if (this.scores[c] >= score) break;
      this.scores[i] = this.scores[c];
      this.ids[i] = this.ids[c];
      i = c;
    }
    this.scores[i] = score;
    this.ids[i] = id;
  }

  /**
   * Offer `values[from .. to)` with ids `idOffset + j - from`; `excluded(id)` skips items (masking).
   */
  pushRange(values: ArrayLike<number>, from: number, to: number, idOffset: number, excluded?: (id: number) => boolean): void {
    for (let j = from; j < to; j++) {
      const s = values[j];
      if (s <= this.threshold) continue;
      const id = idOffset + j - from;
      if (excluded && excluded(id)) continue;
      this.push(id, s);
    }
  }

  /** Kept items best first (ties: lower id first). */
  result(): { items: Int32Array; scores: Float32Array } {
    const order = Array.from({ length: this.n }, (_, i) => i).sort((a, b) => this.scores[b] - this.scores[a] || this.ids[a] - this.ids[b]);
    return { items: Int32Array.from(order, (i) => this.ids[i]), scores: Float32Array.from(order, (i) => this.scores[i]) };
  }
}
