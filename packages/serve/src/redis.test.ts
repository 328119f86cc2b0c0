// Integration tests with a real redis-server on a free loopback port (started and stopped here).
// In CI a missing redis-server fails; locally the suite is skipped with a message.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCache } from './cache.js';
import { createServer, type RecService } from './server.js';
import { NextItemsRecommender, getJson, postJson, redisServerMissing, startRedis, tmpDir, type RedisProcess } from './testutil.js';

const missing = redisServerMissing();
if (missing) console.warn(`skipping Redis tests: ${missing}`);

const ids = (r: { body: { items: { item_id: number }[] } }) => r.body.items.map((x) => x.item_id);

describe.skipIf(missing !== null)('rec-serve with a real Redis', () => {
  let redis: RedisProcess;
  let svc: RecService;
  let base: string;
  let probe: Redis;
  let logPath: string;

  beforeAll(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    probe.on('error', () => undefined);
    await probe.connect();
    logPath = join(tmpDir(), 'events.jsonl');
    svc = await createServer({ port: 0, logPath, redisUrl: redis.url, recommenders: { default: new NextItemsRecommender('v1', 1000) }, redisCommandTimeoutMs: 50 });
    base = await svc.listen();
  });
  afterAll(async () => {
    await svc?.close();
    probe?.disconnect();
    await redis?.stop();
  });

  it('caches in Redis with the TTL and invalidates on interaction', async () => {
    expect(svc.cache.kind).toBe('redis');
    expect((await getJson(base, '/ready')).body).toMatchObject({ ready: true, checks: { cache: true } });
    const a = await getJson(base, '/recommendations/ru1?k=3');
    expect(a.body).toMatchObject({ cached: false, fallback: false });
    const b = await getJson(base, '/recommendations/ru1?k=3');
    expect(b.body.cached).toBe(true);
    expect(ids(b)).toEqual(ids(a));
    // the entry really is in Redis, as one hash per user, expiring after 3600 s
    const fields = await probe.hkeys('rec:u:ru1');
    expect(fields).toEqual(['default@v1|0|3|']);
    const ttl = await probe.pttl('rec:u:ru1');
    expect(ttl).toBeGreaterThan(3590_000);
    expect(ttl).toBeLessThanOrEqual(3600_000);
    expect((await postJson(base, '/interaction', { user_id: 'ru1', item_id: 500, interaction_type: 'fav' })).status).toBe(202);
    expect(await probe.exists('rec:u:ru1')).toBe(0);
    const c = await getJson(base, '/recommendations/ru1?k=3');
    expect(c.body.cached).toBe(false);
    expect(ids(c)).toEqual([501, 502, 503]);
  });

  it('keeps serving while Redis is killed, resumes caching when it is back, and loses no interaction', async () => {
    const before = svc.metrics.toJSON().recommendations;
    let recFailures = 0;
    let recOk = 0;
    let accepted = 0;
    let postFailures = 0;
    let running = true;
    const worker = async (w: number) => {
      let i = 0;
      while (running) {
        const u = `load${w}_${i % 5}`;
        const r = await getJson(base, `/recommendations/${u}?k=4`).catch(() => ({ status: 0, body: null }));
        if (r.status === 200 && r.body.items.length === 4) recOk++;
        else recFailures++;
        if (i % 3 === 0) {
          const p = await postJson(base, '/interaction', { user_id: u, item_id: 10 + i, interaction_type: 'pv' }).catch(() => ({ status: 0 }));
          if (p.status === 202) accepted++;
          else postFailures++;
        }
        i++;
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await new Promise((r) => setTimeout(r, 300));
    await redis.kill();
    await new Promise((r) => setTimeout(r, 200));
    const down = await getJson(base, '/ready');
    expect(down.status).toBe(503);
    expect(down.body.checks.cache).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    await redis.start();
    const t0 = Date.now();
    while (!svc.cache.ready() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(svc.cache.ready()).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(workers);

    expect(recFailures).toBe(0);
    expect(postFailures).toBe(0);
    expect(recOk).toBeGreaterThan(20);
    const m = svc.metrics.toJSON().recommendations;
    expect(m.cacheBypass - before.cacheBypass).toBeGreaterThan(0);
    expect(m.fallbacks - before.fallbacks).toBe(0);
    // caching resumed: a repeated request is a hit again, served from the restarted Redis
    await getJson(base, '/recommendations/after?k=2');
    expect((await getJson(base, '/recommendations/after?k=2')).body.cached).toBe(true);
    expect(await probe.exists('rec:u:after')).toBe(1);
    // every accepted interaction is in the log
    await svc.log.flush();
    const logged = readFileSync(logPath, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((e) => e.t === 'interaction' && String(e.user).startsWith('load'));
    expect(logged.length).toBe(accepted);
    expect(svc.log.failed).toBe(0);
  });

  it('replays invalidations that timed out while Redis hung (SIGSTOP), before trusting the cache again', async () => {
    const cache = svc.cache as RedisCache;
    await getJson(base, '/recommendations/hung?k=2');
    expect((await getJson(base, '/recommendations/hung?k=2')).body.cached).toBe(true);
    const pid = Number(await probe.info('server').then((s) => /process_id:(\d+)/.exec(s)![1]));
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      // Redis does not answer: the invalidation times out and is remembered; requests bypass the cache
      expect((await postJson(base, '/interaction', { user_id: 'hung', item_id: 77, interaction_type: 'buy' })).status).toBe(202);
      expect(cache.pendingInvalidations).toBe(1);
      const r = await getJson(base, '/recommendations/hung?k=2');
      expect(r.status).toBe(200);
      expect(r.body.cached).toBe(false);
      expect(ids(r)).toEqual([78, 79]);
      expect(Date.now() - t0).toBeLessThan(2000); // bounded by the 50 ms Redis command deadline, not hung
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // the next lookup for that user replays the invalidation, then the cache is used again
    const t1 = Date.now();
    while (cache.pendingInvalidations !== 0 && Date.now() - t1 < 3000) {
      await getJson(base, '/recommendations/hung?k=2');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(cache.pendingInvalidations).toBe(0);
    await getJson(base, '/recommendations/hung?k=2');
    const again = await getJson(base, '/recommendations/hung?k=2');
    expect(again.body.cached).toBe(true);
    expect(ids(again)).toEqual([78, 79]);
    expect(await probe.hkeys('rec:u:hung')).toEqual(['default@v1|1|2|']);
  });
});
