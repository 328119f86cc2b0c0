/**
 * User profile features (10-d, LSTM-DQN design) and per-event state encodings (20-d, variant design).
 *
 * No look-ahead: a profile "as of time t" reads only the user's events with `timestamp <= t`; the per-step
 * variants read only events at sequence positions `<= p` (or `< p` with `include: 'before'`). Positions follow
 * `userSequences` order (time, then row order), so events sharing a timestamp are split by position.
 * Everything is computed in one O(events) pass per user (counts are updated incrementally, no O(n^2)).
 */
import { check, InvalidArgumentError } from '@rec/core';
import { checkLog, denseSize } from './sessions.js';
import type { EntityStats } from './stats.js';
import { Behavior, type InteractionLog, type UserSequences } from './types.js';

const DAY = 86_400;

/** Names of the 10 user profile features, in column order. */
export const USER_PROFILE_FEATURES = [
  'purchaseDensity',
  'buyRate',
  'cartRate',
  'favRate',
  'viewRate',
  'categoryDiversity',
  'actionsPerDay',
  'hasPurchases',
  'topCategoryRatio',
  'accountAge',
] as const;
export const USER_PROFILE_DIM = 10;

export interface UserProfileOptions {
  /** Feature 0 counts buys among the last `recentWindow` events of the history (default 10). */
  recentWindow?: number;
  /** Feature 6 is log1p(actions per day) / log1p(actionsPerDayScale), clipped to 1 (default 500). */
  actionsPerDayScale?: number;
  /** Feature 9 is account age in days / ageScaleDays, clipped to 1 (default 9: the UserBehavior window). */
  ageScaleDays?: number;
  /** Per-step variants: 'through' (default) = the profile after event p; 'before' = from events before p only. */
  include?: 'through' | 'before';
}

/**
 * The 10 features, over a history of n >= 1 events ending at or before `tNow` (all zeros when n = 0):
 *  0 purchaseDensity   buys among the last W = recentWindow events / min(n, W): the recent purchase density
 *  1 buyRate           buys / n
 *  2 cartRate          carts / n
 *  3 favRate           favs / n
 *  4 viewRate          pvs / n
 *  5 categoryDiversity distinct categories / n
 *  6 actionsPerDay     log1p(n / max(1, (tNow - tFirst) / 86400)) / log1p(actionsPerDayScale), clipped to [0, 1]
 *  7 hasPurchases      1 if any buy, else 0
 *  8 topCategoryRatio  events in the most frequent category / n
 *  9 accountAge        (tNow - tFirst) / 86400 / ageScaleDays, clipped to [0, 1]; tFirst = first event's time
 * `tNow` is t for `userProfileAt`, and the timestamp of event p for the per-step variants.
 */
class ProfileAccumulator {
  n = 0;
  readonly counts = new Int32Array(4);
  distinct = 0;
  top = 0;
  tFirst = 0;
  recentBuys = 0;
  private readonly ring: Uint8Array;
  private readonly W: number;
  private readonly logApd: number;
  private readonly ageScale: number;

  constructor(
    private readonly catCount: Int32Array,
    opts: UserProfileOptions,
  ) {
    this.W = opts.recentWindow ?? 10;
    check(Number.isInteger(this.W) && this.W > 0, 'userProfile: recentWindow', 'a positive integer', this.W);
    const apd = opts.actionsPerDayScale ?? 500;
    check(apd > 0 && Number.isFinite(apd), 'userProfile: actionsPerDayScale', 'a positive number', apd);
    this.logApd = Math.log1p(apd);
    this.ageScale = opts.ageScaleDays ?? 9;
    check(this.ageScale > 0 && Number.isFinite(this.ageScale), 'userProfile: ageScaleDays', 'a positive number', this.ageScale);
    this.ring = new Uint8Array(this.W);
  }

  reset(): void {
    this.n = 0;
    this.counts.fill(0);
    this.distinct = 0;
    this.top = 0;
    this.recentBuys = 0;
  }

  add(behavior: number, category: number, t: number): void {
    if (this.n === 0) this.tFirst = t;
    const isBuy = behavior === Behavior.buy ? 1 : 0;
    const slot = this.n % this.W;
    if (this.n >= this.W) this.recentBuys -= this.ring[slot];
    this.ring[slot] = isBuy;
    this.recentBuys += isBuy;
    this.n++;
    this.counts[behavior]++;
    if (!(category >= 0 && category < this.catCount.length)) {
      throw new InvalidArgumentError('category id out of range', {
        where: 'userProfile',
        expected: `a dense category id in [0, ${this.catCount.length})`,
        got: category,
        hint: 'Re-index the log; do not change its columns after the first feature call.',
      });
    }
    const c = ++this.catCount[category];
    if (c === 1) this.distinct++;
    // Counts only grow within a prefix, so the running max is the top category count.
    if (c > this.top) this.top = c;
  }

  write(out: Float32Array, o: number, tNow: number): void {
    const n = this.n;
    if (n === 0) {
      out.fill(0, o, o + USER_PROFILE_DIM);
      return;
    }
    const ageDays = Math.max(0, tNow - this.tFirst) / DAY;
    out[o] = this.recentBuys / Math.min(n, this.W);
    out[o + 1] = this.counts[Behavior.buy] / n;
    out[o + 2] = this.counts[Behavior.cart] / n;
    out[o + 3] = this.counts[Behavior.fav] / n;
    out[o + 4] = this.counts[Behavior.pv] / n;
    out[o + 5] = this.distinct / n;
    out[o + 6] = Math.min(1, Math.log1p(n / Math.max(1, ageDays)) / this.logApd);
    out[o + 7] = this.counts[Behavior.buy] > 0 ? 1 : 0;
    out[o + 8] = this.top / n;
    out[o + 9] = Math.min(1, ageDays / this.ageScale);
  }
}

function checkSequences(log: InteractionLog, seqs: UserSequences, where: string): void {
  checkLog(log, where);
  check(
    seqs && seqs.offsets instanceof Int32Array && seqs.rows instanceof Int32Array && seqs.offsets.length === seqs.numUsers + 1,
    `${where}: sequences`,
    'UserSequences from userSequences(log)',
    seqs,
  );
}

function checkUser(seqs: UserSequences, user: number, where: string): void {
  check(Number.isInteger(user) && user >= 0 && user < seqs.numUsers, `${where}: user`, `a dense user id in [0, ${seqs.numUsers})`, user);
}

/**
 * Scratch counts per category (dense category ids), one per log, reused across calls so per-user calls stay
 * O(length) (sizing it scans the log once). Every user of it leaves it all-zero.
 */
const scratchByLog = new WeakMap<InteractionLog, Int32Array>();
function categoryScratch(log: InteractionLog, where: string): Int32Array {
  let s = scratchByLog.get(log);
  if (!s) {
    s = new Int32Array(Math.max(1, denseSize(log, 'category', where)));
    scratchByLog.set(log, s);
  }
  return s;
}

function clearCategories(scratch: Int32Array, cat: Int32Array, rows: Int32Array, a: number, b: number): void {
  for (let p = a; p < b; p++) scratch[cat[rows[p]]] = 0;
}

/**
 * The 10-d profile of `user` as of time `t`: from the user's events with `timestamp <= t` only.
 * Later events do not change it. Zeros when the user has no event by then.
 */
export function userProfileAt(
  log: InteractionLog,
  sequences: UserSequences,
  user: number,
  t: number,
  options: UserProfileOptions = {},
): Float32Array {
  checkSequences(log, sequences, 'userProfileAt');
  checkUser(sequences, user, 'userProfileAt');
  check(Number.isFinite(t), 'userProfileAt: t', 'a finite Unix time in seconds', t);
  const { offsets, rows } = sequences;
  const ts = log.timestamp;
  const a = offsets[user];
  // Binary search for the end of the prefix with timestamp <= t (sequences are time-sorted).
  let lo = a;
  let hi = offsets[user + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[rows[mid]] <= t) lo = mid + 1;
    else hi = mid;
  }
  const scratch = categoryScratch(log, 'userProfileAt');
  const acc = new ProfileAccumulator(scratch, options);
  for (let p = a; p < lo; p++) {
    const r = rows[p];
    acc.add(log.behavior[r], log.category[r], ts[r]);
  }
  clearCategories(scratch, log.category, rows, a, lo);
  const out = new Float32Array(USER_PROFILE_DIM);
  acc.write(out, 0, t);
  return out;
}

/**
 * The 10-d profile after each event of one user's history given as parallel arrays (oldest first), as
 * `userProfileSteps` computes it from a log: row p (10 floats) is the profile through event p (or, with
 * `include: 'before'`, from the events before p), as of event p's time. Categories are any integer labels (only
 * their equality matters: distinct count and top-category count), so a service can pass the raw category of each
 * event without a dense index. Same formula as the log path (one `ProfileAccumulator`), so a model trained on
 * `userProfileAllSteps` sees the same numbers when its user's events come from elsewhere. O(n).
 */
export function userProfileFromEvents(
  behaviors: ArrayLike<number>,
  categories: ArrayLike<number>,
  timestamps: ArrayLike<number>,
  options: UserProfileOptions = {},
): Float32Array {
  const W = 'userProfileFromEvents';
  const n = behaviors?.length;
  check(Number.isInteger(n), `${W}(behaviors)`, 'an array of behavior codes 0..3', behaviors);
  check(categories?.length === n, `${W}(categories)`, `${n} category labels (one per event)`, categories?.length);
  check(timestamps?.length === n, `${W}(timestamps)`, `${n} Unix times in seconds (one per event)`, timestamps?.length);
  const local = new Map<number, number>();
  const dense = new Int32Array(n);
  for (let p = 0; p < n; p++) {
    const b = behaviors[p];
    if (!(b === 0 || b === 1 || b === 2 || b === 3)) check(false, `${W}(behaviors[${p}])`, 'a behavior code 0 (pv), 1 (cart), 2 (fav) or 3 (buy)', b);
    const c = categories[p];
    if (!Number.isInteger(c)) check(false, `${W}(categories[${p}])`, 'an integer category label', c);
    if (!Number.isFinite(timestamps[p])) check(false, `${W}(timestamps[${p}])`, 'a finite Unix time in seconds', timestamps[p]);
    let d = local.get(c);
    if (d === undefined) local.set(c, (d = local.size));
    dense[p] = d;
  }
  const acc = new ProfileAccumulator(new Int32Array(Math.max(1, local.size)), options);
  const out = new Float32Array(n * USER_PROFILE_DIM);
  // The log path's own loop over a one-user "log" (profileRun reads only these three columns).
  const columns = { behavior: Uint8Array.from(behaviors), category: dense, timestamp: Float64Array.from(timestamps) } as unknown as InteractionLog;
  profileRun(columns, Int32Array.from({ length: n }, (_, p) => p), 0, n, acc, out, 0, options.include === 'before');
  return out;
}

function profileRun(
  log: InteractionLog,
  rows: Int32Array,
  a: number,
  b: number,
  acc: ProfileAccumulator,
  out: Float32Array,
  outRow: number,
  before: boolean,
): void {
  const { behavior, category, timestamp } = log;
  acc.reset();
  for (let p = a; p < b; p++) {
    const r = rows[p];
    const o = (outRow + p - a) * USER_PROFILE_DIM;
    if (before) {
      acc.write(out, o, timestamp[r]);
      acc.add(behavior[r], category[r], timestamp[r]);
    } else {
      acc.add(behavior[r], category[r], timestamp[r]);
      acc.write(out, o, timestamp[r]);
    }
  }
}

/**
 * Profiles at every step of one user's sequence: row p (10 floats) is the profile after event p
 * (`include: 'through'`, default) or from events before p (`'before'`), as of event p's time. O(length).
 */
export function userProfileSteps(
  log: InteractionLog,
  sequences: UserSequences,
  user: number,
  options: UserProfileOptions = {},
): Float32Array {
  checkSequences(log, sequences, 'userProfileSteps');
  checkUser(sequences, user, 'userProfileSteps');
  const a = sequences.offsets[user];
  const b = sequences.offsets[user + 1];
  const scratch = categoryScratch(log, 'userProfileSteps');
  const acc = new ProfileAccumulator(scratch, options);
  const out = new Float32Array((b - a) * USER_PROFILE_DIM);
  profileRun(log, sequences.rows, a, b, acc, out, 0, options.include === 'before');
  clearCategories(scratch, log.category, sequences.rows, a, b);
  return out;
}

/**
 * Profiles at every step of every user: a Float32Array of `sequences.rows.length * 10`, row j aligned with
 * `sequences.rows[j]` (so user u's steps are rows offsets[u]..offsets[u+1]). One O(rows) pass.
 * Memory is 40 bytes per event: for the full 100M-row log, call `userProfileSteps` per user instead.
 */
export function userProfileAllSteps(log: InteractionLog, sequences: UserSequences, options: UserProfileOptions = {}): Float32Array {
  checkSequences(log, sequences, 'userProfileAllSteps');
  const scratch = categoryScratch(log, 'userProfileAllSteps');
  const acc = new ProfileAccumulator(scratch, options);
  const { offsets, rows } = sequences;
  const out = new Float32Array(rows.length * USER_PROFILE_DIM);
  const before = options.include === 'before';
  for (let u = 0; u < sequences.numUsers; u++) {
    const a = offsets[u];
    const b = offsets[u + 1];
    if (a === b) continue;
    profileRun(log, rows, a, b, acc, out, a, before);
    clearCategories(scratch, log.category, rows, a, b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// 20-d per-event state encoding

/**
 * Column layout of the per-event state (all values in [0, 1]):
 *  0      itemId            item / (numItems - 1)
 *  1      itemPopularity    log1p(count) / log1p(max count)   (from `items` stats: pass training-split stats)
 *  2      itemCartRate      item cart / pv, clipped to 1
 *  3      itemFavRate       item fav / pv, clipped to 1
 *  4      itemBuyRate       item buy / pv, clipped to 1
 *  5      categoryId        category / (numCategories - 1)
 *  6      categoryBuyRate   category buy / pv, clipped to 1
 *  7..10  behavior one-hot  pv, cart, fav, buy
 *  11     timeSinceLast     log1p(seconds since the user's previous event) / log1p(gapScaleSeconds), clipped; 1 on the first event
 *  12     userBuyRate       buys / n over the user's events 0..p (this one included)
 *  13     activity          log1p(n) / log1p(activityScale), n = p + 1
 *  14     categoryDiversity distinct categories / n over events 0..p
 *  15     position          log1p(p) / log1p(positionScale), clipped (p = 0-based position; never uses sequence length)
 *  16..19 reserved          zeros
 * The issue lists 16 named columns plus "5 reserved" (21) yet calls it 20-d; the dimension is kept at 20, so
 * there are 4 reserved columns.
 */
export const EVENT_STATE_FEATURES = [
  'itemId',
  'itemPopularity',
  'itemCartRate',
  'itemFavRate',
  'itemBuyRate',
  'categoryId',
  'categoryBuyRate',
  'isPv',
  'isCart',
  'isFav',
  'isBuy',
  'timeSinceLast',
  'userBuyRate',
  'activity',
  'categoryDiversity',
  'position',
  'reserved0',
  'reserved1',
  'reserved2',
  'reserved3',
] as const;
export const EVENT_STATE_DIM = 20;

export interface EventStateOptions {
  /** Item statistics (compute from the training rows only to avoid leakage). */
  items: EntityStats;
  /** Category statistics (same). */
  categories: EntityStats;
  /** Normaliser of item ids; default `items.size`. */
  numItems?: number;
  /** Normaliser of category ids; default `categories.size`. */
  numCategories?: number;
  /** Default 9 days (777,600 s). */
  gapScaleSeconds?: number;
  /** Default 1000 events. */
  activityScale?: number;
  /** Default 1000. */
  positionScale?: number;
}

interface StateCtx {
  items: EntityStats;
  cats: EntityStats;
  itemDen: number;
  catDen: number;
  logGap: number;
  logAct: number;
  logPos: number;
}

function stateCtx(o: EventStateOptions, where: string): StateCtx {
  check(o && o.items && o.items.popularity instanceof Float32Array, `${where}: options.items`, 'EntityStats from itemStats()', o?.items);
  check(o.categories && o.categories.buyRate instanceof Float32Array, `${where}: options.categories`, 'EntityStats from categoryStats()', o?.categories);
  const numItems = o.numItems ?? o.items.size;
  const numCats = o.numCategories ?? o.categories.size;
  const gap = o.gapScaleSeconds ?? 9 * DAY;
  const act = o.activityScale ?? 1000;
  const pos = o.positionScale ?? 1000;
  for (const [k, v] of [['gapScaleSeconds', gap], ['activityScale', act], ['positionScale', pos]] as const) {
    check(v > 0 && Number.isFinite(v), `${where}: ${k}`, 'a positive number', v);
  }
  return {
    items: o.items,
    cats: o.categories,
    itemDen: Math.max(1, numItems - 1),
    catDen: Math.max(1, numCats - 1),
    logGap: Math.log1p(gap),
    logAct: Math.log1p(act),
    logPos: Math.log1p(pos),
  };
}

function stateRun(
  log: InteractionLog,
  rows: Int32Array,
  a: number,
  b: number,
  ctx: StateCtx,
  scratch: Int32Array,
  out: Float32Array,
  outRow: number,
  where: string,
): void {
  const { item, category, behavior, timestamp } = log;
  const { items, cats } = ctx;
  let buys = 0;
  let distinct = 0;
  let prevT = 0;
  for (let p = a; p < b; p++) {
    const r = rows[p];
    const it = item[r];
    const c = category[r];
    const beh = behavior[r];
    if (it < 0 || it >= items.size || c < 0 || c >= cats.size) {
      throw new InvalidArgumentError('id outside the statistics', {
        where: `${where}: row ${r}`,
        expected: `item in [0, ${items.size}) and category in [0, ${cats.size})`,
        got: { item: it, category: c },
        hint: 'Compute itemStats/categoryStats with size = numItems/numCategories of the whole indexed log (rows = the training split).',
      });
    }
    const k = p - a;
    const n = k + 1;
    if (beh === Behavior.buy) buys++;
    if (++scratch[c] === 1) distinct++;
    const o = (outRow + k) * EVENT_STATE_DIM;
    out[o] = it / ctx.itemDen;
    out[o + 1] = items.popularity[it];
    out[o + 2] = items.cartRate[it];
    out[o + 3] = items.favRate[it];
    out[o + 4] = items.buyRate[it];
    out[o + 5] = c / ctx.catDen;
    out[o + 6] = cats.buyRate[c];
    out[o + 7 + beh] = 1;
    const t = timestamp[r];
    out[o + 11] = k === 0 ? 1 : Math.min(1, Math.log1p(Math.max(0, t - prevT)) / ctx.logGap);
    prevT = t;
    out[o + 12] = buys / n;
    out[o + 13] = Math.min(1, Math.log1p(n) / ctx.logAct);
    out[o + 14] = distinct / n;
    out[o + 15] = Math.min(1, Math.log1p(k) / ctx.logPos);
    // 16..19 stay zero (reserved).
  }
}

/** The 20-d states of every event of one user's sequence: `length * 20` floats, row p for position p. */
export function eventStateSteps(
  log: InteractionLog,
  sequences: UserSequences,
  user: number,
  options: EventStateOptions,
): Float32Array {
  checkSequences(log, sequences, 'eventStateSteps');
  checkUser(sequences, user, 'eventStateSteps');
  const ctx = stateCtx(options, 'eventStateSteps');
  const a = sequences.offsets[user];
  const b = sequences.offsets[user + 1];
  const out = new Float32Array((b - a) * EVENT_STATE_DIM);
  stateRun(log, sequences.rows, a, b, ctx, new Int32Array(Math.max(1, ctx.cats.size)), out, 0, 'eventStateSteps');
  return out;
}

/**
 * The 20-d states of every event: `sequences.rows.length * 20` floats, row j aligned with `sequences.rows[j]`.
 * 80 bytes per event: for very large logs call `eventStateSteps` per user.
 */
export function eventStateFeatures(log: InteractionLog, sequences: UserSequences, options: EventStateOptions): Float32Array {
  checkSequences(log, sequences, 'eventStateFeatures');
  const ctx = stateCtx(options, 'eventStateFeatures');
  const { offsets, rows } = sequences;
  const out = new Float32Array(rows.length * EVENT_STATE_DIM);
  const scratch = new Int32Array(Math.max(1, ctx.cats.size));
  for (let u = 0; u < sequences.numUsers; u++) {
    const a = offsets[u];
    const b = offsets[u + 1];
    if (a === b) continue;
    stateRun(log, rows, a, b, ctx, scratch, out, a, 'eventStateFeatures');
    clearCategories(scratch, log.category, rows, a, b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Features for chosen rows (e.g. the events of sampled sessions)

/**
 * Shared driver: for each requested row, the feature row at that event's position in its user's sequence.
 * Only the users that own requested rows are computed, each once, in O(their sequence lengths).
 */
function forRows(
  log: InteractionLog,
  sequences: UserSequences,
  rows: Int32Array,
  dim: number,
  where: string,
  runUser: (u: number, a: number, b: number, buf: Float32Array) => void,
): Float32Array {
  checkSequences(log, sequences, where);
  check(rows instanceof Int32Array, `${where}: rows`, 'an Int32Array of row indices', rows);
  const { offsets, rows: seqRows } = sequences;
  const U = sequences.numUsers;
  // Position of each requested row inside its user's sequence: invert the sequence order once for the users needed.
  const want = new Int32Array(U + 1);
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j];
    if (!(r >= 0 && r < log.numRows)) check(false, `${where}: rows[${j}]`, `a row index in [0, ${log.numRows})`, r);
    const u = log.user[r];
    if (!(u >= 0 && u < U)) check(false, `${where}: rows[${j}]`, `a row of a user in [0, ${U})`, u);
    want[u + 1]++;
  }
  for (let u = 0; u < U; u++) want[u + 1] += want[u];
  const order = new Int32Array(rows.length);
  const cursor = want.slice(0, U);
  for (let j = 0; j < rows.length; j++) order[cursor[log.user[rows[j]]]++] = j;
  const out = new Float32Array(rows.length * dim);
  let buf = new Float32Array(0);
  const pos = new Map<number, number>();
  for (let u = 0; u < U; u++) {
    if (want[u] === want[u + 1]) continue;
    const a = offsets[u];
    const b = offsets[u + 1];
    if (buf.length < (b - a) * dim) buf = new Float32Array((b - a) * dim * 2);
    runUser(u, a, b, buf);
    pos.clear();
    for (let p = a; p < b; p++) pos.set(seqRows[p], p - a);
    for (let k = want[u]; k < want[u + 1]; k++) {
      const j = order[k];
      const p = pos.get(rows[j]);
      if (p === undefined) {
        throw new InvalidArgumentError('row not in the sequences', {
          where: `${where}: rows[${j}]`,
          expected: 'a row present in the sequences',
          got: rows[j],
          hint: 'Build the sequences from the same log.',
        });
      }
      out.set(buf.subarray(p * dim, p * dim + dim), j * dim);
    }
  }
  return out;
}

/**
 * 10-d profiles for chosen rows (for instance `sessions.rows` of sampled sessions): output row j is the profile at
 * `rows[j]`'s position in its user's whole sequence (earlier sessions count as history), as in `userProfileSteps`.
 */
export function userProfileForRows(
  log: InteractionLog,
  sequences: UserSequences,
  rows: Int32Array,
  options: UserProfileOptions = {},
): Float32Array {
  const scratch = categoryScratch(log, 'userProfileForRows');
  const acc = new ProfileAccumulator(scratch, options);
  const before = options.include === 'before';
  return forRows(log, sequences, rows, USER_PROFILE_DIM, 'userProfileForRows', (_u, a, b, buf) => {
    profileRun(log, sequences.rows, a, b, acc, buf, 0, before);
    clearCategories(scratch, log.category, sequences.rows, a, b);
  });
}

/** 20-d event states for chosen rows (e.g. `sessions.rows`): output row j is the state of event `rows[j]`. */
export function eventStateForRows(
  log: InteractionLog,
  sequences: UserSequences,
  rows: Int32Array,
  options: EventStateOptions,
): Float32Array {
  const ctx = stateCtx(options, 'eventStateForRows');
  const scratch = new Int32Array(Math.max(1, ctx.cats.size));
  return forRows(log, sequences, rows, EVENT_STATE_DIM, 'eventStateForRows', (_u, a, b, buf) => {
    buf.fill(0, 0, (b - a) * EVENT_STATE_DIM);
    stateRun(log, sequences.rows, a, b, ctx, scratch, buf, 0, 'eventStateForRows');
    clearCategories(scratch, log.category, sequences.rows, a, b);
  });
}
