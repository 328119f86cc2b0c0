/**
 * `transpose2d(x)`: the transpose of a `[rows, cols]` float32 matrix. Every matMul gradient needs one (XNNPACK only
 * multiplies without transpose flags, see gradients.ts), and tfjs-backend-wasm's Transpose kernel moves one float
 * at a time (0.75 ms for 512 x 512). On wasm this is our SIMD kernel on tfjs's heap instead (4 x 4 blocks by
 * shuffles, about 0.1 ms for 512 x 512); on every other backend it is `tf.transpose`. Exact on every backend
 * (it only moves values), and differentiable (the gradient is the transpose of dy).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from './errors.js';
import { FuncBuilder, I32, V128 } from './wasm-asm.js';
import { heapModule, heapOffset, registerOnce, type WasmHeapBackend } from './wasm-heap.js';

/** The tfjs kernel name (registered for the wasm backend). */
export const TRANSPOSE_2D_KERNEL = 'RecTranspose2D';

/** transpose(x, rows, cols, out): pointers in bytes. */
type TransposeFn = (x: number, rows: number, cols: number, out: number) => void;

function buildTranspose(): FuncBuilder {
  const [x, rows, cols, out] = [0, 1, 2, 3];
  const f = new FuncBuilder([I32, I32, I32, I32], []);
  const [rs, os, rowp, outc, src, dst, c, rEnd, cEnd, r] = Array.from({ length: 10 }, () => f.local(I32));
  const a = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const t = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  f.get(cols).const(2).op('i32.shl').set(rs); // input row stride, bytes
  f.get(rows).const(2).op('i32.shl').set(os); // output row stride, bytes
  f.get(rows).const(-4).op('i32.and').set(rEnd);
  f.get(cols).const(-4).op('i32.and').set(cEnd);
  f.get(x).set(rowp);
  f.get(out).set(outc);
  f.const(0).set(r);
  // Whole quads of rows.
  f.whileNot(
    () => f.get(r).get(rEnd).op('i32.ge_u'),
    () => {
      f.get(rowp).set(src);
      f.get(outc).set(dst);
      f.const(0).set(c);
      // 4 x 4 blocks: load four row pieces, interleave twice, store four column pieces.
      f.whileNot(
        () => f.get(c).get(cEnd).op('i32.ge_u'),
        () => {
          for (let i = 0; i < 4; i++) {
            f.get(src);
            for (let k = 0; k < i; k++) f.get(rs).op('i32.add');
            f.simdMem('v128.load', 0).set(a[i]);
          }
          f.get(a[0]).get(a[1]).shuffleF32([0, 4, 1, 5]).set(t[0]);
          f.get(a[0]).get(a[1]).shuffleF32([2, 6, 3, 7]).set(t[1]);
          f.get(a[2]).get(a[3]).shuffleF32([0, 4, 1, 5]).set(t[2]);
          f.get(a[2]).get(a[3]).shuffleF32([2, 6, 3, 7]).set(t[3]);
          const halves: [number, number, [number, number, number, number]][] = [
            [0, 2, [0, 1, 4, 5]],
            [0, 2, [2, 3, 6, 7]],
            [1, 3, [0, 1, 4, 5]],
            [1, 3, [2, 3, 6, 7]],
          ];
          halves.forEach(([p, q, lanes], i) => {
            f.get(dst);
            for (let k = 0; k < i; k++) f.get(os).op('i32.add');
            f.get(t[p]).get(t[q]).shuffleF32(lanes).simdMem('v128.store', 0);
          });
          f.get(src).const(16).op('i32.add').set(src);
          f.get(dst).get(os).const(2).op('i32.shl').op('i32.add').set(dst);
          f.get(c).const(4).op('i32.add').set(c);
        },
      );
      // The 0-3 columns left, one at a time.
      f.whileNot(
        () => f.get(c).get(cols).op('i32.ge_u'),
        () => {
          for (let i = 0; i < 4; i++) {
            f.get(dst);
            f.get(src);
            for (let k = 0; k < i; k++) f.get(rs).op('i32.add');
            f.load(0);
            f.store(4 * i);
          }
          f.get(src).const(4).op('i32.add').set(src);
          f.get(dst).get(os).op('i32.add').set(dst);
          f.get(c).const(1).op('i32.add').set(c);
        },
      );
      f.get(rowp).get(rs).const(2).op('i32.shl').op('i32.add').set(rowp);
      f.get(outc).const(16).op('i32.add').set(outc);
      f.get(r).const(4).op('i32.add').set(r);
    },
  );
  // The 0-3 rows left, one value at a time.
  f.whileNot(
    () => f.get(r).get(rows).op('i32.ge_u'),
    () => {
      f.get(rowp).set(src);
      f.get(outc).set(dst);
      f.const(0).set(c);
      f.whileNot(
        () => f.get(c).get(cols).op('i32.ge_u'),
        () => {
          f.get(dst).get(src).load(0).store(0);
          f.get(src).const(4).op('i32.add').set(src);
          f.get(dst).get(os).op('i32.add').set(dst);
          f.get(c).const(1).op('i32.add').set(c);
        },
      );
      f.get(rowp).get(rs).op('i32.add').set(rowp);
      f.get(outc).const(4).op('i32.add').set(outc);
      f.get(r).const(1).op('i32.add').set(r);
    },
  );
  return f;
}

const kernel = heapModule<{ transpose: TransposeFn }>(() => ({ transpose: buildTranspose() }));

function transposeWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const backend = args.backend as WasmHeapBackend;
  const [rows, cols] = x.shape;
  const out = backend.makeOutput([cols, rows], 'float32');
  const k = kernel.get(backend);
  if (k) {
    k.transpose(heapOffset(backend, x), rows, cols, heapOffset(backend, out));
  } else {
    const xs = backend.typedArrayFromHeap(x);
    const os = backend.typedArrayFromHeap(out);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) os[c * rows + r] = xs[r * cols + c];
  }
  return out;
}

const register = registerOnce(() => {
  tf.registerKernel({ kernelName: TRANSPOSE_2D_KERNEL, backendName: 'wasm', kernelFunc: transposeWasm as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: TRANSPOSE_2D_KERNEL, gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => transpose2d(dy as tf.Tensor2D) }) });
});

/** `x [rows, cols]` transposed to `[cols, rows]`, values moved exactly. */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  if (x.rank !== 2) throw new ShapeError('transpose2d needs a matrix', { where: 'transpose2d(x)', expected: '[rows, columns]', got: x.shape });
  if (tf.getBackend() === 'wasm' && x.dtype === 'float32') {
    register();
    return tf.engine().runKernel(TRANSPOSE_2D_KERNEL, { x }, {}) as tf.Tensor2D;
  }
  return tf.transpose(x);
}
