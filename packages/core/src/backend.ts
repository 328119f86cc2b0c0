/**
 * Backend selection for tfjs. Applications (examples, @rec/serve, tests) call `initBackend` once at start-up;
 * library code only ever imports `@tensorflow/tfjs-core`. Every optional backend is loaded through a guarded
 * dynamic import, so a missing package is a reason in the result, not a crash.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
  /** Threads for the wasm backend (only honoured where tfjs allows threads). */
  wasmThreads?: number;
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

/** Is the native binding of tfjs-node(-gpu) present? A half-installed package registers kernels and then throws. */
function tfjsNodeBindingPresent(pkg: string): string | null {
  if (!req) return null;
  let pkgJson: string;
  try {
    pkgJson = req.resolve(`${pkg}/package.json`);
  } catch {
    return null;
  }
  const lib = join(dirname(pkgJson), 'lib');
  if (!existsSync(lib)) return null;
  for (const d of readdirSync(lib)) {
    if (d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node'))) return join(lib, d, 'tfjs_binding.node');
  }
  return null;
}

async function dynamicImport(specifier: string): Promise<unknown> {
  // A variable specifier keeps bundlers from trying to resolve optional peers at build time.
  return import(/* @vite-ignore */ specifier);
}

async function tryTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    if (!tfjsNodeBindingPresent(pkg)) {
      errors.push(`${pkg} is not installed (or its native binding is missing)`);
      continue;
    }
    try {
      await dynamicImport(pkg);
      if (await tf.setBackend('tensorflow')) return pkg;
      errors.push(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
    } catch (e) {
      errors.push(`${pkg}: ${errorText(e)}`);
    }
    break; // try one package only: a failed one leaves kernels registered
  }
  throw new Error(errors.join('; '));
}

let webgpuDescription: string | undefined;

/** In Node, give tfjs a `navigator.gpu` from the `webgpu` package (Dawn). In a browser, use the real one. */
async function ensureNavigatorGpu(): Promise<void> {
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  if (!isNode) throw new Error('navigator.gpu is not available in this browser');
  let mod: { create: (flags: string[]) => unknown; globals: Record<string, unknown> };
  try {
    mod = (await dynamicImport('webgpu')) as typeof mod;
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn for Node) is not installed: ${errorText(e)}`);
  }
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

async function tryWebgpu(): Promise<string> {
  await ensureNavigatorGpu();
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = (await gpu.requestAdapter()) as { info?: { description?: string; vendor?: string } } | null;
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null (no Vulkan/Metal/D3D adapter; on Linux install mesa-vulkan-drivers >= 24)');
  webgpuDescription = adapter.info?.description || adapter.info?.vendor || 'unknown adapter';
  try {
    await dynamicImport('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu is not installed: ${errorText(e)}`);
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend did not initialise');
  return webgpuDescription;
}

async function tryWasm(threads?: number): Promise<string> {
  let wasm: { setWasmPaths?: (p: string | Record<string, string>) => void; setThreadsCount?: (n: number) => void };
  try {
    wasm = (await dynamicImport('@tensorflow/tfjs-backend-wasm')) as typeof wasm;
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm is not installed: ${errorText(e)}`);
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
  if (threads && wasm.setThreadsCount) wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  return '@tensorflow/tfjs-backend-wasm';
}

async function tryCpu(): Promise<string> {
  try {
    await dynamicImport('@tensorflow/tfjs-backend-cpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-cpu is not installed: ${errorText(e)}`);
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
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      let provider: string;
      if (name === 'tensorflow') provider = await tryTensorflow();
      else if (name === 'webgpu') provider = await tryWebgpu();
      else if (name === 'wasm') provider = await tryWasm(options.wasmThreads);
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
