import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A tfjs backend is initialised once per process, so each thread count runs in its own child process (on the
// built dist/, as users get it). The child must also exit on its own: the pthread workers are unref'd.
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist', 'index.js');
const script = `
const { columnSum, initBackend, wasmThreadCount } = await import(${JSON.stringify('file://' + dist)});
const tf = await import('@tensorflow/tfjs-core');
const info = await initBackend('wasm', { wasmThreads: Number(process.argv[1]), ignoreEnv: true });
const a = tf.tensor2d(Array.from({ length: 300 * 200 }, (_, i) => Math.sin(i)), [300, 200]);
const b = tf.tensor2d(Array.from({ length: 200 * 100 }, (_, i) => Math.cos(i)), [200, 100]);
const c = tf.matMul(a, b).dataSync();
// columnSum's own kernel on tfjs's heap: a shared memory in the threaded build, a plain one otherwise.
const s = columnSum(a, 0.5).dataSync();
console.log(JSON.stringify({ provider: info.provider, threads: wasmThreadCount(), c: Array.from(c), s: Array.from(s) }));
`;

function run(threads: number): { provider: string; threads: number; c: number[]; s: number[] } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, String(threads)], { cwd: here, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, `child exited with ${r.status} (${r.signal ?? 'no signal'}): ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('wasm threads in Node', () => {
  it('starts the threaded build with 2 threads, gives the single-threaded numbers and lets the process exit', () => {
    const one = run(1);
    const two = run(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(two.provider).toContain('2 threads');
    expect(two.c.length).toBe(300 * 100);
    expect(two.c).toEqual(one.c);
    expect(two.s.length).toBe(200);
    expect(two.s).toEqual(one.s);
    let s0 = 0;
    for (let r = 0; r < 300; r++) s0 += Math.fround(Math.sin(r * 200));
    expect(Math.abs(one.s[0] - 0.5 * s0)).toBeLessThan(1e-4);
  }, 120_000);

  it('refuses a bad thread count', async () => {
    const { initBackend } = await import('./backend.js');
    await expect(initBackend('wasm', { wasmThreads: 0 })).rejects.toThrow(/wasmThreads/);
  });
});
