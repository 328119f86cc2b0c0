/**
 * A wasm SIMD matrix kernel, `C = init + A B`, for 1 to 4 rows of A at a time, built at run time with
 * ModuleBuilder; both agents' CPU inference engines are made of it (the LSTM-DQN's SimdForward, the TD3 SimdMlp).
 *
 * B is pre-packed in panels of 8 columns (`packPanels`: panel p holds the K x 8 block of columns 8p .. 8p+7, rows
 * contiguous, zero-padded), so each step of the K loop is two 16-byte loads of B, one broadcast of A per row and two
 * multiply-adds per row into 2 x R vector accumulators. `init` is zero, C itself (to add to C in place) or a bias
 * row, with an optional ReLU on the way out. C's rows hold whole panels: pad their stride to a multiple of 8 floats.
 * Measured on this machine's 2-core VM: 7-10 G multiply-adds/s on one thread (tiles of 5 or 6 rows, a wider K
 * unroll and relaxed-SIMD FMA gave no real gain).
 */
import { FuncBuilder, I32, V128 } from './wasm-asm.js';

/** Columns per packed panel of B. */
export const GEMM_PANEL = 8;
/** `mode` bits 0-1: accumulators start at C. */
export const GEMM_INIT_C = 1;
/** `mode` bits 0-1: accumulators start at the bias row (`bias`, padded to whole panels). */
export const GEMM_INIT_BIAS = 2;
/** `mode` bit 2: ReLU on the way out. */
export const GEMM_RELU = 4;

/** gemm_R(a, lda, b, K, panels, c, ldc, mode, bias): pointers and strides in bytes; mode: GEMM_* bits (0: start at zero). */
export type Gemm = (a: number, lda: number, b: number, K: number, panels: number, c: number, ldc: number, mode: number, bias: number) => void;

/** Floats `packPanels` writes for a K x N matrix. */
export function packedFloats(K: number, N: number): number {
  return Math.ceil(N / GEMM_PANEL) * K * GEMM_PANEL;
}

/**
 * Pack row-major `w [K, N]` into panels of 8 columns at float offset `at` of `dst` (the padding columns of the last
 * panel are left as they are: zero in fresh memory).
 */
export function packPanels(dst: Float32Array, at: number, w: Float32Array, K: number, N: number): void {
  const panels = Math.ceil(N / GEMM_PANEL);
  for (let p = 0; p < panels; p++) {
    const c0 = p * GEMM_PANEL;
    const width = Math.min(GEMM_PANEL, N - c0);
    for (let k = 0; k < K; k++) dst.set(w.subarray(k * N + c0, k * N + c0 + width), at + (p * K + k) * GEMM_PANEL);
  }
}

/** The kernel for R (1-4) rows of A per call (export it from a module that imports memory `e.m`). */
export function buildGemm(R: number): FuncBuilder {
  const [a, lda, b, K, panels, c, ldc, mode, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const p = f.local(I32);
  const off = f.local(I32); // byte offset of the current panel in C and bias
  const kk = f.local(I32); // byte offset along a row of A
  const kEnd = f.local(I32);
  const kEnd4 = f.local(I32); // bytes of the K steps done four at a time
  const aptr = Array.from({ length: R }, () => f.local(I32));
  const bp = f.local(I32);
  const arow = Array.from({ length: R }, () => f.local(I32));
  const crow = Array.from({ length: R }, () => f.local(I32));
  const acc = Array.from({ length: R }, () => [f.local(V128), f.local(V128)]);
  const b0 = f.local(V128);
  const b1 = f.local(V128);
  const s = f.local(V128);
  const zero = f.local(V128);
  f.const(0).simd('i32x4.splat').set(zero);
  f.get(a).set(arow[0]);
  f.get(c).set(crow[0]);
  for (let r = 1; r < R; r++) {
    f.get(arow[r - 1]).get(lda).op('i32.add').set(arow[r]);
    f.get(crow[r - 1]).get(ldc).op('i32.add').set(crow[r]);
  }
  f.get(K).const(2).op('i32.shl').set(kEnd);
  f.get(K).const(-4).op('i32.and').const(2).op('i32.shl').set(kEnd4);
  f.get(b).set(bp);
  f.const(0).set(p);
  f.const(0).set(off);
  f.block();
  f.get(panels).op('i32.eqz').brIf(0);
  f.loop();
  {
    // Accumulators start at the bias, at C, or at zero.
    f.get(mode).const(3).op('i32.and').const(GEMM_INIT_BIAS).op('i32.eq').if();
    for (let r = 0; r < R; r++) {
      f.get(bias).get(off).op('i32.add').simdMem('v128.load', 0).set(acc[r][0]);
      f.get(bias).get(off).op('i32.add').simdMem('v128.load', 16).set(acc[r][1]);
    }
    f.op('else');
    f.get(mode).const(3).op('i32.and').const(GEMM_INIT_C).op('i32.eq').if();
    for (let r = 0; r < R; r++) {
      f.get(crow[r]).get(off).op('i32.add').simdMem('v128.load', 0).set(acc[r][0]);
      f.get(crow[r]).get(off).op('i32.add').simdMem('v128.load', 16).set(acc[r][1]);
    }
    f.op('else');
    for (let r = 0; r < R; r++) f.get(zero).set(acc[r][0]).get(zero).set(acc[r][1]);
    f.end();
    f.end();
    // K loop, four steps per iteration (immediate offsets instead of address arithmetic), then the 0-3 left.
    const step = (u: number, rowAddr: (r: number) => void) => {
      f.get(bp).simdMem('v128.load', 32 * u).set(b0);
      f.get(bp).simdMem('v128.load', 32 * u + 16).set(b1);
      for (let r = 0; r < R; r++) {
        f.get(acc[r][0]);
        rowAddr(r);
        f.simdMem('v128.load32_splat', 4 * u).tee(s).get(b0).simd('f32x4.mul').simd('f32x4.add').set(acc[r][0]);
        f.get(acc[r][1]).get(s).get(b1).simd('f32x4.mul').simd('f32x4.add').set(acc[r][1]);
      }
    };
    f.const(0).set(kk);
    f.block();
    f.get(kEnd4).op('i32.eqz').brIf(0);
    f.loop();
    {
      for (let r = 0; r < R; r++) f.get(arow[r]).get(kk).op('i32.add').set(aptr[r]);
      for (let u = 0; u < 4; u++) step(u, (r) => f.get(aptr[r]));
      f.get(bp).const(128).op('i32.add').set(bp);
      f.get(kk).const(16).op('i32.add').tee(kk).get(kEnd4).op('i32.lt_u').brIf(0);
    }
    f.end();
    f.end();
    f.block();
    f.get(kk).get(kEnd).op('i32.ge_u').brIf(0);
    f.loop();
    {
      step(0, (r) => f.get(arow[r]).get(kk).op('i32.add'));
      f.get(bp).const(32).op('i32.add').set(bp);
      f.get(kk).const(4).op('i32.add').tee(kk).get(kEnd).op('i32.lt_u').brIf(0);
    }
    f.end();
    f.end();
    f.get(mode).const(GEMM_RELU).op('i32.and').if();
    for (let r = 0; r < R; r++) {
      f.get(zero).get(acc[r][0]).simd('f32x4.pmax').set(acc[r][0]);
      f.get(zero).get(acc[r][1]).simd('f32x4.pmax').set(acc[r][1]);
    }
    f.end();
    for (let r = 0; r < R; r++) {
      f.get(crow[r]).get(off).op('i32.add').get(acc[r][0]).simdMem('v128.store', 0);
      f.get(crow[r]).get(off).op('i32.add').get(acc[r][1]).simdMem('v128.store', 16);
    }
    f.get(off).const(32).op('i32.add').set(off);
    f.get(p).const(1).op('i32.add').tee(p).get(panels).op('i32.lt_u').brIf(0);
  }
  f.end();
  f.end();
  return f;
}
