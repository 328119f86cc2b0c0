/**
 * Seeded random numbers. `Rng` is sfc32 (Small Fast Counting, 128-bit state, passes PractRand to 2^42+) seeded
 * through splitmix32; `split()` derives an independent child stream so each component owns one generator and
 * adding a consumer never shifts the draws of another. State is four uint32 words and can be saved and restored,
 * which is what checkpoint resume needs.
 */
import { check } from './errors.js';

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export type RngState = [number, number, number, number];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal = NaN;

  constructor(seed: number | string = 0) {
    const n = typeof seed === 'string' ? hashString(seed) : seed;
    check(Number.isFinite(n), 'Rng(seed)', 'a finite number or a string', seed);
    const sm = splitmix32(Math.floor(n) ^ Math.floor(n / 0x100000000));
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  setState(state: RngState): void {
    check(Array.isArray(state) && state.length === 4, 'Rng.setState', 'an array of 4 uint32 words', state);
    [this.a, this.b, this.c, this.d] = state.map((x) => x >>> 0) as RngState;
    this.spareNormal = NaN;
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n), unbiased (rejection on the top sliver). */
  int(n: number): number {
    if (n <= 0) throw new RangeError(`Rng.int: expected n > 0, got ${n}`);
    if (n <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % n);
      let x = this.nextUint32();
      while (x >= limit) x = this.nextUint32();
      return x % n;
    }
    return Math.floor(this.next() * n);
  }

  /** Standard normal by Box-Muller (pairs cached). */
  normal(mean = 0, std = 1): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = NaN;
      return mean + std * z;
    }
    let u = this.next();
    while (u <= 1e-300) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  exponential(rate = 1): number {
    return -Math.log(1 - this.next()) / rate;
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Gamma(shape, 1) by Marsaglia-Tsang. */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Fill an array with standard normals (or mean/std). */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  fillUniform(out: Float32Array | Float64Array, lo = 0, hi = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** k distinct indices from [0, n) (Floyd's algorithm when k << n, partial shuffle otherwise). */
  sampleWithoutReplacement(n: number, k: number): Int32Array {
    check(Number.isInteger(k) && k >= 0 && k <= n, 'Rng.sampleWithoutReplacement', `0 <= k <= n (${n})`, k);
    const out = new Int32Array(k);
    if (k * 4 < n) {
      const seen = new Set<number>();
      let w = 0;
      for (let j = n - k; j < n; j++) {
        const t = this.int(j + 1);
        const pick = seen.has(t) ? j : t;
        seen.add(pick);
        out[w++] = pick;
      }
      return out;
    }
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
      out[i] = idx[i];
    }
    return out;
  }

  /** An independent child generator; the parent advances by four draws. */
  split(label?: string): Rng {
    const r = new Rng(0);
    const salt = label === undefined ? 0 : hashString(label);
    const sm = splitmix32((this.nextUint32() ^ salt) >>> 0);
    r.setState([
      (sm() ^ this.nextUint32()) >>> 0,
      (sm() ^ this.nextUint32()) >>> 0,
      (sm() ^ this.nextUint32()) >>> 0,
      1,
    ]);
    for (let i = 0; i < 12; i++) r.nextUint32();
    return r;
  }

  /** A 31-bit integer seed for libraries that take a number (tfjs initialisers, dropout). */
  seed(): number {
    return this.nextUint32() >>> 1;
  }
}

/** FNV-1a 32-bit hash of a string: stable across processes and platforms. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
