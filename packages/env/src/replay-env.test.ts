import { describe, expect, it } from 'vitest';
import { itemStats, sessionize, userProfileAt, userSequences, type InteractionLog } from '@rec/data';
import { InvalidArgumentError, ShapeError } from '@rec/core';
import { LoggedReplayEnv, type LoggedReplayOptions } from './replay-env.js';
import { checkEnv } from './check-env.js';
import { rollout } from './rollout.js';
import { popularityPolicy, randomPolicy } from './policies.js';
import { hasHead, loadHead, syntheticLog } from './testdata.testutil.js';

const PV = 0, BUY = 3;
/**
 * User 0: an earlier session (t=0 buy item 1), then a session of 4 events an hour later:
 * pv 5, buy 3, pv 7, buy 9. User 1: one session pv 2, pv 4.
 */
function handLog(): InteractionLog {
  const rows: Array<[number, number, number, number, number]> = [
    [0, 1, 0, BUY, 1000],
    [0, 5, 1, PV, 10000],
    [0, 3, 1, BUY, 10010],
    [0, 7, 2, PV, 10020],
    [0, 9, 2, BUY, 10030],
    [1, 2, 0, PV, 10000],
    [1, 4, 0, PV, 10005],
  ];
  return {
    numRows: rows.length,
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    category: Int32Array.from(rows.map((r) => r[2])),
    behavior: Uint8Array.from(rows.map((r) => r[3])),
    timestamp: Int32Array.from(rows.map((r) => r[4])),
  };
}
function handEnv(options: Partial<LoggedReplayOptions> = {}) {
  const log = handLog();
  const sessions = sessionize(log); // sessions: 0 = user 0 early (1 event), 1 = user 0's 4 events, 2 = user 1
  return { log, sessions, env: new LoggedReplayEnv({ log: Object.assign(log, { numItems: 10 }), sessions, batchSize: 1, ...options }) };
}

describe('LoggedReplayEnv', () => {
  it('rewards the actual next purchase, and the configured alternatives', () => {
    const { env, sessions } = handEnv();
    expect(sessions.numSessions).toBe(3);
    expect(Array.from(env.eligibleSessions)).toEqual([1, 2]); // session 0 has one event: nothing to predict
    env.reset(new Int32Array([1]));
    // After pv 5 the next purchase is item 3; after buy 3 it is item 9 (pv 7 is not a purchase); after pv 7 it is 9.
    expect(Array.from(env.targets().items)).toEqual([3]);
    let r = env.step(new Int32Array([3]));
    expect([r.reward[0], r.info.target[0], r.done[0]]).toEqual([1, 3, 0]);
    r = env.step(new Int32Array([7]));
    expect([r.reward[0], r.info.target[0]]).toEqual([0, 9]);
    r = env.step(new Int32Array([9]));
    expect([r.reward[0], r.done[0]]).toEqual([1, 1]);
    r = env.step(new Int32Array([9])); // frozen after done
    expect([r.reward[0], r.info.active[0]]).toEqual([0, 0]);
    env.reset(new Int32Array([1])); // back to the session's first event
    expect(Array.from(env.targets().items)).toEqual([3]);
    expect(env.step(new Int32Array([3])).reward[0]).toBe(1);

    const any = handEnv({ targetBehavior: 'any' }).env;
    any.reset(new Int32Array([1]));
    any.step(new Int32Array([3]));
    expect(Array.from(any.targets().items)).toEqual([7]); // next interaction after buy 3 is pv 7
    expect(any.step(new Int32Array([7])).reward[0]).toBe(1);

    const rest = handEnv({ target: 'rest-of-session', slateSize: 2 }).env;
    rest.reset(new Int32Array([1]));
    expect(Array.from(rest.targets().items)).toEqual([3, 9]); // purchases still to come after pv 5
    const rr = rest.step(new Int32Array([9, 0]));
    expect([rr.reward[0], rr.info.hits[0]]).toEqual([1, 1]);
    expect(Array.from(rr.info.slateHit)).toEqual([1, 0]);
  });

  it('builds the state from profile features of the last purchases (or interactions), never from the future', () => {
    const { env, log } = handEnv();
    const seqs = userSequences(log);
    const obs0 = env.reset(new Int32Array([1]));
    expect(obs0.length).toBe(10 * 10);
    // At pv 5 the user has one purchase so far (item 1 at t=1000): the last row is the profile as of t=1000,
    // the 9 rows before are padding.
    expect(Array.from(obs0.subarray(90, 100))).toEqual(Array.from(userProfileAt(log, seqs, 0, 1000)));
    expect(obs0.subarray(0, 90).every((x) => x === 0)).toBe(true);
    const r = env.step(new Int32Array([0]));
    // Now at buy 3 (t=10010): two purchases; the newest row is the profile through t=10010.
    expect(Array.from(r.obs.subarray(90, 100))).toEqual(Array.from(userProfileAt(log, seqs, 0, 10010)));
    expect(Array.from(r.obs.subarray(80, 90))).toEqual(Array.from(userProfileAt(log, seqs, 0, 1000)));

    const inter = handEnv({ history: 'interacted', historyLength: 3 }).env;
    const o = inter.reset(new Int32Array([1]));
    // last 3 interactions through pv 5: none (padding), buy 1 (t=1000), pv 5 (t=10000)
    expect(Array.from(o.subarray(0, 10))).toEqual(new Array(10).fill(0));
    expect(Array.from(o.subarray(10, 20))).toEqual(Array.from(userProfileAt(log, seqs, 0, 1000)));
    expect(Array.from(o.subarray(20, 30))).toEqual(Array.from(userProfileAt(log, seqs, 0, 10000)));
  });

  it('adds the history item ids with itemHistory, and observeAt rebuilds the replay state at any position', () => {
    const { env, log } = handEnv({ history: 'interacted', historyLength: 3, itemHistory: true });
    const seqs = userSequences(log);
    expect(env.observation.shape).toEqual([3, 11]);
    const o = env.reset(new Int32Array([1]));
    // Through pv 5 the last 3 interactions are: padding, buy item 1 (t=1000), pv item 5 (t=10000).
    expect(o[10]).toBe(-1);
    expect(Array.from(o.subarray(11, 21))).toEqual(Array.from(userProfileAt(log, seqs, 0, 1000)));
    expect(o[21]).toBe(1);
    expect(o[32]).toBe(5);
    const r = env.step(new Int32Array([0]));
    // After the step the user is at buy 3: items 1, 5, 3 (oldest first).
    expect([r.obs[10], r.obs[21], r.obs[32]]).toEqual([1, 5, 3]);
    // observeAt: user 0 at sequence position 2 (the buy of item 3) is the state just returned by step;
    // position -1 is all padding; user 1 at its first event has items [-1, -1, 2].
    const at = env.observeAt(new Int32Array([0, 0, 1]), new Int32Array([seqs.offsets[0] + 2, -1, seqs.offsets[1]]));
    expect(Array.from(at.subarray(0, 33))).toEqual(Array.from(r.obs));
    expect([at[33 + 10], at[33 + 21], at[33 + 32]]).toEqual([-1, -1, -1]);
    expect(at.subarray(33, 66).filter((x) => x !== -1).every((x) => x === 0)).toBe(true);
    expect([at[66 + 10], at[66 + 21], at[66 + 32]]).toEqual([-1, -1, 2]);
    expect(() => env.observeAt(new Int32Array([1]), new Int32Array([0]))).toThrow(/position outside the user's sequence/);
    // Without itemHistory the paper state is unchanged: 10 columns.
    expect(handEnv().env.observation.shape).toEqual([10, 10]);
  });

  it('exposes already-bought items for exclusion', () => {
    const { env } = handEnv({ excludeBought: true });
    env.reset(new Int32Array([1]));
    expect(Array.from(env.excluded().items)).toEqual([1]);
    env.step(new Int32Array([0]));
    expect(Array.from(env.excluded().items)).toEqual([1, 3]);
    const { env: off } = handEnv();
    off.reset(new Int32Array([1]));
    expect(off.excluded().items.length).toBe(0);
  });

  it('validates input, passes checkEnv and is deterministic by seed (synthetic log)', () => {
    const log = syntheticLog(20_000, 200, 3);
    const sessions = sessionize(log);
    const mk = (seed: number) => new LoggedReplayEnv({ log, sessions, batchSize: 16, slateSize: 5, seed });
    expect(checkEnv(mk(0)).warnings).toEqual([]);
    const a = rollout(mk(4), randomPolicy(2));
    const b = rollout(mk(4), randomPolicy(2));
    expect(b.episodeLength).toEqual(a.episodeLength);
    expect(b.episodeReturn).toEqual(a.episodeReturn);
    expect(rollout(mk(5), randomPolicy(2)).episodeLength).not.toEqual(a.episodeLength);
    const env = mk(0);
    expect(() => env.reset(new Int32Array(3))).toThrow(ShapeError);
    expect(() => env.reset(new Int32Array(16).fill(sessions.numSessions))).toThrow(InvalidArgumentError);
    const bad = { ...sessions, user: sessions.user.map((u) => u + 1) };
    expect(() => new LoggedReplayEnv({ log, sessions: bad })).toThrow(/consecutive run/);
  });

  it('sequential order replays every eligible session once per pass', () => {
    const log = syntheticLog(5_000, 50, 4);
    const sessions = sessionize(log);
    const env = new LoggedReplayEnv({ log, sessions, batchSize: 7, order: 'sequential' });
    const seen = new Set<number>();
    const n = env.eligibleSessions.length;
    const passes = Math.ceil(n / 7);
    for (let b = 0; b < passes; b++) {
      env.reset();
      for (const s of env.currentSessions()) seen.add(s);
    }
    // ceil(n / 7) batches of 7 cover all n eligible sessions (the last batch wraps around to the first ones).
    expect(seen.size).toBe(n);
    expect([...seen].every((s) => env.eligibleSessions.includes(s))).toBe(true);
  });

  const compare = (log: InteractionLog & { numItems?: number }) => {
    const sessions = sessionize(log);
    const counts = itemStats(log).count;
    const out: Record<string, number> = {};
    for (const target of ['next', 'rest-of-session'] as const) {
      for (const p of [randomPolicy(7), popularityPolicy(counts)]) {
        const env = new LoggedReplayEnv({ log, sessions, batchSize: 256, slateSize: 10, target, targetBehavior: 'any', seed: 1 });
        out[`${target}/${p.name}`] = rollout(env, p).meanReward;
      }
    }
    return out;
  };

  it('popularity hits more next items than random on the synthetic log', () => {
    const m = compare(syntheticLog(20_000, 200, 2));
    expect(m['next/popularity']).toBeGreaterThan(m['next/random']);
    expect(m['rest-of-session/popularity']).toBeGreaterThan(m['rest-of-session/random']);
  });

  it.skipIf(!hasHead)('popularity hits more next items than random on the real UserBehavior sample', async () => {
    const m = compare(await loadHead());
    expect(m['next/popularity']).toBeGreaterThan(m['next/random']);
    expect(m['rest-of-session/popularity']).toBeGreaterThan(2 * m['rest-of-session/random']);
  });
});
