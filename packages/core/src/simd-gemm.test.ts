import { describe, expect, it } from 'vitest';
import { GEMM_INIT_BIAS, GEMM_INIT_C, GEMM_PANEL, GEMM_RELU, buildGemm, packPanels, packedFloats, type Gemm } from './simd-gemm.js';
import { ModuleBuilder } from './wasm-asm.js';

/** C = init + A B for M rows, in the kernel's order: per output, acc = f32(acc + f32(a_k b_k)) for k = 0 .. K-1. */
function reference(A: Float32Array, B: Float32Array, M: number, K: number, N: number, init: Float32Array, relu: boolean): Float32Array {
  const out = new Float32Array(M * N);
  for (let r = 0; r < M; r++) {
    for (let n = 0; n < N; n++) {
      let acc = init[r * N + n];
      for (let k = 0; k < K; k++) acc = Math.fround(acc + Math.fround(A[r * K + k] * B[k * N + n]));
      out[r * N + n] = relu && acc < 0 ? 0 : acc;
    }
  }
  return out;
}

describe('buildGemm', () => {
  // Every shape the engines use: 1-4 rows, K unrolled 1 or 4 steps (K not a multiple of 4: the remainder loop), one
  // or two panels per pass (odd panel counts: the single-panel tail).
  const variants: [number, number, number][] = [];
  for (let R = 1; R <= 4; R++) for (const unroll of [1, 4]) for (const group of [1, 2]) variants.push([R, unroll, group]);
  const mod = new ModuleBuilder({ initial: 64, maximum: 64, shared: false });
  variants.forEach(([R, unroll, group], i) => mod.addFunction(buildGemm(R, unroll, group), `g${i}`));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64 });
  const exports = new WebAssembly.Instance(new WebAssembly.Module(mod.encode()), { e: { m: memory } }).exports as Record<string, Gemm>;
  const f32 = new Float32Array(memory.buffer);

  it('equals the scalar f32 reference bit for bit, for every tile shape, init mode and ReLU', () => {
    let seed = 7;
    const rnd = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32 - 0.5;
    };
    for (const [K, N] of [[1, 1], [3, 8], [7, 13], [16, 24], [37, 41], [64, 130]]) {
      const panels = Math.ceil(N / GEMM_PANEL);
      const ld = panels * GEMM_PANEL; // C rows hold whole panels
      const B = Float32Array.from({ length: K * N }, rnd);
      const bPtr = 0;
      f32.fill(0, 0, packedFloats(K, N) + 64);
      packPanels(f32, bPtr / 4, B, K, N);
      const aPtr = (packedFloats(K, N) + 64) * 4;
      const cPtr = aPtr + (4 * K + 64) * 4;
      const biasPtr = cPtr + (4 * ld + 64) * 4;
      variants.forEach(([R, unroll, group], i) => {
        for (const mode of [0, GEMM_INIT_C, GEMM_INIT_BIAS, GEMM_INIT_BIAS | GEMM_RELU, GEMM_INIT_C | GEMM_RELU]) {
          const A = Float32Array.from({ length: R * K }, rnd);
          const C0 = Float32Array.from({ length: R * ld }, rnd);
          const bias = Float32Array.from({ length: ld }, rnd);
          f32.set(A, aPtr / 4);
          f32.set(C0, cPtr / 4);
          f32.set(bias, biasPtr / 4);
          exports[`g${i}`](aPtr, K * 4, bPtr, K, panels, cPtr, ld * 4, mode, biasPtr);
          const init = new Float32Array(R * N);
          for (let r = 0; r < R; r++) {
            for (let n = 0; n < N; n++) init[r * N + n] = (mode & 3) === GEMM_INIT_C ? C0[r * ld + n] : (mode & 3) === GEMM_INIT_BIAS ? bias[n] : 0;
          }
          const want = reference(A, B, R, K, N, init, (mode & GEMM_RELU) !== 0);
          const got = new Float32Array(R * N);
          for (let r = 0; r < R; r++) got.set(f32.subarray(cPtr / 4 + r * ld, cPtr / 4 + r * ld + N), r * N);
          const where = `R ${R}, unroll ${unroll}, group ${group}, K ${K}, N ${N}, mode ${mode}`;
          expect(Array.from(got), where).toEqual(Array.from(want));
        }
      });
    }
  });
});
