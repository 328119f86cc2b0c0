/**
 * @rec/core's wasm SIMD matrix kernel (`buildGemm`, the inner loop of both CPU inference engines) in its loop shapes,
 * side by side in one process, interleaved: multiply-adds per second on one thread for the shapes the engines run
 * (LSTM-DQN paper network: K 128 x N 512 recurrent and 10,000-item head; TD3 actor: K 512 x N 512), with 1 and 4
 * rows of A per call. Shapes: `unroll` K steps per loop iteration (4 was the old default, 1 the new) and `group`
 * panels per pass (2 for 1-2 rows by default). All shapes give bit-identical results (checked here too).
 *
 *   pnpm tsx bench/simd-gemm.ts [--quick] [--rounds N]
 */
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('models-td3'); // the built dist/, as users get it (bench/_dist.ts)
const { GEMM_INIT_BIAS, ModuleBuilder, buildGemm, packPanels, packedFloats } = await import('@rec/core');
type Gemm = (a: number, lda: number, b: number, K: number, panels: number, c: number, ldc: number, mode: number, bias: number) => void;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const ri = args.indexOf('--rounds');
const rounds = ri >= 0 ? Number(args[ri + 1]) : quick ? 2 : 7;
const work = quick ? 2e7 : 2e8; // multiply-adds per timing

// [name, rows, unroll, group]
const variants: [string, number, number, number][] = [
  ['4 rows, unroll 4 (old)', 4, 4, 1],
  ['4 rows, unroll 1 (new)', 4, 1, 1],
  ['1 row, unroll 4 (old)', 1, 4, 1],
  ['1 row, unroll 1, 2 panels (new)', 1, 1, 2],
  ['2 rows, unroll 4 (old)', 2, 4, 1],
  ['2 rows, unroll 1, 2 panels (new)', 2, 1, 2],
];
const shapes: [string, number, number][] = [
  ['LSTM recurrent 128 x 512', 128, 512],
  ['LSTM-DQN head 128 x 10,000', 128, 10_000],
  ['TD3 actor 512 x 512', 512, 512],
];

const pages = 2048; // 128 MiB
const mod = new ModuleBuilder({ initial: pages, maximum: pages, shared: false });
variants.forEach(([, R, U, G], i) => mod.addFunction(buildGemm(R, U, G), `g${i}`));
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
const fns = new WebAssembly.Instance(new WebAssembly.Module(mod.encode()), { e: { m: memory } }).exports as Record<string, Gemm>;
const f32 = new Float32Array(memory.buffer);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`buildGemm, one thread, median of ${rounds} interleaved rounds (G multiply-adds/s)`);
for (const [label, K, N] of shapes) {
  const panels = Math.ceil(N / 8);
  const bPtr = 1 << 16;
  packPanels(f32, bPtr / 4, Float32Array.from({ length: K * N }, (_, i) => Math.sin(i)), K, N);
  const aPtr = bPtr + packedFloats(K, N) * 4 + 4096;
  for (let i = 0; i < 4 * K; i++) f32[aPtr / 4 + i] = Math.cos(i);
  const cPtr = aPtr + 4 * K * 4 + 4096;
  const biasPtr = cPtr + 4 * panels * 32 + 4096;
  const rates: number[][] = variants.map(() => []);
  let first: Float32Array | null = null;
  let identical = true;
  for (let round = 0; round < rounds; round++) {
    variants.forEach(([, R], i) => {
      const g = fns[`g${i}`];
      const calls = Math.max(3, Math.round(work / (R * K * N)));
      for (let w = 0; w < 3; w++) g(aPtr, K * 4, bPtr, K, panels, cPtr, panels * 32, GEMM_INIT_BIAS, biasPtr);
      if (R === 1) {
        const out = f32.slice(cPtr / 4, cPtr / 4 + N);
        if (!first) first = out;
        else identical &&= out.every((v, j) => v === first![j]);
      }
      const t0 = performance.now();
      for (let c = 0; c < calls; c++) g(aPtr, K * 4, bPtr, K, panels, cPtr, panels * 32, GEMM_INIT_BIAS, biasPtr);
      rates[i].push((calls * R * K * N) / ((performance.now() - t0) / 1000) / 1e9);
    });
  }
  console.log(`\n${label} (first row of C identical across shapes: ${identical ? 'yes' : 'NO'})`);
  console.log('| shape | G MAC/s | vs old |');
  console.log('|---|---|---|');
  variants.forEach(([name, R], i) => {
    const old = variants.findIndex(([, r, u]) => r === R && u === 4);
    console.log(`| ${name} | ${median(rates[i]).toFixed(2)} | ${(median(rates[i]) / median(rates[old])).toFixed(2)}x |`);
  });
}
