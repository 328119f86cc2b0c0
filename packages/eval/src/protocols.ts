/**
 * Offline evaluation protocols. Each turns a dense-id interaction log into an `OfflineSplit`: rows a model may fit
 * on, and evaluation units (a user, or a session) each with a context (item ids in time order that the model may
 * read), a truth set (held-out items) and a seen set (items to exclude when `excludeSeen`). Every protocol ranks
 * over the full catalogue: no sampled negatives.
 *
 * (a) `lstmDqnSessionSplit` - the LSTM-DQN paper's protocol. Sessions (30-min gap) are split 70/30 at random with
 *     a seed. Training rows = all rows of the 70% sessions. A 30% session is a unit if it has a purchase; its truth
 *     = the distinct items bought in it; its context = the user's events strictly before the session's first
 *     purchase (earlier sessions and the session's own prefix; later events are never visible). Metrics: precision,
 *     recall, F1 and MAP at k over units, as defined in metrics.ts (P = hits/k, R = hits/|bought|,
 *     AP = sum_i rel_i P@i / min(|bought|, k)).
 *     F1: the paper's reported F1 values are not 2PR/(P+R) of its own reported P and R, so they cannot be an F1
 *     of the averages. We report `f1` = the mean over units of per-unit F1 (2 P_u R_u / (P_u + R_u), 0 when both
 *     are 0), which is the only reading under which averaged P, R and F1 can be mutually inconsistent in that way,
 *     and which is a per-unit quantity with a bootstrap interval; `f1OfMeans` = 2PR/(P+R) of the means is reported
 *     next to it. We cannot verify which the paper used from its text; compare with both.
 * (b) `leaveLastOutSplit` - per user with >= 2 events: truth = the item of the last event (optionally the last
 *     event of a given behavior), context = all earlier events; training rows = every row except the held-out
 *     ones. `excludeSeen` decides whether items in the context may be recommended (a repeat purchase can be right).
 * (c) `temporalSplit` - one global cutoff time: training rows = rows before it; units = users with rows on both
 *     sides; truth = distinct items (optionally of a behavior) at or after the cutoff; context = the user's rows
 *     before it.
 */
import { check, InvalidArgumentError, Rng } from '@rec/core';
import { userSequences, sessionize, type InteractionLog, Behavior } from '@rec/data';
import type { ItemsCsr } from './metrics.js';

export interface OfflineSplit {
  /** Protocol name and a one-line description with its parameters (goes into reports). */
  protocol: string;
  description: string;
  log: InteractionLog;
  numItems: number;
  numCategories: number;
  /** Row indices a model may train on (time order within each user not guaranteed; sort if you need it). */
  trainRows: Int32Array;
  /** Evaluation units (users or sessions). */
  numUnits: number;
  /** User id of each unit. */
  unitUser: Int32Array;
  /** Items the model may read for each unit, in time order. */
  context: ItemsCsr;
  /** Held-out relevant items per unit. */
  truth: ItemsCsr;
  /** Items to exclude from each unit's list when `excludeSeen` (the distinct context items). */
  seen: ItemsCsr;
  excludeSeen: boolean;
  /** Latest training timestamp: "now" for time-decayed baselines. */
  trainEndTime: number;
  /** Item -> category (from the log; -1 for items never seen). */
  itemCategory: Int32Array;
}

function maxPlusOne(a: ArrayLike<number>, n: number): number {
  let m = -1;
  for (let i = 0; i < n; i++) if (a[i] > m) m = a[i];
  return m + 1;
}

class CsrBuilder {
  offsets: number[] = [0];
  items: number[] = [];
  push(values: Iterable<number>): void {
    for (const v of values) this.items.push(v);
    this.offsets.push(this.items.length);
  }
  build(): ItemsCsr {
    return { offsets: Int32Array.from(this.offsets), items: Int32Array.from(this.items) };
  }
}

function distinct(values: number[]): number[] {
  return [...new Set(values)];
}

function baseFields(log: InteractionLog) {
  const numItems = (log as { numItems?: number }).numItems ?? maxPlusOne(log.item, log.numRows);
  const numCategories = (log as { numCategories?: number }).numCategories ?? maxPlusOne(log.category, log.numRows);
  const itemCategory = new Int32Array(numItems).fill(-1);
  for (let r = 0; r < log.numRows; r++) itemCategory[log.item[r]] = log.category[r];
  return { numItems, numCategories, itemCategory };
}

function trainEnd(log: InteractionLog, rows: Int32Array): number {
  let t = -Infinity;
  for (let i = 0; i < rows.length; i++) if (log.timestamp[rows[i]] > t) t = log.timestamp[rows[i]];
  return t;
}

export interface SessionSplitOptions {
  /** Share of sessions used for training (default 0.7). */
  trainShare?: number;
  seed?: number;
  /** Session gap in seconds (default 1800). */
  gapSeconds?: number;
  /** Exclude context items from the lists (default false: a user may buy what they viewed). */
  excludeSeen?: boolean;
}

/** Protocol (a): the LSTM-DQN paper's session split with held-out purchases. */
export function lstmDqnSessionSplit(log: InteractionLog, options: SessionSplitOptions = {}): OfflineSplit {
  const share = options.trainShare ?? 0.7;
  check(share > 0 && share < 1, 'lstmDqnSessionSplit(trainShare)', 'a share in (0, 1)', share);
  const seqs = userSequences(log);
  const sessions = sessionize(log, { gapSeconds: options.gapSeconds ?? 1800, sequences: seqs });
  const S = sessions.numSessions;
  const order = new Rng(options.seed ?? 0).shuffle(Int32Array.from({ length: S }, (_, i) => i));
  const nTrain = Math.round(share * S);
  const isTest = new Uint8Array(S);
  for (let i = nTrain; i < S; i++) isTest[order[i]] = 1;
  const train: number[] = [];
  const ctx = new CsrBuilder();
  const truth = new CsrBuilder();
  const seen = new CsrBuilder();
  const unitUser: number[] = [];
  // position of each row within its user's sequence, to take "events before" in O(1)
  const posInUser = new Int32Array(log.numRows);
  for (let u = 0; u < seqs.numUsers; u++) for (let j = seqs.offsets[u]; j < seqs.offsets[u + 1]; j++) posInUser[seqs.rows[j]] = j;
  for (let s = 0; s < S; s++) {
    const a = sessions.offsets[s];
    const b = sessions.offsets[s + 1];
    if (!isTest[s]) {
      for (let j = a; j < b; j++) train.push(sessions.rows[j]);
      continue;
    }
    let firstBuy = -1;
    const bought: number[] = [];
    for (let j = a; j < b; j++) {
      const r = sessions.rows[j];
      if (log.behavior[r] === Behavior.buy) {
        if (firstBuy < 0) firstBuy = j;
        bought.push(log.item[r]);
      }
    }
    if (firstBuy < 0) continue;
    const u = sessions.user[s];
    const start = seqs.offsets[u];
    const end = posInUser[sessions.rows[firstBuy]];
    const items: number[] = [];
    for (let j = start; j < end; j++) items.push(log.item[seqs.rows[j]]);
    unitUser.push(u);
    ctx.push(items);
    truth.push(distinct(bought));
    seen.push(distinct(items));
  }
  const trainRows = Int32Array.from(train);
  return {
    protocol: 'lstm-dqn-sessions',
    description: `sessions (gap ${options.gapSeconds ?? 1800}s) split ${Math.round(share * 100)}/${Math.round(
      (1 - share) * 100,
    )} at random (seed ${options.seed ?? 0}); units = test sessions with a purchase; truth = items bought in the session; context = user events before its first purchase`,
    log,
    ...baseFields(log),
    trainRows,
    numUnits: unitUser.length,
    unitUser: Int32Array.from(unitUser),
    context: ctx.build(),
    truth: truth.build(),
    seen: seen.build(),
    excludeSeen: options.excludeSeen ?? false,
    trainEndTime: trainEnd(log, trainRows),
  };
}

export interface LeaveLastOutOptions {
  /** Exclude the user's earlier items from the list (default true). */
  excludeSeen?: boolean;
  /** Hold out the last event of this behavior (e.g. Behavior.buy) instead of the last event of any kind. */
  targetBehavior?: number;
}

/** Protocol (b): full-ranking leave-last-out per user. */
export function leaveLastOutSplit(log: InteractionLog, options: LeaveLastOutOptions = {}): OfflineSplit {
  const seqs = userSequences(log);
  const held = new Uint8Array(log.numRows);
  const ctx = new CsrBuilder();
  const truth = new CsrBuilder();
  const seen = new CsrBuilder();
  const unitUser: number[] = [];
  for (let u = 0; u < seqs.numUsers; u++) {
    const a = seqs.offsets[u];
    const b = seqs.offsets[u + 1];
    let last = -1;
    for (let j = b - 1; j >= a; j--) {
      if (options.targetBehavior === undefined || log.behavior[seqs.rows[j]] === options.targetBehavior) {
        last = j;
        break;
      }
    }
    if (last <= a) continue; // needs at least one earlier event
    const items: number[] = [];
    for (let j = a; j < last; j++) items.push(log.item[seqs.rows[j]]);
    // events after the held-out one (other behaviors) are neither context nor training
    for (let j = last; j < b; j++) held[seqs.rows[j]] = 1;
    unitUser.push(u);
    ctx.push(items);
    truth.push([log.item[seqs.rows[last]]]);
    seen.push(distinct(items));
  }
  const train: number[] = [];
  for (let r = 0; r < log.numRows; r++) if (!held[r]) train.push(r);
  const trainRows = Int32Array.from(train);
  return {
    protocol: 'leave-last-out',
    description: `per user, the last ${options.targetBehavior === undefined ? 'event' : `event of behavior ${options.targetBehavior}`} held out; full ranking over all items; seen items ${
      options.excludeSeen ?? true ? 'excluded' : 'allowed'
    }`,
    log,
    ...baseFields(log),
    trainRows,
    numUnits: unitUser.length,
    unitUser: Int32Array.from(unitUser),
    context: ctx.build(),
    truth: truth.build(),
    seen: seen.build(),
    excludeSeen: options.excludeSeen ?? true,
    trainEndTime: trainEnd(log, trainRows),
  };
}

export interface TemporalSplitOptions {
  /** Cutoff timestamp; default: the time below which `trainShare` of the rows fall. */
  cutoff?: number;
  /** Share of rows before the cutoff when `cutoff` is not given (default 0.8). */
  trainShare?: number;
  excludeSeen?: boolean;
  /** Only items with this behavior after the cutoff count as truth. */
  targetBehavior?: number;
}

/** Protocol (c): one global temporal cutoff. */
export function temporalSplit(log: InteractionLog, options: TemporalSplitOptions = {}): OfflineSplit {
  let cutoff = options.cutoff;
  if (cutoff === undefined) {
    const share = options.trainShare ?? 0.8;
    check(share > 0 && share < 1, 'temporalSplit(trainShare)', 'a share in (0, 1)', share);
    const ts = Float64Array.from(log.timestamp.subarray(0, log.numRows)).sort();
    cutoff = ts[Math.min(ts.length - 1, Math.floor(share * ts.length))];
  }
  const seqs = userSequences(log);
  const ctx = new CsrBuilder();
  const truth = new CsrBuilder();
  const seen = new CsrBuilder();
  const unitUser: number[] = [];
  const train: number[] = [];
  for (let r = 0; r < log.numRows; r++) if (log.timestamp[r] < cutoff) train.push(r);
  for (let u = 0; u < seqs.numUsers; u++) {
    const before: number[] = [];
    const after: number[] = [];
    for (let j = seqs.offsets[u]; j < seqs.offsets[u + 1]; j++) {
      const r = seqs.rows[j];
      if (log.timestamp[r] < cutoff) before.push(log.item[r]);
      else if (options.targetBehavior === undefined || log.behavior[r] === options.targetBehavior) after.push(log.item[r]);
    }
    if (before.length === 0 || after.length === 0) continue;
    unitUser.push(u);
    ctx.push(before);
    truth.push(distinct(after));
    seen.push(distinct(before));
  }
  if (unitUser.length === 0) {
    throw new InvalidArgumentError('no user has events on both sides of the cutoff', {
      where: 'temporalSplit',
      expected: 'a cutoff inside the log time range',
      got: cutoff,
      hint: 'Choose a later cutoff or a larger trainShare.',
    });
  }
  const trainRows = Int32Array.from(train);
  return {
    protocol: 'temporal',
    description: `global cutoff t=${cutoff}; train = rows before it; truth = distinct ${
      options.targetBehavior === undefined ? '' : `behavior-${options.targetBehavior} `
    }items after it per user; seen items ${options.excludeSeen ?? true ? 'excluded' : 'allowed'}`,
    log,
    ...baseFields(log),
    trainRows,
    numUnits: unitUser.length,
    unitUser: Int32Array.from(unitUser),
    context: ctx.build(),
    truth: truth.build(),
    seen: seen.build(),
    excludeSeen: options.excludeSeen ?? true,
    trainEndTime: trainEnd(log, trainRows),
  };
}
