/**
 * The LSTM cell of a training step as two fused wasm SIMD kernels on tfjs's heap (forward and gradient), for the
 * wasm backend. tfjs builds a cell from about a dozen ops forward and twice that backward (split, sigmoids,
 * products, sums), each a full pass over a small block plus tfjs's per-op cost; here a cell is one call each way.
 *
 * Forward, gates [i | f | o | g] of the pre-activations z [B, 4H], previous cell state cPrev [B, H]:
 *   i, f, o = sigmoid(z_i, z_f, z_o), g = tanh(z_g), c = f cPrev + i g, h = o tanh(c).
 * Gradient, given dh and dc (recomputing the gates from z, cheaper than keeping them):
 *   dct = dc + dh o (1 - tanh(c)^2), dz_i = dct g i (1 - i), dz_f = dct cPrev f (1 - f),
 *   dz_o = dh tanh(c) o (1 - o), dz_g = dct i (1 - g^2), dcPrev = dct f.
 * Exp is simd-forward.ts's (range reduction and a degree-6 polynomial, relative error < 2e-7), so these agree with
 * tfjs's own ops to float rounding; rnn.test.ts checks values and gradients against the op-by-op cell.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FuncBuilder, I32, V128, heapModule, heapOffset, registerOnce, type WasmHeapBackend } from '@rec/core';
import { emitLstmGates, emitTanh } from './simd-forward.js';

export const LSTM_CELL_KERNEL = 'RecLstmCell';
export const LSTM_CELL_GRAD_KERNEL = 'RecLstmCellGrad';

/** Push `a * b` with the scratch-free ops. */
const mul = (f: FuncBuilder) => f.simd('f32x4.mul');

/**
 * For each of `rows` rows and each vector (local `j`, a byte offset below Hb) of the row: `body`; after each row the
 * pointers in `gateRows` move on by 4 Hb and those in `unitRows` by Hb. `r` is a scratch i32 local.
 */
function forEachRowVector(f: FuncBuilder, rows: number, r: number, j: number, Hb: number, gateRows: number[], unitRows: number[], body: () => void): void {
  f.get(rows).op('i32.eqz').if().op('return').end();
  f.get(rows).set(r);
  f.loop();
  f.const(0).set(j);
  f.loop();
  body();
  f.get(j).const(16).op('i32.add').tee(j).get(Hb).op('i32.lt_u').brIf(0);
  f.end();
  for (const p of gateRows) f.get(p).get(Hb).const(4).op('i32.mul').op('i32.add').set(p);
  for (const p of unitRows) f.get(p).get(Hb).op('i32.add').set(p);
  f.get(r).const(1).op('i32.sub').tee(r).brIf(0);
  f.end();
}

/** lstm_fwd(z, cPrev, c, h, rows, Hb): byte pointers, Hb = H * 4 (H a multiple of 4). */
function buildForward(): FuncBuilder {
  const [z, cp, c, h, rows, Hb] = [0, 1, 2, 3, 4, 5];
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32], []);
  const j = f.local(I32);
  const r = f.local(I32);
  const [x, ig, fg, og, g, cc, e, t, n] = Array.from({ length: 9 }, () => f.local(V128));
  forEachRowVector(f, rows, r, j, Hb, [z], [cp, c, h], () => {
    emitLstmGates(f, z, Hb, j, { ig, fg, og, g }, x, e, t, n);
    f.get(ig).get(g);
    mul(f);
    f.get(fg).get(cp).get(j).op('i32.add').simdMem('v128.load', 0);
    mul(f);
    f.simd('f32x4.add').set(cc);
    f.get(c).get(j).op('i32.add').get(cc).simdMem('v128.store', 0);
    emitTanh(f, cc, x, e, t, n);
    f.get(h).get(j).op('i32.add').get(og).get(x);
    mul(f);
    f.simdMem('v128.store', 0);
  });
  return f;
}

/** lstm_bwd(z, c, cPrev, dh, dc, dz, dcPrev, rows, Hb): byte pointers, Hb = H * 4. */
function buildGradient(): FuncBuilder {
  const [z, c, cp, dh, dc, dz, dcp, rows, Hb] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const j = f.local(I32);
  const r = f.local(I32);
  const [x, ig, fg, og, g, tc, vdh, dct, one, e, t, n] = Array.from({ length: 12 }, () => f.local(V128));
  const at = (base: number) => f.get(base).get(j).op('i32.add');
  /** Store the vector the callback pushes at gate k of dz. */
  const storeDz = (k: number, push: () => void) => {
    f.get(dz);
    if (k > 0) f.get(Hb).const(k).op('i32.mul').op('i32.add');
    f.get(j).op('i32.add');
    push();
    f.simdMem('v128.store', 0);
  };
  /** Push s (1 - s) for the gate in local s. */
  const dSigmoid = (s: number) => {
    f.get(s).get(one).get(s).simd('f32x4.sub');
    mul(f);
  };
  f.f32const(1).simd('f32x4.splat').set(one);
  forEachRowVector(f, rows, r, j, Hb, [z, dz], [c, cp, dh, dc, dcp], () => {
    emitLstmGates(f, z, Hb, j, { ig, fg, og, g }, x, e, t, n);
    at(c).simdMem('v128.load', 0).set(x);
    emitTanh(f, x, tc, e, t, n);
    at(dh).simdMem('v128.load', 0).set(vdh);
    // dct = dc + dh o (1 - tc^2)
    at(dc).simdMem('v128.load', 0);
    f.get(vdh).get(og);
    mul(f);
    f.get(one).get(tc).get(tc);
    mul(f);
    f.simd('f32x4.sub');
    mul(f);
    f.simd('f32x4.add').set(dct);
    storeDz(0, () => {
      f.get(dct).get(g);
      mul(f);
      dSigmoid(ig);
      mul(f);
    });
    storeDz(1, () => {
      f.get(dct);
      at(cp).simdMem('v128.load', 0);
      mul(f);
      dSigmoid(fg);
      mul(f);
    });
    storeDz(2, () => {
      f.get(vdh).get(tc);
      mul(f);
      dSigmoid(og);
      mul(f);
    });
    storeDz(3, () => {
      f.get(dct).get(ig);
      mul(f);
      f.get(one).get(g).get(g);
      mul(f);
      f.simd('f32x4.sub');
      mul(f);
    });
    at(dcp).get(dct).get(fg);
    mul(f);
    f.simdMem('v128.store', 0);
  });
  return f;
}

interface CellKernels {
  lstm_fwd(z: number, cp: number, c: number, h: number, rows: number, Hb: number): void;
  lstm_bwd(z: number, c: number, cp: number, dh: number, dc: number, dz: number, dcp: number, rows: number, Hb: number): void;
}

const kernels = heapModule<CellKernels>(() => ({ lstm_fwd: buildForward(), lstm_bwd: buildGradient() }));

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown };

function forwardKernel({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmHeapBackend;
  const { z, cPrev } = inputs as { z: tf.TensorInfo; cPrev: tf.TensorInfo };
  const [rows, H] = cPrev.shape;
  const h = b.makeOutput([rows, H], 'float32');
  const c = b.makeOutput([rows, H], 'float32');
  kernels.get(b)!.lstm_fwd(heapOffset(b, z), heapOffset(b, cPrev), heapOffset(b, c), heapOffset(b, h), rows, 4 * H);
  return [h, c];
}

function gradientKernel({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmHeapBackend;
  const { z, c, cPrev, dh, dc } = inputs as Record<string, tf.TensorInfo>;
  const [rows, H] = cPrev.shape;
  const dz = b.makeOutput([rows, 4 * H], 'float32');
  const dcPrev = b.makeOutput([rows, H], 'float32');
  kernels.get(b)!.lstm_bwd(heapOffset(b, z), heapOffset(b, c), heapOffset(b, cPrev), heapOffset(b, dh), heapOffset(b, dc), heapOffset(b, dz), heapOffset(b, dcPrev), rows, 4 * H);
  return [dz, dcPrev];
}

const register = registerOnce(() => {
  tf.registerKernel({ kernelName: LSTM_CELL_KERNEL, backendName: 'wasm', kernelFunc: forwardKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: LSTM_CELL_GRAD_KERNEL, backendName: 'wasm', kernelFunc: gradientKernel as unknown as tf.KernelFunc });
  tf.registerGradient({
    kernelName: LSTM_CELL_KERNEL,
    inputsToSave: ['z', 'cPrev'],
    outputsToSave: [false, true],
    gradFunc: (dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [dh, dc] = dys as tf.Tensor[];
      const [z, cPrev, c] = saved;
      const [dz, dcPrev] = tf.engine().runKernel(LSTM_CELL_GRAD_KERNEL, { z, c, cPrev, dh, dc }, {}) as tf.Tensor[];
      return { z: () => dz, cPrev: () => dcPrev };
    },
  });
});

/**
 * Whether the fused cell runs here: the wasm backend is active, its heap takes our SIMD module, the tensors are
 * float32 and H is a multiple of 4 (whole vectors per gate).
 */
export function fusedLstmCellAvailable(H: number): boolean {
  return H % 4 === 0 && H > 0 && kernels.active() !== null;
}

/** One LSTM cell: `z [B, 4H]` gate pre-activations [i | f | o | g], `cPrev [B, H]`; returns `[h, c]`. */
export function fusedLstmCell(z: tf.Tensor2D, cPrev: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  register();
  return tf.engine().runKernel(LSTM_CELL_KERNEL, { z, cPrev }, {}) as unknown as [tf.Tensor2D, tf.Tensor2D];
}
