// Unit checks of the pieces behind the routes: hashing, cache, event log, metrics, slots, batcher, popularity.
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Experiment, assignVariant, bucketOf, NUM_BUCKETS } from './ab.js';
import { MicroBatcher } from './batcher.js';
import { MemoryCache } from './cache.js';
import { evalAbStats } from './eval-adapter.js';
import { EventLog } from './event-log.js';
import { Metrics } from './metrics.js';
import { ModelSlot } from './registry.js';
import { PopularityRecommender, checkRecommendation, emptyUserState } from './recommender.js';
import { UserStateStore } from './user-state.js';
import { NextItemsRecommender, tmpDir } from './testutil.js';

describe('A/B bucketing', () => {
  it('is a fixed function of (key, user): FNV-1a + murmur3 finalizer, mod 10,000', () => {
    // Hand check for key "k", user "u": s = "k\0u" = bytes 0x6b 0x00 0x75.
    // FNV-1a: h = 0x811c9dc5; per byte h = (h ^ b) * 0x01000193 mod 2^32, then fmix32, then % 10000.
    let h = 0x811c9dc5;
    for (const b of [0x6b, 0x00, 0x75]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    expect(bucketOf('u', 'k')).toBe((h >>> 0) % 10000);
    expect(bucketOf('u', 'k')).toBe(bucketOf('u', 'k'));
    expect(bucketOf('u', 'k2')).not.toBe(bucketOf('u', 'k'));
  });

  it('spreads sequential ids evenly over the buckets (chi-square over 10 deciles)', () => {
    const counts = new Array(10).fill(0);
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[Math.floor((bucketOf(`user${i}`, 'exp') * 10) / NUM_BUCKETS)]++;
    const e = n / 10;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    // 9 degrees of freedom: P(chi2 > 27.9) = 0.001
    expect(chi2).toBeLessThan(27.9);
  });

  it('treats exactly the buckets below rollout x 100, so raising the rollout never removes a treated user', () => {
    const exp = { id: 'e', control: 'a', treatment: 'b', rolloutPct: 5, status: 'running' as const };
    for (let i = 0; i < 2000; i++) {
      const u = `x${i}`;
      const b = bucketOf(u, 'e');
      expect(assignVariant(exp, u).variant).toBe(b < 500 ? 'treatment' : 'control');
      expect(assignVariant({ ...exp, rolloutPct: 0.01 }, u).variant).toBe(b < 1 ? 'treatment' : 'control');
      expect(assignVariant({ ...exp, rolloutPct: 100 }, u).variant).toBe('treatment');
    }
  });

  it('counts users by first exposure and expects sum of rollout shares for the ratio check', () => {
    const x = new Experiment({ id: 'e', control: 'a', treatment: 'b', rolloutPct: 10, status: 'running' }, 0);
    x.recordExposure('a', 'control', 1, 10);
    x.recordExposure('b', 'treatment', 2, 10);
    x.recordExposure('c', 'control', 3, 50);
    x.recordExposure('a', 'treatment', 4, 50); // a moved to treatment after a rollout change: counted once, as control
    x.recordInteraction('a', 'buy', 'buy');
    x.recordInteraction('zz', 'buy', 'buy'); // never exposed: ignored
    const c = x.counts();
    expect(c.control).toEqual({ users: 2, exposures: 2, engagedUsers: 1, convertedUsers: 1 });
    expect(c.treatment).toEqual({ users: 1, exposures: 2, engagedUsers: 0, convertedUsers: 0 });
    // expected treatment users = 0.10 + 0.10 + 0.50 (the rollout at each user's first exposure)
    expect(c.expectedTreatmentUsers).toBeCloseTo(0.7, 12);
    expect(c.switchedUsers).toBe(1);
  });

  it('maps @rec/eval results: rates, lift CI around the hand value, SRM and sequential p-values in [0, 1]', () => {
    const r = evalAbStats.compare({ successes: 100, trials: 1000 }, { successes: 150, trials: 1000 }, 0.95);
    expect(r.controlRate).toBe(0.1);
    expect(r.treatmentRate).toBe(0.15);
    // lift = 0.15 / 0.10 - 1 = 0.5; pooled p = 0.125, se = sqrt(0.125 * 0.875 * 2 / 1000) = 0.014790; z = 0.05 / se = 3.3806
    expect(r.lift!.value).toBeCloseTo(0.5, 12);
    expect(r.lift!.lo).toBeLessThan(0.5);
    expect(r.lift!.hi).toBeGreaterThan(0.5);
    expect(r.z).toBeCloseTo(3.3806, 3);
    const srm = evalAbStats.sampleRatio([500, 500], [0.5, 0.5]);
    expect(srm.chiSquare).toBe(0);
    expect(srm.pValue).toBeCloseTo(1, 12);
    const p = evalAbStats.sequentialPValue({ successes: 100, trials: 1000 }, { successes: 150, trials: 1000 });
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(0.05);
    expect(evalAbStats.sequentialPValue({ successes: 1, trials: 5 }, { successes: 5, trials: 5 })).toBe(1);
  });
});

describe('MemoryCache', () => {
  it('expires per user after the TTL and evicts the least recently used user', async () => {
    let now = 0;
    const c = new MemoryCache({ ttlSeconds: 10, maxUsers: 2, now: () => now });
    await c.set('a', 'f', '1');
    await c.set('b', 'f', '2');
    expect(await c.get('a', 'f')).toEqual({ status: 'hit', value: '1' }); // a is now the most recent
    await c.set('c', 'f', '3'); // evicts b
    expect(await c.get('b', 'f')).toEqual({ status: 'miss' });
    expect(await c.get('a', 'g')).toEqual({ status: 'miss' });
    now = 9_999;
    expect((await c.get('a', 'f')).status).toBe('hit');
    now = 10_000;
    expect((await c.get('a', 'f')).status).toBe('miss');
    await c.invalidate('c');
    expect((await c.get('c', 'f')).status).toBe('miss');
  });
});

describe('EventLog', () => {
  it('group-commits concurrent appends with one fdatasync per write, and replays them in order', async () => {
    const path = join(tmpDir(), 'log.jsonl');
    const log = await EventLog.open(path, { fsync: 'always' });
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ i })));
    expect(log.written).toBe(100);
    expect(log.fsyncs).toBeLessThan(10); // 100 appends in one turn go out in a handful of writes
    await log.append({ i: 100 });
    await log.close();
    const seen: number[] = [];
    const rep = await EventLog.replay(path, (e) => seen.push(e.i as number));
    expect(seen).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(rep.badLines).toEqual([]);
    await expect(log.append({ late: true })).rejects.toThrow(/closed/);
  });

  it('reports a torn last line (a crash mid-write) with its line number and keeps the rest', async () => {
    const path = join(tmpDir(), 'log.jsonl');
    const log = await EventLog.open(path, { fsync: 'interval', intervalMs: 5 });
    await log.append({ a: 1 });
    await log.append({ a: 2 });
    await log.close();
    appendFileSync(path, '{"a": 3, "b"');
    const seen: unknown[] = [];
    const rep = await EventLog.replay(path, (e) => seen.push(e.a));
    expect(seen).toEqual([1, 2]);
    expect(rep).toEqual({ lines: 3, events: 2, badLines: [3] });
    expect(readFileSync(path, 'utf8').split('\n').length).toBe(3);
    expect((await EventLog.replay(join(tmpDir(), 'missing.jsonl'), () => undefined)).lines).toBe(0);
  });
});

describe('Metrics', () => {
  it('computes nearest-rank percentiles over the window and Prometheus buckets', () => {
    const m = new Metrics(100);
    // samples 1..100 ms: p50 = 50th smallest = 50, p95 = 95, p99 = 99 (nearest rank ceil(q n))
    for (let i = 1; i <= 100; i++) m.both('v', (x) => x.inference.add(i));
    const s = m.toJSON().variants.v.inference;
    expect(s).toEqual({ count: 100, avgMs: 50.5, p50Ms: 50, p95Ms: 95, p99Ms: 99 });
    const text = m.toPrometheus();
    // le="10" counts samples <= 10: exactly 10 of them
    expect(text).toContain('rec_inference_ms_bucket{variant="v",le="10"} 10');
    expect(text).toContain('rec_inference_ms_count{variant="v"} 100');
  });
});

describe('ModelSlot', () => {
  it('disposes a swapped-out model only after its in-flight call finishes', async () => {
    let disposed = false;
    const old = Object.assign(new NextItemsRecommender('old'), { dispose: () => void (disposed = true) });
    const slot = new ModelSlot('s', old);
    let release!: () => void;
    const inflight = slot.use(() => new Promise<void>((r) => (release = r)));
    const res = await slot.swap(new NextItemsRecommender('new'));
    expect(res.ok).toBe(true);
    expect(slot.describe().version).toBe('new');
    expect(disposed).toBe(false);
    release();
    await inflight;
    await new Promise((r) => setTimeout(r, 0));
    expect(disposed).toBe(true);
  });
});

describe('MicroBatcher', () => {
  it('falls back on a model error and flags it', async () => {
    const failing = Object.assign(new NextItemsRecommender('x'), {
      recommendBatch: async () => {
        throw new Error('boom');
      },
    });
    const pop = PopularityRecommender.fromCounts([1, 2, 3], [3, 2, 1]);
    const b = new MicroBatcher(new ModelSlot('s', failing), pop, { timeoutMs: 100 });
    const r = await b.submit({ state: emptyUserState('u'), k: 2, exclude: new Int32Array(0) });
    expect(r.fallback).toBe('error');
    expect(Array.from(r.rec.items)).toEqual([1, 2]);
  });
});

describe('recommendations and state', () => {
  it('popularity respects k and exclude; checkRecommendation catches broken outputs', () => {
    const p = PopularityRecommender.fromCounts([10, 20, 30, 40], [1, 4, 3, 2]);
    const r = p.topK(2, Int32Array.of(20));
    expect(Array.from(r.items)).toEqual([30, 40]);
    expect(checkRecommendation(r, 2, Int32Array.of(20))).toEqual([]);
    const bad = { items: Int32Array.of(5, 5, 20), scores: Float32Array.of(1, 2, NaN) };
    const problems = checkRecommendation(bad, 2, Int32Array.of(20)).join(' | ');
    expect(problems).toMatch(/returned 3 items for k=2/);
    expect(problems).toMatch(/item 5 appears twice/);
    expect(problems).toMatch(/excluded item 20/);
    expect(problems).toMatch(/score 2 is NaN/);
    expect(PopularityRecommender.fromCounts([], []).validate().ok).toBe(false);
  });

  it('keeps the last maxRecent events per user, oldest first, and counts them in seq', () => {
    const s = new UserStateStore(3, 2);
    for (let i = 0; i < 5; i++) s.record('u', 100 + i, i % 4, 1000 + i);
    const st = s.get('u');
    expect(Array.from(st.recentItems)).toEqual([102, 103, 104]);
    expect(Array.from(st.recentTypes)).toEqual([2, 3, 0]);
    expect(s.seq('u')).toBe(5);
    s.record('v', 1, 0, 0);
    s.record('w', 1, 0, 0); // 2 users max: u (least recent) evicted
    expect(s.seq('u')).toBe(0);
    expect(s.size).toBe(2);
  });

  it('grows a user\'s arrays past their first capacity (16) and still keeps exactly the last maxRecent', () => {
    const s = new UserStateStore(40);
    for (let i = 0; i < 100; i++) s.record('u', i, i % 4, 2000 + i);
    const st = s.get('u');
    expect(Array.from(st.recentItems)).toEqual(Array.from({ length: 40 }, (_, j) => 60 + j));
    expect(Array.from(st.recentTimes)).toEqual(Array.from({ length: 40 }, (_, j) => 2060 + j));
    expect(Array.from(st.recentTypes.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    const t = new UserStateStore(40);
    for (let i = 0; i < 20; i++) t.record('v', i, 0, i);
    expect(Array.from(t.get('v').recentItems)).toEqual(Array.from({ length: 20 }, (_, j) => j));
    expect(() => new UserStateStore(0)).toThrow(/maxRecent.*positive integer/s);
  });
});
