/**
 * @rec/core/testing: test utilities for code written against tfjs-core.
 *
 * `describeBackends(name, fn)` is the tfjs `describeWithFlags` pattern for vitest: a block of tests written once
 * and run on every backend available here (cpu, wasm, webgpu), each compared with the cpu backend within a stated
 * tolerance. cpu and wasm are always required. webgpu is required when `CI` is set and a WebGPU driver is
 * installed (the `webgpu` package plus a Vulkan ICD, e.g. Mesa lavapipe); otherwise its block is skipped with the
 * reason. `REC_TEST_BACKENDS=cpu,wasm` narrows the list; `REC_REQUIRE_WEBGPU=1` makes webgpu required anywhere.
 * On a CUDA machine, `REC_TEST_BACKENDS=cpu,tensorflow` runs the same suites on tfjs-node-gpu.
 *
 * vitest is an optional peer of @rec/core: only this entry imports it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, beforeEach, describe } from 'vitest';
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { initBackend } from '../backend.js';
import { RecError } from '../errors.js';
import '../gradients.js';

export type TestBackend = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow';
/** The default list. `tensorflow` (tfjs-node-gpu / tfjs-node) runs only when named in REC_TEST_BACKENDS. */
export const TEST_BACKENDS: readonly TestBackend[] = ['cpu', 'wasm', 'webgpu'];
const KNOWN_BACKENDS: readonly TestBackend[] = [...TEST_BACKENDS, 'tensorflow'];

/**
 * Element-wise tolerance: |actual - expected| <= atol + rtol * |expected|.
 * (The numpy `allclose` rule: atol covers values near zero, rtol scales with the magnitude.)
 */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Tolerances used by the cross-backend suites, and why:
 * - `forward`: float32 sums of a few hundred terms in a different order (GPU tiling, XNNPACK) differ by a few ulps
 *   per term; 1e-5 absolute + 1e-4 relative leaves about 100x headroom over what was measured here.
 * - `gradient`: backward passes chain several such sums (and LSTM gates multiply them), so 10x wider.
 * - `longSum`: dot products over thousands of terms (K = 2048 of N(0,1) x N(0,1) gives values of size ~45, whose
 *   float32 ulp is ~4e-6; summation-order error grows like sqrt(K) ulps, ~2e-4): an absolute 1e-3 floor.
 * A real bug (like the SplitK one in docs/backends.md) is off by O(1), far outside both.
 */
export const TOLERANCE = {
  exact: { atol: 0, rtol: 0 },
  forward: { atol: 1e-5, rtol: 1e-4 },
  gradient: { atol: 1e-4, rtol: 1e-3 },
  longSum: { atol: 1e-3, rtol: 1e-4 },
} as const satisfies Record<string, Tolerance>;

export interface Closeness {
  ok: boolean;
  /** Largest |actual - expected|. */
  maxAbsDiff: number;
  /** Index of the element that exceeds the tolerance by the most (or of maxAbsDiff when all pass). */
  worstIndex: number;
  actual: number;
  expected: number;
}

type Numeric = ArrayLike<number>;

/** Compare two arrays element by element under `tol`; NaN matches only NaN. */
export function closeness(actual: Numeric, expected: Numeric, tol: Tolerance): Closeness {
  if (actual.length !== expected.length) {
    return { ok: false, maxAbsDiff: Infinity, worstIndex: -1, actual: actual.length, expected: expected.length };
  }
  let maxAbs = 0;
  let worst = expected.length ? 0 : -1;
  let worstExcess = -Infinity;
  let ok = true;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) {
        ok = false;
        worst = i;
        worstExcess = Infinity;
        maxAbs = Infinity;
      }
      continue;
    }
    const d = Math.abs(a - e);
    if (d > maxAbs) maxAbs = d;
    const excess = d - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
    if (excess > 0) ok = false;
  }
  return { ok, maxAbsDiff: maxAbs, worstIndex: worst, actual: actual[worst] ?? NaN, expected: expected[worst] ?? NaN };
}

/** Throw, naming the worst element, when `actual` and `expected` differ by more than `tol`. */
export function expectClose(actual: Numeric, expected: Numeric, tol: Tolerance, label = 'values'): Closeness {
  const c = closeness(actual, expected, tol);
  if (!c.ok) {
    if (actual.length !== expected.length) {
      throw new Error(`${label}: expected ${expected.length} elements, got ${actual.length}`);
    }
    throw new Error(
      `${label}: element ${c.worstIndex} is ${c.actual}, expected ${c.expected} ` +
        `(max |diff| ${c.maxAbsDiff.toExponential(3)}; tolerance atol ${tol.atol} + rtol ${tol.rtol}*|expected|; ${tf.getBackend()} vs cpu)`,
    );
  }
  return c;
}

/** What a tensor-producing function may return: a tensor, a list of tensors or a name -> tensor map. */
export type TensorResult = tf.Tensor | tf.Tensor[] | Record<string, tf.Tensor>;

/** Read every tensor of a result into Float32Arrays (in a stable order: map entries sorted by name), and dispose them. */
export async function readResult(result: TensorResult): Promise<Float32Array[]> {
  const list: tf.Tensor[] =
    result instanceof tf.Tensor
      ? [result]
      : Array.isArray(result)
        ? result
        : Object.keys(result)
            .sort()
            .map((k) => (result as Record<string, tf.Tensor>)[k]);
  const out: Float32Array[] = [];
  for (const t of list) {
    out.push(Float32Array.from(await t.data()));
  }
  tf.dispose(list);
  return out;
}

/** Is a WebGPU driver installed here? Checked synchronously (package + Vulkan ICD files), without starting Dawn. */
export function webgpuDriverStatus(): { installed: boolean; detail: string } {
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return { installed: true, detail: 'navigator.gpu present' };
  if (typeof process === 'undefined' || !process.versions?.node) return { installed: false, detail: 'no navigator.gpu' };
  const req = createRequire(import.meta.url);
  try {
    req.resolve('webgpu/package.json');
  } catch {
    try {
      createRequire(`${process.cwd()}/noop.js`).resolve('webgpu/package.json');
    } catch {
      return { installed: false, detail: "the 'webgpu' package (Dawn for Node) is not installed" };
    }
  }
  const icdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  const icds = icdDirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')) : []));
  if (process.platform === 'linux' && icds.length === 0) {
    return {
      installed: false,
      detail: 'no Vulkan driver (ICD) found: run scripts/setup.sh ensure_webgpu_driver (Mesa >= 24 lavapipe)',
    };
  }
  return { installed: true, detail: icds.length ? `Vulkan ICDs: ${icds.join(', ')}` : 'non-Linux platform' };
}

/** The backends the suites run on: `REC_TEST_BACKENDS` (comma-separated) or all three. */
export function backendsToTest(): TestBackend[] {
  const env = typeof process !== 'undefined' ? process.env.REC_TEST_BACKENDS : undefined;
  if (!env || !env.trim()) return [...TEST_BACKENDS];
  const out: TestBackend[] = [];
  for (const raw of env.split(',')) {
    const name = raw.trim().toLowerCase();
    if (!name) continue;
    if (!(KNOWN_BACKENDS as readonly string[]).includes(name)) {
      throw new Error(`REC_TEST_BACKENDS: unknown backend '${raw}': expected a comma-separated list of ${KNOWN_BACKENDS.join(', ')}`);
    }
    if (!out.includes(name as TestBackend)) out.push(name as TestBackend);
  }
  return out;
}

/**
 * Must this backend be available (fail rather than skip)? cpu and wasm always; tensorflow whenever it is tested
 * (it is only tested when named in REC_TEST_BACKENDS); webgpu in CI with a driver, or with REC_REQUIRE_WEBGPU=1.
 */
export function isBackendRequired(backend: TestBackend): boolean {
  if (backend !== 'webgpu') return true;
  const env = typeof process !== 'undefined' ? process.env : {};
  if (env.REC_REQUIRE_WEBGPU === '1') return true;
  return !!env.CI && env.CI !== 'false' && webgpuDriverStatus().installed;
}

const activation = new Map<TestBackend, Promise<string | null>>();

/**
 * Make `backend` available and active. Resolves to null on success, or to the reason it is unavailable.
 * Each backend is initialised once per process (the promise is cached).
 */
export async function activateBackend(backend: TestBackend): Promise<string | null> {
  let p = activation.get(backend);
  if (!p) {
    p = initBackend(backend, { ignoreEnv: true }).then(
      () => null,
      // A NotAvailableError carries every attempt's reason in `got` untruncated: report that.
      (e: unknown) => (RecError.isInstance(e) && typeof e.got === 'string' ? e.got : e instanceof Error ? e.message : String(e)),
    );
    activation.set(backend, p);
  }
  const reason = await p;
  if (reason === null && tf.getBackend() !== backend) await tf.setBackend(backend);
  return reason;
}

/** Run `fn` on `backend`, read its result, and switch back to the backend that was active before. */
export async function runOn(backend: TestBackend, fn: () => TensorResult): Promise<Float32Array[]> {
  const previous = tf.getBackend();
  const reason = await activateBackend(backend);
  if (reason !== null) throw new Error(`backend ${backend} is not available: ${reason}`);
  try {
    return await readResult(tf.tidy(fn));
  } finally {
    if (previous && previous !== tf.getBackend()) await tf.setBackend(previous);
  }
}

export interface BackendTestContext {
  /** The backend this block runs on (set as the active backend before each test). */
  readonly backend: TestBackend;
  /**
   * Run `fn` on this block's backend and on cpu, read both, and compare every output tensor within `tol`.
   * `fn` must build its inputs itself (from typed arrays or a seed), so the two runs see the same numbers.
   * Returns the outputs of this backend (first) and of cpu.
   */
  compareWithCpu(fn: () => TensorResult, tol: Tolerance, label?: string): Promise<{ actual: Float32Array[]; expected: Float32Array[] }>;
  /** Run `fn` on this block's backend and read its outputs. */
  run(fn: () => TensorResult): Promise<Float32Array[]>;
  /** Run `fn` on the cpu backend (the reference) and read its outputs. */
  onCpu(fn: () => TensorResult): Promise<Float32Array[]>;
}

export interface DescribeBackendsOptions {
  /** Restrict to these backends (still intersected with REC_TEST_BACKENDS). */
  backends?: readonly TestBackend[];
}

/**
 * Declare `fn`'s tests once per backend, as `describe('<name> [<backend>]')`. Before each test the block's backend
 * is active; `ctx.compareWithCpu` compares with the cpu backend. An unavailable optional backend skips its block
 * with the reason; an unavailable required one fails it.
 */
export function describeBackends(name: string, fn: (ctx: BackendTestContext) => void, options: DescribeBackendsOptions = {}): void {
  const wanted = backendsToTest().filter((b) => !options.backends || options.backends.includes(b));
  for (const backend of wanted) {
    describe(`${name} [${backend}]`, () => {
      let unavailable: string | null = null;
      beforeAll(async () => {
        unavailable = await activateBackend(backend);
        if (unavailable !== null && isBackendRequired(backend)) {
          throw new Error(`required backend ${backend} is not available: ${unavailable}`);
        }
        if (unavailable !== null) {
          // One line per skipped block, so a CI log says why webgpu did not run.
          console.warn(`[describeBackends] skipping '${name}' on ${backend}: ${unavailable}`);
        }
      });
      beforeEach(async (testCtx) => {
        if (unavailable !== null) {
          testCtx.skip(`${backend} unavailable: ${unavailable}`);
          return;
        }
        if (tf.getBackend() !== backend) await tf.setBackend(backend);
      });
      const ctx: BackendTestContext = {
        backend,
        run: (f) => runOn(backend, f),
        onCpu: (f) => runOn('cpu', f),
        async compareWithCpu(f, tol, label = name) {
          const actual = await runOn(backend, f);
          const expected = await runOn('cpu', f);
          if (actual.length !== expected.length) {
            throw new Error(`${label}: ${backend} returned ${actual.length} tensors, cpu ${expected.length}`);
          }
          for (let i = 0; i < actual.length; i++) {
            expectClose(actual[i], expected[i], tol, `${label} [${backend} vs cpu] output ${i}`);
          }
          return { actual, expected };
        },
      };
      fn(ctx);
    });
  }
}
