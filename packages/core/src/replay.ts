/**
 * Experience replay shared by every agent: a ring buffer of named typed-array fields (no per-transition objects),
 * uniform or prioritized (proportional, sum-tree; Schaul et al. 2016). Its whole state is plain typed arrays and
 * numbers, so checkpoints can save it and resume bit for bit.
 */
import { check, InvalidArgumentError } from './errors.js';
import type { Rng } from './rng.js';

export type ReplayArray = Float32Array | Int32Array | Uint8Array | Float64Array;
export type ReplayArrayCtor = Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor | Float64ArrayConstructor;

export interface FieldSpec {
  /** Numbers per transition (e.g. the flattened observation length). */
  size: number;
  /** Typed-array type (default Float32Array). */
  type?: ReplayArrayCtor;
}

export type FieldSpecs = Record<string, FieldSpec>;
export type Batch<F extends FieldSpecs> = { [K in keyof F]: ReplayArray };

export interface ReplaySample<F extends FieldSpecs> {
  /** Named arrays, each `[batch * size]`. */
  batch: Batch<F>;
  /** Buffer slots sampled (pass back to `updatePriorities`). */
  indices: Int32Array;
  /** Importance-sampling weights, normalised to max 1 (all ones for uniform replay). */
  weights: Float32Array;
}

export interface PrioritizedOptions {
  /** How much prioritisation is used (0 = uniform). Default 0.6. */
  alpha?: number;
  /** Initial importance-sampling exponent, annealed to 1 by `betaSteps`. Default 0.4. */
  beta0?: number;
  /** Number of `sample` calls over which beta reaches 1. Default 100,000. */
  betaSteps?: number;
  /** Added to |TD error| so no transition gets zero priority. Default 1e-6. */
  epsilon?: number;
}

export interface ReplayBufferOptions<F extends FieldSpecs> {
  capacity: number;
  fields: F;
  /** Enable prioritized replay with these options. */
  prioritized?: PrioritizedOptions | boolean;
}

export interface ReplayState {
  capacity: number;
  size: number;
  next: number;
  sampleCalls: number;
  maxPriority: number;
  fields: Record<string, ReplayArray>;
  tree?: Float64Array;
}

export class ReplayBuffer<F extends FieldSpecs = FieldSpecs> {
  readonly capacity: number;
  readonly fields: F;
  readonly prioritized: boolean;
  private readonly data: Record<string, ReplayArray> = {};
  private _size = 0;
  private nextSlot = 0;
  private sampleCalls = 0;
  private readonly alpha: number;
  private readonly beta0: number;
  private readonly betaSteps: number;
  private readonly eps: number;
  private maxPriority = 1;
  /** Sum tree of priorities^alpha: leaves at [treeSize, 2*treeSize). */
  private tree?: Float64Array;
  private readonly treeSize: number;

  constructor(options: ReplayBufferOptions<F>) {
    check(Number.isInteger(options.capacity) && options.capacity > 0, 'ReplayBuffer({capacity})', 'a positive integer', options.capacity);
    check(options.fields && Object.keys(options.fields).length > 0, 'ReplayBuffer({fields})', 'at least one field', options.fields);
    this.capacity = options.capacity;
    this.fields = options.fields;
    for (const [name, spec] of Object.entries(options.fields)) {
      check(Number.isInteger(spec.size) && spec.size > 0, `ReplayBuffer fields.${name}.size`, 'a positive integer', spec.size);
      const Ctor = spec.type ?? Float32Array;
      this.data[name] = new Ctor(options.capacity * spec.size);
    }
    const p = options.prioritized === true ? {} : options.prioritized || undefined;
    this.prioritized = !!p;
    this.alpha = p?.alpha ?? 0.6;
    this.beta0 = p?.beta0 ?? 0.4;
    this.betaSteps = p?.betaSteps ?? 100_000;
    this.eps = p?.epsilon ?? 1e-6;
    let ts = 1;
    while (ts < options.capacity) ts *= 2;
    this.treeSize = ts;
    if (this.prioritized) this.tree = new Float64Array(2 * ts);
  }

  get size(): number {
    return this._size;
  }

  /** Current importance-sampling exponent. */
  get beta(): number {
    return Math.min(1, this.beta0 + ((1 - this.beta0) * this.sampleCalls) / this.betaSteps);
  }

  /** Add `n` transitions given as `[n * size]` arrays per field. Returns the slots written. */
  addBatch(values: { [K in keyof F]: ArrayLike<number> }, n?: number): Int32Array {
    const names = Object.keys(this.fields);
    const count = n ?? values[names[0] as keyof F].length / this.fields[names[0]].size;
    for (const name of names) {
      const v = values[name as keyof F];
      const size = this.fields[name].size;
      if (!v || v.length < count * size) {
        throw new InvalidArgumentError('field too short', {
          where: `ReplayBuffer.addBatch(${name})`,
          expected: `${count} x ${size} = ${count * size} numbers`,
          got: v ? v.length : v,
        });
      }
    }
    const slots = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const slot = this.nextSlot;
      slots[i] = slot;
      for (const name of names) {
        const size = this.fields[name].size;
        const src = values[name as keyof F];
        const dst = this.data[name];
        const off = slot * size;
        const soff = i * size;
        for (let j = 0; j < size; j++) dst[off + j] = src[soff + j];
      }
      if (this.tree) this.setLeaf(slot, Math.pow(this.maxPriority, this.alpha));
      this.nextSlot = (this.nextSlot + 1) % this.capacity;
      if (this._size < this.capacity) this._size++;
    }
    return slots;
  }

  /** Add one transition. */
  add(values: { [K in keyof F]: ArrayLike<number> | number }): number {
    const wrapped = {} as { [K in keyof F]: ArrayLike<number> };
    for (const k of Object.keys(this.fields) as (keyof F)[]) {
      const v = values[k];
      wrapped[k] = (typeof v === "number" ? [v] : v) as ArrayLike<number>;
    }
    return this.addBatch(wrapped, 1)[0];
  }

  private setLeaf(slot: number, value: number): void {
    const tree = this.tree!;
    let i = slot + this.treeSize;
    const delta = value - tree[i];
    while (i >= 1) {
      tree[i] += delta;
      i >>= 1;
    }
  }

  /** Leaf index whose cumulative priority range contains `mass`. */
  private findLeaf(mass: number): number {
    const tree = this.tree!;
    let i = 1;
    while (i < this.treeSize) {
      const left = 2 * i;
      if (mass < tree[left] || tree[left + 1] <= 0) i = left;
      else {
        mass -= tree[left];
        i = left + 1;
      }
    }
    return Math.min(i - this.treeSize, this._size - 1);
  }

  /** Sample `batchSize` transitions (with replacement). */
  sample(batchSize: number, rng: Rng): ReplaySample<F> {
    check(this._size > 0, 'ReplayBuffer.sample', 'a non-empty buffer', this._size, 'Add transitions (or wait for warm-up) before sampling.');
    const indices = new Int32Array(batchSize);
    const weights = new Float32Array(batchSize).fill(1);
    if (this.tree) {
      const total = this.tree[1];
      const segment = total / batchSize;
      const beta = this.beta;
      let minProb = Infinity;
      for (let i = 0; i < this._size; i++) {
        const p = this.tree[this.treeSize + i];
        if (p > 0 && p < minProb) minProb = p;
      }
      minProb /= total;
      const maxWeight = Math.pow(this._size * minProb, -beta);
      for (let b = 0; b < batchSize; b++) {
        const mass = (b + rng.next()) * segment;
        const idx = this.findLeaf(mass);
        indices[b] = idx;
        const prob = this.tree[this.treeSize + idx] / total;
        weights[b] = Math.pow(this._size * prob, -beta) / maxWeight;
      }
    } else {
      for (let b = 0; b < batchSize; b++) indices[b] = rng.int(this._size);
    }
    this.sampleCalls++;
    return { batch: this.gather(indices), indices, weights };
  }

  /** Copy the given slots out as a batch. */
  gather(indices: Int32Array): Batch<F> {
    const out = {} as Record<string, ReplayArray>;
    for (const [name, spec] of Object.entries(this.fields)) {
      const src = this.data[name];
      const Ctor = (spec.type ?? Float32Array) as ReplayArrayCtor;
      const dst = new Ctor(indices.length * spec.size);
      for (let b = 0; b < indices.length; b++) {
        dst.set(src.subarray(indices[b] * spec.size, (indices[b] + 1) * spec.size), b * spec.size);
      }
      out[name] = dst;
    }
    return out as Batch<F>;
  }

  /** Set priorities from new |TD errors| (prioritized replay only; ignored otherwise). */
  updatePriorities(indices: Int32Array, tdErrors: ArrayLike<number>): void {
    if (!this.tree) return;
    for (let i = 0; i < indices.length; i++) {
      const p = Math.abs(tdErrors[i]) + this.eps;
      if (p > this.maxPriority) this.maxPriority = p;
      this.setLeaf(indices[i], Math.pow(p, this.alpha));
    }
  }

  /** Everything needed to restore the buffer exactly (arrays are copies). */
  getState(): ReplayState {
    const fields: Record<string, ReplayArray> = {};
    for (const [k, v] of Object.entries(this.data)) fields[k] = v.slice(0, this._size * this.fields[k].size) as ReplayArray;
    return {
      capacity: this.capacity,
      size: this._size,
      next: this.nextSlot,
      sampleCalls: this.sampleCalls,
      maxPriority: this.maxPriority,
      fields,
      tree: this.tree?.slice(),
    };
  }

  setState(state: ReplayState): void {
    check(state.capacity === this.capacity, 'ReplayBuffer.setState', `capacity ${this.capacity}`, state.capacity);
    for (const k of Object.keys(this.fields)) {
      check(state.fields[k] !== undefined, 'ReplayBuffer.setState', `field "${k}"`, Object.keys(state.fields));
      this.data[k].fill(0);
      this.data[k].set(state.fields[k]);
    }
    this._size = state.size;
    this.nextSlot = state.next;
    this.sampleCalls = state.sampleCalls;
    this.maxPriority = state.maxPriority;
    if (this.tree) {
      check(!!state.tree, 'ReplayBuffer.setState', 'a sum tree for a prioritized buffer', 'none');
      this.tree.set(state.tree!);
    }
  }
}

/** Linear interpolation from `start` to `end` over `steps`, then constant. */
export function linearSchedule(start: number, end: number, steps: number): (t: number) => number {
  return (t) => (t >= steps ? end : start + ((end - start) * t) / steps);
}

/** `start * decay^t`, floored at `end` (the 0.995 / 0.999 / 0.99 epsilon presets). */
export function exponentialSchedule(start: number, end: number, decay: number): (t: number) => number {
  return (t) => Math.max(end, start * Math.pow(decay, t));
}

/** Step decay: `base * gamma^floor(t / every)` (learning rate x0.9 every 1,000 steps). */
export function stepSchedule(base: number, every: number, gamma: number): (t: number) => number {
  return (t) => base * Math.pow(gamma, Math.floor(t / every));
}
