// Integration tests over real HTTP on 127.0.0.1 with the embedded cache (the Redis cases are in redis.test.ts).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RecService } from './server.js';
import { registerModelLoader } from './registry.js';
import { bucketOf } from './ab.js';
import { BrokenRecommender, NextItemsRecommender, getJson, postJson, tmpDir, writePopularityDir } from './testutil.js';

const TOKEN = 'test-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

// a loader for test model directories: {"modelType":"test-next","version":"v2","coldStart":5000,"broken":false}
registerModelLoader('test-next', async (_dir, cfg) =>
  cfg.broken ? new BrokenRecommender(String(cfg.version)) : new NextItemsRecommender(String(cfg.version), Number(cfg.coldStart ?? 1000)),
);

function writeTestModel(dir: string, cfg: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ modelType: 'test-next', ...cfg }));
  return dir;
}

describe('rec-serve over HTTP (embedded cache)', () => {
  let svc: RecService;
  let base: string;
  let dir: string;
  let next: NextItemsRecommender;

  beforeAll(async () => {
    dir = tmpDir();
    next = new NextItemsRecommender('v1', 1000);
    svc = await createServer({
      port: 0,
      logPath: join(dir, 'events.jsonl'),
      popularityDir: writePopularityDir(join(dir, 'pop'), [7, 8, 9, 10, 11, 12], [60, 50, 40, 30, 20, 10]),
      recommenders: { default: next, slow: new NextItemsRecommender('slow', 1000, 300) },
      adminToken: TOKEN,
      timeoutMs: 50,
    });
    base = await svc.listen();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('serves recommendations from the model, then from the cache, and an interaction invalidates them', async () => {
    const a = await getJson(base, '/recommendations/u1?k=3');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ user_id: 'u1', model: 'next-items', version: 'v1', variant: 'default', cached: false, fallback: false });
    expect(a.body.items.map((x: { item_id: number }) => x.item_id)).toEqual([1000, 1001, 1002]);
    const b = await getJson(base, '/recommendations/u1?k=3');
    expect(b.body.cached).toBe(true);
    expect(b.body.items).toEqual(a.body.items);
    // a different k or exclude is a different cached list
    const c = await getJson(base, '/recommendations/u1?k=3&exclude=1001');
    expect(c.body.cached).toBe(false);
    expect(c.body.items.map((x: { item_id: number }) => x.item_id)).toEqual([1000, 1002, 1003]);

    const r = await postJson(base, '/interaction', { user_id: 'u1', item_id: 42, interaction_type: 'cart' });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ accepted: true, user_id: 'u1', seq: 1 });
    const d = await getJson(base, '/recommendations/u1?k=3');
    expect(d.body.cached).toBe(false);
    // the model saw the new state: next items after 42
    expect(d.body.items.map((x: { item_id: number }) => x.item_id)).toEqual([43, 44, 45]);
    expect((await getJson(base, '/recommendations/u1?k=3')).body.cached).toBe(true);

    const m = await getJson(base, '/metrics.json');
    expect(m.body.recommendations.cacheHits).toBeGreaterThanOrEqual(2);
    expect(m.body.variants.default.requests).toBeGreaterThanOrEqual(5);
    expect(m.body.interactions).toBeGreaterThanOrEqual(1);
  });

  it('uses the default k and accepts integer user ids in interactions', async () => {
    const a = await getJson(base, '/recommendations/12345');
    expect(a.body.items).toHaveLength(10);
    const r = await postJson(base, '/interaction', { user_id: 12345, item_id: 7, interaction_type: 'pv', timestamp: 1511544070 });
    expect(r.status).toBe(202);
    expect(r.body.user_id).toBe('12345');
  });

  it('rejects bad input with clear 4xx messages and keeps serving', async () => {
    const cases: [string, Promise<{ status: number; body: any }>, number, RegExp][] = [
      ['malformed user id', getJson(base, '/recommendations/bad%20id!'), 400, /userId.*pattern/],
      ['too long user id', getJson(base, `/recommendations/${'x'.repeat(65)}`), 400, /userId/],
      ['k = 0', getJson(base, '/recommendations/u1?k=0'), 400, /k must be >= 1/],
      ['k = 101', getJson(base, '/recommendations/u1?k=101'), 400, /k must be <= 100/],
      ['k not a number', getJson(base, '/recommendations/u1?k=ten'), 400, /k must be integer/],
      ['k fractional', getJson(base, '/recommendations/u1?k=2.5'), 400, /k must be integer/],
      ['bad exclude', getJson(base, '/recommendations/u1?exclude=1,x,3'), 400, /exclude.*"x" at position 1/],
      ['unknown query field', getJson(base, '/recommendations/u1?kk=3'), 400, /additional properties/],
      ['bad JSON', postJson(base, '/interaction', '{"user_id": "u1", '), 400, /not valid JSON/],
      ['empty body', postJson(base, '/interaction', ''), 400, /JSON/],
      ['unknown interaction type', postJson(base, '/interaction', { user_id: 'u1', item_id: 1, interaction_type: 'like' }), 400, /interaction_type must be equal to one of the allowed values/],
      ['missing item', postJson(base, '/interaction', { user_id: 'u1', interaction_type: 'pv' }), 400, /required property 'item_id'/],
      ['negative item', postJson(base, '/interaction', { user_id: 'u1', item_id: -1, interaction_type: 'pv' }), 400, /item_id must be >= 0/],
      ['bad user in body', postJson(base, '/interaction', { user_id: 'a b', item_id: 1, interaction_type: 'pv' }), 400, /user_id/],
      ['extra field', postJson(base, '/interaction', { user_id: 'u1', item_id: 1, interaction_type: 'pv', x: 1 }), 400, /additional properties/],
      ['array body', postJson(base, '/interaction', [1, 2]), 400, /must be object/],
      ['oversized body', postJson(base, '/interaction', { user_id: 'u1', item_id: 1, interaction_type: 'pv', pad: 'x'.repeat(20_000) }), 413, /larger than the limit of 16384 bytes/],
      ['wrong content type', getJson(base, '/interaction', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' }), 415, /Content-Type/],
      ['unknown route', getJson(base, '/nope'), 404, /no route GET \/nope/],
      ['unknown experiment', getJson(base, '/experiments/none'), 404, /does not exist/],
    ];
    for (const [name, p, status, re] of cases) {
      const r = await p;
      expect(r.status, name).toBe(status);
      expect(r.body.message, name).toMatch(re);
      expect(typeof r.body.error, name).toBe('string');
    }
    // still healthy and serving after all of that
    expect((await getJson(base, '/health')).body).toEqual({ status: 'ok' });
    expect((await getJson(base, '/recommendations/u9?k=2')).status).toBe(200);
    const m = await getJson(base, '/metrics.json');
    expect(m.body.responses['4xx']).toBeGreaterThanOrEqual(cases.length);
    expect(m.body.responses['5xx']).toBe(0);
  });

  it('micro-batches concurrent requests into fewer model calls', async () => {
    const before = next.calls;
    const rs = await Promise.all(Array.from({ length: 24 }, (_, i) => getJson(base, `/recommendations/batch${i}?k=2`)));
    expect(rs.every((r) => r.status === 200 && r.body.fallback === false)).toBe(true);
    const calls = next.calls - before;
    expect(calls).toBeLessThan(24);
    expect(Math.max(...next.batchSizes.slice(-calls))).toBeGreaterThan(1);
  });

  it('health, ready, Prometheus metrics and the OpenAPI document', async () => {
    expect((await getJson(base, '/ready')).body).toMatchObject({ ready: true, checks: { models: true, cache: true } });
    const p = await fetch(base + '/metrics');
    expect(p.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await p.text();
    expect(text).toMatch(/# TYPE rec_recommendation_requests_total counter/);
    expect(text).toMatch(/rec_recommendation_requests_total\{variant="default"\} \d+/);
    expect(text).toMatch(/rec_inference_ms_bucket\{variant="default",le="\+Inf"\} \d+/);
    const j = (await getJson(base, '/metrics.json')).body;
    expect(j.recommendations.inference.p95Ms).toBeGreaterThanOrEqual(j.recommendations.inference.p50Ms);
    expect(j.recommendations.cacheHitRate).toBeGreaterThan(0);
    const doc = (await getJson(base, '/openapi.json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/recommendations/{userId}', '/interaction', '/metrics', '/metrics.json', '/health', '/ready', '/experiments/{id}', '/admin/models/{slot}']));
    expect(doc.paths['/interaction'].post.requestBody.content['application/json'].schema.properties.interaction_type.enum).toEqual(['pv', 'cart', 'fav', 'buy']);
  });

  it('falls back to popular items when the model misses its deadline, flagged and counted', async () => {
    const put = await postJson(base, '/admin/experiments/slowexp', { control: 'slow', treatment: 'slow', rolloutPct: 50, status: 'running' }, auth, 'PUT');
    expect(put.status).toBe(200);
    const before = (await getJson(base, '/metrics.json')).body.recommendations;
    const r = await getJson(base, '/recommendations/slowuser?k=3&exclude=7');
    expect(r.status).toBe(200);
    expect(r.body.fallback).toBe('timeout');
    expect(r.body.model).toBe('popularity');
    // popularity order from the seeded table, 7 excluded
    expect(r.body.items.map((x: { item_id: number }) => x.item_id)).toEqual([8, 9, 10]);
    // a fallback is not cached
    expect((await getJson(base, '/recommendations/slowuser?k=3&exclude=7')).body.cached).toBe(false);
    const after = (await getJson(base, '/metrics.json')).body;
    expect(after.recommendations.fallbacks - before.fallbacks).toBe(2);
    expect(after.recommendations.timeouts - before.timeouts).toBe(2);
    expect(after.variants['slowexp:control']?.fallbacks ?? after.variants['slowexp:treatment'].fallbacks).toBeGreaterThan(0);
    await postJson(base, '/admin/experiments/slowexp', { status: 'stopped' }, auth, 'PUT');
  });

  it('swaps a model directory in without downtime and refuses one that fails validation', async () => {
    const v2 = writeTestModel(join(dir, 'm-v2'), { version: 'v2', coldStart: 5000 });
    const bad = writeTestModel(join(dir, 'm-bad'), { version: 'v3', broken: true });
    // unauthenticated: refused
    expect((await postJson(base, '/admin/models/default', { dir: v2 })).status).toBe(401);
    expect((await postJson(base, '/admin/models/default', { dir: v2 }, { authorization: 'Bearer wrong' })).status).toBe(401);
    // traffic keeps flowing during the swap
    let failures = 0;
    let running = true;
    const load = (async () => {
      let i = 0;
      while (running) {
        const r = await getJson(base, `/recommendations/swap${i++ % 7}?k=2`);
        if (r.status !== 200 || r.body.fallback !== false) failures++;
      }
    })();
    const ok = await postJson(base, '/admin/models/default', { dir: v2 }, auth);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, slot: 'default', serving: { name: 'next-items', version: 'v2' } });
    const refused = await postJson(base, '/admin/models/default', { dir: bad }, auth);
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/refused.*not sorted|refused.*score/);
    expect(refused.body.serving).toEqual({ name: 'next-items', version: 'v2' });
    const missing = await postJson(base, '/admin/models/default', { dir: join(dir, 'nope') }, auth);
    expect(missing.status).toBe(422);
    expect(missing.body.message).toMatch(/config\.json/);
    running = false;
    await load;
    expect(failures).toBe(0);
    const r = await getJson(base, '/recommendations/newcomer?k=2');
    expect(r.body).toMatchObject({ version: 'v2', cached: false });
    expect(r.body.items.map((x: { item_id: number }) => x.item_id)).toEqual([5000, 5001]);
    const list = await getJson(base, '/admin/models', { headers: auth });
    expect(list.body.default).toMatchObject({ name: 'next-items', version: 'v2' });
    const m = (await getJson(base, '/metrics.json')).body;
    expect(m.modelSwaps).toBe(1);
    expect(m.modelRefusals).toBe(2);
  });

  it('assigns A/B variants deterministically and keeps treated users treated as the rollout grows', async () => {
    writePopularityDir(join(dir, 'pop2'), [1, 2, 3], [3, 2, 1], 'p2');
    expect((await postJson(base, '/admin/models/pop', { dir: join(dir, 'pop2') }, auth)).status).toBe(200);
    const users = Array.from({ length: 400 }, (_, i) => `ab${i}`);
    const variants = async () => {
      const out = new Map<string, string>();
      for (const u of users) {
        const r = await getJson(base, `/recommendations/${u}?k=2`);
        out.set(u, r.body.variant);
        expect(r.body.experiment).toBe('exp1');
        expect(r.body.model).toBe(r.body.variant === 'exp1:treatment' ? 'popularity' : 'next-items');
      }
      return out;
    };
    const put = (body: object) => postJson(base, '/admin/experiments/exp1', body, auth, 'PUT');
    expect((await put({ control: 'default', treatment: 'pop', rolloutPct: 5 })).status).toBe(200);
    const at5 = await variants();
    const again = await variants();
    expect([...again]).toEqual([...at5]);
    const treated5 = users.filter((u) => at5.get(u) === 'exp1:treatment');
    // expected share 5%: 20 of 400, binomial sd sqrt(400*.05*.95) = 4.4; allow 4 sd
    expect(Math.abs(treated5.length - 20)).toBeLessThan(18);
    for (const u of users) expect(at5.get(u) === 'exp1:treatment').toBe(bucketOf(u, 'exp1') < 500);
    let prev = new Set(treated5);
    for (const pct of [25, 50, 100]) {
      expect((await put({ rolloutPct: pct })).status).toBe(200);
      const now = await variants();
      const treated = users.filter((u) => now.get(u) === 'exp1:treatment');
      for (const u of prev) expect(now.get(u), `${u} left treatment at ${pct}%`).toBe('exp1:treatment');
      expect(treated.length).toBeGreaterThanOrEqual(prev.size);
      prev = new Set(treated);
    }
    expect(prev.size).toBe(400);
    // a bad change is refused and changes nothing
    expect((await put({ rolloutPct: 101 })).status).toBe(400);
    expect((await put({ key: 'other' })).status).toBe(400);
    expect((await put({ treatment: 'no-such-slot' })).status).toBe(400);
    expect((await getJson(base, '/experiments/exp1')).body.config).toMatchObject({ rolloutPct: 100, treatment: 'pop' });
  });

  it('returns the experiment analysis with @rec/eval statistics', async () => {
    // a fresh experiment at 50%: 120 users exposed, every treatment user and every third control user buys
    const put = await postJson(base, '/admin/experiments/exp2', { control: 'default', treatment: 'pop', rolloutPct: 50, status: 'running' }, auth, 'PUT');
    expect(put.status).toBe(200);
    let t = 0;
    let c = 0;
    let cBuy = 0;
    for (let i = 0; i < 120; i++) {
      const u = `an${i}`;
      const r = await getJson(base, `/recommendations/${u}?k=2`);
      const treated = r.body.variant === 'exp2:treatment';
      if (treated) t++;
      else c++;
      if (treated || c % 3 === 0) {
        if (!treated) cBuy++;
        expect((await postJson(base, '/interaction', { user_id: u, item_id: 1, interaction_type: 'buy' })).status).toBe(202);
      }
    }
    const a = (await getJson(base, '/experiments/exp2')).body;
    expect(a.counts.treatment.users).toBe(t);
    expect(a.counts.control.users).toBe(c);
    expect(a.counts.treatment.convertedUsers).toBe(t);
    expect(a.counts.control.convertedUsers).toBe(cBuy);
    expect(a.counts.expectedTreatmentUsers).toBeCloseTo(60, 9);
    const conv = a.statistics.conversion;
    expect(a.statistics.source).toBe('@rec/eval');
    expect(conv.result.controlRate).toBeCloseTo(cBuy / c, 12);
    expect(conv.result.treatmentRate).toBe(1);
    // control rate ~1/3 vs 1: a huge effect, both the z-test and the sequential p-value see it
    expect(conv.result.pValue).toBeLessThan(1e-6);
    expect(conv.result.lift.lo).toBeGreaterThan(0);
    expect(conv.sequentialPValue).toBeLessThan(0.05);
    expect(a.statistics.sampleRatio.expectedTreatmentShare).toBeCloseTo(0.5, 9);
    expect(a.statistics.sampleRatio.pValue).toBeGreaterThan(0);
    expect(a.history.length).toBe(1);
  });

  it('restores state, experiments and swapped models from the event log after a restart; no line lost', async () => {
    const logPath = join(dir, 'events.jsonl');
    await svc.close();
    const lines = readFileSync(logPath, 'utf8').trimEnd().split('\n');
    const interactions = lines.filter((l) => JSON.parse(l).t === 'interaction').length;
    expect(interactions).toBe(svc.metrics.interactions);
    const before = (svc.experiments.get('exp2')!.analyze(null, { conversionType: 'buy' })).counts;
    svc = await createServer({ port: 0, logPath, recommenders: { default: new NextItemsRecommender('v1', 1000) }, adminToken: TOKEN });
    base = await svc.listen();
    expect(svc.replay.badLines).toEqual([]);
    expect(svc.restoreProblems).toEqual([]);
    // the model swapped in through the admin API is back (a v2 directory), the experiment and its counts too
    expect(svc.slots.get('default')!.describe()).toEqual({ name: 'next-items', version: 'v2' });
    expect(svc.slots.get('pop')!.describe().version).toBe('p2');
    const a = (await getJson(base, '/experiments/exp2')).body;
    expect(a.counts).toEqual(before);
    expect(a.config.status).toBe('running');
    // the user state came back: u1's last item was 42
    const r = await getJson(base, '/recommendations/u1?k=2');
    expect(r.body.variant).toMatch(/^exp2:/);
    if (r.body.variant === 'exp2:control') expect(r.body.items.map((x: { item_id: number }) => x.item_id)).toEqual([43, 44]);
  });

  it('finishes in-flight requests on graceful shutdown', async () => {
    const slowDir = tmpDir();
    const slow = new NextItemsRecommender('v1', 1, 300);
    const s2 = await createServer({ port: 0, logPath: join(slowDir, 'e.jsonl'), recommenders: { default: slow }, timeoutMs: 5000 });
    const b2 = await s2.listen();
    const callsBefore = slow.calls; // validation made one call
    const inflight = getJson(b2, '/recommendations/x?k=2');
    // close only once the request is inside the model call
    while (slow.calls === callsBefore) await new Promise((r) => setTimeout(r, 2));
    const closed = s2.close();
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.body.fallback).toBe(false);
    await closed;
    await expect(fetch(b2 + '/health')).rejects.toThrow();
  });

  it('has no admin routes without a token', async () => {
    const d = tmpDir();
    const s3 = await createServer({ port: 0, logPath: join(d, 'e.jsonl') });
    const b3 = await s3.listen();
    expect((await postJson(b3, '/admin/models/default', { dir: d }, auth)).status).toBe(404);
    expect((await postJson(b3, '/admin/experiments/x', { control: 'default', treatment: 'default' }, auth, 'PUT')).status).toBe(404);
    // a cold popularity service with no interactions yet: empty list, not an error
    expect((await getJson(b3, '/recommendations/x')).body.items).toEqual([]);
    await s3.close();
  });
});
