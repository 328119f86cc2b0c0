/**
 * TD3 benchmarks (issue #5):
 *  1. One TD3 update, batch 512, default networks (69 -> 512 -> 512 -> 256 -> 64; twin 133 -> ... -> 1), on wasm,
 *     against the same update in PyTorch CPU (bench/torch/td3.py) measured in the same run; ratio printed.
 *  2. One full round of 50,000 users of the belief simulator with 10,000 items: actor inference in batches of 4,000
 *     (agent) and the environment step (matching the actions to items by cosine, the pre-trained list, acceptance,
 *     belief update, reward); users per second and the agent/environment split, with the environment's tfjs matcher
 *     and its wasm SIMD matcher (the default). The actor alone on the SIMD engine (act's default on cpu/wasm) and on the tfjs
 *     graph, side by side. Also our own recommend() (actor + ItemMatcher + merge) over the same users, and its parts.
 *
 * pnpm tsx bench/td3.ts [--quick] [--iters N] [--backend wasm|cpu] [--wasm-threads N] [--no-torch] [--update-only]
 * Environment: REC_PYTHON (interpreter with torch), REC_WASM_THREADS (default threads: the cores up to 4).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('models-td3'); // the built dist/, as users get it (bench/_dist.ts)
const tf = await import('@tensorflow/tfjs-core');
const { describeBackend, initBackend, Rng, trainingWasmThreads } = await import('@rec/core');
const { syntheticBeliefSimData, TfjsCosineMatcher, UserBeliefEnv, UserBeliefSim } = await import('@rec/env');
const { createTd3, ItemMatcher } = await import('@rec/models-td3');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argValue = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const iters = Number(argValue('--iters') ?? (quick ? 3 : 10));
const hidden = quick ? [64, 64, 32] : [512, 512, 256];
const batchSize = quick ? 64 : 512;
const numUsers = quick ? 2_000 : 50_000;
const numItems = quick ? 1_000 : 10_000;
const populationBatch = quick ? 500 : 4_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

// Training's thread count as the examples use it (REC_WASM_THREADS, else the cores up to 4) unless --wasm-threads.
const threadsArg = argValue('--wasm-threads');
const info = await initBackend(argValue('--backend') ?? 'wasm', { wasmThreads: threadsArg ? Number(threadsArg) : trainingWasmThreads() });
console.log(`# TD3 benchmark ${quick ? '(quick: tiny sizes, figures are a smoke test only)' : ''}`);
console.log(describeBackend(info));

// ---------------------------------------------------------------------------------------------------------------
// 1. One TD3 update
// ---------------------------------------------------------------------------------------------------------------
{
  const agent = createTd3({ actorHidden: hidden, criticHidden: hidden, batchSize, replayCapacity: batchSize, seed: 1 });
  const rng = new Rng(1);
  const batch = {
    obs: rng.fillNormal(new Float32Array(batchSize * 69)) as Float32Array,
    action: rng.fillUniform(new Float32Array(batchSize * 64), -1, 1) as Float32Array,
    reward: rng.fillNormal(new Float32Array(batchSize)) as Float32Array,
    nextObs: rng.fillNormal(new Float32Array(batchSize * 69)) as Float32Array,
    done: Uint8Array.from({ length: batchSize }, () => (rng.next() < 0.05 ? 1 : 0)),
  };
  for (let i = 0; i < 6; i++) agent.update(batch);
  const criticOnly: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < 2 * iters; i++) {
    const t0 = performance.now();
    const r = agent.update(batch);
    (r.actorLoss === null ? criticOnly : full).push(performance.now() - t0);
  }
  const tfCritic = median(criticOnly);
  const tfFull = median(full);
  console.log(`\n## One TD3 update, batch ${batchSize}, hidden ${hidden.join('-')} (${iters} timed pairs, medians)`);
  console.log(`tfjs ${info.name}: critic-only call ${ms(tfCritic)}, critic + delayed actor + targets ${ms(tfFull)}, mean per call ${ms((tfCritic + tfFull) / 2)}`);
  if (!args.includes('--no-torch')) {
    const here = dirname(fileURLToPath(import.meta.url));
    const candidates = [process.env.REC_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[];
    const python = candidates.find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
    if (!python) {
      console.log('PyTorch: skipped (no python3 with torch; install python3-torch and libopenblas0-pthread, or set REC_PYTHON)');
    } else {
      // Two threads is the planning set-up; one thread matches wasm's single thread (and suffers less on a busy machine).
      for (const threads of [2, 1]) {
        const res = spawnSync(python, [join(here, 'torch', 'td3.py'), '--hidden', hidden.join(','), '--batch', String(batchSize), '--iters', String(iters), '--threads', String(threads)], {
          encoding: 'utf8',
          env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
          timeout: 600_000,
        });
        if (res.status !== 0) {
          console.log(`PyTorch (${threads} threads): failed (${res.status}): ${res.stderr.slice(-500)}`);
          continue;
        }
        const pt = JSON.parse(res.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; critic_only_ms: number; full_ms: number; per_call_ms: number };
        console.log(`PyTorch ${pt.torch} CPU (${pt.threads} threads, OpenBLAS 1 thread): critic-only ${ms(pt.critic_only_ms)}, full ${ms(pt.full_ms)}`);
        console.log(`  ratio tfjs/PyTorch(${pt.threads}): critic-only ${(tfCritic / pt.critic_only_ms).toFixed(2)}x, full ${(tfFull / pt.full_ms).toFixed(2)}x (target <= 1.5x)`);
      }
    }
  }
  agent.dispose();
}

// ---------------------------------------------------------------------------------------------------------------
// 2. One full round of the belief simulator
// ---------------------------------------------------------------------------------------------------------------
if (!args.includes('--update-only')) {
  console.log(`\n## One round: ${numUsers.toLocaleString()} users, ${numItems.toLocaleString()} items, batches of ${populationBatch.toLocaleString()}`);
  let t0 = performance.now();
  const data = syntheticBeliefSimData({ numUsers, numItems, seed: 7 });
  console.log(`setup: synthetic data ${ms(performance.now() - t0)}`);
  const agent = createTd3({ actorHidden: hidden, criticHidden: hidden, replayCapacity: 10, inferenceBatch: populationBatch, seed: 1 });
  const matchers: [string, () => import('@rec/env').ItemMatcher | undefined][] = [
    ['tfjs matMul + topk (TfjsCosineMatcher)', () => new TfjsCosineMatcher(data.itemEmbeddings, 64)],
    ['exact wasm SIMD (SimdCosineMatcher, the default)', () => undefined],
  ];
  for (const [label, make] of matchers) {
    const envMatcher = make();
    const sim = new UserBeliefSim(data, { populationBatch, seed: 1 }, envMatcher);
    void new UserBeliefEnv(sim); // the RecEnv view; the round below drives the population batch by batch, as runBeliefEpisode does
    t0 = performance.now();
    sim.warmPretrainedLists();
    console.log(`\nenvironment matcher: ${label}`);
    console.log(`setup: pre-trained candidate lists for all users (once, not per round) ${ms(performance.now() - t0)}`);
    agent.act(sim.observe(Int32Array.from({ length: 16 }, (_, i) => i))); // warm the kernels
    sim.resetUsers();
    let agentMs = 0;
    let envMs = 0;
    let observeMs = 0;
    const tRound = performance.now();
    for (let s = 0; s < numUsers; s += populationBatch) {
      const n = Math.min(populationBatch, numUsers - s);
      const users = Int32Array.from({ length: n }, (_, i) => s + i);
      let t = performance.now();
      const obs = sim.observe(users);
      observeMs += performance.now() - t;
      t = performance.now();
      const actions = agent.act(obs);
      agentMs += performance.now() - t;
      t = performance.now();
      sim.stepUsers(users, actions);
      envMs += performance.now() - t;
    }
    const roundMs = performance.now() - tRound;
    console.log(`round: ${ms(roundMs)} = ${(numUsers / (roundMs / 1000)).toFixed(0)} users/s (design: 2.3 s per round; target < 1.5 s)`);
    console.log(`  agent (actor inference): ${ms(agentMs)} (${((100 * agentMs) / roundMs).toFixed(0)}%)`);
    console.log(`  environment step (matching, pre-trained list, acceptance, beliefs, reward): ${ms(envMs)} (${((100 * envMs) / roundMs).toFixed(0)}%)`);
    console.log(`  observations: ${ms(observeMs)}`);
    (envMatcher as { dispose?: () => void } | undefined)?.dispose?.();
  }
  // The actor alone over all users, on the engine `act` uses by default and on the tfjs graph, same weights.
  {
    const sim = new UserBeliefSim(data, { populationBatch, seed: 1 });
    const obs = sim.observe(Int32Array.from({ length: numUsers }, (_, i) => i));
    const tfjsAgent = createTd3({ actorHidden: hidden, criticHidden: hidden, replayCapacity: 10, inferenceBatch: populationBatch, seed: 1, inference: 'tfjs' });
    const timeAct = (a: typeof agent) => {
      a.act(obs.subarray(0, 64 * 69));
      const t = performance.now();
      const out = a.act(obs);
      return { out, ms: performance.now() - t };
    };
    const fast = timeAct(agent);
    const slow = timeAct(tfjsAgent);
    let diff = 0;
    for (let i = 0; i < fast.out.length; i++) diff = Math.max(diff, Math.abs(fast.out[i] - slow.out[i]));
    const macs = numUsers * [69, ...hidden, 64].reduce((s, d, i, dims) => (i ? s + dims[i - 1] * d : 0), 0);
    console.log(`\nactor inference, ${numUsers.toLocaleString()} users (${(macs / 1e9).toFixed(1)} G multiply-adds):`);
    console.log(`  ${agent.inferenceEngine} engine (${agent.config.inferenceThreads || 'default'} threads): ${ms(fast.ms)} (${(macs / fast.ms / 1e6).toFixed(1)} G/s)`);
    console.log(`  tfjs ${tf.getBackend()} graph: ${ms(slow.ms)} (${(macs / slow.ms / 1e6).toFixed(1)} G/s); engine ${(slow.ms / fast.ms).toFixed(2)}x faster; max |difference| ${diff.toExponential(2)}`);
    tfjsAgent.dispose();
  }
  // Our own serving path on the same users: actor + cosine top-10 + pre-trained top-20 + merge to 20 distinct items.
  const matcher = new ItemMatcher(data.itemEmbeddings, 64);
  const sim = new UserBeliefSim(data, { populationBatch, seed: 1 });
  let recommendMs = 0;
  for (let s = 0; s < numUsers; s += populationBatch) {
    const n = Math.min(populationBatch, numUsers - s);
    const obs = sim.observe(Int32Array.from({ length: n }, (_, i) => s + i));
    const t = performance.now();
    agent.recommend(obs, matcher);
    recommendMs += performance.now() - t;
  }
  console.log(`\n@rec/models-td3 recommend() for all users (actor + ItemMatcher cosine top-10 + pre-trained dot-product top-20, merged to 20): ${ms(recommendMs)} = ${(numUsers / (recommendMs / 1000)).toFixed(0)} users/s`);
  {
    const obs = sim.observe(Int32Array.from({ length: numUsers }, (_, i) => i));
    const users = new Float32Array(numUsers * 64);
    for (let u = 0; u < numUsers; u++) users.set(obs.subarray(u * 69 + 5, (u + 1) * 69), u * 64);
    let t = performance.now();
    const actions = agent.act(obs);
    const actMs = performance.now() - t;
    t = performance.now();
    matcher.match(actions, numUsers, 10);
    const matchMs = performance.now() - t;
    t = performance.now();
    matcher.pretrained(users, numUsers, 20);
    const preMs = performance.now() - t;
    console.log(`  its parts, timed alone: actor ${ms(actMs)}, cosine top-10 ${ms(matchMs)}, dot-product top-20 ${ms(preMs)}`);
  }
  matcher.dispose();
  agent.dispose();
  console.log(`tensors alive after disposing: ${tf.memory().numTensors}`);
}
