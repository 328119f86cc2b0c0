/**
 * `SimdMlp`: a CPU inference engine for the TD3 networks (evaluation mode: running batch-norm statistics, no
 * dropout), made of @rec/core's wasm SIMD matrix kernel and run on several threads.
 *
 * Why: a belief-simulator round asks the actor for 50,000 actions, about 22 G multiply-adds with the design's
 * 69 -> 512 -> 512 -> 256 -> 64 network. tfjs' wasm backend runs that on one thread in Node (it switches its
 * threads off there); this engine splits the rows over the calling thread and `threads - 1` worker threads that
 * share one WebAssembly memory, so `forward` stays synchronous and uses every core it is given.
 *
 * Batch normalisation is folded into the next layer's weights: a hidden layer is Linear -> ReLU -> BatchNorm, and
 * BatchNorm in evaluation mode is `h = r * s + t` per feature (s = gamma / sqrt(var + eps), t = beta - mean * s), so
 * `h W + b = r (diag(s) W) + (t W + b)`; an input BatchNorm folds into the first layer the same way. Every layer is
 * then one kernel call per 4 rows: `relu(x W' + b')` for hidden layers, `x W' + b'` for the output, whose activation
 * (tanh times the scale, for the actor) the caller applies. Results match the tfjs forward to float rounding
 * (the folded sums round differently: about 1e-6 relative), and do not depend on the thread count or on which
 * thread took which rows.
 *
 * Layout of the (shared) memory: a header with the layer plan, the packed weights and biases, the input rows, the
 * output rows, then two scratch activation buffers per thread. One call `rows(r0, n, t)` runs `n` rows from `r0`
 * through every layer with thread `t`'s scratch.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  FuncBuilder,
  GEMM_INIT_BIAS,
  GEMM_PANEL,
  GEMM_RELU,
  I32,
  InvalidArgumentError,
  ModuleBuilder,
  NotAvailableError,
  ShapeError,
  TimeoutError,
  buildGemm,
  check,
  packPanels,
  packedFloats,
} from '@rec/core';

/** One folded layer: `y = x w + b` (`w [K, N]` row-major), then ReLU when `relu`. */
export interface DenseLayer {
  w: Float32Array;
  b: Float32Array;
  K: number;
  N: number;
  relu: boolean;
}

export interface SimdMlpOptions {
  /** Threads that share a call (the caller + `threads - 1` workers). Default min(2, available cores). */
  threads?: number;
  /** Rows per internal pass (input and output memory are sized for it). Default 4,096. */
  maxBatch?: number;
  /** Rows per work unit taken by a thread (a multiple of 4). Default 32. */
  groupRows?: number;
}

const HEADER = 4096;
const PLAN = 64; // layer l's plan at PLAN + 32 l: K, panels, weights, bias, mode, output stride (bytes)
const MAX_LAYERS = (HEADER - PLAN) / 32;
const MAX_THREADS = 16;
/** Calls with fewer rows than this run on the calling thread only (waking workers costs more than it saves). */
const PARALLEL_MIN_ROWS = 64;
const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** rows(r0, n, t): header fields are i32 at byte offsets 0 (layers), 4 (input), 8 (input stride), 12 (output), 20 (scratch), 24 (scratch per thread), 28 (half of it). */
function buildRows(): FuncBuilder {
  const [r0, n, t] = [0, 1, 2];
  const f = new FuncBuilder([I32, I32, I32], []);
  const L = f.local(I32);
  const l = f.local(I32);
  const plan = f.local(I32);
  const src = f.local(I32);
  const ldSrc = f.local(I32);
  const dst = f.local(I32);
  const ldDst = f.local(I32);
  const sA = f.local(I32);
  const q = f.local(I32);
  const rem = f.local(I32);
  f.const(0).load(0).set(L);
  f.const(0).load(8).set(ldSrc);
  f.const(0).load(4).get(r0).get(ldSrc).op('i32.mul').op('i32.add').set(src);
  f.const(0).load(20).get(t).const(0).load(24).op('i32.mul').op('i32.add').set(sA);
  f.const(0).set(l);
  f.block();
  f.get(L).op('i32.eqz').brIf(0);
  f.loop();
  {
    f.get(l).const(5).op('i32.shl').const(PLAN).op('i32.add').set(plan);
    f.get(plan).load(20).set(ldDst);
    // The last layer writes the output rows; the others alternate between the thread's two scratch buffers.
    f.get(l).get(L).const(1).op('i32.sub').op('i32.eq').if();
    f.const(0).load(12).get(r0).get(ldDst).op('i32.mul').op('i32.add').set(dst);
    f.op('else');
    f.get(sA).get(l).const(1).op('i32.and').const(0).load(28).op('i32.mul').op('i32.add').set(dst);
    f.end();
    const gemm = (fn: number) => {
      f.get(src).get(q).get(ldSrc).op('i32.mul').op('i32.add').get(ldSrc);
      f.get(plan).load(8).get(plan).load(0).get(plan).load(4);
      f.get(dst).get(q).get(ldDst).op('i32.mul').op('i32.add').get(ldDst);
      f.get(plan).load(16).get(plan).load(12);
      f.call(fn);
    };
    // Four rows per call, then the 1-3 left.
    f.const(0).set(q);
    f.block();
    f.loop();
    f.get(n).get(q).op('i32.sub').tee(rem).const(4).op('i32.lt_s').brIf(1);
    gemm(3);
    f.get(q).const(4).op('i32.add').set(q);
    f.br(0);
    f.end();
    f.end();
    for (let r = 1; r <= 3; r++) {
      f.get(rem).const(r).op('i32.eq').if();
      gemm(r - 1);
      f.end();
    }
    f.get(dst).set(src);
    f.get(ldDst).set(ldSrc);
    f.get(l).const(1).op('i32.add').tee(l).get(L).op('i32.lt_u').brIf(0);
  }
  f.end();
  f.end();
  return f;
}

function buildModule(pages: number): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder({ initial: pages, maximum: pages, shared: true });
  for (let R = 1; R <= 4; R++) mod.addFunction(buildGemm(R)); // function indices 0-3
  mod.addFunction(buildRows(), 'rows');
  return mod.encode();
}

let simdSupport: boolean | undefined;
/** Whether this runtime validates the engine (WebAssembly SIMD and shared memory). */
export function simdMlpAvailable(): boolean {
  if (simdSupport === undefined) {
    try {
      simdSupport = typeof WebAssembly === 'object' && WebAssembly.validate(buildModule(1));
    } catch {
      simdSupport = false;
    }
  }
  return simdSupport;
}

/** Worker body (an eval'd CommonJS script): take row groups from the shared counter until none is left. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, thread } = workerData;
const c = new Int32Array(control);
let rows = null;
try {
  rows = new WebAssembly.Instance(module, { e: { m: memory } }).exports.rows;
} catch (e) {
  // Reported on every call (below) instead of leaving the caller waiting.
}
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  const seq = Atomics.load(c, 0);
  if (Atomics.load(c, 1) !== 0) break;
  if (seq === seen) continue;
  seen = seq;
  try {
    if (!rows) throw new Error('no instance');
    const n = c[4], G = c[5], groups = c[6];
    for (let g = Atomics.add(c, 2, 1); g < groups; g = Atomics.add(c, 2, 1)) {
      rows(g * G, Math.min(G, n - g * G), thread);
      Atomics.add(c, 7, 1);
    }
  } catch (e) {
    Atomics.store(c, 3, 1);
  }
  Atomics.store(c, 16 + thread, seq);
  Atomics.notify(c, 16 + thread);
}
`;

/**
 * Fold a Linear -> ReLU -> BatchNorm stack into plain dense layers (see the module comment). `norms[i]` is the
 * evaluation-mode scale and shift applied after hidden layer i's ReLU (absent: none); `inputNorm` the one applied to
 * the input. The last layer has no ReLU.
 */
export function foldBatchNorm(
  layers: { w: Float32Array; b: Float32Array }[],
  dims: number[],
  norms: ({ scale: Float32Array; shift: Float32Array } | null)[],
  inputNorm: { scale: Float32Array; shift: Float32Array } | null,
): DenseLayer[] {
  return layers.map(({ w, b }, i) => {
    const K = dims[i];
    const N = dims[i + 1];
    const norm = i === 0 ? inputNorm : norms[i - 1];
    const relu = i < layers.length - 1;
    if (!norm) return { w, b, K, N, relu };
    const w2 = new Float32Array(K * N);
    const bias = Float64Array.from(b);
    for (let k = 0; k < K; k++) {
      const s = norm.scale[k];
      const t = norm.shift[k];
      for (let j = 0; j < N; j++) {
        const v = w[k * N + j];
        w2[k * N + j] = v * s;
        bias[j] += t * v;
      }
    }
    return { w: w2, b: Float32Array.from(bias), K, N, relu };
  });
}

export class SimdMlp {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly threads: number;
  /** Row groups the worker threads took in the last `forward` call (0 when it ran on the calling thread only). */
  lastWorkerGroups = 0;
  /** Bytes of wasm memory (weights, rows, scratch). */
  readonly memoryBytes: number;
  private readonly dims: number[];
  private readonly maxBatch: number;
  private readonly groupRows: number;
  private readonly memory: WebAssembly.Memory;
  private readonly module: WebAssembly.Module;
  private readonly rows: (r0: number, n: number, t: number) => void;
  private readonly f32: Float32Array;
  private readonly weightAt: { w: number; b: number }[] = [];
  private readonly input: number;
  private readonly output: number;
  private readonly ldOut: number;
  private control: Int32Array | null = null;
  private workers: Worker[] = [];
  private disposed = false;

  constructor(layers: DenseLayer[], options: SimdMlpOptions = {}) {
    const W = 'SimdMlp';
    check(layers.length > 0 && layers.length <= MAX_LAYERS, `${W}(layers)`, `1 to ${MAX_LAYERS} layers`, layers.length);
    const threads = options.threads ?? Math.min(2, availableParallelism());
    check(Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS, `${W}(options.threads)`, `an integer in [1, ${MAX_THREADS}]`, threads);
    const maxBatch = options.maxBatch ?? 4096;
    check(Number.isInteger(maxBatch) && maxBatch >= 1, `${W}(options.maxBatch)`, 'a positive integer', maxBatch);
    const G = options.groupRows ?? 32;
    check(Number.isInteger(G) && G >= 4 && G % 4 === 0, `${W}(options.groupRows)`, 'a positive multiple of 4', G);
    if (!simdMlpAvailable()) throw new NotAvailableError('WebAssembly SIMD with shared memory is not available', { where: W, expected: 'a runtime that validates wasm simd128 and shared memory', got: 'validation failed', hint: 'use the tfjs forward' });
    this.dims = [layers[0].K];
    layers.forEach((layer, i) => {
      if (layer.K !== this.dims[i] || layer.w.length !== layer.K * layer.N || layer.b.length !== layer.N) {
        throw new ShapeError('layers do not chain', { where: `${W}(layers[${i}])`, expected: `w [${this.dims[i]} x N], b [N]`, got: `K ${layer.K}, N ${layer.N}, w ${layer.w.length}, b ${layer.b.length}` });
      }
      if (layer.relu !== i < layers.length - 1) throw new InvalidArgumentError('only hidden layers take a ReLU', { where: `${W}(layers[${i}].relu)`, expected: String(i < layers.length - 1), got: layer.relu });
      this.dims.push(layer.N);
    });
    this.inputDim = this.dims[0];
    this.outputDim = this.dims[this.dims.length - 1];
    this.threads = threads;
    this.maxBatch = maxBatch;
    this.groupRows = G;
    // Floats: weights, then input rows, output rows (stride padded to whole panels), scratch.
    let at = HEADER / 4;
    for (const layer of layers) {
      const w = at;
      at += packedFloats(layer.K, layer.N);
      const b = at;
      at += roundUp(layer.N, GEMM_PANEL);
      this.weightAt.push({ w, b });
    }
    this.input = at * 4;
    at += maxBatch * this.inputDim;
    this.ldOut = roundUp(this.outputDim, GEMM_PANEL);
    at = roundUp(at, 4);
    this.output = at * 4;
    at += maxBatch * this.ldOut;
    const widest = Math.max(...this.dims.slice(1, -1).map((d) => roundUp(d, GEMM_PANEL)), GEMM_PANEL);
    const half = G * widest;
    const scratch = at * 4;
    at += threads * 2 * half;
    const bytes = at * 4;
    const pages = Math.ceil(bytes / 65536);
    if (pages > 65536) throw new NotAvailableError('network too large for one wasm memory', { where: W, expected: '<= 4 GiB of weights and rows', got: `${bytes} bytes`, hint: 'use the tfjs forward or a smaller maxBatch' });
    this.memoryBytes = pages * 65536;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    this.module = new WebAssembly.Module(buildModule(pages));
    this.rows = (new WebAssembly.Instance(this.module, { e: { m: this.memory } }).exports as { rows: SimdMlp['rows'] }).rows;
    this.f32 = new Float32Array(this.memory.buffer);
    const i32 = new Int32Array(this.memory.buffer);
    i32.set([layers.length, this.input, this.inputDim * 4, this.output, 0, scratch, 2 * half * 4, half * 4]);
    layers.forEach((layer, l) => {
      const ld = l === layers.length - 1 ? this.ldOut : roundUp(layer.N, GEMM_PANEL);
      const { w, b } = this.weightAt[l];
      i32.set([layer.K, Math.ceil(layer.N / GEMM_PANEL), w * 4, b * 4, GEMM_INIT_BIAS | (layer.relu ? GEMM_RELU : 0), ld * 4], (PLAN + 32 * l) / 4);
    });
    this.setWeights(layers);
  }

  /** Replace the weights (same shapes), e.g. after training steps. */
  setWeights(layers: DenseLayer[]): void {
    this.assertLive('SimdMlp.setWeights');
    check(layers.length === this.weightAt.length, 'SimdMlp.setWeights(layers)', `${this.weightAt.length} layers`, layers.length);
    layers.forEach((layer, l) => {
      if (layer.K !== this.dims[l] || layer.N !== this.dims[l + 1] || layer.w.length !== layer.K * layer.N || layer.b.length !== layer.N) {
        throw new ShapeError('layer shape changed', { where: `SimdMlp.setWeights(layers[${l}])`, expected: `${this.dims[l]} x ${this.dims[l + 1]}`, got: `${layer.K} x ${layer.N}` });
      }
      packPanels(this.f32, this.weightAt[l].w, layer.w, layer.K, layer.N);
      this.f32.set(layer.b, this.weightAt[l].b);
    });
  }

  /** Outputs `[n * outputDim]` (before the output activation) for inputs `[n * inputDim]`. */
  forward(x: Float32Array): Float32Array {
    this.assertLive('SimdMlp.forward');
    const n = x.length / this.inputDim;
    if (!Number.isInteger(n)) throw new ShapeError('inputs do not split into rows', { where: 'SimdMlp.forward(x)', expected: `a multiple of ${this.inputDim}`, got: x.length });
    const out = new Float32Array(n * this.outputDim);
    const D = this.outputDim;
    this.lastWorkerGroups = 0;
    for (let at = 0; at < n; at += this.maxBatch) {
      const B = Math.min(this.maxBatch, n - at);
      this.f32.set(x.subarray(at * this.inputDim, (at + B) * this.inputDim), this.input / 4);
      this.run(B);
      const o = this.output / 4;
      for (let r = 0; r < B; r++) out.set(this.f32.subarray(o + r * this.ldOut, o + r * this.ldOut + D), (at + r) * D);
    }
    return out;
  }

  private run(n: number): void {
    const G = this.groupRows;
    if (n === 0) return;
    const groups = Math.ceil(n / G);
    if (this.threads === 1 || n < PARALLEL_MIN_ROWS || groups < 2) {
      for (let g = 0; g < groups; g++) this.rows(g * G, Math.min(G, n - g * G), 0);
      return;
    }
    this.startWorkers();
    const c = this.control as Int32Array;
    c.set([n, G, groups], 4);
    Atomics.store(c, 2, 0);
    Atomics.store(c, 3, 0);
    Atomics.store(c, 7, 0);
    const seq = Atomics.add(c, 0, 1) + 1;
    Atomics.notify(c, 0);
    for (let g = Atomics.add(c, 2, 1); g < groups; g = Atomics.add(c, 2, 1)) this.rows(g * G, Math.min(G, n - g * G), 0);
    // The workers leave their loop before this call returns (the next call reuses the counter and arguments).
    const t0 = Date.now();
    for (let w = 0; w < this.workers.length; w++) {
      for (;;) {
        const v = Atomics.load(c, 16 + w + 1);
        if (v === seq) break;
        Atomics.wait(c, 16 + w + 1, v, 1000);
        if (Date.now() - t0 > 300_000) throw new TimeoutError('an inference worker did not finish', { where: 'SimdMlp.forward', expected: 'workers done within 300 s', got: 'a silent worker', hint: 'construct with threads: 1' });
      }
    }
    this.lastWorkerGroups += Atomics.load(c, 7);
    if (Atomics.load(c, 3) !== 0) throw new NotAvailableError('an inference worker failed', { where: 'SimdMlp.forward', expected: 'the wasm kernel to run in the worker', got: 'an exception', hint: 'construct with threads: 1' });
  }

  private startWorkers(): void {
    if (this.control) return;
    this.control = new Int32Array(new SharedArrayBuffer(64 * 4));
    for (let t = 1; t < this.threads; t++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: this.module, memory: this.memory, control: this.control.buffer, thread: t } });
      worker.unref();
      this.workers.push(worker);
    }
  }

  private assertLive(where: string): void {
    if (this.disposed) throw new InvalidArgumentError('engine was disposed', { where, expected: 'a live engine', got: 'disposed' });
  }

  /** Stops the worker threads (a later call throws). */
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
