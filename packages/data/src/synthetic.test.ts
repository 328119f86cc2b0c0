import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sessionize, sessionLengths, userSequences } from './sessions.js';
import {
  USER_BEHAVIOR_FULL,
  generateSyntheticLog,
  nextInStringOrder,
  resolveSyntheticOptions,
  syntheticUserBehaviorChunks,
  writeSyntheticUserBehavior,
} from './synthetic.js';
import { checkUserBehaviorOrder, compareLogStatistics, formatComparison, logStatistics } from './synthetic-report.js';
import type { InteractionLog } from './types.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = resolve(REPO, process.env.REC_DATA_DIR ?? '../shared/data');

/** Tiny local parser of UserBehavior CSV text (the package reader is another module's job). */
function parseUserBehavior(text: string): InteractionLog {
  const lines = text.split('\n').filter((l) => l.length > 0);
  const n = lines.length;
  const B: Record<string, number> = { pv: 0, cart: 1, fav: 2, buy: 3 };
  const log: InteractionLog = {
    numRows: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    category: new Int32Array(n),
    behavior: new Uint8Array(n),
    timestamp: new Int32Array(n),
  };
  lines.forEach((l, r) => {
    const f = l.split(',');
    if (f.length !== 5 || !(f[3] in B)) throw new Error(`bad line ${r + 1}: ${l}`);
    log.user[r] = +f[0];
    log.item[r] = +f[1];
    log.category[r] = +f[2];
    log.behavior[r] = B[f[3]];
    log.timestamp[r] = +f[4];
  });
  return log;
}

describe('string order of user ids', () => {
  it('enumerates 1..n in the order of their decimal strings', () => {
    for (const n of [1, 9, 10, 25, 100, 1234]) {
      const got: number[] = [];
      for (let x = 1; x !== 0; x = nextInStringOrder(x, n)) got.push(x);
      const want = Array.from({ length: n }, (_, i) => i + 1).sort((a, b) => (String(a) < String(b) ? -1 : 1));
      expect(got).toEqual(want);
    }
  });
});

describe('synthetic UserBehavior generator', () => {
  it('defaults to the full-log calibration and scales down', () => {
    const full = resolveSyntheticOptions();
    expect([full.rows, full.users, full.items, full.categories]).toEqual([100_150_807, 987_994, 4_162_024, 9_439]);
    const small = resolveSyntheticOptions({ rows: 100_150 });
    expect(small.users).toBe(988); // 987,994 / 1000 rounded
    expect(() => resolveSyntheticOptions({ rows: 10, users: 11 })).toThrow(/users/);
  });

  it('hits exact counts, the behavior mix, the file ordering and 30-minute sessions', () => {
    const log = generateSyntheticLog({ rows: 120_000, users: 1200, seed: 5 });
    expect(log.numRows).toBe(120_000);
    expect(new Set(log.user).size).toBe(1200);
    const order = checkUserBehaviorOrder(log);
    expect(order).toMatchObject({ groupedByUser: true, usersInStringOrder: true, timeSortedWithinUser: true });
    const st = logStatistics(log);
    // Behaviors are drawn iid per event: standard error of a share p over 120k rows is at most 0.0009 (p = 0.896).
    const mix = USER_BEHAVIOR_FULL.mix;
    for (let b = 0; b < 4; b++) expect(Math.abs(st.behaviorMix[b] - mix[b])).toBeLessThan(0.004);
    // Timestamps inside the 9-day window (Beijing time).
    let lo = Infinity;
    let hi = -Infinity;
    for (const t of log.timestamp) {
      lo = Math.min(lo, t);
      hi = Math.max(hi, t);
    }
    expect(lo).toBeGreaterThanOrEqual(USER_BEHAVIOR_FULL.start);
    expect(hi).toBeLessThan(USER_BEHAVIOR_FULL.start + 9 * 86_400);
    // Bursty sessions: mean length near the configured 6, and within-session gaps are under 30 minutes by construction.
    const dense = { ...log, user: log.user.map((u) => u - 1) };
    const sessions = sessionize(dense, { sequences: userSequences(dense) });
    const lens = sessionLengths(sessions);
    const mean = log.numRows / sessions.numSessions;
    expect(mean).toBeGreaterThan(4);
    expect(mean).toBeLessThan(8);
    expect(Math.max(...lens)).toBeGreaterThan(20);
    // Long-tailed popularity: top 1% of items hold far more than 1% of events; most items are rare.
    expect(st.itemTop1PctShare).toBeGreaterThan(0.05);
    expect(st.itemRankSlope).toBeLessThan(-0.3);
    expect(st.categoryRankSlope).toBeLessThan(-0.8);
    // Users concentrate on a few categories.
    expect(st.topCategoryShareMean).toBeGreaterThan(0.2);
    expect(st.eventsPerUserMean).toBeCloseTo(100, 6);
  });

  it('makes buys far more likely for items the user carted', () => {
    const withBias = logStatistics(generateSyntheticLog({ rows: 60_000, users: 600, seed: 9 }));
    const without = logStatistics(generateSyntheticLog({ rows: 60_000, users: 600, seed: 9, buyCartedBias: 0 }));
    expect(withBias.buysOfCartedShare).toBeGreaterThan(without.buysOfCartedShare + 0.08);
  });

  it('is deterministic by seed, and the CSV stream matches the in-memory log', async () => {
    const opts = { rows: 5000, users: 60, seed: 11, chunkRows: 777 };
    const chunks: Buffer[] = [];
    for await (const c of syntheticUserBehaviorChunks(opts)) {
      expect(c[c.length - 1]).toBe(10); // each chunk ends on a line break
      chunks.push(Buffer.from(c));
    }
    expect(chunks.length).toBe(Math.ceil(5000 / 777));
    const text = Buffer.concat(chunks).toString('latin1');
    const parsed = parseUserBehavior(text);
    const mem = generateSyntheticLog(opts);
    for (const k of ['user', 'item', 'category', 'behavior', 'timestamp'] as const) expect(parsed[k]).toEqual(mem[k]);
    const again = generateSyntheticLog(opts);
    expect(again.item).toEqual(mem.item);
    const other = generateSyntheticLog({ ...opts, seed: 12 });
    expect(other.item).not.toEqual(mem.item);
  });

  it('streams the full calibrated 100M-row log lazily: the first chunk comes without generating the rest', async () => {
    const it = syntheticUserBehaviorChunks({ seed: 0 })[Symbol.asyncIterator]();
    const first = await it.next();
    await it.return?.(undefined);
    const lines = Buffer.from(first.value as Buffer).toString('latin1').trim().split('\n');
    expect(lines.length).toBe(65_536);
    const users = [...new Set(lines.map((l) => l.split(',')[0]))];
    // String order of 1..987,994: "1", "10", "100", "1000", "10000", "100000", "100001", ...
    expect(users.slice(0, 7)).toEqual(['1', '10', '100', '1000', '10000', '100000', '100001']);
    for (const l of lines.slice(0, 50)) {
      const [, item, cat, beh, ts] = l.split(',');
      expect(+item).toBeGreaterThanOrEqual(1);
      expect(+item).toBeLessThanOrEqual(4_162_024);
      expect(+cat).toBeLessThanOrEqual(9_439);
      expect(['pv', 'cart', 'fav', 'buy']).toContain(beh);
      expect(+ts).toBeGreaterThanOrEqual(USER_BEHAVIOR_FULL.start);
    }
  });

  it('writes plain and gzip files atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-syn-'));
    try {
      const a = await writeSyntheticUserBehavior(join(dir, 'a.csv'), { rows: 3000, users: 30, seed: 1 });
      const b = await writeSyntheticUserBehavior(join(dir, 'b.csv.gz'), { rows: 3000, users: 30, seed: 1 });
      const plain = readFileSync(a.path);
      expect(plain.length).toBe(a.bytes);
      expect(gunzipSync(readFileSync(b.path)).equals(plain)).toBe(true);
      expect(plain.toString().trim().split('\n').length).toBe(3000);
      expect(existsSync(join(dir, `a.csv.tmp-${process.pid}`))).toBe(false);
      await expect(writeSyntheticUserBehavior(join(dir, 'missing', 'x.csv'), { rows: 10 })).rejects.toThrow(/writeSyntheticUserBehavior/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const head = join(DATA, 'userbehavior-head', 'UserBehavior.csv');
  const haveHead = existsSync(head);
  it.skipIf(!haveHead && !process.env.CI)('resembles the real UserBehavior sample', () => {
    const real = parseUserBehavior(readFileSync(head, 'utf8'));
    expect(real.numRows).toBe(4321);
    expect(checkUserBehaviorOrder(real)).toMatchObject({ groupedByUser: true, usersInStringOrder: true, timeSortedWithinUser: true });
    const rs = logStatistics(real);
    // Same size as the sample; average several seeds so one draw's noise does not decide.
    const seeds = [1, 2, 3];
    const syn = seeds.map((seed) => logStatistics(generateSyntheticLog({ rows: real.numRows, users: rs.users, seed })));
    const avg = (k: keyof typeof rs) => syn.reduce((s, x) => s + (x[k] as number), 0) / seeds.length;
    const table = compareLogStatistics(syn[0], rs);
    expect(formatComparison(table)).toMatch(/\| behaviorMix\.pv \|/);
    // The sample's mix (pv 90.9 / cart 4.4 / fav 3.0 / buy 1.8 %) is within 1.6 points of the full-log mix we target.
    const realMix = rs.behaviorMix;
    for (let b = 0; b < 4; b++) expect(Math.abs(syn.reduce((s, x) => s + x.behaviorMix[b], 0) / 3 - realMix[b])).toBeLessThan(0.02);
    for (const [k, tol] of [
      ['itemsPerUserMean', 0.25],
      ['categoriesPerUserMean', 0.3],
      ['topCategoryShareMean', 0.3],
      ['repeatItemShare', 0.35],
      ['sessionLengthMean', 0.25],
      ['gapMedian', 0.3],
      ['gapOver30MinShare', 0.25],
      ['itemTop1PctShare', 0.4],
    ] as const) {
      const ratio = avg(k) / (rs[k] as number);
      expect(ratio, `${k}: synthetic ${avg(k)} vs real ${rs[k]}`).toBeGreaterThan(1 - tol);
      expect(ratio, `${k}: synthetic ${avg(k)} vs real ${rs[k]}`).toBeLessThan(1 + tol);
    }
  });
});
