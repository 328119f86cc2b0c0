/**
 * The same model code on every tfjs backend available here: LSTM-DQN forward passes and training step, and the TD3
 * update, timed on cpu, wasm and webgpu (on this machine: Dawn on Mesa's lavapipe, a *CPU* Vulkan driver), with
 * the largest difference from the cpu backend's numbers beside each time.
 *
 * WebGPU on lavapipe is a correctness path (it runs the real WGSL kernels in CI without a GPU), not a speed claim:
 * lavapipe executes the shaders on the CPU through LLVM, so its times say nothing about a real GPU.
 *
 *   pnpm tsx bench/backends.ts                 # paper-sized LSTM-DQN (10k items), TD3 defaults (batch 512)
 *   pnpm tsx bench/backends.ts --quick         # tiny sizes, a smoke run of a few seconds
 *   options: --backends cpu,wasm,webgpu (add tensorflow on a machine with tfjs-node-gpu)   --reps N
 *
 * The LSTM-DQN step here is LstmDqn.trainStep's computation written with the package's exported pieces (qValues,
 * networkParamShapes, createVariables, Adam, clipByGlobalNorm) and read back asynchronously, because the agent's
 * own synchronous API cannot read from webgpu in Node (see docs/backends.md).
 */
import { join } from 'node:path';
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('core'); // the built dist/, as users get it (bench/_dist.ts)
const tf = await import('@tensorflow/tfjs-core');
const { initBackend, Rng } = await import('@rec/core');
const { Adam, clipByGlobalNorm, countParameters, createVariables, networkParamShapes, paperNetwork, qValues } = await import('@rec/models-lstm-dqn');
const { createTd3 } = await import('@rec/models-td3');
type Tensor = import('@tensorflow/tfjs-core').Tensor;

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const quick = args.includes('--quick') || !!process.env.BENCH_QUICK;
const backends = opt('backends', 'cpu,wasm,webgpu').split(',').map((s) => s.trim()) as ('cpu' | 'wasm' | 'webgpu' | 'tensorflow')[];
const reps = Number(opt('reps', quick ? '3' : '5'));
const ITEMS = quick ? 1000 : 10_000;
const USERS = quick ? 32 : 256;
const BATCH = 64;
const TD3_SIZE = quick ? { batchSize: 64, actorHidden: [64, 64], criticHidden: [64, 64] } : {};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median wall time of `fn` (which must end with an awaited read, so GPU work is included). */
async function timeMs(fn: () => Promise<unknown>, n: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

// Quick mode shrinks the network too (the cpu backend takes seconds per paper-sized step).
const NET = paperNetwork(ITEMS, quick ? { hidden: 32, mlp: [64, 32] } : {});
const S = NET.seqLen * NET.featureDim;
const data = (() => {
  const rng = new Rng('bench-backends');
  return {
    one: rng.fillNormal(new Float32Array(S)) as Float32Array,
    many: rng.fillNormal(new Float32Array(USERS * S)) as Float32Array,
    obs: rng.fillNormal(new Float32Array(BATCH * S)) as Float32Array,
    nextObs: rng.fillNormal(new Float32Array(BATCH * S)) as Float32Array,
    actions: Int32Array.from({ length: BATCH }, () => rng.int(ITEMS)),
    rewards: Float32Array.from({ length: BATCH }, () => (rng.next() < 0.1 ? 1 : 0)),
  };
})();

interface Row {
  ms: number;
  /** The numbers compared with cpu (first call's output). */
  out: Float32Array;
}

async function lstmDqn(): Promise<Record<string, Row>> {
  const online = createVariables(networkParamShapes(NET), new Rng('bench-init'), true);
  const target = createVariables(networkParamShapes(NET), new Rng('bench-init'), false);
  const adam = new Adam(online);
  const names = Object.keys(online);
  const forward = async (states: Float32Array, n: number) => {
    const q = tf.tidy(() => qValues(online, NET, tf.tensor3d(states, [n, NET.seqLen, NET.featureDim]), { training: false }));
    const out = (await q.data()) as Float32Array;
    q.dispose();
    return out;
  };
  // LstmDqn.trainStep: double-DQN target, Huber loss on Q(s, a) picked by a one-hot mask, clip to norm 10, Adam.
  let dropoutSeed = 1;
  const trainStep = async () => {
    const shape: [number, number, number] = [BATCH, NET.seqLen, NET.featureDim];
    const loss = tf.tidy(() => {
      const next = tf.tensor3d(data.nextObs, shape);
      const best = tf.argMax(qValues(online, NET, next, { training: false }), 1);
      const qNext = tf.sum(tf.mul(qValues(target, NET, next, { training: false }), tf.oneHot(best, ITEMS, 1, 0, 'float32')), 1);
      const y = tf.add(tf.tensor1d(data.rewards), tf.mul(0.99, qNext));
      const obs = tf.tensor3d(data.obs, shape);
      const mask = tf.oneHot(tf.tensor1d(data.actions, 'int32'), ITEMS, 1, 0, 'float32');
      const { value, grads } = tf.variableGrads(() => {
        const q = qValues(online, NET, obs, { training: true, seed: dropoutSeed++ });
        const absd = tf.abs(tf.sub(tf.sum(tf.mul(q, mask), 1), y));
        const m = tf.minimum(absd, 1);
        return tf.mean(tf.add(tf.mul(tf.square(m), 0.5), tf.sub(absd, m))) as import('@tensorflow/tfjs-core').Scalar;
      }, names.map((n) => online[n]));
      const byName: Record<string, Tensor> = {};
      for (const n of names) byName[n] = grads[online[n].name];
      adam.apply(online, clipByGlobalNorm(byName, 10).grads, 1e-3);
      return value;
    });
    const out = (await loss.data()) as Float32Array;
    loss.dispose();
    return Float32Array.from(out);
  };
  const rows: Record<string, Row> = {};
  rows['forward, 1 user'] = { out: await forward(data.one, 1), ms: await timeMs(() => forward(data.one, 1), reps * 2) };
  rows[`forward, ${USERS} users`] = { out: await forward(data.many, USERS), ms: await timeMs(() => forward(data.many, USERS), reps) };
  // The first step's loss is what every backend must agree on (later ones start from diverging float rounding).
  const firstLoss = await trainStep();
  rows[`train step, batch ${BATCH}`] = { out: firstLoss, ms: await timeMs(trainStep, reps) };
  tf.dispose([...Object.values(online), ...Object.values(target)] as Tensor[]);
  adam.dispose();
  return rows;
}

async function td3(): Promise<Row> {
  const agent = createTd3({ stateDim: 69, actionDim: 64, ...TD3_SIZE, seed: 3 });
  const B = agent.config.batchSize;
  const rng = new Rng('bench-td3');
  const batch = {
    obs: rng.fillNormal(new Float32Array(B * 69)) as Float32Array,
    action: rng.fillUniform(new Float32Array(B * 64), -1, 1) as Float32Array,
    reward: Float32Array.from({ length: B }, () => rng.normal()),
    nextObs: rng.fillNormal(new Float32Array(B * 69)) as Float32Array,
    done: new Uint8Array(B),
  };
  const probe = tf.tensor2d(batch.obs.subarray(0, 8 * 69), [8, 69]);
  const update = async () => {
    agent.update(batch, false);
    // Wait for the GPU: read one weight of the critic (always updated) asynchronously.
    await agent.critic1.named()[0][1].data();
  };
  const first = async () => {
    await update();
    await update(); // the delayed actor step
    const a = agent.actor.apply(probe, false);
    const out = (await a.data()) as Float32Array;
    a.dispose();
    return Float32Array.from(out);
  };
  const out = await first();
  const ms = await timeMs(update, reps);
  probe.dispose();
  agent.dispose();
  return { out, ms };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return a.length === b.length ? m : Infinity;
}

async function main() {
  console.log(`backends benchmark | tfjs-core ${tf.version_core} | ${quick ? 'QUICK sizes' : 'full sizes'} | median of ${reps}`);
  console.log(`LSTM-DQN ${quick ? 'paper layout, scaled down' : 'paper network'}: ${countParameters(networkParamShapes(NET)).toLocaleString()} parameters, ${ITEMS} items; TD3: ${JSON.stringify(TD3_SIZE) === '{}' ? 'defaults (69 -> 512-512-256, batch 512)' : 'quick (64-64, batch 64)'}`);
  const results: Record<string, Record<string, Row>> = {};
  const devices: Record<string, string> = {};
  for (const b of backends) {
    try {
      const info = await initBackend(b, { ignoreEnv: true });
      devices[b] = info.provider ?? b;
    } catch (e) {
      console.log(`${b}: unavailable (${e instanceof Error ? e.message.split('\n')[0] : e})`);
      continue;
    }
    const t0 = performance.now();
    results[b] = { ...(await lstmDqn()), 'TD3 update': await td3() };
    console.log(`${b} (${devices[b]}): done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const done = Object.keys(results);
  if (!done.length) return;
  const ref = results.cpu;
  const peer = results.wasm;
  console.log(`\n| work | ${done.map((b) => `${b} ms`).join(' | ')} | ${done.filter((b) => b !== 'wasm').map((b) => `${b} / wasm`).join(' | ')} | ${done.filter((b) => b !== 'cpu').map((b) => `${b} max abs diff vs cpu`).join(' | ')} |`);
  console.log(`|---|${done.map(() => '---|').join('')}${done.filter((b) => b !== 'wasm').map(() => '---|').join('')}${done.filter((b) => b !== 'cpu').map(() => '---|').join('')}`);
  for (const work of Object.keys(results[done[0]])) {
    const times = done.map((b) => results[b][work].ms.toFixed(1));
    const ratios = done.filter((b) => b !== 'wasm').map((b) => (peer ? (results[b][work].ms / peer[work].ms).toFixed(2) : '-'));
    const diffs = done.filter((b) => b !== 'cpu').map((b) => (ref ? maxAbsDiff(results[b][work].out, ref[work].out).toExponential(1) : '-'));
    console.log(`| ${work} | ${times.join(' | ')} | ${ratios.join(' | ')} | ${diffs.join(' | ')} |`);
  }
  console.log('\nDiffs: forward = Q-values, train step = the first step\'s loss, TD3 = actor actions after two updates.');
  if (devices.webgpu) console.log(`webgpu adapter: ${devices.webgpu} (a CPU Vulkan driver here: a correctness path, not a speed figure)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
