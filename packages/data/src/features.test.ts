import { describe, expect, it } from 'vitest';
import {
  eventStateForRows,
  userProfileForRows,
  EVENT_STATE_DIM,
  USER_PROFILE_DIM,
  eventStateFeatures,
  eventStateSteps,
  userProfileAllSteps,
  userProfileAt,
  userProfileFromEvents,
  userProfileSteps,
} from './features.js';
import { sampleSessions, sessionize, userSequences } from './sessions.js';
import { logOf, type Row } from './sessions.testutil.js';
import { categoryStats, itemStats, rowsBefore } from './stats.js';

const T0 = 1_511_539_200;
const DAY = 86_400;

// User 0: 5 events over 2 days; user 1: 1 event. Categories 0..2, items 0..3. Behavior 0 pv, 1 cart, 2 fav, 3 buy.
const base: Row[] = [
  [0, 0, 0, 0, T0],
  [0, 1, 0, 1, T0 + 100],
  [0, 1, 0, 3, T0 + 200],
  [1, 2, 1, 0, T0 + 50],
  [0, 2, 1, 2, T0 + DAY],
  [0, 3, 2, 0, T0 + 2 * DAY],
];

describe('userProfileAt', () => {
  it('matches a hand computation', () => {
    const log = logOf(base);
    const seqs = userSequences(log);
    const f = userProfileAt(log, seqs, 0, T0 + 2 * DAY, { recentWindow: 3, actionsPerDayScale: 99, ageScaleDays: 4 });
    // History: pv, cart, buy, fav, pv (n = 5), categories 0,0,0,1,2.
    // 0 purchaseDensity: last 3 events (buy, fav, pv) hold 1 buy -> 1/3
    // 1..4 rates: buy 1/5, cart 1/5, fav 1/5, pv 2/5
    // 5 diversity 3/5; 6 actions/day = 5 / 2 days = 2.5 -> log1p(2.5)/log1p(99) = ln 3.5 / ln 100
    // 7 has purchases 1; 8 top category (0: 3 events) 3/5; 9 age 2 days / 4 = 0.5
    const want = [1 / 3, 0.2, 0.2, 0.2, 0.4, 0.6, Math.log(3.5) / Math.log(100), 1, 0.6, 0.5];
    expect(f.length).toBe(USER_PROFILE_DIM);
    for (let k = 0; k < 10; k++) expect(f[k]).toBeCloseTo(want[k], 6);
  });

  it('ignores events after t (a future event does not change the profile)', () => {
    const t = T0 + DAY + 10;
    const before = userProfileAt(logOf(base), userSequences(logOf(base)), 0, t);
    const withFuture = logOf([...base, [0, 3, 2, 3, t + 1], [0, 0, 2, 3, t + 5 * DAY]]);
    const after = userProfileAt(withFuture, userSequences(withFuture), 0, t);
    expect(Array.from(after)).toEqual(Array.from(before));
    // ...but it does once t reaches it, so the check above can fail.
    const later = userProfileAt(withFuture, userSequences(withFuture), 0, t + 1);
    expect(Array.from(later)).not.toEqual(Array.from(before));
    // No events yet -> zeros.
    expect(Array.from(userProfileAt(withFuture, userSequences(withFuture), 0, T0 - 1))).toEqual(new Array(10).fill(0));
  });

  it('per-step profiles equal the as-of profiles, for every user and both include modes', () => {
    // Random-ish log with distinct timestamps per user so position and time agree.
    const rows: Row[] = [];
    let s = 12345;
    const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let u = 0; u < 6; u++) {
      let t = T0 + Math.floor(next() * 1000);
      for (let e = 0; e < 40; e++) {
        t += 1 + Math.floor(next() * 20_000);
        rows.push([u, Math.floor(next() * 30), Math.floor(next() * 5), Math.floor(next() * 4), t]);
      }
    }
    // shuffle row order so sequences must sort
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [rows[i], rows[j]] = [rows[j], rows[i]];
    }
    const log = logOf(rows);
    const seqs = userSequences(log);
    const all = userProfileAllSteps(log, seqs);
    const allBefore = userProfileAllSteps(log, seqs, { include: 'before' });
    for (let u = 0; u < 6; u++) {
      const steps = userProfileSteps(log, seqs, u);
      const a = seqs.offsets[u];
      expect(Array.from(steps)).toEqual(Array.from(all.subarray(a * 10, seqs.offsets[u + 1] * 10)));
      for (let p = 0; p < 40; p++) {
        const t = log.timestamp[seqs.rows[a + p]];
        expect(Array.from(steps.subarray(p * 10, p * 10 + 10))).toEqual(Array.from(userProfileAt(log, seqs, u, t)));
        // 'before' at p = the history through p - 1, with the clock at event p (features 6 and 9 use tNow).
        const bf = allBefore.subarray((a + p) * 10, (a + p) * 10 + 10);
        if (p === 0) {
          expect(Array.from(bf)).toEqual(new Array(10).fill(0));
        } else {
          const prev = steps.subarray((p - 1) * 10, p * 10);
          for (const k of [0, 1, 2, 3, 4, 5, 7, 8]) expect(bf[k]).toBe(prev[k]);
          const tFirst = log.timestamp[seqs.rows[a]];
          expect(bf[9]).toBeCloseTo(Math.min(1, (t - tFirst) / DAY / 9), 6);
          // p events over max(1, age) days
          expect(bf[6]).toBeCloseTo(Math.min(1, Math.log1p(p / Math.max(1, (t - tFirst) / DAY)) / Math.log1p(500)), 6);
        }
      }
    }
  });
});

describe('userProfileFromEvents', () => {
  it('equals the log path (userProfileSteps) per user, with categories relabelled arbitrarily, both include modes', () => {
    const log = logOf([...base, [0, 1, 2, 3, T0 + 3 * DAY], [1, 3, 2, 3, T0 + 60], [1, 0, 0, 1, T0 + 4 * DAY]]);
    const seqs = userSequences(log);
    for (const include of ['through', 'before'] as const) {
      for (let u = 0; u < seqs.numUsers; u++) {
        const rows = seqs.rows.subarray(seqs.offsets[u], seqs.offsets[u + 1]);
        const opts = { include, recentWindow: 2, ageScaleDays: 3 };
        // Labels only need equality: map dense category c to 1000 - 7c (negative-free, non-dense).
        const got = userProfileFromEvents(
          Array.from(rows, (r) => log.behavior[r]),
          Array.from(rows, (r) => 1000 - 7 * log.category[r]),
          Array.from(rows, (r) => log.timestamp[r]),
          opts,
        );
        expect(Array.from(got)).toEqual(Array.from(userProfileSteps(log, seqs, u, opts)));
      }
    }
    // hand check of one row: user 0 after its 2nd event (pv then cart, same category, 100 s apart)
    const two = userProfileFromEvents([0, 1], [5, 5], [T0, T0 + 100]);
    expect(Array.from(two.subarray(10, 20))).toEqual(Array.from(Float32Array.from([0, 0, 0.5, 0, 0.5, 0.5, Math.log1p(2) / Math.log1p(500), 0, 1, 100 / DAY / 9])));
  });

  it('rejects bad behaviors, mismatched lengths and non-integer categories with where/expected/got', () => {
    expect(() => userProfileFromEvents([0, 4], [1, 1], [T0, T0])).toThrow(/behaviors\[1\].*behavior code.*4/s);
    expect(() => userProfileFromEvents([0], [1, 1], [T0])).toThrow(/categories/);
    expect(() => userProfileFromEvents([0], [1.5], [T0])).toThrow(/integer category/);
    expect(() => userProfileFromEvents([0], [1], [NaN])).toThrow(/finite Unix time/);
  });
});

describe('features for chosen rows', () => {
  it('match the all-steps arrays at the rows of sampled sessions', () => {
    const rows: Row[] = [];
    for (let u = 0; u < 8; u++) {
      for (let e = 0; e < 25; e++) rows.push([u, (u * 7 + e * 3) % 11, (u + e) % 4, (u + e) % 4, T0 + e * (e % 3 === 0 ? 4000 : 60)]);
    }
    const log = logOf(rows);
    const seqs = userSequences(log);
    const sess = sampleSessions(sessionize(log, { sequences: seqs }), 10, 3, { sorted: false });
    expect(sess.numSessions).toBe(10);
    const posOf = new Int32Array(log.numRows);
    seqs.rows.forEach((r, p) => (posOf[r] = p));
    const all = userProfileAllSteps(log, seqs);
    const got = userProfileForRows(log, seqs, sess.rows);
    expect(got.length).toBe(sess.rows.length * 10);
    sess.rows.forEach((r, j) => expect(Array.from(got.subarray(j * 10, j * 10 + 10))).toEqual(Array.from(all.subarray(posOf[r] * 10, posOf[r] * 10 + 10))));
    const items = itemStats(log);
    const categories = categoryStats(log);
    const allStates = eventStateFeatures(log, seqs, { items, categories });
    const states = eventStateForRows(log, seqs, sess.rows, { items, categories });
    sess.rows.forEach((r, j) => expect(Array.from(states.subarray(j * 20, j * 20 + 20))).toEqual(Array.from(allStates.subarray(posOf[r] * 20, posOf[r] * 20 + 20))));
    expect(() => userProfileForRows(log, seqs, Int32Array.of(999))).toThrow(/rows\[0\]/);
  });
});

describe('item and category statistics', () => {
  it('counts behaviors and conversion rates, from a training split only', () => {
    const log = logOf(base);
    const st = itemStats(log);
    // item 1: cart + buy, no pv -> rates 0 (no pv denominator); item 0: 1 pv
    expect(Array.from(st.count)).toEqual([1, 2, 2, 1]);
    expect(st.cart[1]).toBe(1);
    expect(st.buy[1]).toBe(1);
    expect(st.buyRate[1]).toBe(0);
    expect(st.popularity[1]).toBeCloseTo(1, 6);
    expect(st.popularity[0]).toBeCloseTo(Math.log(2) / Math.log(3), 6);
    const cs = categoryStats(log);
    // category 0: pv, cart, buy -> cartRate 1/1, buyRate 1/1; category 1: pv (user 1) + fav -> favRate 1
    expect(cs.cartRate[0]).toBe(1);
    expect(cs.buyRate[0]).toBe(1);
    expect(cs.favRate[1]).toBe(1);
    // Training split before T0 + 150 holds rows 0, 1, 3: no buy of item 1 yet.
    const train = rowsBefore(log, T0 + 150);
    expect(Array.from(train)).toEqual([0, 1, 3]);
    const tr = itemStats(log, { rows: train, size: 4 });
    expect(tr.buy[1]).toBe(0);
    expect(tr.rowsUsed).toBe(3);
    expect(tr.count[3]).toBe(0);
    expect(() => itemStats(log, { rows: Int32Array.of(99) })).toThrow(/rows\[0\]/);
  });
});

describe('event state encoding', () => {
  it('lays out the 20 columns as documented', () => {
    const log = logOf(base);
    const seqs = userSequences(log);
    const items = itemStats(log);
    const categories = categoryStats(log);
    const all = eventStateFeatures(log, seqs, { items, categories });
    expect(all.length).toBe(6 * EVENT_STATE_DIM);
    const u0 = eventStateSteps(log, seqs, 0, { items, categories });
    expect(Array.from(u0)).toEqual(Array.from(all.subarray(0, 5 * 20)));
    // Position 2 of user 0: row 2 = item 1, category 0, buy at T0 + 200 (previous event 100 s earlier).
    const r = u0.subarray(2 * 20, 3 * 20);
    expect(r[0]).toBeCloseTo(1 / 3, 6); // item 1 / (4 - 1)
    expect(r[1]).toBe(items.popularity[1]);
    expect(r[5]).toBe(0); // category 0
    expect(r[6]).toBe(categories.buyRate[0]);
    expect(Array.from(r.subarray(7, 11))).toEqual([0, 0, 0, 1]);
    expect(r[11]).toBeCloseTo(Math.log1p(100) / Math.log1p(9 * DAY), 6);
    expect(r[12]).toBeCloseTo(1 / 3, 6); // 1 buy in 3 events
    expect(r[13]).toBeCloseTo(Math.log1p(3) / Math.log1p(1000), 6);
    expect(r[14]).toBeCloseTo(1 / 3, 6); // 1 category in 3 events
    expect(r[15]).toBeCloseTo(Math.log1p(2) / Math.log1p(1000), 6);
    expect(Array.from(r.subarray(16))).toEqual([0, 0, 0, 0]);
    expect(u0[11]).toBe(1); // first event: no previous action
    // Future events of the user do not change earlier rows.
    const more = logOf([...base, [0, 0, 0, 3, T0 + 3 * DAY]]);
    const u0more = eventStateSteps(more, userSequences(more), 0, { items, categories });
    expect(Array.from(u0more.subarray(0, 100))).toEqual(Array.from(u0));
  });

  it('rejects statistics that do not cover the ids, and bad users, with where/expected/got', () => {
    const log = logOf(base);
    const seqs = userSequences(log);
    // A split's stats are sized by the whole log's max id + 1 by default, so test-only items still index...
    const small = itemStats(log, { rows: Int32Array.of(0, 1) });
    expect(small.size).toBe(4);
    // ...but an explicit size of 2 leaves item 2 (row 4) outside, which must be reported, not read out of bounds.
    const tooSmall = itemStats(log, { rows: Int32Array.of(0, 1), size: 2 });
    const categories = categoryStats(log);
    expect(() => eventStateFeatures(log, seqs, { items: tooSmall, categories })).toThrow(/id outside the statistics.*expected item in \[0, 2\)/);
    expect(() => userProfileSteps(log, seqs, 7)).toThrow(/userProfileSteps: user.*expected a dense user id in \[0, 2\).*got 7/);
    expect(() => userProfileAt(log, seqs, 0, Number.NaN)).toThrow(/userProfileAt: t/);
  });
});
