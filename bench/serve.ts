/**
 * @rec/serve under load on loopback (127.0.0.1 only; every run bounded in time).
 *
 *   pnpm tsx bench/serve.ts            # ~2 minutes
 *   pnpm tsx bench/serve.ts --quick    # smoke run, ~30 s, small model
 *
 * Serves a real LSTM-DQN (the paper network, untrained weights: timing does not depend on training) saved by
 * @rec/models-lstm-dqn and loaded from its directory, on tfjs wasm. Prints:
 * - open-loop 1,000 req/s uncached (warm users, random `exclude` so every request misses the cache and runs the
 *   model): p50/p95/p99 from the scheduled send time, fallbacks; target p95 < 10 ms;
 * - closed-loop maximum throughput with wrk: uncached, cached (embedded LRU and Redis), and a bare fastify JSON
 *   endpoint in the same process as the peer (ratio printed); target >= 5,000 req/s cached;
 * - a fault run: Redis SIGKILLed and restarted during open-loop load with interactions; failed requests and
 *   interaction lines lost (accepted 202s minus lines in the event log).
 * Needs `wrk` and `redis-server` (Debian packages); a missing one skips its runs with a message.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecService } from '@rec/serve';
import { useBuiltPackages } from './_dist.js';

useBuiltPackages('serve'); // the built dist/, as users get it (bench/_dist.ts)
const { LstmDqn, saveModel } = await import('@rec/models-lstm-dqn');
const { createServer, ensureServeBackend } = await import('@rec/serve');

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 2 : 6;
const NUM_ITEMS = quick ? 2000 : 10_000;
const WARM_USERS = quick ? 300 : 2000;
const CACHED_USERS = quick ? 200 : 1000;
const here = fileURLToPath(new URL('.', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rec-bench-serve-'));

const have = (cmd: string, arg = '--version') => spawnSync(cmd, [arg], { encoding: 'utf8' }).error === undefined;
const HAVE_WRK = have('wrk', '-v');
const HAVE_REDIS = have('redis-server');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function redisProcess(port: number) {
  let proc: ReturnType<typeof spawn> | null = null;
  const up = () =>
    new Promise<boolean>((r) => {
      const c = connect({ port, host: '127.0.0.1' });
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
  return {
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      while (!(await up())) await new Promise((r) => setTimeout(r, 20));
    },
    async kill() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((r) => (p.once('exit', () => r()), p.kill('SIGKILL')));
    },
  };
}

interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  errors: number;
  non2xx: number;
  p50: number;
  p95: number;
  p99: number;
}

const WRK_DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nRESULT {"requests":%d,"seconds":%f,"errors":%d,"non2xx":%d,"p50":%f,"p95":%f,"p99":%f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
`;

async function wrk(url: string, lua: string, connections: number, seconds = SECONDS): Promise<WrkResult> {
  const script = join(tmp, `wrk-${Math.floor(performance.now())}.lua`);
  writeFileSync(script, lua + WRK_DONE);
  const out = await new Promise<string>((resolve) => {
    const p = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let s = '';
    p.stdout.on('data', (d) => (s += d));
    p.stderr.on('data', (d) => (s += d));
    p.on('exit', () => resolve(s));
  });
  const m = /RESULT (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk output not understood: ${out}`);
  const r = JSON.parse(m[1]) as Omit<WrkResult, 'rps'>;
  return { ...r, rps: r.requests / r.seconds };
}

interface LoadResult {
  achievedRate: number;
  sent: number;
  completed: number;
  errors: number;
  unanswered: number;
  status: Record<string, number>;
  accepted: number;
  fallbacks: number;
  cachedResponses: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

// every open-loop run gets its own request sequence: with one shared seed, a later 'uncached' run replayed the
// (user, exclude) pairs of an earlier run against the same service and was answered from the cache
let loadSeed = 12345;
async function openLoop(base: string, mode: 'uncached' | 'cached' | 'fault', rate: number, seconds: number, users: number): Promise<LoadResult> {
  const seed = (loadSeed += 7919);
  const out = await new Promise<string>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(here, 'serve-load.ts'), JSON.stringify({ base, rate, seconds, mode, users, seed })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (d) => (s += d));
    p.on('exit', () => resolve(s));
  });
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : String(x));
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x));

const uncachedLua = `
math.randomseed(42)
request = function()
  return wrk.format("GET", "/recommendations/w" .. math.random(0, ${WARM_USERS - 1}) .. "?k=10&exclude=" .. math.random(0, 1000000000))
end`;
const cachedLua = `
math.randomseed(43)
request = function()
  return wrk.format("GET", "/recommendations/c" .. math.random(0, ${CACHED_USERS - 1}) .. "?k=10")
end`;

async function makeService(redisUrl?: string, model: 'lstm-dqn' | 'popularity' = 'lstm-dqn', timeoutMs = 50): Promise<{ svc: RecService; base: string }> {
  const svc = await createServer({
    timeoutMs,
    port: 0,
    logPath: join(tmp, `events-${redisUrl ? 'redis' : 'mem'}-${model}.jsonl`),
    models: { default: join(tmp, model) },
    popularityDir: join(tmp, 'popularity'),
    redisUrl,
    maxBatch: 64,
  });
  // warm users: 10 past events each (state written directly; the interaction route is measured in the fault run)
  for (let u = 0; u < WARM_USERS; u++) {
    for (let j = 0; j < 10; j++) svc.users.record(`w${u}`, (u * 31 + j * 7) % NUM_ITEMS, j % 4, 1_700_000_000 + j);
    svc.users.record(`c${u}`, (u * 17) % NUM_ITEMS, 0, 1_700_000_000);
  }
  const base = await svc.listen();
  // fill the cached lists (a fallback answer is not cached: retry until the model answered) and compile the kernels
  for (let u = 0; u < CACHED_USERS; u += 1) {
    for (let t = 0; t < 50; t++) {
      const r = (await fetch(`${base}/recommendations/c${u}?k=10`).then((x) => x.json())) as { fallback: unknown };
      if (r.fallback === false) break;
    }
  }
  return { svc, base };
}

async function main(): Promise<void> {
  console.log(`# @rec/serve bench (${quick ? 'quick' : 'full'}): ${cpus().length} cores, Node ${process.versions.node}, loopback only, load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const backend = (await ensureServeBackend(['wasm', 'cpu'])) as { name?: string };
  console.log(`tfjs backend: ${backend.name ?? JSON.stringify(backend)}`);
  const agent = new LstmDqn({ numActions: NUM_ITEMS, seed: 7, coldStartThreshold: 1 });
  await saveModel(agent, join(tmp, 'lstm-dqn'));
  const net = agent.config.network;
  agent.dispose();
  // the fallback's table (and the popularity-only peer run): item i weighted by a Zipf-like 1 / (1 + i)
  mkdirSync(join(tmp, 'popularity'));
  writeFileSync(join(tmp, 'popularity', 'config.json'), JSON.stringify({ modelType: 'popularity', version: 'bench' }));
  writeFileSync(join(tmp, 'popularity', 'popularity.json'), JSON.stringify({ items: Array.from({ length: NUM_ITEMS }, (_, i) => i), counts: Array.from({ length: NUM_ITEMS }, (_, i) => 1e6 / (1 + i)) }));
  console.log(`model: LSTM-DQN paper network (${net.cell} ${net.layers}x${net.hidden}, mlp ${net.mlp.join('-')}, seq ${net.seqLen}x${net.featureDim}), ${NUM_ITEMS} items, untrained weights, loaded from its saved directory`);
  if (!HAVE_WRK) console.log('wrk not found (apt-get install wrk): closed-loop throughput runs skipped');
  if (!HAVE_REDIS) console.log('redis-server not found (apt-get install redis-server): Redis and fault runs skipped');

  const rows: string[] = [];

  // 0) the service path with a model that costs nothing (popularity), to separate service overhead from the model
  {
    const { svc: ps, base: pbase } = await makeService(undefined, 'popularity');
    const r = await openLoop(pbase, 'uncached', 1000, SECONDS, WARM_USERS);
    rows.push(`| uncached open-loop 1000/s, popularity model (service overhead) | ${f1(r.achievedRate)} | ${f2(r.p50)} | ${f2(r.p95)} | ${f2(r.p99)} | errors ${r.errors + r.unanswered}, fallbacks ${r.fallbacks} |`);
    await ps.close();
  }

  const workerStats = (s: RecService) => (s.slots.get('default')!.recommender as { stats?: () => Record<string, number | null> }).stats?.() ?? {};
  const wdesc = (w: Record<string, number | null>) => `worker: ${w.calls} model calls, mean batch ${f1(w.meanBatch ?? NaN)}, call p50 ${f2(w.callP50Ms ?? NaN)} / p95 ${f2(w.callP95Ms ?? NaN)} / max ${f2(w.callMaxMs ?? NaN)} ms, ${w.skippedExpired} skipped past deadline`;

  // 0b) the model's own latency: a deadline it always meets (1 s), low rate
  {
    const { svc: ls, base: lbase } = await makeService(undefined, 'lstm-dqn', 1000);
    const r = await openLoop(lbase, 'uncached', 100, SECONDS, WARM_USERS);
    rows.push(`| uncached open-loop 100/s, LSTM-DQN, deadline 1 s (model latency) | ${f1(r.achievedRate)} | ${f2(r.p50)} | ${f2(r.p95)} | ${f2(r.p99)} | errors ${r.errors + r.unanswered}, fallbacks ${r.fallbacks}; ${wdesc(workerStats(ls))} |`);
    await ls.close();
  }

  const { svc, base } = await makeService();

  // 1) open-loop uncached at 1,000 req/s (and 500 for the shape)
  for (const rate of quick ? [500] : [500, 1000]) {
    const m0 = svc.metrics.toJSON().recommendations;
    const r = await openLoop(base, 'uncached', rate, SECONDS, WARM_USERS);
    const m1 = svc.metrics.toJSON().recommendations;
    const n = m1.inference.count - m0.inference.count;
    rows.push(`| uncached open-loop ${rate}/s, LSTM-DQN (memory cache) | ${f1(r.achievedRate)} | ${f2(r.p50)} | ${f2(r.p95)} | ${f2(r.p99)} | errors ${r.errors + r.unanswered}, fallbacks (deadline 50 ms) ${r.fallbacks} of ${n}, cache hits ${r.cachedResponses}, ${wdesc(workerStats(svc))} (cumulative) |`);
    if (r.cachedResponses > 0) console.log(`warning: ${r.cachedResponses} responses of the uncached ${rate}/s run came from the cache; its figures are not uncached`);
    if (rate === 1000) console.log(`target p95 < 10 ms at 1,000 req/s uncached: ${r.p95 < 10 && r.cachedResponses === 0 ? 'MET' : 'NOT MET'} (p95 ${f2(r.p95)} ms)`);
  }

  let bare: WrkResult | null = null;
  if (HAVE_WRK) {
    const unc = await wrk(base, uncachedLua, 16);
    rows.push(`| uncached closed-loop wrk c16 (memory cache) | ${f1(unc.rps)} | ${f2(unc.p50)} | ${f2(unc.p95)} | ${f2(unc.p99)} | errors ${unc.errors}, non-2xx ${unc.non2xx}, fallbacks ${svc.metrics.toJSON().recommendations.fallbacks} (cumulative) |`);
    const cached = await wrk(base, cachedLua, 32);
    const hit = svc.metrics.toJSON().recommendations.cacheHitRate;
    rows.push(`| cached closed-loop wrk c32 (memory LRU) | ${f1(cached.rps)} | ${f2(cached.p50)} | ${f2(cached.p95)} | ${f2(cached.p99)} | errors ${cached.errors}, non-2xx ${cached.non2xx}, overall hit rate ${f2(hit ?? NaN)} |`);

    // the peer: a bare fastify JSON endpoint, same process, same wrk settings
    const require = createRequire(createRequire(import.meta.url).resolve('@rec/serve'));
    const Fastify = require('fastify') as (o?: object) => { get: Function; listen: Function; close: Function };
    const app = Fastify();
    app.get('/hello', async () => ({ hello: 'world' }));
    const bareBase = await app.listen({ host: '127.0.0.1', port: 0 });
    bare = await wrk(`${bareBase}/hello`, '', 32);
    await app.close();
    rows.push(`| bare fastify JSON endpoint wrk c32 (peer) | ${f1(bare.rps)} | ${f2(bare.p50)} | ${f2(bare.p95)} | ${f2(bare.p99)} | - |`);
    console.log(`cached (memory) / bare fastify throughput: ${f2(cached.rps / bare.rps)}; uncached / bare: ${f2(unc.rps / bare.rps)}`);
    console.log(`target >= 5,000 req/s cached: ${cached.rps >= 5000 ? 'MET' : 'NOT MET'} (${f1(cached.rps)} req/s, memory LRU)`);
  }
  await svc.close();

  if (HAVE_REDIS) {
    const port = await freePort();
    const redis = redisProcess(port);
    await redis.start();
    const { svc: rs, base: rbase } = await makeService(`redis://127.0.0.1:${port}`);
    if (HAVE_WRK) {
      const cached = await wrk(rbase, cachedLua, 32);
      rows.push(`| cached closed-loop wrk c32 (Redis) | ${f1(cached.rps)} | ${f2(cached.p50)} | ${f2(cached.p95)} | ${f2(cached.p99)} | errors ${cached.errors}, non-2xx ${cached.non2xx}, hit rate ${f2(rs.metrics.toJSON().recommendations.cacheHitRate ?? NaN)} |`);
      if (bare) console.log(`cached (Redis) / bare fastify throughput: ${f2(cached.rps / bare.rps)}; target >= 5,000 req/s: ${cached.rps >= 5000 ? 'MET' : 'NOT MET'}`);
    }
    // fault run: open-loop mixed load (GET cached/uncached + 1 in 5 POST /interaction); Redis killed at 1/3, restarted at 2/3
    const faultSeconds = quick ? 3 : 9;
    const rate = 500;
    const m0 = rs.metrics.toJSON();
    const linesBefore = readFileSync(rs.log.path, 'utf8').split('\n').filter((l) => l.includes('"t":"interaction"')).length;
    const loadP = openLoop(rbase, 'fault', rate, faultSeconds, WARM_USERS);
    await new Promise((r) => setTimeout(r, (faultSeconds * 1000) / 3));
    await redis.kill();
    const killedAt = performance.now();
    await new Promise((r) => setTimeout(r, (faultSeconds * 1000) / 3));
    await redis.start();
    const restartedAt = performance.now();
    while (!rs.cache.ready()) await new Promise((r) => setTimeout(r, 10));
    const reconnectMs = performance.now() - restartedAt;
    const r = await loadP;
    await rs.log.flush();
    const m1 = rs.metrics.toJSON();
    const lines = readFileSync(rs.log.path, 'utf8').split('\n').filter((l) => l.includes('"t":"interaction"')).length - linesBefore;
    const failed = r.errors + r.unanswered + Object.entries(r.status).filter(([k]) => k !== '200' && k !== '202').reduce((a, [, v]) => a + v, 0);
    rows.push(`| fault run ${rate}/s, Redis down ${f1((restartedAt - killedAt) / 1000)} s (Redis cache) | ${f1(r.achievedRate)} | ${f2(r.p50)} | ${f2(r.p95)} | ${f2(r.p99)} | failed ${failed} of ${r.sent}, cache bypasses ${m1.recommendations.cacheBypass - m0.recommendations.cacheBypass}, fallbacks ${r.fallbacks}, interactions accepted ${r.accepted} / logged ${lines} (lost ${r.accepted - lines}), cache ready ${f1(reconnectMs)} ms after restart |`);
    await rs.close();
    await redis.kill();
  }

  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on this shared machine inflates every figure)`);
  console.log('\n| run | req/s | p50 ms | p95 ms | p99 ms | notes |\n|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('\nLatencies: open-loop runs measure from the scheduled send time (bench/serve-load.ts, its own process); wrk runs are closed-loop (1 thread). Server, wrk and load generator share this machine.');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
