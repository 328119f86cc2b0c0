/**
 * A seeded generator of UserBehavior-format logs (`user_id,item_id,category_id,behavior_type,timestamp`), from a
 * latent user-preference model calibrated to the full Alibaba/Taobao log:
 *
 * - Users come out grouped, in **string order of user id** ("1" < "10" < "100" < "2"), each user's rows sorted
 *   by time, exactly like the original file. User ids are 1..users.
 * - Categories have Zipf-like popularity (exponent `categoryZipf`); each owns a contiguous block of items whose
 *   size grows with the category's popularity; inside a block item popularity is Zipf-like too (`itemZipf`), so
 *   global item popularity is long-tailed. Raw item and category ids are a fixed scramble of the dense index so
 *   ids carry no popularity signal.
 * - Each user prefers a few categories (drawn by popularity, Dirichlet-like weights) and explores the rest now
 *   and then. Activity is log-normal (mean rows/users), split into bursty sessions: session starts follow a
 *   day/night profile (Beijing time) and are at least 30 minutes apart; events inside a session are seconds to
 *   minutes apart (log-normal, capped below 30 minutes).
 * - Behaviors follow the funnel mix (pv 89.6 / cart 5.5 / fav 2.9 / buy 2.0 % by default). Carts, favs and buys
 *   mostly act on items the user viewed; a buy picks an item the user carted with probability `buyCartedBias`
 *   when there is one, so buys are much more likely for carted items.
 *
 * Memory is constant in the number of rows: per-category tables (O(categories)) and one user's events at a time.
 * The exact row count is hit by giving each user a log-normal share of the rows still to place.
 */
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { check, InvalidArgumentError, Rng } from '@rec/core';
import type { InteractionLog } from './types.js';

/** Facts of the full UserBehavior log, used as defaults. */
export const USER_BEHAVIOR_FULL = {
  rows: 100_150_807,
  users: 987_994,
  items: 4_162_024,
  categories: 9_439,
  /** 2017-11-25 00:00:00 Beijing time (UTC+8), Unix seconds. */
  start: 1_511_539_200,
  days: 9,
  mix: [0.896, 0.055, 0.029, 0.02] as readonly number[],
} as const;

export interface SyntheticOptions {
  /** Seed of everything (default 0). */
  seed?: number;
  /** Exact number of rows (default 100,150,807). */
  rows?: number;
  /** Number of users (default: rows * 987,994 / 100,150,807, at least 1). */
  users?: number;
  /** Item universe (default: 4,162,024 * (rows / full)^0.4: a small sample looks like a user sample of the full log). */
  items?: number;
  /** Category universe (default: 9,439 * (rows / full)^0.15, at most items). */
  categories?: number;
  /** Start of the window, Unix seconds (default 2017-11-25 00:00 Beijing). */
  start?: number;
  /** Window length in days (default 9). */
  days?: number;
  /** Behavior mix pv, cart, fav, buy (default 0.896, 0.055, 0.029, 0.02; normalised). */
  mix?: readonly number[];
  /** Zipf exponent of category popularity (default 1.0). */
  categoryZipf?: number;
  /** Zipf exponent of item popularity inside a category (default 0.8). */
  itemZipf?: number;
  /** Log-normal sigma of events per user (default 0.6). */
  activitySigma?: number;
  /** Mean events per session (default 6; the real sample has mean 6, median 3). */
  meanSessionLength?: number;
  /** Median seconds between events of one session (default 45). */
  medianGapSeconds?: number;
  /** Probability that a view revisits one of the user's recent items (default 0.06). */
  revisitRate?: number;
  /** Probability that a cart/fav/buy acts on an item the user viewed (default 0.75). */
  actOnViewedRate?: number;
  /** Probability that a buy picks an item the user carted, when there is one (default 0.15). */
  buyCartedBias?: number;
  /** Probability that an event leaves the session's category (default 0.5). */
  categorySwitchRate?: number;
  /** Share of category switches that go to a category outside the user's preferences (default 0.5). */
  exploreRate?: number;
  /** Rows per chunk of the streaming writer (default 65,536). */
  chunkRows?: number;
}

/** Options with every default resolved. */
export type ResolvedSyntheticOptions = Required<SyntheticOptions>;

export function resolveSyntheticOptions(options: SyntheticOptions = {}): ResolvedSyntheticOptions {
  const F = USER_BEHAVIOR_FULL;
  const rows = options.rows ?? F.rows;
  check(Number.isInteger(rows) && rows >= 1, 'synthetic: rows', 'a positive integer', rows);
  const scale = rows / F.rows;
  const users = options.users ?? Math.max(1, Math.round(F.users * scale));
  check(Number.isInteger(users) && users >= 1 && users <= rows, 'synthetic: users', `an integer in [1, rows = ${rows}]`, users, 'Every user has at least one row.');
  const items = options.items ?? Math.max(10, Math.round(F.items * Math.pow(scale, 0.4)));
  check(Number.isInteger(items) && items >= 1 && items <= 0x7fffffff, 'synthetic: items', 'a positive integer', items);
  const categories = options.categories ?? Math.min(items, Math.max(2, Math.round(F.categories * Math.pow(scale, 0.15))));
  check(Number.isInteger(categories) && categories >= 1 && categories <= items, 'synthetic: categories', `an integer in [1, items = ${items}]`, categories);
  const mix = options.mix ?? F.mix;
  check(Array.isArray(mix) && mix.length === 4 && mix.every((p) => p >= 0 && Number.isFinite(p)) && mix[0] > 0, 'synthetic: mix', 'four non-negative weights pv, cart, fav, buy with pv > 0', mix);
  const total = mix[0] + mix[1] + mix[2] + mix[3];
  const r: ResolvedSyntheticOptions = {
    seed: options.seed ?? 0,
    rows,
    users,
    items,
    categories,
    start: options.start ?? F.start,
    days: options.days ?? F.days,
    mix: mix.map((p) => p / total),
    categoryZipf: options.categoryZipf ?? 1.0,
    itemZipf: options.itemZipf ?? 0.8,
    activitySigma: options.activitySigma ?? 0.6,
    meanSessionLength: options.meanSessionLength ?? 6,
    medianGapSeconds: options.medianGapSeconds ?? 45,
    revisitRate: options.revisitRate ?? 0.06,
    actOnViewedRate: options.actOnViewedRate ?? 0.75,
    buyCartedBias: options.buyCartedBias ?? 0.15,
    categorySwitchRate: options.categorySwitchRate ?? 0.5,
    exploreRate: options.exploreRate ?? 0.5,
    chunkRows: options.chunkRows ?? 65_536,
  };
  check(Number.isInteger(r.start), 'synthetic: start', 'an integer Unix time (seconds)', r.start);
  check(r.days > 0 && r.start + r.days * 86_400 < 2 ** 31, 'synthetic: days', 'a positive window ending before 2038', r.days);
  for (const k of ['categoryZipf', 'itemZipf', 'activitySigma'] as const) {
    check(r[k] >= 0 && Number.isFinite(r[k]), `synthetic: ${k}`, 'a finite number >= 0', r[k]);
  }
  check(r.meanSessionLength >= 1, 'synthetic: meanSessionLength', 'a number >= 1', r.meanSessionLength);
  check(r.medianGapSeconds > 0 && r.medianGapSeconds < 1800, 'synthetic: medianGapSeconds', 'a number in (0, 1800)', r.medianGapSeconds);
  for (const k of ['revisitRate', 'actOnViewedRate', 'buyCartedBias', 'categorySwitchRate', 'exploreRate'] as const) {
    check(r[k] >= 0 && r[k] <= 1, `synthetic: ${k}`, 'a probability in [0, 1]', r[k]);
  }
  check(Number.isInteger(r.chunkRows) && r.chunkRows >= 1, 'synthetic: chunkRows', 'a positive integer', r.chunkRows);
  return r;
}

/** The next user id after `x` in string order among 1..n (0 when done). Start from 1. O(1) amortised. */
export function nextInStringOrder(x: number, n: number): number {
  if (x * 10 <= n) return x * 10;
  let y = x;
  while (y % 10 === 9 || y + 1 > n) {
    y = Math.floor(y / 10);
    if (y === 0) return 0;
  }
  return y + 1;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A bijection of [0, n) (affine map with a multiplier coprime to n): raw id = scramble(dense) + 1. */
function affineScramble(n: number, rng: Rng): (i: number) => number {
  if (n <= 2) return (i) => i;
  let a = (Math.floor(n * 0.6180339887) | 1) + rng.int(1000);
  while (gcd(a, n) !== 1) a++;
  const b = rng.int(n);
  // i * a stays below 2^53 for n < 2^26 (67M); beyond that use the split multiply.
  if (n < 1 << 26) return (i) => (i * a + b) % n;
  return (i) => (((i * (a % 65536)) % n) + ((((i * Math.floor(a / 65536)) % n) * 65536) % n) + b) % n;
}

/**
 * Continuous approximation of a Zipf draw on ranks 0..n-1 with exponent s: inverse CDF of density x^-s on [1, n+1),
 * x = (1 + u ((n+1)^(1-s) - 1))^(1/(1-s)), or (n+1)^u when s = 1. `k` is the per-(n, s) constant from `zipfConst`,
 * so a draw costs one pow.
 */
function zipfConst(n: number, s: number): number {
  return Math.abs(s - 1) < 1e-9 ? Math.log(n + 1) : Math.pow(n + 1, 1 - s) - 1;
}
function zipfDraw(u: number, n: number, s: number, k: number): number {
  const x = Math.abs(s - 1) < 1e-9 ? Math.exp(u * k) : Math.pow(1 + u * k, 1 / (1 - s));
  const r = Math.floor(x) - 1;
  return r < 0 ? 0 : r >= n ? n - 1 : r;
}
/** Hourly weights of session starts by Beijing hour 0..23 (smoothed from the real sample: night lull, evening peak). */
const HOUR_WEIGHTS = [6, 3, 1.5, 1, 1, 1, 2, 4, 6, 7, 8, 8, 8, 8, 8, 9, 9, 8, 8, 9, 10, 11, 12, 10];

/** One user's rows, valid until the next iteration (buffers are reused). */
export interface SyntheticUserBlock {
  userId: number;
  length: number;
  item: Int32Array;
  category: Int32Array;
  behavior: Uint8Array;
  timestamp: Int32Array;
}

class Model {
  readonly o: ResolvedSyntheticOptions;
  readonly rng: Rng;
  readonly catStart: Int32Array;
  readonly catSize: Int32Array;
  /** zipfConst of each category's item block, and of the category ranks. */
  readonly catItemK: Float64Array;
  readonly catK: number;
  readonly itemRaw: (i: number) => number;
  readonly catRaw: (c: number) => number;
  readonly hourCdf: Float64Array;
  readonly windowEnd: number;

  constructor(o: ResolvedSyntheticOptions) {
    this.o = o;
    const root = new Rng(o.seed);
    const idRng = root.split('ids');
    this.rng = root.split('events');
    const C = o.categories;
    // Items per category proportional to popularity^0.8 (at least 1 each), blocks in category-rank order.
    const w = new Float64Array(C);
    let sw = 0;
    for (let c = 0; c < C; c++) sw += w[c] = Math.pow(c + 1, -0.8 * o.categoryZipf);
    this.catSize = new Int32Array(C);
    const spare = o.items - C;
    let assigned = 0;
    for (let c = 0; c < C; c++) {
      this.catSize[c] = 1 + Math.floor((w[c] / sw) * spare);
      assigned += this.catSize[c];
    }
    for (let c = 0; assigned < o.items; c = (c + 1) % C, assigned++) this.catSize[c]++;
    this.catStart = new Int32Array(C);
    for (let c = 1; c < C; c++) this.catStart[c] = this.catStart[c - 1] + this.catSize[c - 1];
    this.catItemK = new Float64Array(C);
    for (let c = 0; c < C; c++) this.catItemK[c] = zipfConst(this.catSize[c], o.itemZipf);
    this.catK = zipfConst(C, o.categoryZipf);
    const si = affineScramble(o.items, idRng);
    const sc = affineScramble(C, idRng);
    this.itemRaw = (i) => si(i) + 1;
    this.catRaw = (c) => sc(c) + 1;
    this.hourCdf = new Float64Array(24);
    let acc = 0;
    const hw = HOUR_WEIGHTS.reduce((a, b) => a + b, 0);
    for (let h = 0; h < 24; h++) this.hourCdf[h] = acc += HOUR_WEIGHTS[h] / hw;
    this.windowEnd = o.start + Math.floor(o.days * 86_400) - 1;
  }

  sessionStart(): number {
    const r = this.rng;
    const day = r.int(Math.max(1, Math.floor(this.o.days)));
    const u = r.next();
    let h = 0;
    while (h < 23 && this.hourCdf[h] < u) h++;
    return this.o.start + day * 86_400 + h * 3600 + r.int(3600);
  }

  itemIn(c: number): number {
    return this.catStart[c] + zipfDraw(this.rng.next(), this.catSize[c], this.o.itemZipf, this.catItemK[c]);
  }

  category(): number {
    return zipfDraw(this.rng.next(), this.o.categories, this.o.categoryZipf, this.catK);
  }
}

/**
 * The synthetic log, one user at a time in string order of user id (a sync generator; buffers are reused, copy
 * what you keep). The foundation of the CSV stream and of `generateSyntheticLog`.
 */
export function* syntheticUsers(options: SyntheticOptions = {}): Generator<SyntheticUserBlock> {
  const o = resolveSyntheticOptions(options);
  const m = new Model(o);
  const r = m.rng;
  let cap = 1024;
  let item = new Int32Array(cap);
  let category = new Int32Array(cap);
  let behavior = new Uint8Array(cap);
  let timestamp = new Int32Array(cap);
  let dense = new Int32Array(cap); // dense item index of each event (for revisits)
  const cartedIdx: number[] = [];
  const prefCats: number[] = [];
  const prefCdf: number[] = [];
  const sessLen: number[] = [];
  const starts: number[] = [];
  const mixCdf = [o.mix[0], o.mix[0] + o.mix[1], o.mix[0] + o.mix[1] + o.mix[2]];
  const sigma = o.activitySigma;
  const gapMu = Math.log(o.medianGapSeconds);
  let remaining = o.rows;
  let usersLeft = o.users;
  for (let uid = 1; uid !== 0; uid = nextInStringOrder(uid, o.users)) {
    // Events of this user: a log-normal share (mean 1) of the rows still to place; the last user takes the rest.
    let n: number;
    if (usersLeft === 1) n = remaining;
    else {
      const f = Math.exp(sigma * r.normal() - (sigma * sigma) / 2);
      n = Math.round((remaining / usersLeft) * f);
      n = Math.max(1, Math.min(remaining - (usersLeft - 1), n));
    }
    remaining -= n;
    usersLeft--;
    if (n > cap) {
      while (cap < n) cap *= 2;
      item = new Int32Array(cap);
      category = new Int32Array(cap);
      behavior = new Uint8Array(cap);
      timestamp = new Int32Array(cap);
      dense = new Int32Array(cap);
    }
    // Preferred categories, drawn by popularity, with Gamma(1) (Dirichlet) weights.
    const k = 2 + Math.min(30, Math.floor(r.exponential(1 / 4)));
    prefCats.length = 0;
    prefCdf.length = 0;
    let tw = 0;
    for (let j = 0; j < k; j++) {
      prefCats.push(m.category());
      tw += r.gamma(1);
      prefCdf.push(tw);
    }
    for (let j = 0; j < k; j++) prefCdf[j] /= tw;
    const prefCat = (): number => {
      const u = r.next();
      let j = 0;
      while (j < k - 1 && prefCdf[j] < u) j++;
      return prefCats[j];
    };
    // Sessions: count ~ n / meanSessionLength (at most ~13 per day so they fit the window), log-normal sizes.
    const maxSessions = Math.max(1, Math.floor(o.days * 13));
    const S = Math.max(1, Math.min(maxSessions, n, Math.round((n / o.meanSessionLength) * Math.exp(0.3 * r.normal()))));
    sessLen.length = 0;
    let sumW = 0;
    for (let s = 0; s < S; s++) {
      const wgt = Math.exp(1.3 * r.normal());
      sessLen.push(wgt);
      sumW += wgt;
    }
    // Every session gets one event, the rest in proportion to the weights (largest remainders not needed: the
    // last session absorbs rounding).
    let left = n - S;
    for (let s = 0; s < S; s++) {
      const extra = s === S - 1 ? left : Math.min(left, Math.floor((sessLen[s] / sumW) * (n - S)));
      sessLen[s] = 1 + extra;
      left -= extra;
    }
    starts.length = 0;
    for (let s = 0; s < S; s++) starts.push(m.sessionStart());
    starts.sort((a, b) => a - b);

    cartedIdx.length = 0;
    let e = 0;
    let t = 0;
    for (let s = 0; s < S; s++) {
      // Sessions are at least 30 min + 1 s apart so they stay separate sessions.
      t = s === 0 ? starts[0] : Math.max(starts[s], t + 1801);
      let sessCat = prefCat();
      for (let q = 0; q < sessLen[s]; q++) {
        if (q > 0) t += Math.min(1799, Math.round(Math.exp(gapMu + 1.6 * r.normal())));
        const ts = t > m.windowEnd ? m.windowEnd : t;
        const u = r.next();
        const beh = u < mixCdf[0] ? 0 : u < mixCdf[1] ? 1 : u < mixCdf[2] ? 2 : 3;
        let di = -1;
        if (beh === 3 && cartedIdx.length > 0 && r.next() < o.buyCartedBias) {
          di = cartedIdx[r.int(cartedIdx.length)];
        } else if (e > 0 && r.next() < (beh === 0 ? o.revisitRate : o.actOnViewedRate)) {
          // Revisit / act on one of the user's last 30 events' items.
          di = dense[e - 1 - r.int(Math.min(e, 30))];
        }
        let c: number;
        if (di < 0) {
          if (r.next() < o.categorySwitchRate) {
            sessCat = r.next() < o.exploreRate ? m.category() : prefCat();
          }
          c = sessCat;
          di = m.itemIn(c);
        } else {
          c = categoryOfItem(m, di);
        }
        if (beh === 1) cartedIdx.push(di);
        dense[e] = di;
        item[e] = m.itemRaw(di);
        category[e] = m.catRaw(c);
        behavior[e] = beh;
        timestamp[e] = ts;
        e++;
      }
    }
    yield { userId: uid, length: n, item, category, behavior, timestamp };
  }
}

/** Category of a dense item index: binary search over block starts. */
function categoryOfItem(m: Model, di: number): number {
  let lo = 0;
  let hi = m.catStart.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (m.catStart[mid] <= di) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The whole synthetic log in memory (raw ids as in the CSV; behaviors as codes). For tests and small runs. */
export function generateSyntheticLog(options: SyntheticOptions = {}): InteractionLog {
  const o = resolveSyntheticOptions(options);
  check(o.rows <= 50_000_000, 'generateSyntheticLog: rows', 'at most 50,000,000 in memory', o.rows, 'Stream larger logs with writeSyntheticUserBehavior.');
  const log: InteractionLog = {
    numRows: o.rows,
    user: new Int32Array(o.rows),
    item: new Int32Array(o.rows),
    category: new Int32Array(o.rows),
    behavior: new Uint8Array(o.rows),
    timestamp: new Int32Array(o.rows),
  };
  let w = 0;
  for (const b of syntheticUsers(o)) {
    log.user.fill(b.userId, w, w + b.length);
    log.item.set(b.item.subarray(0, b.length), w);
    log.category.set(b.category.subarray(0, b.length), w);
    log.behavior.set(b.behavior.subarray(0, b.length), w);
    log.timestamp.set(b.timestamp.subarray(0, b.length), w);
    w += b.length;
  }
  return log;
}

const BEHAVIOR_BYTES = ['pv', 'cart', 'fav', 'buy'].map((name) => Uint8Array.from(Buffer.from(name, 'latin1')));

/** Writes a non-negative integer (< 2^31) in decimal at `pos`; returns the new position. */
function writeUint(buf: Uint8Array, pos: number, v: number): number {
  const d = v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : v < 1e4 ? 4 : v < 1e5 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : v < 1e9 ? 9 : 10;
  let p = pos + d - 1;
  let x = v;
  do {
    const q = (x / 10) | 0;
    buf[p--] = 48 + x - q * 10;
    x = q;
  } while (x > 0);
  return pos + d;
}

/**
 * The synthetic log as UserBehavior CSV bytes (no header, LF), in chunks of about `chunkRows` rows (each chunk
 * ends on a line break). Constant memory: one chunk buffer and one user's events.
 */
export async function* syntheticUserBehaviorChunks(options: SyntheticOptions = {}): AsyncGenerator<Buffer> {
  const o = resolveSyntheticOptions(options);
  // A row is at most 5 fields of <= 11 chars + 4 commas + LF + behavior: 64 bytes is a safe bound.
  const MAX_ROW = 64;
  let buf = Buffer.allocUnsafe(o.chunkRows * MAX_ROW);
  let pos = 0;
  let rowsInChunk = 0;
  for (const b of syntheticUsers(o)) {
    for (let e = 0; e < b.length; e++) {
      pos = writeUint(buf, pos, b.userId);
      buf[pos++] = 44;
      pos = writeUint(buf, pos, b.item[e]);
      buf[pos++] = 44;
      pos = writeUint(buf, pos, b.category[e]);
      buf[pos++] = 44;
      const bb = BEHAVIOR_BYTES[b.behavior[e]];
      for (let k = 0; k < bb.length; k++) buf[pos++] = bb[k];
      buf[pos++] = 44;
      pos = writeUint(buf, pos, b.timestamp[e]);
      buf[pos++] = 10;
      if (++rowsInChunk === o.chunkRows) {
        yield buf.subarray(0, pos);
        // The consumer may still hold the yielded view: start a fresh buffer.
        buf = Buffer.allocUnsafe(o.chunkRows * MAX_ROW);
        pos = 0;
        rowsInChunk = 0;
      }
    }
  }
  if (pos > 0) yield buf.subarray(0, pos);
}

export interface WriteSyntheticResult {
  path: string;
  rows: number;
  users: number;
  /** Bytes of CSV text (before gzip). */
  bytes: number;
  options: ResolvedSyntheticOptions;
}

/**
 * Stream a synthetic UserBehavior CSV to `path` (gzip when it ends in `.gz`). Written to a temporary file and
 * renamed, so a crash never leaves a half file under the final name.
 */
export async function writeSyntheticUserBehavior(path: string, options: SyntheticOptions = {}): Promise<WriteSyntheticResult> {
  check(typeof path === 'string' && path.length > 0, 'writeSyntheticUserBehavior: path', 'a file path', path);
  const o = resolveSyntheticOptions(options);
  const tmp = `${path}.tmp-${process.pid}`;
  const file = createWriteStream(tmp);
  const gz = path.endsWith('.gz') ? createGzip() : null;
  if (gz) gz.pipe(file);
  const sink = gz ?? file;
  let bytes = 0;
  let failed: unknown = null;
  const onError = (err: unknown) => {
    failed ??= err;
  };
  file.on('error', onError);
  gz?.on('error', onError);
  try {
    for await (const chunk of syntheticUserBehaviorChunks(o)) {
      if (failed) throw failed;
      bytes += chunk.length;
      if (!sink.write(chunk)) await once(sink, 'drain');
    }
    sink.end();
    await once(file, 'close');
    if (failed) throw failed;
    await rename(tmp, path);
  } catch (err) {
    file.destroy();
    await unlink(tmp).catch(() => undefined);
    throw new InvalidArgumentError('could not write the synthetic log', {
      where: `writeSyntheticUserBehavior(${path})`,
      expected: 'a writable path',
      got: String(err),
      hint: 'Check the folder exists and has space.',
      cause: err,
    });
  }
  return { path, rows: o.rows, users: o.users, bytes, options: o };
}
