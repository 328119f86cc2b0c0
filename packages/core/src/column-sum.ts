/**
 * Column sums of a `[n, f]` tensor, `out[c] = scale * sum_r x[r, c]` as `[f]`: the batch reduction of every bias
 * gradient and of batch normalisation (its means, variances and three gradient sums).
 *
 * On tfjs's wasm backend tfjs has no good way to do it: `tf.sum(x, 0)` transposes first, and a matMul with a row
 * of ones makes XNNPACK repack all of `x` as weights on every call (0.9 ms for 512 x 512, 36 times per TD3 update).
 * There this runs our own SIMD kernel as a tfjs kernel, `RecColumnSum`, directly on tfjs's wasm memory (one
 * pass, 16 columns at a time in registers). Every other backend gets the matMul with a row of `scale`s.
 * Differentiable on every backend (the gradient broadcasts `scale * dy` back over the rows).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from './errors.js';
import { F32, FuncBuilder, I32, V128 } from './wasm-asm.js';
import { heapModule, heapOffset, registerOnce, type WasmHeapBackend } from './wasm-heap.js';

/** The tfjs kernel name (registered for the wasm backend). */
export const COLUMN_SUM_KERNEL = 'RecColumnSum';

/** colsum(x, n, f, out, scale): pointers in bytes. */
type ColumnSumFn = (x: number, n: number, f: number, out: number, scale: number) => void;

/** The kernel: chunks of 16 columns (four vector accumulators) over all rows, then chunks of 4, then single columns. */
function buildColumnSum(): FuncBuilder {
  const [x, n, f, out, scale] = [0, 1, 2, 3, 4];
  const fn = new FuncBuilder([I32, I32, I32, I32, F32], []);
  const stride = fn.local(I32);
  const c = fn.local(I32);
  const end = fn.local(I32);
  const p = fn.local(I32);
  const r = fn.local(I32);
  const acc = [fn.local(V128), fn.local(V128), fn.local(V128), fn.local(V128)];
  const sv = fn.local(V128);
  const sacc = fn.local(F32);
  fn.get(f).const(2).op('i32.shl').set(stride);
  fn.get(scale).simd('f32x4.splat').set(sv);
  fn.const(0).set(c);
  // One pass over the columns [c, c + whole chunks of `bytes`); body(k) adds row p's chunk into the accumulators.
  const chunks = (bytes: number, zero: () => void, add: () => void, store: () => void) => {
    fn.get(stride).get(c).op('i32.sub').const(-bytes).op('i32.and').get(c).op('i32.add').set(end);
    fn.whileNot(
      () => fn.get(c).get(end).op('i32.ge_u'),
      () => {
        zero();
        fn.get(x).get(c).op('i32.add').set(p);
        fn.get(n).set(r);
        fn.whileNot(
          () => fn.get(r).op('i32.eqz'),
          () => {
            add();
            fn.get(p).get(stride).op('i32.add').set(p);
            fn.get(r).const(1).op('i32.sub').set(r);
          },
        );
        store();
        fn.get(c).const(bytes).op('i32.add').set(c);
      },
    );
  };
  for (const vectors of [4, 1]) {
    chunks(
      16 * vectors,
      () => {
        for (let i = 0; i < vectors; i++) fn.const(0).simd('i32x4.splat').set(acc[i]);
      },
      () => {
        for (let i = 0; i < vectors; i++) fn.get(acc[i]).get(p).simdMem('v128.load', 16 * i).simd('f32x4.add').set(acc[i]);
      },
      () => {
        for (let i = 0; i < vectors; i++) fn.get(out).get(c).op('i32.add').get(acc[i]).get(sv).simd('f32x4.mul').simdMem('v128.store', 16 * i);
      },
    );
  }
  chunks(
    4,
    () => fn.f32const(0).set(sacc),
    () => fn.get(sacc).get(p).loadF32().op('f32.add').set(sacc),
    () => fn.get(out).get(c).op('i32.add').get(sacc).get(scale).op('f32.mul').storeF32(),
  );
  return fn;
}

const kernel = heapModule<{ colsum: ColumnSumFn }>(() => ({ colsum: buildColumnSum() }));

function columnSumWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const backend = args.backend as WasmHeapBackend;
  const scale = Number((args.attrs as { scale?: number } | undefined)?.scale ?? 1);
  const [n, f] = x.shape;
  const out = backend.makeOutput([f], 'float32');
  const k = kernel.get(backend);
  if (k) {
    k.colsum(heapOffset(backend, x), n, f, heapOffset(backend, out), scale);
  } else {
    // No SIMD here: the same sums in JS on tfjs's heap (still one pass, no repacking).
    const xs = backend.typedArrayFromHeap(x);
    const os = backend.typedArrayFromHeap(out);
    const acc = new Float64Array(f);
    for (let r = 0; r < n; r++) for (let cc = 0, o = r * f; cc < f; cc++) acc[cc] += xs[o + cc];
    for (let cc = 0; cc < f; cc++) os[cc] = acc[cc] * scale;
  }
  return out;
}

const register = registerOnce(() => {
  tf.registerKernel({ kernelName: COLUMN_SUM_KERNEL, backendName: 'wasm', kernelFunc: columnSumWasm as unknown as tf.KernelFunc });
  tf.registerGradient({
    kernelName: COLUMN_SUM_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved;
      const s = Number((attrs as { scale?: number }).scale ?? 1);
      return { x: () => tf.broadcastTo(tf.reshape(tf.mul(dy as tf.Tensor, s), [1, x.shape[1] as number]), x.shape) };
    },
  });
});

/**
 * `scale * sum over rows of x [n, f]` as `[f]` (scale 1/n gives the column means). On wasm the sums run in f32 in
 * row order (f64 where the runtime lacks SIMD), elsewhere in the backend's matMul order: backends agree to rounding.
 */
export function columnSum(x: tf.Tensor2D, scale = 1): tf.Tensor1D {
  if (x.rank !== 2) throw new ShapeError('columnSum needs a matrix', { where: 'columnSum(x)', expected: '[rows, columns]', got: x.shape });
  const [n, f] = x.shape;
  if (tf.getBackend() === 'wasm' && x.dtype === 'float32') {
    register();
    return tf.engine().runKernel(COLUMN_SUM_KERNEL, { x }, { scale }) as tf.Tensor1D;
  }
  return tf.tidy(() => tf.reshape(tf.matMul(tf.fill([1, n], scale), x), [f]) as tf.Tensor1D);
}
