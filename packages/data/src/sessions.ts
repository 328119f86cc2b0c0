/**
 * Per-user sequences and sessions, in CSR form over row indices of an `InteractionLog`.
 *
 * Every function here expects dense user ids (0..numUsers-1): an `IndexedLog` from `reindex`, or a log whose
 * user column already is dense. Raw ids (UserBehavior's up to ~1e6) also work but size the offsets by the
 * largest id, so re-index first for sparse ids.
 */
import { InvalidArgumentError, Rng, check } from '@rec/core';
import { Behavior, type InteractionLog, type Sessions, type UserSequences } from './types.js';

/** Default session gap: a new session starts when the gap to the previous event exceeds 30 minutes. */
export const DEFAULT_SESSION_GAP_SECONDS = 1800;
/** Number of sessions the LSTM-DQN paper sampled for training. */
export const PAPER_SESSION_SAMPLE_SIZE = 100_000;

/** Number of dense ids in a column: `numUsers`/`numItems`/`numCategories` when the log carries it, else max + 1. */
export function denseSize(log: InteractionLog, column: 'user' | 'item' | 'category', where = 'denseSize'): number {
  const known = (log as Partial<Record<'numUsers' | 'numItems' | 'numCategories', number>>)[
    column === 'user' ? 'numUsers' : column === 'item' ? 'numItems' : 'numCategories'
  ];
  if (typeof known === 'number') return known;
  const col = log[column];
  let max = -1;
  for (let r = 0; r < log.numRows; r++) {
    const v = col[r];
    if (v < 0) {
      throw new InvalidArgumentError(`negative ${column} id`, {
        where: `${where}: row ${r}`,
        expected: 'dense ids >= 0',
        got: v,
        hint: 'Re-index the log (reindex) before building sequences or features.',
      });
    }
    if (v > max) max = v;
  }
  return max + 1;
}

/** Check the columns of a log have `numRows` entries. */
export function checkLog(log: InteractionLog, where: string): void {
  check(log !== null && typeof log === 'object', where, 'an InteractionLog', log);
  check(Number.isInteger(log.numRows) && log.numRows >= 0, `${where}: log.numRows`, 'a non-negative integer', log.numRows);
  for (const c of ['user', 'item', 'category', 'behavior', 'timestamp'] as const) {
    const col = log[c];
    check(ArrayBuffer.isView(col) && col.length >= log.numRows, `${where}: log.${c}`, `a typed array of length >= numRows (${log.numRows})`, col);
  }
}

/**
 * Per-user event sequences sorted by time. Stable: events of one user with equal timestamps keep their row order.
 * O(rows) when each user's rows are already time-sorted (the UserBehavior file is), O(rows log rows) at worst.
 * `numUsers` defaults to `log.numUsers` (IndexedLog) or the largest user id + 1.
 */
export function userSequences(log: InteractionLog, numUsers?: number): UserSequences {
  checkLog(log, 'userSequences');
  const nu = numUsers ?? denseSize(log, 'user', 'userSequences');
  check(Number.isInteger(nu) && nu >= 0, 'userSequences: numUsers', 'a non-negative integer', nu);
  const n = log.numRows;
  const user = log.user;
  const ts = log.timestamp;
  const offsets = new Int32Array(nu + 1);
  for (let r = 0; r < n; r++) {
    const u = user[r];
    if (u < 0 || u >= nu) {
      throw new InvalidArgumentError('user id out of range', {
        where: `userSequences: row ${r}`,
        expected: `0 <= user < ${nu}`,
        got: u,
        hint: 'Re-index the log (reindex) or pass the right numUsers.',
      });
    }
    offsets[u + 1]++;
  }
  for (let u = 0; u < nu; u++) offsets[u + 1] += offsets[u];
  // Counting sort by user keeps row order within a user (stable).
  const cursor = offsets.slice(0, nu);
  const rows = new Int32Array(n);
  for (let r = 0; r < n; r++) rows[cursor[user[r]]++] = r;
  for (let u = 0; u < nu; u++) {
    const a = offsets[u];
    const b = offsets[u + 1];
    let sorted = true;
    for (let p = a + 1; p < b; p++) {
      if (ts[rows[p]] < ts[rows[p - 1]]) {
        sorted = false;
        break;
      }
    }
    // Row indices are ascending within a user here, so the tie-break on row index keeps the sort stable.
    if (!sorted) rows.subarray(a, b).sort((x, y) => ts[x] - ts[y] || x - y);
  }
  return { numUsers: nu, offsets, rows };
}

export interface SessionizeOptions {
  /** A new session starts when the gap to the previous event of the same user is strictly greater than this (seconds). Default 1800. */
  gapSeconds?: number;
  /** Reuse sequences already built from the same log. */
  sequences?: UserSequences;
}

/**
 * Cut each user's time-sorted sequence into sessions. The gap is `timestamp[next] - timestamp[prev]` in total
 * seconds (a gap of one day and ten seconds is 86,410 s, not 10 s), and a session ends where it exceeds
 * `gapSeconds`. Sessions are ordered by user, then time.
 */
export function sessionize(log: InteractionLog, options: SessionizeOptions = {}): Sessions {
  checkLog(log, 'sessionize');
  const gap = options.gapSeconds ?? DEFAULT_SESSION_GAP_SECONDS;
  check(typeof gap === 'number' && gap >= 0 && Number.isFinite(gap), 'sessionize: gapSeconds', 'a finite number >= 0', gap);
  const seqs = options.sequences ?? userSequences(log);
  const ts = log.timestamp;
  const { offsets: uo, rows } = seqs;
  // First pass counts sessions so the output is allocated once.
  let count = 0;
  for (let u = 0; u < seqs.numUsers; u++) {
    const a = uo[u];
    const b = uo[u + 1];
    if (b === a) continue;
    count++;
    for (let p = a + 1; p < b; p++) if (ts[rows[p]] - ts[rows[p - 1]] > gap) count++;
  }
  const offsets = new Int32Array(count + 1);
  const sessUser = new Int32Array(count);
  let s = 0;
  for (let u = 0; u < seqs.numUsers; u++) {
    const a = uo[u];
    const b = uo[u + 1];
    if (b === a) continue;
    offsets[s] = a;
    sessUser[s++] = u;
    for (let p = a + 1; p < b; p++) {
      if (ts[rows[p]] - ts[rows[p - 1]] > gap) {
        offsets[s] = p;
        sessUser[s++] = u;
      }
    }
  }
  offsets[count] = uo[seqs.numUsers];
  // Sessions cover every user's events, so the row array is the sequences' rows (shared, not copied).
  // If users with no events exist, the offsets still index into that same array.
  return { numSessions: count, offsets, rows, user: sessUser };
}

/** Session lengths (events per session). */
export function sessionLengths(sessions: Sessions): Int32Array {
  const out = new Int32Array(sessions.numSessions);
  for (let s = 0; s < sessions.numSessions; s++) out[s] = sessions.offsets[s + 1] - sessions.offsets[s];
  return out;
}

/** A new `Sessions` holding the listed sessions, in the given order; rows are copied so the result is compact. */
export function selectSessions(sessions: Sessions, indices: ArrayLike<number>): Sessions {
  let total = 0;
  for (let i = 0; i < indices.length; i++) {
    const s = indices[i];
    if (!(Number.isInteger(s) && s >= 0 && s < sessions.numSessions)) check(false, `selectSessions: indices[${i}]`, `a session index in [0, ${sessions.numSessions})`, s);
    total += sessions.offsets[s + 1] - sessions.offsets[s];
  }
  const offsets = new Int32Array(indices.length + 1);
  const rows = new Int32Array(total);
  const user = new Int32Array(indices.length);
  let w = 0;
  for (let i = 0; i < indices.length; i++) {
    const s = indices[i];
    offsets[i] = w;
    user[i] = sessions.user[s];
    rows.set(sessions.rows.subarray(sessions.offsets[s], sessions.offsets[s + 1]), w);
    w += sessions.offsets[s + 1] - sessions.offsets[s];
  }
  offsets[indices.length] = w;
  return { numSessions: indices.length, offsets, rows, user };
}

export interface SampleSessionsOptions {
  /** When k exceeds the number of sessions: 'all' returns every session (default), 'throw' raises. */
  ifTooFew?: 'all' | 'throw';
  /** Keep the sampled sessions in their original order (default true); false keeps the random draw order. */
  sorted?: boolean;
}

/**
 * k sessions drawn uniformly without replacement (the paper drew 100,000). Deterministic for a seed or Rng state.
 * By default the result keeps the original session order; pass `sorted: false` for random order.
 */
export function sampleSessions(sessions: Sessions, k: number, rng: Rng | number, options: SampleSessionsOptions = {}): Sessions {
  check(Number.isInteger(k) && k >= 0, 'sampleSessions: k', 'a non-negative integer', k);
  const r = typeof rng === 'number' ? new Rng(rng) : rng;
  check(r instanceof Rng, 'sampleSessions: rng', 'an Rng from @rec/core or a numeric seed', rng);
  let take = k;
  if (k > sessions.numSessions) {
    if (options.ifTooFew === 'throw') {
      throw new InvalidArgumentError('too few sessions to sample', {
        where: 'sampleSessions',
        expected: `k <= numSessions (${sessions.numSessions})`,
        got: k,
        hint: "Lower k, or pass { ifTooFew: 'all' } to take every session.",
      });
    }
    take = sessions.numSessions;
  }
  const picked = r.sampleWithoutReplacement(sessions.numSessions, take);
  if (options.sorted !== false) picked.sort();
  return selectSessions(sessions, picked);
}

export interface SessionFilter {
  /** Keep sessions with at least this many events (default 1). */
  minLength?: number;
  /** Keep sessions with at most this many events (default unlimited). */
  maxLength?: number;
  /** Keep only sessions containing at least one buy. */
  requirePurchase?: boolean;
}

/** Indices of the sessions passing the filter, ascending. */
export function filterSessionIndices(sessions: Sessions, log: InteractionLog, filter: SessionFilter): Int32Array {
  const minLen = filter.minLength ?? 1;
  const maxLen = filter.maxLength ?? Infinity;
  check(Number.isInteger(minLen) && minLen >= 0, 'filterSessions: minLength', 'a non-negative integer', minLen);
  check(maxLen === Infinity || (Number.isInteger(maxLen) && maxLen >= minLen), 'filterSessions: maxLength', `an integer >= minLength (${minLen})`, maxLen);
  const out = new Int32Array(sessions.numSessions);
  let w = 0;
  const beh = log.behavior;
  for (let s = 0; s < sessions.numSessions; s++) {
    const a = sessions.offsets[s];
    const b = sessions.offsets[s + 1];
    const len = b - a;
    if (len < minLen || len > maxLen) continue;
    if (filter.requirePurchase) {
      let has = false;
      for (let p = a; p < b; p++) {
        if (beh[sessions.rows[p]] === Behavior.buy) {
          has = true;
          break;
        }
      }
      if (!has) continue;
    }
    out[w++] = s;
  }
  return out.slice(0, w);
}

/** The sessions passing the filter (min/max length, containing a purchase), as a compact `Sessions`. */
export function filterSessions(sessions: Sessions, log: InteractionLog, filter: SessionFilter): Sessions {
  return selectSessions(sessions, filterSessionIndices(sessions, log, filter));
}
