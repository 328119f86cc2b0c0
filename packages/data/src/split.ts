/**
 * Train/test splits that do not leak the future into training.
 *
 * Every split returns row-index arrays (`train`, `test`, ascending, disjoint, together all rows); `subLog` turns
 * indices into a log. Per-user splits group users by their raw or dense id (dense ids are used when the log is an
 * IndexedLog).
 */
import { InvalidArgumentError, Rng } from '@rec/core';
import { orderByUserTime } from './ingest.js';
import { checkLog, denseColumn } from './reindex.js';
import type { IndexedLog, InteractionLog } from './types.js';

export interface RowSplit {
  train: Int32Array;
  test: Int32Array;
}

export interface TemporalSplit extends RowSplit {
  /** Train rows have `timestamp < cutoff`, test rows `timestamp >= cutoff`. */
  cutoff: number;
}

export interface UserSplit extends RowSplit {
  /** Dense (first-seen) user ids on each side. */
  trainUsers: Int32Array;
  testUsers: Int32Array;
}

function indicesWhere(n: number, pred: (i: number) => boolean): { yes: Int32Array; no: Int32Array } {
  let c = 0;
  const flag = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (pred(i)) {
    flag[i] = 1;
    c++;
  }
  const yes = new Int32Array(c);
  const no = new Int32Array(n - c);
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) if (flag[i]) yes[a++] = i;
  else no[b++] = i;
  return { yes, no };
}

/** The k-th smallest value (0-based): a histogram when the range is small (9 days of seconds), else a sorted copy. */
function kthSmallest(a: Int32Array, k: number): number {
  let min = a[0];
  let max = a[0];
  for (let i = 1; i < a.length; i++) {
    if (a[i] < min) min = a[i];
    else if (a[i] > max) max = a[i];
  }
  const range = max - min + 1;
  if (range > 4 * a.length + 1024) return a.slice().sort()[k];
  const counts = new Int32Array(range);
  for (let i = 0; i < a.length; i++) counts[a[i] - min]++;
  let seen = 0;
  for (let v = 0; v < range; v++) {
    seen += counts[v];
    if (seen > k) return v + min;
  }
  return max;
}

/**
 * Global temporal split: the cutoff is the timestamp at the `trainRatio` quantile of all rows; train is every row
 * strictly before it, test every row at or after it. Rows sharing a timestamp stay on one side, so the train share
 * can fall a little short of `trainRatio` (by the rows at the cutoff second). Every train event precedes every test event.
 */
export function temporalSplit(log: InteractionLog, options: { trainRatio?: number } = {}): TemporalSplit {
  checkLog(log, 'temporalSplit(log)');
  const ratio = options.trainRatio ?? 0.7;
  if (!(ratio > 0 && ratio < 1)) throw new InvalidArgumentError('invalid option', { where: 'temporalSplit.trainRatio', expected: 'a number in (0, 1)', got: ratio });
  const n = log.numRows;
  if (n === 0) return { train: new Int32Array(0), test: new Int32Array(0), cutoff: 0 };
  const T = log.timestamp;
  const cutoff = kthSmallest(T, Math.min(n - 1, Math.floor(ratio * n)));
  const { yes, no } = indicesWhere(n, (i) => T[i] < cutoff);
  return { train: yes, test: no, cutoff };
}

/**
 * Per-user leave-last-out: each user's last `n` events by time (ties: later row) go to test, the rest to train, so
 * a user's train events never come after their test events. Users with fewer than `minEvents` (default n + 1)
 * events stay entirely in train. Note: other users' train events may be later than a given test event; use
 * `temporalSplit` when the global clock matters.
 */
export function leaveLastOut(log: InteractionLog | IndexedLog, options: { n?: number; minEvents?: number } = {}): RowSplit {
  checkLog(log, 'leaveLastOut(log)');
  const k = options.n ?? 1;
  if (!(Number.isInteger(k) && k >= 1)) throw new InvalidArgumentError('invalid option', { where: 'leaveLastOut.n', expected: 'an integer >= 1', got: k });
  const minEvents = options.minEvents ?? k + 1;
  const order = orderByUserTime(log);
  const isTest = new Uint8Array(log.numRows);
  const U = log.user;
  let a = 0;
  while (a < order.length) {
    let b = a + 1;
    while (b < order.length && U[order[b]] === U[order[a]]) b++;
    if (b - a >= minEvents) for (let m = Math.max(a, b - k); m < b; m++) isTest[order[m]] = 1;
    a = b;
  }
  const { yes, no } = indicesWhere(log.numRows, (i) => isTest[i] === 0);
  return { train: yes, test: no };
}

/** Random user split: a seeded `testRatio` share of users (all their rows) go to test. */
export function randomUserSplit(log: InteractionLog | IndexedLog, options: { testRatio?: number; seed?: number; rng?: Rng } = {}): UserSplit {
  checkLog(log, 'randomUserSplit(log)');
  const ratio = options.testRatio ?? 0.2;
  if (!(ratio > 0 && ratio < 1)) throw new InvalidArgumentError('invalid option', { where: 'randomUserSplit.testRatio', expected: 'a number in (0, 1)', got: ratio });
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const indexed = 'numUsers' in log ? (log as IndexedLog) : null;
  const dense = indexed ? indexed.user : denseColumn(log.user).dense;
  const numUsers = indexed ? indexed.numUsers : dense.reduce((m, v) => Math.max(m, v + 1), 0);
  // Fisher-Yates over users; the first round(ratio * users) go to test.
  const perm = new Int32Array(numUsers);
  for (let u = 0; u < numUsers; u++) perm[u] = u;
  for (let u = numUsers - 1; u > 0; u--) {
    const j = rng.int(u + 1);
    const t = perm[u];
    perm[u] = perm[j];
    perm[j] = t;
  }
  const nTest = Math.round(ratio * numUsers);
  const testUser = new Uint8Array(numUsers);
  for (let m = 0; m < nTest; m++) testUser[perm[m]] = 1;
  const testUsers = perm.slice(0, nTest).sort();
  const trainUsers = perm.slice(nTest).sort();
  const { yes, no } = indicesWhere(log.numRows, (i) => testUser[dense[i]] === 0);
  return { train: yes, test: no, trainUsers, testUsers };
}

/** A new log holding `rows` of `log` in the given order (copies). For an IndexedLog, the ids and maps are kept. */
export function subLog<L extends InteractionLog>(log: L, rows: Int32Array): L {
  checkLog(log, 'subLog(log)');
  const n = rows.length;
  const pick = <T extends Int32Array | Uint8Array>(col: T, out: T): T => {
    for (let k = 0; k < n; k++) {
      const i = rows[k];
      if (!(i >= 0 && i < log.numRows)) throw new InvalidArgumentError('row index out of range', { where: `subLog.rows[${k}]`, expected: `an index in [0, ${log.numRows - 1}]`, got: i });
      out[k] = col[i];
    }
    return out;
  };
  return {
    ...log,
    numRows: n,
    user: pick(log.user, new Int32Array(n)),
    item: pick(log.item, new Int32Array(n)),
    category: pick(log.category, new Int32Array(n)),
    behavior: pick(log.behavior, new Uint8Array(n)),
    timestamp: pick(log.timestamp, new Int32Array(n)),
  };
}
