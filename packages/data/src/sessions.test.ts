import { describe, expect, it } from 'vitest';
import { RecError, Rng } from '@rec/core';
import {
  filterSessions,
  sampleSessions,
  sessionLengths,
  sessionize,
  userSequences,
} from './sessions.js';
import { logOf } from './sessions.testutil.js';

const T0 = 1_511_539_200; // 2017-11-25 00:00 Beijing

describe('userSequences', () => {
  it('groups by user and sorts by time, stable on ties', () => {
    // rows: 0:(u1,t=30) 1:(u0,t=20) 2:(u1,t=10) 3:(u0,t=20) 4:(u1,t=30) 5:(u0,t=5)
    const log = logOf([
      [1, 0, 0, 0, T0 + 30],
      [0, 1, 0, 0, T0 + 20],
      [1, 2, 0, 0, T0 + 10],
      [0, 3, 0, 0, T0 + 20],
      [1, 4, 0, 0, T0 + 30],
      [0, 5, 0, 0, T0 + 5],
    ]);
    const s = userSequences(log);
    expect(s.numUsers).toBe(2);
    expect(Array.from(s.offsets)).toEqual([0, 3, 6]);
    // user 0: t=5 (row 5), then the tie t=20 in row order 1, 3; user 1: t=10 (row 2), tie t=30 rows 0, 4
    expect(Array.from(s.rows)).toEqual([5, 1, 3, 2, 0, 4]);
  });

  it('keeps users without events as empty ranges and rejects negative ids', () => {
    const s = userSequences(logOf([[2, 0, 0, 0, T0]]));
    expect(Array.from(s.offsets)).toEqual([0, 0, 0, 1]);
    expect(() => userSequences(logOf([[-1, 0, 0, 0, T0]]))).toThrow(/negative user id/);
    try {
      userSequences(logOf([[3, 0, 0, 0, T0]]), 2);
      expect.unreachable();
    } catch (e) {
      expect(RecError.isInstance(e)).toBe(true);
      expect(String(e)).toMatch(/row 0.*0 <= user < 2/);
    }
  });
});

describe('sessionize', () => {
  it('cuts at gaps over 30 minutes in total seconds (a 1 day + 10 s gap splits)', () => {
    const log = logOf([
      [0, 0, 0, 0, T0],
      [0, 1, 0, 0, T0 + 1800], // gap exactly 1800: same session (must exceed)
      [0, 2, 0, 0, T0 + 1800 + 86_410], // 1 day + 10 s: timedelta.seconds would say 10 -> must split
      [0, 3, 0, 0, T0 + 1800 + 86_410 + 1801], // 1801 > 1800: splits
      [1, 4, 0, 0, T0 + 5], // new user always starts a session
      [1, 5, 0, 0, T0 + 60],
    ]);
    const s = sessionize(log);
    expect(s.numSessions).toBe(4);
    expect(Array.from(s.user)).toEqual([0, 0, 0, 1]);
    expect(Array.from(sessionLengths(s))).toEqual([2, 1, 1, 2]);
    const rowsOf = (k: number) => Array.from(s.rows.subarray(s.offsets[k], s.offsets[k + 1]));
    expect(rowsOf(0)).toEqual([0, 1]);
    expect(rowsOf(1)).toEqual([2]);
    expect(rowsOf(3)).toEqual([4, 5]);
    // A larger gap threshold merges them.
    expect(sessionize(log, { gapSeconds: 100_000 }).numSessions).toBe(2);
  });

  it('filters by length and purchase, and samples deterministically by seed', () => {
    const rows: [number, number, number, number, number][] = [];
    // 50 users x 3 sessions; session j of user u has (j + 1) events; the last session of even users holds a buy.
    for (let u = 0; u < 50; u++) {
      for (let j = 0; j < 3; j++) {
        for (let e = 0; e <= j; e++) {
          const buy = j === 2 && e === 2 && u % 2 === 0 ? 3 : 0;
          rows.push([u, e, 0, buy, T0 + j * 10_000 + e * 60]);
        }
      }
    }
    const log = logOf(rows);
    const s = sessionize(log);
    expect(s.numSessions).toBe(150);
    expect(filterSessions(s, log, { minLength: 2 }).numSessions).toBe(100);
    expect(filterSessions(s, log, { minLength: 2, maxLength: 2 }).numSessions).toBe(50);
    const buys = filterSessions(s, log, { requirePurchase: true });
    expect(buys.numSessions).toBe(25);
    expect(Array.from(sessionLengths(buys)).every((l) => l === 3)).toBe(true);

    const a = sampleSessions(s, 40, 7);
    const b = sampleSessions(s, 40, new Rng(7));
    const c = sampleSessions(s, 40, 8);
    expect(a.numSessions).toBe(40);
    expect(Array.from(a.rows)).toEqual(Array.from(b.rows));
    expect(Array.from(a.rows)).not.toEqual(Array.from(c.rows));
    // sorted by default: session users non-decreasing; all distinct sessions (rows distinct)
    for (let k = 1; k < a.numSessions; k++) expect(a.user[k]).toBeGreaterThanOrEqual(a.user[k - 1]);
    expect(new Set(a.rows).size).toBe(a.rows.length);
    expect(sampleSessions(s, 1000, 1).numSessions).toBe(150);
    expect(() => sampleSessions(s, 1000, 1, { ifTooFew: 'throw' })).toThrow(/too few sessions/);
  });
});
