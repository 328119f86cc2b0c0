/**
 * A wasm SIMD matrix kernel, `C = init + A B`, for 1 to 4 rows of A at a time, built at run time with
 * ModuleBuilder; both agents' CPU inference engines are made of it (the LSTM-DQN's SimdForward, the TD3 SimdMlp).
 *
 * B is pre-packed in panels of 8 columns (`packPanels`: panel p holds the K x 8 block of columns 8p .. 8p+7, rows
 * contiguous, zero-padded), so each step of the K loop is two 16-byte loads of B, one broadcast of A per row and two
 * multiply-adds per row into 2 x R vector accumulators. `init` is zero, C itself (to add to C in place) or a bias
 * row, with an optional ReLU on the way out. C's rows hold whole panels: pad their stride to a multiple of 8 floats.
 * Measured on this machine's 2-core VM (bench/simd-gemm.ts): see buildGemm for the loop shape; relaxed-SIMD FMA
 * gave no real gain.
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

/**
 * The kernel for R (1-4) rows of A per call (export it from a module that imports memory `e.m`).
 *
 * `unroll`: K steps per loop iteration (default 1). V8's TurboFan hoists every load of an unrolled body to its top,
 * so 4 steps of a 4-row tile keep 8 B vectors and 16 broadcasts live next to the 8 accumulators and spill about half
 * of them to the stack; one step keeps 14 vector registers live and none spill (x64 has 16): 1.3-2x faster here.
 * `group`: panels per pass (default 2 for R <= 2, else 1). One or two rows give only 2R independent accumulator
 * chains, each add waiting on the one before (latency-bound); two panels at once double the chains.
 * Neither changes the arithmetic: each output is the same sequence of adds over k, so results are bit-identical.
 */
export function buildGemm(R: number, unroll = 1, group = R <= 2 ? 2 : 1): FuncBuilder {
  const [a, lda, b, K, panels, c, ldc, mode, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  const p = f.local(I32);
  const off = f.local(I32); // byte offset of the current panel in C and bias
  const kk = f.local(I32); // byte offset along a row of A
  const kEnd = f.local(I32);
  const kEndU = f.local(I32); // bytes of the K steps done `unroll` at a time
  const panelBytes = f.local(I32); // K * 32: one packed panel
  const aptr = Array.from({ length: R }, () => f.local(I32));
  const bp = f.local(I32);
  const arow = Array.from({ length: R }, () => f.local(I32));
  const crow = Array.from({ length: R }, () => f.local(I32));
  const G = Math.max(1, group);
  // acc[g][r][h]: panel g of the group, row r, half h (columns 0-3 / 4-7)
  const acc = Array.from({ length: G }, () => Array.from({ length: R }, () => [f.local(V128), f.local(V128)]));
  const bv = Array.from({ length: G }, () => [f.local(V128), f.local(V128)]);
  const s = f.local(V128);
  const zero = f.local(V128);
  f.const(0).simd('i32x4.splat').set(zero);
  f.get(a).set(arow[0]);
  f.get(c).set(crow[0]);
  for (let r = 1; r < R; r++) {
    f.get(arow[r - 1]).get(lda).op('i32.add').set(arow[r]);
    f.get(crow[r - 1]).get(ldc).op('i32.add').set(crow[r]);
  }
  if (unroll > 1) f.get(K).const(2).op('i32.shl').set(kEnd); // only the remainder loop reads it
  f.get(K).const(-unroll).op('i32.and').const(2).op('i32.shl').set(kEndU);
  f.get(K).const(5).op('i32.shl').set(panelBytes);
  f.get(b).set(bp);
  f.const(0).set(p);
  f.const(0).set(off);

  // One pass over `g` panels starting at panel p (B at bp, C and bias at byte offset off); advances p, off, bp.
  const pass = (g: number) => {
    // Accumulators start at the bias, at C, or at zero.
    f.get(mode).const(3).op('i32.and').const(GEMM_INIT_BIAS).op('i32.eq').if();
    for (let q = 0; q < g; q++) {
      for (let r = 0; r < R; r++) {
        f.get(bias).get(off).op('i32.add').simdMem('v128.load', 32 * q).set(acc[q][r][0]);
        f.get(bias).get(off).op('i32.add').simdMem('v128.load', 32 * q + 16).set(acc[q][r][1]);
      }
    }
    f.op('else');
    f.get(mode).const(3).op('i32.and').const(GEMM_INIT_C).op('i32.eq').if();
    for (let q = 0; q < g; q++) {
      for (let r = 0; r < R; r++) {
        f.get(crow[r]).get(off).op('i32.add').simdMem('v128.load', 32 * q).set(acc[q][r][0]);
        f.get(crow[r]).get(off).op('i32.add').simdMem('v128.load', 32 * q + 16).set(acc[q][r][1]);
      }
    }
    f.op('else');
    for (let q = 0; q < g; q++) for (let r = 0; r < R; r++) f.get(zero).set(acc[q][r][0]).get(zero).set(acc[q][r][1]);
    f.end();
    f.end();
    // K loop, `unroll` steps per iteration (immediate offsets instead of address arithmetic), then the rest.
    // Panel q of the group is at bp + q * panelBytes.
    const bAt = (q: number) => {
      f.get(bp);
      if (q > 0) f.get(panelBytes).op('i32.add');
    };
    const step = (u: number, rowAddr: (r: number) => void) => {
      for (let q = 0; q < g; q++) {
        bAt(q);
        f.simdMem('v128.load', 32 * u).set(bv[q][0]);
        bAt(q);
        f.simdMem('v128.load', 32 * u + 16).set(bv[q][1]);
      }
      for (let r = 0; r < R; r++) {
        rowAddr(r);
        f.simdMem('v128.load32_splat', 4 * u).set(s);
        for (let q = 0; q < g; q++) {
          f.get(acc[q][r][0]).get(s).get(bv[q][0]).simd('f32x4.mul').simd('f32x4.add').set(acc[q][r][0]);
          f.get(acc[q][r][1]).get(s).get(bv[q][1]).simd('f32x4.mul').simd('f32x4.add').set(acc[q][r][1]);
        }
      }
    };
    f.const(0).set(kk);
    f.block();
    f.get(kEndU).op('i32.eqz').brIf(0);
    f.loop();
    {
      for (let r = 0; r < R; r++) f.get(arow[r]).get(kk).op('i32.add').set(aptr[r]);
      for (let u = 0; u < unroll; u++) step(u, (r) => f.get(aptr[r]));
      f.get(bp).const(32 * unroll).op('i32.add').set(bp);
      f.get(kk).const(4 * unroll).op('i32.add').tee(kk).get(kEndU).op('i32.lt_u').brIf(0);
    }
    f.end();
    f.end();
    if (unroll > 1) {
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
    }
    f.get(mode).const(GEMM_RELU).op('i32.and').if();
    for (let q = 0; q < g; q++) {
      for (let r = 0; r < R; r++) {
        f.get(zero).get(acc[q][r][0]).simd('f32x4.pmax').set(acc[q][r][0]);
        f.get(zero).get(acc[q][r][1]).simd('f32x4.pmax').set(acc[q][r][1]);
      }
    }
    f.end();
    for (let q = 0; q < g; q++) {
      for (let r = 0; r < R; r++) {
        f.get(crow[r]).get(off).op('i32.add').get(acc[q][r][0]).simdMem('v128.store', 32 * q);
        f.get(crow[r]).get(off).op('i32.add').get(acc[q][r][1]).simdMem('v128.store', 32 * q + 16);
      }
    }
    // bp has walked over the first panel of the group; skip the other g - 1.
    if (g > 1) f.get(bp).get(panelBytes).const(g - 1).op('i32.mul').op('i32.add').set(bp);
    f.get(off).const(32 * g).op('i32.add').set(off);
    f.get(p).const(g).op('i32.add').set(p);
  };

  if (G > 1) {
    // Whole groups while at least G panels are left.
    f.block();
    f.loop();
    {
      f.get(panels).get(p).const(G).op('i32.add').op('i32.lt_u').brIf(1); // fewer than G panels left
      pass(G);
      f.br(0);
    }
    f.end();
    f.end();
  }
  // Single panels for the rest.
  f.block();
  f.loop();
  {
    f.get(p).get(panels).op('i32.ge_u').brIf(1);
    pass(1);
    f.br(0);
  }
  f.end();
  f.end();
  return f;
}
