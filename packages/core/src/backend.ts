/**
 * Backend selection for tfjs. Applications (examples, @rec/serve, tests) call `initBackend` once at start-up;
 * library code only ever imports `@tensorflow/tfjs-core`. Every optional backend is loaded through a guarded
 * dynamic import, so a missing package is a reason in the result, not a crash. In a browser bundle, import the
 * backend packages statically (a bundler cannot follow those dynamic imports; call `setWasmPaths` for wasm):
 * `initBackend` then finds them registered and only checks, selects and patches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NotAvailableError, InvalidArgumentError } from './errors.js';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
/** The default order: CUDA (tfjs-node-gpu) or native TF, then WebGPU, then wasm (SIMD), then plain JS. */
export const DEFAULT_BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it failed, or which package provided it. */
  detail: string;
}

export interface BackendInfo {
  /** The backend that is now active (`tf.getBackend()`). */
  name: BackendName;
  /** Every backend tried, in order, with the reason each one failed. */
  attempts: BackendAttempt[];
  /** For `tensorflow`: which package; for `webgpu`: the adapter description when known. */
  provider?: string;
}

export interface InitBackendOptions {
  /** Ignore `REC_BACKEND` even when set. */
  ignoreEnv?: boolean;
  /**
   * Threads for the wasm backend's kernels (XNNPACK). Default: `REC_WASM_THREADS`, else tfjs's own choice (1 in
   * Node, the cores in a cross-origin isolated page). In Node, 2 or more
   * starts tfjs's threaded build through the bridge described at `patchNodeForWasmThreads` (tfjs itself keeps
   * Node single-threaded); in a browser it is honoured where the page is cross-origin isolated. Threads pay off
   * for training-size matrices (about 1.8x on a 512 x 512 matMul with 2 threads here) and cost latency on tiny
   * ones (one-user inference), so services keep the default.
   */
  wasmThreads?: number;
  /**
   * Directories from which the optional native packages (tfjs-node-gpu, tfjs-node) are resolved, in order.
   * Default: the current working directory, then @rec/core's own location.
   */
  searchFrom?: readonly string[];
  /** Print one line saying which backend was chosen and why others were not (default false). */
  log?: (line: string) => void;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;
const req = isNode ? createRequire(import.meta.url) : undefined;

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}

/** Parse a preference: `'wasm'`, `'webgpu,wasm'`, or an array. */
export function parseBackendPreference(pref: string | readonly string[]): BackendName[] {
  const list = typeof pref === 'string' ? pref.split(',') : [...pref];
  const out: BackendName[] = [];
  for (const raw of list) {
    const name = raw.trim().toLowerCase();
    if (!name) continue;
    const canonical = name === 'cuda' || name === 'node' || name === 'tfjs-node' ? 'tensorflow' : name;
    if (!(BACKEND_NAMES as readonly string[]).includes(canonical)) {
      throw new InvalidArgumentError('unknown backend', {
        where: 'initBackend(preference)',
        expected: `one of ${BACKEND_NAMES.join(', ')} (or 'cuda')`,
        got: raw,
        hint: 'Set REC_BACKEND or the preference to a comma-separated list such as "webgpu,wasm,cpu".',
      });
    }
    if (!out.includes(canonical as BackendName)) out.push(canonical as BackendName);
  }
  return out;
}

/** The tfjs-node packages, in the order `initBackend('tensorflow')` looks for them: CUDA first, then CPU-only. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Where a tfjs-node(-gpu) install was found: its entry file and its native binding. */
export interface TfjsNodeInstall {
  pkg: string;
  /** The file `import()` loads (the package's main entry). */
  entry: string;
  /** `lib/napi-v<N>/tfjs_binding.node`, which the package's install step downloads or builds. */
  binding: string;
}

function defaultSearchDirs(): string[] {
  const dirs: string[] = [];
  if (isNode) dirs.push(process.cwd());
  // This module's own location: with pnpm, an optional peer installed by the app is linked beside @rec/core.
  if (isNode) dirs.push(dirname(fileURLToPath(import.meta.url)));
  return dirs;
}

/**
 * Find an installed tfjs-node(-gpu) whose native binding is present, resolving `pkg` from each directory in
 * `searchFrom` in turn. Returns null when the package is absent, or present without its binding (an install whose
 * download step failed): importing such a package registers ~170 kernels and then throws, so it must not be imported.
 */
export function findTfjsNodeInstall(pkg: string, searchFrom: readonly string[] = defaultSearchDirs()): TfjsNodeInstall | null {
  if (!isNode) return null;
  for (const dir of searchFrom) {
    const r = createRequire(join(resolve(dir), 'noop.js'));
    let pkgJson: string;
    let entry: string;
    try {
      pkgJson = r.resolve(`${pkg}/package.json`);
      entry = r.resolve(pkg);
    } catch {
      continue;
    }
    const lib = join(dirname(pkgJson), 'lib');
    if (!existsSync(lib)) return null;
    for (const d of readdirSync(lib)) {
      const binding = join(lib, d, 'tfjs_binding.node');
      if (d.startsWith('napi-v') && existsSync(binding)) return { pkg, entry, binding };
    }
    return null;
  }
  return null;
}

async function dynamicImport(specifier: string): Promise<unknown> {
  // A variable specifier keeps bundlers from trying to resolve optional peers at build time.
  return import(/* @vite-ignore */ specifier);
}

async function tryTensorflow(searchFrom?: readonly string[]): Promise<string> {
  const errors: string[] = [];
  for (const pkg of TFJS_NODE_PACKAGES) {
    const found = findTfjsNodeInstall(pkg, searchFrom);
    if (!found) {
      errors.push(`${pkg} is not installed (or its native binding lib/napi-v*/tfjs_binding.node is missing)`);
      continue;
    }
    try {
      await dynamicImport(pathToFileURL(found.entry).href);
      if (tf.findBackendFactory('tensorflow') && (await tf.setBackend('tensorflow'))) return pkg;
      errors.push(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
    } catch (e) {
      errors.push(`${pkg}: ${errorText(e)}`);
    }
    break; // try one package only: a failed one leaves its kernels registered
  }
  throw new Error(errors.join('; '));
}

/** In Node, give tfjs a `navigator.gpu` from the `webgpu` package (Dawn). In a browser, use the real one. */
async function ensureNavigatorGpu(): Promise<void> {
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  if (!isNode) {
    throw new Error('navigator.gpu is not available in this browser (WebGPU needs a secure context and a browser that ships it)');
  }
  let mod: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    mod = (await dynamicImport('webgpu')) as typeof mod;
  } catch (e) {
    throw new Error(
      `the optional peer 'webgpu' (Dawn for Node) is not installed: add webgpu@0.6.2 to your app (${errorText(e)})`,
    );
  }
  if (typeof mod.create !== 'function' || !mod.globals) {
    throw new Error(`the 'webgpu' package does not export create() and globals: use webgpu@0.6.x`);
  }
  // tfjs-backend-webgpu needs the GPU* classes (GPUBufferUsage, GPUMapMode, ...) as globals, as in a browser.
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create([]);
  if (!g.navigator) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    try {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    } catch {
      (g.navigator as Record<string, unknown>).gpu = gpu;
    }
  }
}

/** Adapters that run WebGPU on the CPU (Mesa lavapipe/llvmpipe, SwiftShader, WARP): correct but slower than wasm. */
export function isSoftwareAdapter(info: { description?: string; vendor?: string; architecture?: string; device?: string } | undefined, isFallback?: boolean): boolean {
  if (isFallback) return true;
  const text = `${info?.description ?? ''} ${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.device ?? ''}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|software|microsoft basic render/.test(text);
}

async function tryWebgpu(allowSoftware: boolean): Promise<string> {
  await ensureNavigatorGpu();
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = (await gpu.requestAdapter()) as { info?: { description?: string; vendor?: string; architecture?: string; device?: string }; isFallbackAdapter?: boolean } | null;
  if (!adapter) {
    throw new Error(
      'navigator.gpu.requestAdapter() returned null: no usable Vulkan/Metal/D3D12 adapter' +
        (isNode ? ' (on Debian/Ubuntu without a GPU install Mesa >= 24 lavapipe: mesa-vulkan-drivers, see docs/backends.md)' : ''),
    );
  }
  const description = adapter.info?.description || adapter.info?.vendor || 'unknown adapter';
  if (!allowSoftware && isSoftwareAdapter(adapter.info, adapter.isFallbackAdapter)) {
    throw new Error(
      `the only adapter is a software one (${description}): correct but slower than wasm, so it is used only when webgpu is asked for first (e.g. REC_BACKEND=webgpu)`,
    );
  }
  // An app (e.g. a browser bundle) that imported the backend itself has it registered already: no import needed.
  if (!tf.findBackendFactory('webgpu')) {
    try {
      await dynamicImport('@tensorflow/tfjs-backend-webgpu');
    } catch (e) {
      throw new Error(`the optional peer @tensorflow/tfjs-backend-webgpu is not installed: ${errorText(e)}`);
    }
  }
  if (!tf.findBackendFactory('webgpu')) {
    throw new Error(
      '@tensorflow/tfjs-backend-webgpu did not register: it was imported before navigator.gpu existed; call initBackend() before importing it',
    );
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
  patchWebgpuAddN();
  return description;
}

/**
 * tfjs-backend-wasm 4.22's OneHot kernel allocates an output of the requested dtype but its C++ side always writes
 * int32: `tf.oneHot(i, n, 1, 0, 'float32')` returns int bit patterns read as floats (1 becomes 1.4e-45), so a
 * one-hot action mask silently zeroes Q(s, a). Re-register it: run the original as int32 with on = 1, off = 0,
 * cast, then map 1/0 to on/off. Idempotent; a no-op when the wasm backend has no OneHot kernel.
 */
let wasmOneHotPatched = false;
export function patchWasmOneHot(): boolean {
  if (wasmOneHotPatched) return true;
  const original = tf.getKernel(tf.OneHot, 'wasm');
  const cast = tf.getKernel(tf.Cast, 'wasm');
  const mul = tf.getKernel(tf.Multiply, 'wasm');
  const add = tf.getKernel(tf.Add, 'wasm');
  const sub = tf.getKernel(tf.Sub, 'wasm');
  if (!original || !cast || !mul || !add || !sub) return false;
  type WasmBackend = tf.KernelBackend & {
    makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: Float32Array): tf.TensorInfo;
  };
  tf.unregisterKernel(tf.OneHot, 'wasm');
  tf.registerKernel({
    kernelName: tf.OneHot,
    backendName: 'wasm',
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: (args) => {
      const attrs = args.attrs as unknown as { dtype: tf.DataType; depth: number; onValue: number; offValue: number };
      if (attrs.dtype === 'int32') return original.kernelFunc(args);
      const backend = args.backend as WasmBackend;
      const ints = original.kernelFunc({ ...args, attrs: { ...args.attrs, dtype: 'int32', onValue: 1, offValue: 0 } }) as tf.TensorInfo;
      const unit = cast.kernelFunc({ inputs: { x: ints }, backend, attrs: { dtype: attrs.dtype } }) as tf.TensorInfo;
      backend.disposeData(ints.dataId);
      if (attrs.onValue === 1 && attrs.offValue === 0) return unit;
      // on * unit + off * (1 - unit): one of the two terms is exactly 0, so on/off come out exact.
      const scalar = (v: number) => backend.makeOutput([], 'float32', undefined, Float32Array.of(v));
      const [on, off, one] = [scalar(attrs.onValue), scalar(attrs.offValue), scalar(1)];
      const run = (k: tf.KernelConfig, a: tf.TensorInfo, b: tf.TensorInfo) => k.kernelFunc({ inputs: { a, b }, backend, attrs: {} }) as tf.TensorInfo;
      const hot = run(mul, unit, on);
      const notUnit = run(sub, one, unit);
      const cold = run(mul, notUnit, off);
      const out = run(add, hot, cold);
      for (const t of [unit, on, off, one, hot, notUnit, cold]) backend.disposeData(t.dataId);
      return out;
    },
  });
  wasmOneHotPatched = true;
  return true;
}

/**
 * tfjs-backend-webgpu 4.22 runs `tf.addN(list)` as one shader binding every input as a storage buffer, but asks
 * for a device with the default limit of 8 storage buffers per stage: 8 or more inputs fail WebGPU validation
 * ("number of storage buffers (13) ... exceeds the maximum per-stage limit (8)") and the result is garbage.
 * A global-norm gradient clip over a network's parameters is exactly that. Re-register AddN to sum in chunks that
 * fit the device's limit. Idempotent; a no-op when the webgpu backend has no AddN kernel.
 */
let webgpuAddNPatched = false;
export function patchWebgpuAddN(): boolean {
  if (webgpuAddNPatched) return true;
  const original = tf.getKernel(tf.AddN, 'webgpu');
  if (!original) return false;
  type WebgpuBackend = tf.KernelBackend & { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } };
  tf.unregisterKernel(tf.AddN, 'webgpu');
  const addN = (inputs: tf.TensorInfo[], backend: WebgpuBackend): tf.TensorInfo => {
    // One storage buffer is the output.
    const maxInputs = Math.max(2, (backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
    if (inputs.length <= maxInputs) return original.kernelFunc({ inputs: inputs as unknown as tf.NamedTensorInfoMap, backend, attrs: {} }) as tf.TensorInfo;
    const partials: tf.TensorInfo[] = [];
    for (let i = 0; i < inputs.length; i += maxInputs) partials.push(addN(inputs.slice(i, i + maxInputs), backend));
    const out = addN(partials, backend);
    for (const t of partials) backend.disposeData(t.dataId);
    return out;
  };
  tf.registerKernel({
    kernelName: tf.AddN,
    backendName: 'webgpu',
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: (args) => addN(args.inputs as unknown as tf.TensorInfo[], args.backend as WebgpuBackend),
  });
  webgpuAddNPatched = true;
  return true;
}

/**
 * The wasm thread count for training, to pass as `initBackend`'s `wasmThreads`: undefined when REC_WASM_THREADS is
 * set (initBackend then reads it), else the machine's cores up to 4 (1 outside Node). Threads change only the speed.
 */
export function trainingWasmThreads(): number | undefined {
  if (!isNode || !req) return 1;
  if (process.env.REC_WASM_THREADS?.trim()) return undefined;
  const os = req('node:os') as typeof import('node:os');
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** The thread count XNNPACK runs on, as the last successful `initBackend('wasm')` got it. */
let wasmThreadsInUse = 0;
/** Threads the active wasm backend runs its kernels on (1 single-threaded, 0 when the wasm backend is not active). */
export function wasmThreadCount(): number {
  return tf.getBackend() === 'wasm' ? wasmThreadsInUse : 0;
}

/**
 * Let tfjs-backend-wasm 4.22 start its threaded build in Node (it refuses by design: `WASM_HAS_MULTITHREAD_SUPPORT`
 * is false when IS_NODE, see docs/backends.md). Three things stand in the way, and each is bridged from outside
 * the package, for the duration of `setBackend` only:
 * 1. The pthread worker script is handed to `new Worker` as a `blob:` URL, which `worker_threads` refuses: a
 *    `Worker` subclass starts the same script text (the package's own `wasm-out/...worker.js` export, with the
 *    same newline escaping tfjs applies before making the blob) with `eval: true`, as CommonJS whatever
 *    `--input-type` the parent has.
 * 2. Each worker is told to load the module factory from a `Blob`; in Node the worker reads a file path instead,
 *    so the subclass passes the package's own `wasm-out/tfjs-backend-wasm-threaded-simd.js`, the same factory.
 * 3. The C side caps the pool at half the logical cores (one per physical core on hyper-threaded machines), so a
 *    2-core machine would get 1 thread: `os.cpus()` reports `2 * threads` entries while the pool is created.
 * The workers are `unref`'d once the pool runs, so they never keep the process alive.
 */
type Worker = import('node:worker_threads').Worker;
function patchNodeForWasmThreads(threads: number): () => Worker[] {
  if (!req) throw new Error('wasm threads need Node');
  const wt = req('node:worker_threads') as typeof import('node:worker_threads');
  const os = req('node:os') as typeof import('node:os');
  const pkgDir = dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const factoryPath = join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const workerPath = join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  if (!existsSync(factoryPath) || !existsSync(workerPath)) {
    throw new Error(`the threaded build is missing from ${pkgDir} (expected wasm-out/tfjs-backend-wasm-threaded-simd*.js)`);
  }
  const contents = (req(workerPath) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string') throw new Error(`${workerPath} does not export wasmWorkerContents (a tfjs-backend-wasm other than 4.22?)`);
  const script = contents.replace(/\n/g, '\\n');
  const BaseWorker = wt.Worker;
  const cpus = os.cpus;
  const started: Worker[] = [];
  class PthreadWorker extends BaseWorker {
    constructor(file: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      if (typeof file === 'string' && file.startsWith('blob:')) super(script, { ...options, eval: true, execArgv: (options?.execArgv ?? process.execArgv).filter((a) => !a.startsWith('--input-type')) });
      else super(file, options);
      started.push(this as unknown as Worker);
    }
    override postMessage(message: unknown, transfer?: readonly import('node:worker_threads').TransferListItem[]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') message = { ...m, urlOrBlob: factoryPath };
      super.postMessage(message, transfer);
    }
  }
  wt.Worker = PthreadWorker;
  os.cpus = () => {
    const list = cpus();
    while (list.length > 0 && list.length < 2 * threads) list.push(list[0]);
    return list;
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  return () => {
    wt.Worker = BaseWorker;
    os.cpus = cpus;
    return started;
  };
}

async function tryWasm(threads?: number): Promise<string> {
  let wasm: { setWasmPaths?: (p: string | Record<string, string>) => void; setThreadsCount?: (n: number) => void } = {};
  // In a browser bundle that imported the backend itself (and called setWasmPaths), there is nothing to import.
  if (isNode || !tf.findBackendFactory('wasm')) {
    try {
      wasm = (await dynamicImport('@tensorflow/tfjs-backend-wasm')) as typeof wasm;
    } catch (e) {
      throw new Error(`@tensorflow/tfjs-backend-wasm is not installed: ${errorText(e)}`);
    }
  }
  if (isNode && req && wasm.setWasmPaths) {
    // Point tfjs at the .wasm files inside the installed package: no network, whatever the bundler did.
    const main = req.resolve('@tensorflow/tfjs-backend-wasm');
    let dir = dirname(main);
    while (!existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm')) && dir !== dirname(dir)) {
      const candidate = join(dir, 'dist');
      if (existsSync(join(candidate, 'tfjs-backend-wasm-simd.wasm'))) {
        dir = candidate;
        break;
      }
      dir = dirname(dir);
    }
    if (existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm'))) {
      wasm.setWasmPaths({
        'tfjs-backend-wasm.wasm': join(dir, 'tfjs-backend-wasm.wasm'),
        'tfjs-backend-wasm-simd.wasm': join(dir, 'tfjs-backend-wasm-simd.wasm'),
        'tfjs-backend-wasm-threaded-simd.wasm': join(dir, 'tfjs-backend-wasm-threaded-simd.wasm'),
      });
    }
  }
  // `threads` is validated by initBackend; left undefined, tfjs keeps its own default.
  let restore: (() => Worker[]) | undefined;
  let threadNote = '';
  if (threads !== undefined && threads > 1 && isNode && wasm.setThreadsCount) {
    try {
      restore = patchNodeForWasmThreads(threads);
    } catch (e) {
      threadNote = `; threads not available (${errorText(e)}), single-threaded`;
    }
  }
  if (threads !== undefined && wasm.setThreadsCount) wasm.setThreadsCount(threads);
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } finally {
    for (const w of restore?.() ?? []) w.unref();
  }
  if (!ok && restore) {
    // The threaded build did not start: say so and fall back to the single-threaded one.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount?.(1);
    threadNote = '; the threaded build did not start, single-threaded';
    ok = await tf.setBackend('wasm');
  }
  if (!ok) throw new Error('the wasm backend did not initialise');
  const got = (wasm as { getThreadsCount?: () => number }).getThreadsCount?.() ?? 1;
  wasmThreadsInUse = got;
  patchWasmOneHot();
  return `@tensorflow/tfjs-backend-wasm${got > 1 ? `, ${got} threads` : ''}${threadNote}`;
}

async function tryCpu(): Promise<string> {
  if (!tf.findBackendFactory('cpu')) {
    try {
      await dynamicImport('@tensorflow/tfjs-backend-cpu');
    } catch (e) {
      throw new Error(`@tensorflow/tfjs-backend-cpu is not installed: ${errorText(e)}`);
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
  return '@tensorflow/tfjs-backend-cpu';
}

/**
 * Try backends in order and activate the first that works. `REC_BACKEND` (e.g. `wasm` or `webgpu,cpu`)
 * overrides the preference unless `ignoreEnv` is set. Throws NotAvailableError, listing every reason, when none works.
 */
export async function initBackend(
  preference: BackendName | string | readonly string[] = DEFAULT_BACKEND_ORDER,
  options: InitBackendOptions = {},
): Promise<BackendInfo> {
  const env = isNode && !options.ignoreEnv ? process.env.REC_BACKEND : undefined;
  const order = parseBackendPreference(env && env.trim() ? env : preference);
  const fromEnv = options.wasmThreads === undefined && isNode ? process.env.REC_WASM_THREADS?.trim() : undefined;
  const wasmThreads = options.wasmThreads ?? (fromEnv ? Number(fromEnv) : undefined);
  if (wasmThreads !== undefined && (!Number.isInteger(wasmThreads) || wasmThreads < 1 || wasmThreads > 64)) {
    throw new InvalidArgumentError(fromEnv ? 'bad REC_WASM_THREADS' : 'bad wasmThreads', {
      where: fromEnv ? 'initBackend (environment)' : 'initBackend(options)',
      expected: 'an integer from 1 to 64',
      got: fromEnv ?? String(wasmThreads),
    });
  }
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      let provider: string;
      if (name === 'tensorflow') provider = await tryTensorflow(options.searchFrom);
      // A CPU-emulated WebGPU adapter is taken only when webgpu was asked for first (tests, correctness runs).
      else if (name === 'webgpu') provider = await tryWebgpu(order[0] === 'webgpu');
      else if (name === 'wasm') provider = await tryWasm(wasmThreads);
      else provider = await tryCpu();
      await tf.ready();
      attempts.push({ name, ok: true, detail: provider });
      const info: BackendInfo = { name, attempts, provider };
      options.log?.(describeBackend(info));
      return info;
    } catch (e) {
      attempts.push({ name, ok: false, detail: errorText(e) });
    }
  }
  throw new NotAvailableError('no tfjs backend could be initialised', {
    where: 'initBackend',
    expected: `one of ${order.join(', ')}`,
    got: attempts.map((a) => `${a.name}: ${a.detail}`).join(' | '),
    hint: 'Install @tensorflow/tfjs-backend-wasm (fast, portable) or @tensorflow/tfjs-backend-cpu.',
  });
}

/** One line for logs: `backend wasm (@tensorflow/tfjs-backend-wasm); skipped tensorflow: ..., webgpu: ...`. */
export function describeBackend(info: BackendInfo): string {
  const skipped = info.attempts.filter((a) => !a.ok).map((a) => `${a.name}: ${a.detail}`);
  return `backend ${info.name} (${info.provider ?? 'unknown'})${skipped.length ? `; skipped ${skipped.join('; ')}` : ''}`;
}
