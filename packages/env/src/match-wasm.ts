/**
 * `SimdCosineMatcher`: the exact cosine top-k of `CosineMatcher` (same items, same order, same tie rule, same
 * scores), computed as a WebAssembly SIMD int16 prefilter plus an exact re-rank of the few candidates it keeps.
 *
 * 1. Prefilter (wasm simd128, kernel assembled at run time by @rec/core's wasm-asm.ts). Unit vectors are quantised to int16,
 *    `Q = round(S q)`, `X = round(S x)`, S = 32767; `i32x4.dot_i16x8_s` does 8 multiply-adds per instruction, exact in
 *    int32. For each query the kernel keeps the k-th best integer score so far, `thr`, and records every item whose
 *    integer score is >= `thr - M` (M below) as a candidate, in item order.
 * 2. Re-rank (JS): of the candidates, those with integer score >= `T - M` (T = the final k-th best integer score) are
 *    scored exactly as `CosineMatcher` scores them (the same f64 sum of the same f32 products, in the same order),
 *    and the top k by (score desc, item index asc) is the answer.
 *
 * Why this is exact. Write s_j for CosineMatcher's f64 score of item j and A_j = Q.X_j / S^2 for the prefilter's.
 * Quantisation: q^ = Q/S = q + e_q with |e_q,d| <= 1/(2S), so ||e_q|| <= r = sqrt(D)/(2S) (same for x); then
 *   A_j - q.x_j = q.e_x + e_q.x + e_q.e_x,  |A_j - q.x_j| <= ||q|| r + r ||x|| + r^2 <= 2 (1 + 1e-6) r + r^2,
 * as ||q||, ||x|| <= 1 + D 2^-24 (f32 normalisation). CosineMatcher's f64 sum differs from the real q.x by at most
 * D 2^-53 sum|q_d x_d| <= 1e-12 (products of f32 values are exact in f64). So |A_j - s_j| <= E := 2.000002 r + r^2 +
 * 1e-12 for every item. Let s_(k) be the k-th best exact score and T the k-th best prefilter score (the k-th best A).
 * The k items with A >= T have s >= T - E, so s_(k) >= T - E. Any item of the exact top k has s_j >= s_(k) >= T - E,
 * hence A_j >= s_j - E >= T - 2E. So every item that can be in the exact top k (ties at s_(k) included) has
 * A_j >= T - 2E, i.e. integer score >= T S^2 - 2 E S^2, and M = ceil(2 E S^2) + 2 covers it. The running threshold
 * only rises towards T, so `thr - M <= T - M` at every step and no such item is skipped. Re-ranking all of them with
 * CosineMatcher's own arithmetic and tie rule gives CosineMatcher's answer. For D = 64: r = 1.22e-4, M = 524,835
 * (about 4.9e-4 in cosine), which keeps about k (1 + ln(N / k)) candidates per query on random embeddings.
 * Int32 cannot overflow: |Q_d|, |X_d| <= 32767 so a lane pair is <= 2 * 32767^2 < 2^31, and any partial sum is
 * <= sum|Q_d X_d| <= S^2 (1 + 1e-6) + S sqrt(D) (1 + 1e-6) + D / 4 < 2^31 for D <= 10^6.
 * A query that records more candidates than its buffer holds (heavy ties: duplicate items, a zero query) is
 * answered by `CosineMatcher` itself; so are non-finite queries, and all queries when an item row is not finite.
 *
 * Threads: with `threads > 1` the queries are split into groups taken by the calling thread and `threads - 1`
 * worker_threads from a shared counter; all share one WebAssembly shared memory (items once, queries, per-query
 * state). The calling thread blocks in `Atomics.wait` until the workers finish, so `topK` stays synchronous. Results
 * do not depend on which thread took which group. Workers are started lazily on the first large call, `unref`'d
 * (they do not keep the process alive), and stopped by `dispose()`.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FuncBuilder, I32, InvalidArgumentError, ModuleBuilder, NotAvailableError, TimeoutError, V128, check } from '@rec/core';
import { CosineMatcher, checkEmbeddings, checkMetric, checkQuery, normaliseRows, type ItemMatcher, type MatchMetric } from './match.js';

export interface SimdCosineMatcherOptions {
  /**
   * `'cosine'` (default) or `'dot'`: rank by the plain dot product, exactly as `CosineMatcher` with the same metric.
   * The prefilter then quantises x / max_i ||x_i|| and q / ||q|| (both of norm <= 1, so the margin proof holds as
   * written: ranking by q.x and by that scaled product is the same for one query), and the re-rank scores q.x.
   */
  metric?: MatchMetric;
  /** Threads that share the work (the caller + `threads - 1` workers). Default min(2, available cores). */
  threads?: number;
  /** Queries per work unit (a multiple of 4). Default 32. */
  groupSize?: number;
  /** Item blocks of 16 per cache chunk. Default 8 (16 KiB of int16 items at dim 64). */
  chunkBlocks?: number;
  /**
   * Scales the proven margin M. Only for tests that show the margin is needed (a value < 1 breaks exactness).
   * @internal
   */
  marginScale?: number;
}

/** Quantisation scale: the largest |int16| whose pair products cannot overflow int32. */
const SCALE = 32767;
/**
 * Queries scored together per item block (register blocking: ROWS x 4 accumulators, each item vector loaded once
 * for ROWS queries). Measured here at 2,000 x 10,000 x 64: 1 row 2.0x and 2 rows 1.17x the time of 4 rows. The
 * 4 sub-blocks are scored in two passes of a loop over the pairs (8 accumulators live, no register spills on x64):
 * 1.3-1.6x the fully unrolled single pass, whose loads TurboFan hoisted and spilled; 2 rows in one pass measured
 * the same as 4 rows in two.
 */
const ROWS = 4;
/** Initial "k-th best so far": below every real score (>= -(S^2 + S sqrt(D) + D/4)), and INIT - M does not wrap. */
const INIT = -(2 ** 30 + 2 ** 29);
/** Beyond this k the prefilter saves little: answered by CosineMatcher. */
const MAX_K = 256;
const HEADER = 2048; // [nItems, k, cap, margin] at 0, per-thread 64-byte scratch at 64 + 64 t (t < 16)
const MAX_THREADS = 16;
const MAX_BATCH = 8192; // queries quantised per pass
const STATE_BYTES = 16 << 20;
/** Worker threads are started only for calls with at least this many query x item pairs. */
const PARALLEL_MIN_WORK = 1 << 22;

/** The margin M (integer units, see the module comment) for dimension D. */
export function prefilterMargin(dim: number): number {
  const r = Math.sqrt(dim) / (2 * SCALE);
  const E = 2.000002 * r + r * r + 1e-12;
  return Math.ceil(2 * E * SCALE * SCALE) + 2;
}

/**
 * The kernel module for `pairs` = ceil(dim / 2) int16 pairs per vector. Exports `run(qPtr, nq, st0, stStride, sBeg,
 * sEnd, chunk, scratch, itemsPtr)`: queries `[0, nq)` (nq a multiple of R; query stride pairs * 4 bytes, state stride
 * `stStride`) against item blocks `[sBeg, sEnd)` (16 items each), `chunk` blocks at a time for cache reuse.
 */
function buildKernel(pairs: number, pages: number, R = ROWS): Uint8Array<ArrayBuffer> {
  const QB = pairs * 4; // bytes per query
  const SUPER = 16 * pairs * 4; // bytes per block of 16 items: 4 sub-blocks x pairs x 16 bytes
  const mod = new ModuleBuilder({ initial: pages, maximum: pages, shared: true });

  // slow(sp, base, mask, scratch) -> low: handle the items of one block that passed the candidate threshold.
  const sl = new FuncBuilder([I32, I32, I32, I32], [I32]);
  const [sp, base, mask, scratch] = [0, 1, 2, 3];
  const lane = sl.local(I32), idx = sl.local(I32), sc = sl.local(I32), low = sl.local(I32);
  const cnt = sl.local(I32), k = sl.local(I32), p = sl.local(I32), top = sl.local(I32), prev = sl.local(I32);
  sl.get(sp).load(0).set(low);
  sl.const(0).load(4).set(k);
  sl.get(sp).const(16).op('i32.add').set(top);
  sl.loop();
  {
    sl.get(mask).op('i32.ctz').set(lane);
    sl.get(mask).get(mask).const(1).op('i32.sub').op('i32.and').set(mask);
    sl.get(base).get(lane).op('i32.add').set(idx);
    sl.block();
    {
      sl.get(idx).const(0).load(0).op('i32.ge_s').brIf(0); // padding items past nItems
      sl.get(scratch).get(lane).const(2).op('i32.shl').op('i32.add').load(0).set(sc);
      sl.get(sc).get(low).op('i32.lt_s').brIf(0); // the threshold rose within this block
      // Record the candidate (index, integer score), or flag the overflow.
      sl.get(sp).load(4).set(cnt);
      sl.get(cnt).const(0).load(8).op('i32.lt_s').if();
      {
        sl.get(top).get(k).const(2).op('i32.shl').op('i32.add').get(cnt).const(3).op('i32.shl').op('i32.add').tee(prev);
        sl.get(idx).store(0);
        sl.get(prev).get(sc).store(4);
        sl.get(sp).get(cnt).const(1).op('i32.add').store(4);
      }
      sl.op('else');
      sl.get(sp).const(1).store(8);
      sl.end();
      // Insert into the sorted (descending) k best when strictly better than the k-th.
      sl.get(sc).get(top).get(k).const(1).op('i32.sub').const(2).op('i32.shl').op('i32.add').load(0).op('i32.le_s').brIf(0);
      sl.get(k).const(1).op('i32.sub').set(p);
      sl.block();
      sl.loop();
      {
        sl.get(p).op('i32.eqz').brIf(1);
        sl.get(top).get(p).const(2).op('i32.shl').op('i32.add').const(4).op('i32.sub').load(0).tee(prev);
        sl.get(sc).op('i32.ge_s').brIf(1);
        sl.get(top).get(p).const(2).op('i32.shl').op('i32.add').get(prev).store(0);
        sl.get(p).const(1).op('i32.sub').set(p);
        sl.br(0);
      }
      sl.end();
      sl.end();
      sl.get(top).get(p).const(2).op('i32.shl').op('i32.add').get(sc).store(0);
      sl.get(top).get(k).const(1).op('i32.sub').const(2).op('i32.shl').op('i32.add').load(0);
      sl.const(0).load(12).op('i32.sub').set(low);
      sl.get(sp).get(low).store(0);
    }
    sl.end();
    sl.get(mask).brIf(0);
  }
  sl.end();
  sl.get(low);
  const slowIndex = mod.addFunction(sl);

  // run(...)
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const [qPtr, nq, st0, stStride, sBeg, sEnd, chunk, scr, itemsPtr] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c0 = f.local(I32), cEnd = f.local(I32), q = f.local(I32), s = f.local(I32), ip = f.local(I32);
  const rows = Array.from({ length: R }, (_, r) => r);
  const qp = rows.map(() => f.local(I32));
  const stp = rows.map(() => f.local(I32));
  const lows = rows.map(() => f.local(I32));
  const m = f.local(I32);
  const acc = rows.map(() => [0, 1, 2, 3].map(() => f.local(V128)));
  const it = [0, 1, 2, 3].map(() => f.local(V128));
  const qs = rows.map(() => f.local(V128));
  const lv = f.local(V128);
  const zero = f.local(V128); // wasm zero-initialises locals
  const ipp = f.local(I32), po = f.local(I32);
  f.get(sBeg).set(c0);
  f.loop();
  {
    // cEnd = min(c0 + chunk, sEnd)
    f.get(c0).get(chunk).op('i32.add').get(sEnd).get(c0).get(chunk).op('i32.add').get(sEnd).op('i32.lt_s').op('select').set(cEnd);
    f.const(0).set(q);
    f.loop();
    {
      f.get(qPtr).get(q).const(QB).op('i32.mul').op('i32.add').set(qp[0]);
      f.get(st0).get(q).get(stStride).op('i32.mul').op('i32.add').set(stp[0]);
      for (let r = 1; r < R; r++) {
        f.get(qp[r - 1]).const(QB).op('i32.add').set(qp[r]);
        f.get(stp[r - 1]).get(stStride).op('i32.add').set(stp[r]);
      }
      for (let r = 0; r < R; r++) f.get(stp[r]).load(0).set(lows[r]);
      f.get(c0).set(s);
      f.loop();
      {
        f.get(itemsPtr).get(s).const(SUPER).op('i32.mul').op('i32.add').set(ip);
        // Two passes over the pairs, sub-blocks 0-1 then 2-3, each a real loop: 8 accumulators, 2 item vectors and R
        // query broadcasts live (14 of x64's 16 vector registers). Unrolled over the pairs, TurboFan hoisted every
        // load of the body to its top and spilled most of them to the stack (measured: bench/env.ts).
        for (const half of [0, 1]) {
          const bs = [2 * half, 2 * half + 1];
          for (let r = 0; r < R; r++) for (const b of bs) f.get(zero).set(acc[r][b]);
          f.get(ip).set(ipp);
          f.const(0).set(po);
          f.loop();
          {
            for (const b of bs) f.get(ipp).simdMem('v128.load', b * pairs * 16).set(it[b]);
            for (let r = 0; r < R; r++) f.get(qp[r]).get(po).op('i32.add').simdMem('v128.load32_splat', 0).set(qs[r]);
            for (let r = 0; r < R; r++) {
              for (const b of bs) f.get(acc[r][b]).get(it[b]).get(qs[r]).simd('i32x4.dot_i16x8_s').simd('i32x4.add').set(acc[r][b]);
            }
            f.get(ipp).const(16).op('i32.add').set(ipp);
            f.get(po).const(4).op('i32.add').tee(po).const(pairs * 4).op('i32.lt_u').brIf(0);
          }
          f.end();
        }
        for (let r = 0; r < R; r++) {
          f.get(lows[r]).simd('i32x4.splat').set(lv);
          for (let b = 0; b < 4; b++) {
            f.get(acc[r][b]).get(lv).simd('i32x4.ge_s');
            if (b > 0) f.simd('v128.or');
          }
          f.simd('v128.any_true').if();
          {
            for (let b = 0; b < 4; b++) f.get(scr).get(acc[r][b]).simdMem('v128.store', b * 16);
            for (let b = 0; b < 4; b++) {
              f.get(acc[r][b]).get(lv).simd('i32x4.ge_s').simd('i32x4.bitmask');
              if (b > 0) f.const(4 * b).op('i32.shl').op('i32.or');
            }
            f.set(m);
            f.get(stp[r]).get(s).const(4).op('i32.shl').get(m).get(scr).call(slowIndex).set(lows[r]);
          }
          f.end();
        }
        f.get(s).const(1).op('i32.add').tee(s).get(cEnd).op('i32.lt_s').brIf(0);
      }
      f.end();
      f.get(q).const(R).op('i32.add').tee(q).get(nq).op('i32.lt_s').brIf(0);
    }
    f.end();
    f.get(cEnd).tee(c0).get(sEnd).op('i32.lt_s').brIf(0);
  }
  f.end();
  mod.addFunction(f, 'run');
  return mod.encode();
}

interface Kernel {
  run(qPtr: number, nq: number, st0: number, stStride: number, sBeg: number, sEnd: number, chunk: number, scratch: number, itemsPtr: number): void;
}

/** Worker body (an eval'd CommonJS script): take groups from the shared counter until none is left. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, done, scratch, slot } = workerData;
const run = new WebAssembly.Instance(module, { e: { m: memory } }).exports.run;
const c = new Int32Array(control);
const f = new Int32Array(done);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  const seq = Atomics.load(c, 0);
  if (Atomics.load(c, 1) !== 0) break;
  if (seq === seen) continue;
  seen = seq;
  try {
    const qBase = c[4], qStride = c[5], stBase = c[6], stStride = c[7], nqTotal = c[8], G = c[9], nBlocks = c[10], chunk = c[11], itemsPtr = c[12], groups = c[13];
    for (let g = Atomics.add(c, 2, 1); g < groups; g = Atomics.add(c, 2, 1)) {
      const q0 = g * G;
      run(qBase + q0 * qStride, Math.min(G, nqTotal - q0), stBase + q0 * stStride, stStride, 0, nBlocks, chunk, scratch, itemsPtr);
      Atomics.store(f, g, seq);
      Atomics.notify(f, g);
    }
  } catch (e) {
    Atomics.store(c, 15, 1);
  }
  Atomics.store(c, slot, seq);
  Atomics.notify(c, slot);
}
`;

let simdSupport: boolean | undefined;
/** Whether this runtime validates the kernel (WebAssembly SIMD and shared memory). */
export function wasmSimdAvailable(): boolean {
  if (simdSupport === undefined) {
    try {
      simdSupport = typeof WebAssembly === 'object' && WebAssembly.validate(buildKernel(1, 1));
    } catch {
      simdSupport = false;
    }
  }
  return simdSupport;
}

/** Exact cosine top-k: wasm SIMD int16 prefilter + exact re-rank, optionally on worker threads (module comment). */
export class SimdCosineMatcher implements ItemMatcher {
  readonly numItems: number;
  readonly dim: number;
  readonly threads: number;
  readonly metric: MatchMetric;
  /** The item rows exact scores use (shared with the exact fallback): L2-normalised, or as given for 'dot'. */
  readonly normalised: Float32Array;
  /** Candidates re-ranked exactly in the last `topK` call, per query (diagnostic). */
  lastCandidatesPerQuery = 0;
  /** Queries of the last `topK` call answered by the exact fallback (candidate overflow, non-finite input). */
  lastFallbacks = 0;
  private readonly exact: CosineMatcher;
  private readonly allExact: boolean;
  private readonly margin: number;
  private readonly pairs: number;
  private readonly groupSize: number;
  private readonly chunkBlocks: number;
  private readonly nBlocks: number;
  private memory: WebAssembly.Memory | null = null;
  private module: WebAssembly.Module | null = null;
  private kernel: Kernel | null = null;
  private layout = { items: 0, queries: 0, states: 0 };
  private control: Int32Array | null = null;
  /** Per group of the current pass: the call sequence number once its kernel work is done. */
  private groupDone: Int32Array | null = null;
  private workers: Worker[] = [];
  private disposed = false;

  constructor(itemEmbeddings: Float32Array, dim = 64, options: SimdCosineMatcherOptions = {}) {
    const W = 'SimdCosineMatcher';
    this.numItems = checkEmbeddings(itemEmbeddings, dim, W);
    this.dim = dim;
    const threads = options.threads ?? Math.min(2, availableParallelism());
    check(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS, `${W}(options.threads)`, `an integer in [1, ${MAX_THREADS}]`, threads);
    const G = options.groupSize ?? 32;
    check(Number.isInteger(G) && G >= ROWS && G % ROWS === 0, `${W}(options.groupSize)`, `a positive multiple of ${ROWS}`, G);
    const chunk = options.chunkBlocks ?? 8;
    check(Number.isInteger(chunk) && chunk >= 1, `${W}(options.chunkBlocks)`, 'a positive integer', chunk);
    const ms = options.marginScale ?? 1;
    check(Number.isFinite(ms) && ms >= 0, `${W}(options.marginScale)`, 'a finite number >= 0', ms);
    this.threads = threads;
    this.groupSize = G;
    this.chunkBlocks = chunk;
    this.metric = checkMetric(options.metric, W);
    this.exact = new CosineMatcher(itemEmbeddings, dim, { metric: this.metric });
    this.normalised = this.exact.normalised;
    this.pairs = Math.ceil(dim / 2);
    this.nBlocks = Math.ceil(this.numItems / 16);
    this.margin = Math.ceil(prefilterMargin(dim) * ms);
    let finite = true;
    for (let i = 0; i < itemEmbeddings.length; i++) {
      if (!Number.isFinite(itemEmbeddings[i])) {
        finite = false;
        break;
      }
    }
    // Non-finite items, or a dimension whose margin/overflow bounds fail: CosineMatcher answers (identical by definition).
    this.allExact = !finite || dim > 1_000_000 || this.margin >= 2 ** 29 || !wasmSimdAvailable();
    if (!this.allExact) this.setUp();
  }

  private setUp(): void {
    const P = this.pairs;
    const itemBytes = this.nBlocks * 16 * P * 4;
    const items = HEADER;
    const queries = items + itemBytes;
    const states = queries + MAX_BATCH * P * 4;
    const bytes = states + STATE_BYTES;
    const pages = Math.ceil(bytes / 65536);
    if (pages > 65536) throw new NotAvailableError('item matrix too large for one wasm memory', { where: 'SimdCosineMatcher', expected: '<= 4 GiB of int16 items', got: `${bytes} bytes`, hint: 'use CosineMatcher' });
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.module = new WebAssembly.Module(buildKernel(P, pages));
    this.kernel = new WebAssembly.Instance(this.module, { e: { m: this.memory } }).exports as unknown as Kernel;
    this.layout = { items, queries, states };
    // Items, quantised, in blocks of 16 = 4 sub-blocks of 4; per sub-block, pair p holds [i0 d2p, i0 d2p+1, i1 ..., i3 ...].
    const m16 = new Int16Array(this.memory.buffer);
    const X = this.normalised;
    const D = this.dim;
    // 'dot': every item scaled by 1 / the largest item norm (f64), so all quantised rows have norm <= 1.
    let itemScale = SCALE;
    if (this.metric === 'dot') {
      let maxNorm = 0;
      for (let i = 0; i < this.numItems; i++) {
        let ss = 0;
        for (let d = 0; d < D; d++) ss += X[i * D + d] * X[i * D + d];
        maxNorm = Math.max(maxNorm, Math.sqrt(ss));
      }
      if (maxNorm > 0) itemScale = SCALE / maxNorm;
    }
    for (let i = 0; i < this.numItems; i++) {
      const blk = i >> 4, sub = (i >> 2) & 3, lane = i & 3;
      const o = (items >> 1) + blk * 32 * P + sub * 8 * P + lane * 2;
      for (let d = 0; d < D; d++) m16[o + (d >> 1) * 8 + (d & 1)] = Math.round(X[i * D + d] * itemScale);
    }
    const h = new Int32Array(this.memory.buffer, 0, 4);
    h[0] = this.numItems;
  }

  private startWorkers(): void {
    if (this.control || this.threads === 1) return;
    this.control = new Int32Array(new SharedArrayBuffer(64 * 4));
    this.groupDone = new Int32Array(new SharedArrayBuffer(4 * Math.ceil(MAX_BATCH / ROWS)));
    for (let w = 0; w < this.threads - 1; w++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, control: this.control.buffer, done: this.groupDone.buffer, scratch: 64 + 64 * (w + 1), slot: 16 + w },
      });
      worker.unref();
      this.workers.push(worker);
    }
  }

  topK(queries: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void {
    const W = 'SimdCosineMatcher.topK';
    checkQuery(this, queries, n, k, out, W);
    if (this.disposed) throw new InvalidArgumentError('matcher was disposed', { where: W, expected: 'a live matcher', got: 'disposed' });
    this.lastFallbacks = 0;
    this.lastCandidatesPerQuery = 0;
    if (this.allExact || k > MAX_K) {
      this.exact.topK(queries, n, k, out, scores);
      this.lastFallbacks = n;
      return;
    }
    const D = this.dim;
    const P = this.pairs;
    const mem = this.memory as WebAssembly.Memory;
    const m32 = new Int32Array(mem.buffer);
    const m16 = new Int16Array(mem.buffer);
    const cap = Math.min(this.numItems, 8 * k + 256);
    const stride = 16 + 4 * k + 8 * cap;
    const batch = Math.max(2, Math.min(MAX_BATCH, Math.floor(STATE_BYTES / stride) & ~3));
    m32[1] = k;
    m32[2] = cap;
    m32[3] = this.margin;
    const { queries: qBase, states: stBase } = this.layout;
    const X = this.normalised;
    const bs = new Float64Array(k);
    const bi = new Int32Array(k);
    const cand = new Int32Array(Math.min(this.numItems, 8 * k + 256));
    const sv = new Float64Array(4);
    let candidates = 0;
    for (let u0 = 0; u0 < n; u0 += batch) {
      const nb = Math.min(batch, n - u0);
      const nbPad = Math.ceil(nb / ROWS) * ROWS;
      // Exact scores use Q: the normalised queries (cosine) or the queries as given (dot, quantised as q / ||q||).
      const dot = this.metric === 'dot';
      const Q = dot ? queries.subarray(u0 * D, (u0 + nb) * D) : normaliseRows(queries.subarray(u0 * D, (u0 + nb) * D), D);
      const bad = new Uint8Array(nb);
      // Quantise the queries (zero pad queries up to a multiple of ROWS) and reset their states.
      // (Plain loops: TypedArray fill on shared memory goes through a slow runtime call.)
      for (let i = (qBase >> 1) + nb * 2 * P; i < (qBase >> 1) + nbPad * 2 * P; i++) m16[i] = 0;
      for (let u = 0; u < nb; u++) {
        const o = (qBase >> 1) + u * 2 * P;
        let finite = 0;
        let qScale = SCALE;
        if (dot) {
          let ss = 0;
          for (let d = 0; d < D; d++) ss += Q[u * D + d] * Q[u * D + d];
          if (ss > 0) qScale = SCALE / Math.sqrt(ss);
        }
        for (let d = 0; d < D; d++) {
          const v = Q[u * D + d];
          finite += v - v; // NaN once any component is NaN or infinite
          m16[o + d] = Math.round(v * qScale);
        }
        if (finite !== 0) bad[u] = 1;
        if (D & 1) m16[o + D] = 0;
      }
      for (let u = 0; u < nbPad; u++) {
        const st = (stBase + u * stride) >> 2;
        m32[st] = INIT - this.margin;
        m32[st + 1] = 0;
        m32[st + 2] = 0;
        for (let t = st + 4; t < st + 4 + k; t++) m32[t] = INIT;
      }
      // Exact re-rank of the candidates that can still be in the top k, per finished group of queries.
      const rerank = (from: number, to: number) => {
      for (let u = from; u < Math.min(to, nb); u++) {
        const st = (stBase + u * stride) >> 2;
        const g = u0 + u;
        if (bad[u] || m32[st + 2] !== 0) {
          this.exact.topK(queries.subarray(g * D, (g + 1) * D), 1, k, out.subarray(g * k, (g + 1) * k), scores?.subarray(g * k, (g + 1) * k));
          this.lastFallbacks++;
          continue;
        }
        const lowF = m32[st + 4 + k - 1] - this.margin;
        const cnt = m32[st + 1];
        const cb = st + 4 + k;
        bs.fill(-Infinity);
        bi.fill(0);
        let th = -Infinity;
        const qo = u * D;
        // The surviving candidates (item order), scored 4 at a time: four independent f64 chains hide the add
        // latency, each chain still CosineMatcher's exact sum in dimension order.
        let nc = 0;
        for (let c = 0; c < cnt; c++) if (m32[cb + 2 * c + 1] >= lowF) cand[nc++] = m32[cb + 2 * c];
        candidates += nc;
        for (let c = 0; c < nc; c += 4) {
          const x0 = cand[c] * D;
          const x1 = cand[Math.min(c + 1, nc - 1)] * D;
          const x2 = cand[Math.min(c + 2, nc - 1)] * D;
          const x3 = cand[Math.min(c + 3, nc - 1)] * D;
          let v0 = 0, v1 = 0, v2 = 0, v3 = 0;
          for (let d = 0; d < D; d++) {
            const qd = Q[qo + d];
            v0 += qd * X[x0 + d];
            v1 += qd * X[x1 + d];
            v2 += qd * X[x2 + d];
            v3 += qd * X[x3 + d];
          }
          sv[0] = v0;
          sv[1] = v1;
          sv[2] = v2;
          sv[3] = v3;
          for (let e = 0; e < Math.min(4, nc - c); e++) {
            const v = sv[e];
            if (v > th) {
              let p = k - 1;
              while (p > 0 && bs[p - 1] < v) {
                bs[p] = bs[p - 1];
                bi[p] = bi[p - 1];
                p--;
              }
              bs[p] = v;
              bi[p] = cand[c + e];
              th = bs[k - 1];
            }
          }
        }
        for (let t = 0; t < k; t++) {
          out[g * k + t] = bi[t];
          if (scores) scores[g * k + t] = bs[t];
        }
      }
      };
      this.runKernel(nbPad, stride, nb * this.numItems >= PARALLEL_MIN_WORK, rerank);
    }
    this.lastCandidatesPerQuery = candidates / Math.max(1, n - this.lastFallbacks);
  }

  /**
   * The prefilter over `nq` (a multiple of ROWS) quantised queries, in groups of `groupSize`, on this thread and the
   * workers; `rerank(from, to)` runs here for every group, in order, as soon as it is done, between this thread's own
   * kernel groups (so the workers take more kernel groups and the serial re-rank overlaps with them).
   */
  private runKernel(nq: number, stride: number, parallel: boolean, rerank: (from: number, to: number) => void): void {
    const kernel = this.kernel as Kernel;
    const { queries: qBase, states: stBase, items } = this.layout;
    const qStride = this.pairs * 4;
    const G = this.groupSize;
    const groups = Math.ceil(nq / G);
    const runGroup = (g: number) => {
      const q0 = g * G;
      kernel.run(qBase + q0 * qStride, Math.min(G, nq - q0), stBase + q0 * stride, stride, 0, this.nBlocks, this.chunkBlocks, 64, items);
    };
    if (parallel && this.threads > 1 && groups > 1) this.startWorkers();
    const c = this.control;
    const done = this.groupDone;
    if (!c || !done || !parallel || groups <= 1) {
      for (let g = 0; g < groups; g++) {
        runGroup(g);
        rerank(g * G, (g + 1) * G);
      }
      return;
    }
    c.set([qBase, qStride, stBase, stride, nq, G, this.nBlocks, this.chunkBlocks, items, groups], 4);
    Atomics.store(c, 2, 0);
    Atomics.store(c, 15, 0);
    const seq = Atomics.add(c, 0, 1) + 1;
    Atomics.notify(c, 0);
    let r = 0;
    const drain = () => {
      for (; r < groups && Atomics.load(done, r) === seq; r++) rerank(r * G, (r + 1) * G);
    };
    for (let g = Atomics.add(c, 2, 1); g < groups; g = Atomics.add(c, 2, 1)) {
      runGroup(g);
      Atomics.store(done, g, seq);
      drain();
    }
    const t0 = Date.now();
    const failed = () => {
      if (Atomics.load(c, 15) !== 0) {
        throw new NotAvailableError('a matcher worker failed', { where: 'SimdCosineMatcher.topK', expected: 'the wasm kernel to run in the worker', got: 'an exception', hint: 'construct with threads: 1' });
      }
      if (Date.now() - t0 > 300_000) {
        throw new TimeoutError('matcher worker did not finish', { where: 'SimdCosineMatcher.topK', expected: 'workers done within 300 s', got: 'a silent worker', hint: 'construct with threads: 1' });
      }
    };
    while (r < groups) {
      const v = Atomics.load(done, r);
      if (v === seq) drain();
      else {
        Atomics.wait(done, r, v, 1000);
        failed();
      }
    }
    // The workers leave their loop before this call returns (the next call reuses the counter and arguments).
    for (let w = 0; w < this.workers.length; w++) {
      for (;;) {
        const v = Atomics.load(c, 16 + w);
        if (v === seq) break;
        Atomics.wait(c, 16 + w, v, 1000);
        failed();
      }
    }
    failed();
  }

  /** Stops the worker threads (a later `topK` throws). */
  dispose(): void {
    this.disposed = true;
    if (this.control) {
      Atomics.store(this.control, 1, 1);
      Atomics.add(this.control, 0, 1);
      Atomics.notify(this.control, 0);
    }
    for (const w of this.workers) void w.terminate();
    this.workers = [];
  }
}
