/**
 * LSTM-DQN speed: one training step (batch 64, 10k items, paper model), inference for one user and for 256 users
 * (forward + top-20 over 10k items), and top-20 over a 4.1M-item catalogue with the embedding head, against the
 * same work in PyTorch on the CPU (bench/torch/lstm_dqn.py, run here as a subprocess) with the ratio.
 *
 *   pnpm tsx bench/lstm-dqn.ts                 # wasm, full sizes
 *   pnpm tsx bench/lstm-dqn.ts --backend cpu --quick
 *   options: --quick (tiny sizes), --backend wasm|cpu, --wasm-threads N (default 1), --no-torch, --torch-threads N,
 *            --reps N, --emb N
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('models-lstm-dqn'); // the built dist/, as users get it (bench/_dist.ts)
const tf = await import('@tensorflow/tfjs-core');
const { initBackend, Rng, wasmThreadCount } = await import('@rec/core');
const { CatalogueScorer, LstmDqn, countParameters, networkParamShapes, readVariables, writeVariables } = await import('@rec/models-lstm-dqn');

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const quick = flag('quick') || !!process.env.BENCH_QUICK;
const backend = opt('backend', 'wasm');
const items = Number(opt('items', quick ? '1000' : '10000'));
const catalogue = Number(opt('catalogue', quick ? '100000' : '4100000'));
const emb = Number(opt('emb', '32'));
const users = quick ? 32 : 256;
const reps = Number(opt('reps', quick ? '5' : '20'));
// One thread by default: tfjs wasm runs on one thread in Node, and on a shared 2-core box torch's second thread
// mostly spins (measured here: train step 36 ms with 1 thread, 250-300 ms with 2 under load).
const torchThreads = Number(opt('torch-threads', '1'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function timeMs(fn: () => void, n: number, warmup = 3): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

function runTorch(): Record<string, number> | string {
  if (flag('no-torch')) return 'skipped (--no-torch)';
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch', 'lstm_dqn.py');
  for (const py of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) continue;
    const r = spawnSync(py, [script, '--items', String(items), '--catalogue', String(catalogue), '--emb', String(emb), '--users', String(users), '--reps', String(reps), '--threads', String(torchThreads)], {
      encoding: 'utf8',
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: String(torchThreads) },
      maxBuffer: 1 << 20,
    });
    if (r.status !== 0) return `PyTorch run failed: ${r.stderr.split('\n').slice(-3).join(' ')}`;
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }
  return 'skipped: no python3 with torch (apt-get install -y python3-torch libopenblas0-pthread)';
}

async function main() {
  // One thread by default, as the PyTorch peer runs (--wasm-threads N to compare with --torch-threads N).
  const info = await initBackend(backend as 'wasm' | 'cpu', { ignoreEnv: true, wasmThreads: Number(opt('wasm-threads', '1')) });
  console.log(`LSTM-DQN benchmark | backend ${info.name}${info.name === 'wasm' ? ` (${wasmThreadCount()} thread(s))` : ''} | tfjs-core ${tf.version_core} | ${quick ? 'QUICK sizes' : 'full sizes'}`);
  const rng = new Rng(0);
  const agent = new LstmDqn({ numActions: items, network: 'paper', batchSize: 64, bufferSize: 2048, learningStarts: 64, seed: 0 });
  const S = 10 * 10;
  console.log(`paper model: ${countParameters(networkParamShapes(agent.config.network)).toLocaleString()} parameters, ${items} items`);
  const n = 1024;
  agent.replay.addBatch({
    obs: rng.fillNormal(new Float32Array(n * S)),
    action: Int32Array.from({ length: n }, () => rng.int(items)),
    reward: Float32Array.from({ length: n }, () => (rng.next() < 0.1 ? 1 : 0)),
    nextObs: rng.fillNormal(new Float32Array(n * S)),
    discount: new Float32Array(n).fill(0.99),
    target: new Int32Array(n).fill(-2), // unknown full reward vector: the plain single-action DQN update
  });
  const ours: Record<string, number> = {};
  ours.train_step_ms = timeMs(() => agent.trainStep(), reps, 10); // 10 warm-up steps: the first ones grow the heap and JIT
  {
    // Lever check: the same step with one big input projection for all time steps (split per step afterwards).
    const alt = new LstmDqn({ numActions: items, network: { inputProjection: 'allSteps' }, batchSize: 64, bufferSize: 2048, learningStarts: 64, seed: 0 });
    alt.replay.setState(agent.replay.getState());
    ours.train_step_allsteps_ms = timeMs(() => alt.trainStep(), reps);
    alt.dispose();
    // And with the op-by-op LSTM cell instead of the fused wasm kernels (lstm-cell.ts), timed in alternation with
    // the default so that the machine's drift hits both alike.
    const ops = new LstmDqn({ numActions: items, network: { cellKernel: 'ops' }, batchSize: 64, bufferSize: 2048, learningStarts: 64, seed: 0 });
    ops.replay.setState(agent.replay.getState());
    const fusedT: number[] = [];
    const opsT: number[] = [];
    for (let round = 0; round < 4; round++) {
      fusedT.push(timeMs(() => agent.trainStep(), Math.max(1, reps >> 2), 1));
      opsT.push(timeMs(() => ops.trainStep(), Math.max(1, reps >> 2), 1));
    }
    ours.train_step_fused_ms = median(fusedT);
    ours.train_step_opscell_ms = median(opsT);
    ops.dispose();
  }
  const one = rng.fillNormal(new Float32Array(S)) as Float32Array;
  const many = rng.fillNormal(new Float32Array(users * S)) as Float32Array;
  ours.forward_top20_1user_ms = timeMs(() => agent.recommend(one, 20, { historyLength: 10 }), reps * 5);
  const hist = new Int32Array(users).fill(10);
  ours.forward_top20_256users_ms = timeMs(() => agent.recommendBatch(many, 20, { historyLengths: hist }), reps);
  const engine = agent.inferenceEngine;
  {
    // Side by side: the same weights scored by each engine, forced ('auto' picks per batch size).
    const viaTfjs = new LstmDqn({ numActions: items, network: 'paper', seed: 0, inference: 'tfjs' });
    const viaSimd = new LstmDqn({ numActions: items, network: 'paper', seed: 0, inference: 'wasm-simd' });
    writeVariables(viaTfjs.online, readVariables(agent.online), 'bench lstm-dqn (tfjs copy)');
    writeVariables(viaSimd.online, readVariables(agent.online), 'bench lstm-dqn (wasm-simd copy)');
    ours.tfjs_1user_ms = timeMs(() => viaTfjs.recommend(one, 20, { historyLength: 10 }), reps * 5);
    ours.simd_1user_ms = timeMs(() => viaSimd.recommend(one, 20, { historyLength: 10 }), reps * 5);
    ours.tfjs_256users_ms = timeMs(() => viaTfjs.recommendBatch(many, 20, { historyLengths: hist }), reps);
    ours.simd_256users_ms = timeMs(() => viaSimd.recommendBatch(many, 20, { historyLengths: hist }), reps);
    const a = viaSimd.recommendBatch(many, 20, { historyLengths: hist }).items;
    const b = viaTfjs.recommendBatch(many, 20, { historyLengths: hist }).items;
    let same = 0;
    for (let i = 0; i < a.length; i++) same += a[i] === b[i] ? 1 : 0;
    ours.same_items_frac = same / a.length;
    viaTfjs.dispose();
    viaSimd.dispose();
  }
  agent.dispose();

  const t0 = performance.now();
  const embT = rng.fillNormal(new Float32Array(emb * catalogue), 0, 0.1) as Float32Array;
  const bias = rng.fillNormal(new Float32Array(catalogue), 0, 0.1) as Float32Array;
  const scorer = new CatalogueScorer(embT, bias, emb);
  const buildMs = performance.now() - t0;
  const q = rng.fillNormal(new Float32Array(emb)) as Float32Array;
  ours.catalogue_top20_1user_ms = timeMs(() => scorer.topK(q, 20), Math.max(5, reps >> 1), 2);
  console.log(`catalogue: ${catalogue.toLocaleString()} items x ${emb}-d embedding head, ${(scorer.memoryBytes / 2 ** 20).toFixed(0)} MiB item table (built in ${buildMs.toFixed(0)} ms)`);
  scorer.dispose();

  const torch = runTorch();
  const rows: [string, string, number | undefined][] = [
    [`train step, batch 64, ${items} items`, 'train_step_ms', 37],
    [`forward + top-20 over ${items} items, 1 user`, 'forward_top20_1user_ms', 1],
    [`forward + top-20, ${users} users`, 'forward_top20_256users_ms', undefined],
    [`top-20 over ${catalogue.toLocaleString()} items (embedding head), 1 user`, 'catalogue_top20_1user_ms', 50],
  ];
  console.log(`(lever) train step with one all-steps input projection + split instead of per-step projections: ${ours.train_step_allsteps_ms.toFixed(2)} ms`);
  console.log(`(lever) train step, fused LSTM cell kernels (default) vs the op-by-op cell, alternated: ${ours.train_step_fused_ms.toFixed(2)} vs ${ours.train_step_opscell_ms.toFixed(2)} ms`);
  console.log(
    `inference engines, forced, side by side: 1 user wasm-simd ${ours.simd_1user_ms.toFixed(2)} ms vs tfjs graph ${ours.tfjs_1user_ms.toFixed(2)} ms | ${users} users ${ours.simd_256users_ms.toFixed(1)} vs ${ours.tfjs_256users_ms.toFixed(1)} ms | 'auto' uses wasm-simd at every batch size on wasm and cpu | same top-20 items ${(100 * ours.same_items_frac).toFixed(1)}%`,
  );
  console.log(`\n| work | ours ms (tfjs ${info.name}; inference: auto, ${engine} for 1 user) | PyTorch CPU ms | ratio (ours / torch) | target |`);
  console.log('|---|---|---|---|---|');
  for (const [label, key, target] of rows) {
    const t = typeof torch === 'string' ? undefined : torch[key];
    const ratio = t ? (ours[key] / t).toFixed(2) : '-';
    const tgt = key === 'forward_top20_256users_ms' ? '<= 1.5x torch' : key === 'train_step_ms' ? '<= 1.5x torch' : `< ${target} ms`;
    console.log(`| ${label} | ${ours[key].toFixed(2)} | ${t !== undefined ? t.toFixed(2) : '-'} | ${ratio} | ${tgt} |`);
  }
  if (typeof torch === 'string') console.log(`\nPyTorch: ${torch}`);
  else console.log(`\nPyTorch ${torch.torch}, ${torch.threads} thread(s), OPENBLAS_NUM_THREADS=1`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
