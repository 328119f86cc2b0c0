/**
 * Test helpers (not exported from the package): a real redis-server on a free loopback port, small recommenders
 * with known behaviour, and HTTP helpers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateRecommender, type Recommendation, type RecommendRequest, type Recommender, type UserState } from './recommender.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface RedisProcess {
  port: number;
  url: string;
  /** SIGKILL the server (a crash) and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `redis-server` availability: in CI a missing binary is a failure (throws); locally returns a reason to skip.
 */
export function redisServerMissing(): string | null {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const msg = 'redis-server not found on PATH: install it (apt-get install -y redis-server; scripts/test.sh does) to run the Redis tests';
  if (process.env.CI) throw new Error(msg);
  return msg;
}

/** Start `redis-server --port <free> --bind 127.0.0.1 --save '' --appendonly no`. */
export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: 'ignore' });
    const t0 = Date.now();
    while (!(await canConnect(port))) {
      if (Date.now() - t0 > 5000) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
    proc = null;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}

export function tmpDir(prefix = 'rec-serve-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write a popularity model directory. */
export function writePopularityDir(dir: string, items: number[], counts: number[], version?: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ modelType: 'popularity', ...(version ? { version } : {}) }));
  writeFileSync(join(dir, 'popularity.json'), JSON.stringify({ items, counts }));
  return dir;
}

/**
 * Recommends the `k` items after the user's last item (last+1, last+2, ...), or from `coldStart` for a new user;
 * so a test can see that an interaction changed the next list. Counts its batch calls.
 */
export class NextItemsRecommender implements Recommender {
  readonly name = 'next-items';
  calls = 0;
  batchSizes: number[] = [];
  constructor(
    readonly version = 'v1',
    readonly coldStart = 1000,
    readonly delayMs = 0,
  ) {}

  recommend(state: UserState, k: number, exclude: Int32Array): Recommendation {
    const ex = new Set(exclude);
    const start = state.recentItems.length > 0 ? state.recentItems[state.recentItems.length - 1] + 1 : this.coldStart;
    const items: number[] = [];
    for (let it = start; items.length < k; it++) if (!ex.has(it)) items.push(it);
    return { items: Int32Array.from(items), scores: Float32Array.from(items, (_, i) => 1 - i / 1000) };
  }

  async recommendBatch(requests: RecommendRequest[]): Promise<Recommendation[]> {
    this.calls++;
    this.batchSizes.push(requests.length);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return requests.map((r) => this.recommend(r.state, r.k, r.exclude));
  }

  validate() {
    return validateRecommender(this, [1, 2, 3]);
  }
}

/** Returns unsorted NaN scores: fails validation. */
export class BrokenRecommender implements Recommender {
  readonly name = 'broken';
  constructor(readonly version = 'bad') {}
  recommend(_s: UserState, k: number): Recommendation {
    return { items: Int32Array.from({ length: k }, (_, i) => i), scores: new Float32Array(k).fill(NaN) };
  }
  validate() {
    return validateRecommender(this, [1, 2, 3]);
  }
}

export async function getJson(base: string, path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(base + path, init);
  const text = await r.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (Prometheus text)
  }
  return { status: r.status, body, headers: r.headers };
}

export function postJson(base: string, path: string, body: unknown, headers: Record<string, string> = {}, method = 'POST') {
  return getJson(base, path, { method, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}
