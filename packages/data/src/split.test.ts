import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '@rec/core';
import { ingest } from './ingest.js';
import { leaveLastOut, randomUserSplit, subLog, temporalSplit } from './split.js';
import type { IndexedLog, InteractionLog } from './types.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
const haveData = existsSync(join(dataDir, 'ml-latest-small', 'ratings.csv'));
if (!haveData && process.env.CI) throw new Error(`real data folder missing: ${dataDir} (set REC_DATA_DIR)`);

/** A shuffled log: 40 users with 1..12 events each at random times, rows in random order. */
function randomLog(seed: number): InteractionLog {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let u = 0; u < 40; u++) {
    const k = 1 + rng.int(12);
    for (let e = 0; e < k; e++) rows.push([1000 + u, rng.int(30), rng.int(4), rng.int(4), 5000 + rng.int(200)]);
  }
  for (let i = rows.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  return {
    numRows: rows.length,
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    category: Int32Array.from(rows.map((r) => r[2])),
    behavior: Uint8Array.from(rows.map((r) => r[3])),
    timestamp: Int32Array.from(rows.map((r) => r[4])),
  };
}

function expectPartition(n: number, a: Int32Array, b: Int32Array): void {
  expect(a.length + b.length).toBe(n);
  const seen = new Uint8Array(n);
  for (const i of a) seen[i]++;
  for (const i of b) seen[i]++;
  expect(seen.every((x) => x === 1)).toBe(true);
}

describe('temporalSplit', () => {
  it('every train event precedes every test event; the train share is at most the ratio', () => {
    const log = randomLog(1);
    const s = temporalSplit(log, { trainRatio: 0.7 });
    expectPartition(log.numRows, s.train, s.test);
    let maxTrain = -Infinity;
    let minTest = Infinity;
    for (const i of s.train) maxTrain = Math.max(maxTrain, log.timestamp[i]);
    for (const i of s.test) minTest = Math.min(minTest, log.timestamp[i]);
    expect(maxTrain).toBeLessThan(s.cutoff);
    expect(minTest).toBe(s.cutoff);
    expect(s.train.length / log.numRows).toBeLessThanOrEqual(0.7);
    expect(s.train.length / log.numRows).toBeGreaterThan(0.6);
  });

  it('hand example: times 1..10, ratio 0.7 -> cutoff 8 (the 8th smallest, index floor(0.7*10) = 7), train = times 1..7', () => {
    const n = 10;
    const log: InteractionLog = { numRows: n, user: new Int32Array(n), item: new Int32Array(n), category: new Int32Array(n), behavior: new Uint8Array(n), timestamp: Int32Array.from([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]) };
    const s = temporalSplit(log);
    expect(s.cutoff).toBe(8);
    expect(Array.from(s.train)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(s.test)).toEqual([0, 1, 2]);
  });

  it('the histogram and the sorting quantile agree (wide and narrow time ranges)', () => {
    for (const spread of [50, 1e9]) {
      const rng = new Rng(5);
      const n = 999;
      const ts = Int32Array.from({ length: n }, () => 1e9 + Math.floor(rng.next() * spread));
      const log: InteractionLog = { numRows: n, user: new Int32Array(n), item: new Int32Array(n), category: new Int32Array(n), behavior: new Uint8Array(n), timestamp: ts };
      const s = temporalSplit(log, { trainRatio: 0.3 });
      expect(s.cutoff).toBe(ts.slice().sort()[Math.floor(0.3 * n)]);
    }
  });
});

describe('leaveLastOut', () => {
  it("each user's test events are their latest; users with too few events stay in train", () => {
    const log = randomLog(2);
    const s = leaveLastOut(log, { n: 2 });
    expectPartition(log.numRows, s.train, s.test);
    const lastTrain = new Map<number, number>();
    const firstTest = new Map<number, number>();
    const testCount = new Map<number, number>();
    const total = new Map<number, number>();
    for (let i = 0; i < log.numRows; i++) total.set(log.user[i], (total.get(log.user[i]) ?? 0) + 1);
    for (const i of s.train) lastTrain.set(log.user[i], Math.max(lastTrain.get(log.user[i]) ?? -Infinity, log.timestamp[i]));
    for (const i of s.test) {
      firstTest.set(log.user[i], Math.min(firstTest.get(log.user[i]) ?? Infinity, log.timestamp[i]));
      testCount.set(log.user[i], (testCount.get(log.user[i]) ?? 0) + 1);
    }
    for (const [u, t] of firstTest) expect(lastTrain.get(u) ?? -Infinity).toBeLessThanOrEqual(t);
    for (const [u, k] of total) expect(testCount.get(u) ?? 0).toBe(k >= 3 ? 2 : 0);
  });

  it('ties at the last second go to test by later row', () => {
    const log: InteractionLog = { numRows: 3, user: Int32Array.from([1, 1, 1]), item: Int32Array.from([1, 2, 3]), category: new Int32Array(3), behavior: new Uint8Array(3), timestamp: Int32Array.from([5, 9, 9]) };
    expect(Array.from(leaveLastOut(log).test)).toEqual([2]);
  });
});

describe('randomUserSplit', () => {
  it('users are disjoint, all rows of a user on one side, seeded and reproducible', () => {
    const log = randomLog(3);
    const a = randomUserSplit(log, { testRatio: 0.25, seed: 7 });
    const b = randomUserSplit(log, { testRatio: 0.25, seed: 7 });
    const c = randomUserSplit(log, { testRatio: 0.25, seed: 8 });
    expectPartition(log.numRows, a.train, a.test);
    expect(a.test).toEqual(b.test);
    expect(Array.from(a.testUsers)).not.toEqual(Array.from(c.testUsers));
    expect(a.testUsers.length).toBe(10); // round(0.25 * 40)
    const testRaw = new Set(Array.from(a.test, (i) => log.user[i]));
    const trainRaw = new Set(Array.from(a.train, (i) => log.user[i]));
    expect(testRaw.size).toBe(10);
    for (const u of testRaw) expect(trainRaw.has(u)).toBe(false);
  });

  it('subLog keeps the maps of an IndexedLog and picks the rows', async () => {
    if (!haveData) return;
    const { log } = await ingest(join(dataDir, 'ml-latest-small', 'ratings.csv'), { preset: 'movielensRatings', cache: false });
    const s = randomUserSplit(log, { seed: 1 });
    const test: IndexedLog = subLog(log, s.test);
    expect(test.numRows).toBe(s.test.length);
    expect(test.items).toBe(log.items);
    expect(test.item[0]).toBe(log.item[s.test[0]]);
    // 610 users, 20% -> 122 test users, every one with all of its ratings.
    expect(s.testUsers.length).toBe(122);
    expect(new Set(test.user).size).toBe(122);
    const lo = leaveLastOut(log);
    expect(lo.test.length).toBe(610); // every MovieLens user has >= 20 ratings
  });
});
