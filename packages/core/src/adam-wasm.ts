/**
 * One Adam step of a parameter as a single wasm SIMD pass on tfjs's heap (for the wasm backend): reads p, g, m, v
 * once and writes the new p, m, v, where the op-by-op update makes about a dozen passes (a 128 x 10,000 Q-head is
 * 1.3M floats per pass). It does the same f32 operations in the same order as `Adam.apply`'s ops, with the same
 * f32-rounded constants, so the numbers are the op path's bit for bit (optim.test.ts checks this).
 */
import * as tf from '@tensorflow/tfjs-core';
import { F32, FuncBuilder, I32, V128 } from './wasm-asm.js';
import { heapModule, heapOffset, registerOnce, type WasmHeapBackend } from './wasm-heap.js';

export const ADAM_KERNEL = 'RecAdamStep';

/**
 * adam(p, g, m, v, pOut, mOut, vOut, n, b1, c1, b2, c2, eps, step, pytorch, sqrtBc2): byte pointers, n floats.
 *   m' = m b1 + g c1, v' = v b2 + (g g) c2, then
 *   folded:  p' = p - (m' / (sqrt(v') + eps)) step
 *   pytorch: p' = p - (m' / (sqrt(v') / sqrtBc2 + eps)) step
 */
function buildAdam(): FuncBuilder {
  const [p, g, m, v, po, mo, vo, n, b1, c1, b2, c2, eps, step, pytorch, sqrtBc2] = Array.from({ length: 16 }, (_, i) => i);
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, I32, F32], []);
  const i = f.local(I32);
  const end = f.local(I32);
  const [vb1, vc1, vb2, vc2, veps, vstep, vbc, vg] = Array.from({ length: 8 }, () => f.local(V128)); // constants, then g
  const [mN, vN] = [f.local(V128), f.local(V128)];
  const sg = f.local(F32);
  const sm = f.local(F32);
  const sv = f.local(F32);
  for (const [dst, src] of [[vb1, b1], [vc1, c1], [vb2, b2], [vc2, c2], [veps, eps], [vstep, step], [vbc, sqrtBc2]] as const) f.get(src).simd('f32x4.splat').set(dst);
  // The same expression for vectors and for single floats.
  const vload = (base: number) => f.get(base).get(i).op('i32.add').simdMem('v128.load', 0);
  const vstore = (base: number, val: () => void) => {
    f.get(base).get(i).op('i32.add');
    val();
    f.simdMem('v128.store', 0);
  };
  const sload = (base: number) => f.get(base).get(i).op('i32.add').loadF32(0);
  const sstore = (base: number, val: () => void) => {
    f.get(base).get(i).op('i32.add');
    val();
    f.storeF32(0);
  };
  const emit = (vector: boolean, torchForm: boolean) => {
    const load = vector ? vload : sload;
    const store = vector ? vstore : sstore;
    const op = (name: 'add' | 'sub' | 'mul' | 'div' | 'sqrt') => (vector ? f.simd(`f32x4.${name}`) : f.op(`f32.${name}`));
    const c = (vl: number, sp: number) => f.get(vector ? vl : sp);
    const [G, M, V] = vector ? [vg, mN, vN] : [sg, sm, sv];
    load(g);
    f.set(G);
    load(m);
    c(vb1, b1);
    op('mul');
    f.get(G);
    c(vc1, c1);
    op('mul');
    op('add');
    f.set(M);
    load(v);
    c(vb2, b2);
    op('mul');
    f.get(G).get(G);
    op('mul');
    c(vc2, c2);
    op('mul');
    op('add');
    f.set(V);
    store(mo, () => f.get(M));
    store(vo, () => f.get(V));
    store(po, () => {
      load(p);
      f.get(M).get(V);
      op('sqrt');
      if (torchForm) {
        c(vbc, sqrtBc2);
        op('div');
      }
      c(veps, eps);
      op('add');
      op('div');
      c(vstep, step);
      op('mul');
      op('sub');
    });
  };
  // Whole vectors, then the 0-3 floats left.
  const loops = (torchForm: boolean) => {
    f.const(0).set(i);
    for (const [vector, width] of [[true, 16], [false, 4]] as const) {
      f.get(n);
      if (vector) f.const(-4).op('i32.and');
      f.const(2).op('i32.shl').set(end);
      f.whileNot(
        () => f.get(i).get(end).op('i32.ge_u'),
        () => {
          emit(vector, torchForm);
          f.get(i).const(width).op('i32.add').set(i);
        },
      );
    }
  };
  f.get(pytorch).if();
  loops(true);
  f.op('else');
  loops(false);
  f.end();
  return f;
}

const kernel = heapModule<{ adam: (...args: number[]) => void }>(() => ({ adam: buildAdam() }));

interface AdamAttrs {
  b1: number;
  c1: number;
  b2: number;
  c2: number;
  eps: number;
  step: number;
  pytorch: boolean;
  sqrtBc2: number;
}

function adamKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo[] {
  const b = backend as WasmHeapBackend;
  const { p, g, m, v } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as AdamAttrs;
  const outs = [b.makeOutput(p.shape, 'float32'), b.makeOutput(p.shape, 'float32'), b.makeOutput(p.shape, 'float32')];
  const n = p.shape.reduce((x, y) => x * y, 1);
  const at = (t: tf.TensorInfo) => heapOffset(b, t);
  kernel.get(b)!.adam(at(p), at(g), at(m), at(v), at(outs[0]), at(outs[1]), at(outs[2]), n, a.b1, a.c1, a.b2, a.c2, a.eps, a.step, a.pytorch ? 1 : 0, a.sqrtBc2);
  return outs;
}

const register = registerOnce(() => {
  tf.registerKernel({ kernelName: ADAM_KERNEL, backendName: 'wasm', kernelFunc: adamKernel as unknown as tf.KernelFunc });
});

/** Whether the fused step runs here: the wasm backend is active and its heap takes our SIMD module. */
export function fusedAdamAvailable(): boolean {
  return kernel.active() !== null;
}

/** The new [p, m, v] of one Adam step (float32 tensors of one shape); call when `fusedAdamAvailable()`. */
export function fusedAdamStep(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  register();
  return tf.engine().runKernel(ADAM_KERNEL, { p, g, m, v }, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}
