/**
 * Byte-level CSV row parsing for interaction logs: column layouts, dataset presets, and the two row parsers.
 *
 * The fast parser handles exactly the UserBehavior layout (`user,item,category,pv|cart|fav|buy,unixSeconds`) with
 * one hand-written loop over the bytes. The generic parser handles any `CsvLayout` (delimiter, column positions,
 * behavior names or a numeric rule, unix or date timestamps). The generic parser is the reference: when the fast
 * loop stumbles on a row it hands that row to the generic parser, which either accepts it or names the reason.
 * Quoted fields are not supported (none of the supported datasets quote the interaction file).
 */
import { DataFormatError, InvalidArgumentError } from '@rec/core';
import { BEHAVIORS, type BehaviorCode, type BehaviorName } from './types.js';

/** How the behavior of a row is read. */
export type BehaviorMapping =
  /** A text column whose values are looked up in `names` (default pv/cart/fav/buy). */
  | { kind: 'names'; column: number; names?: Readonly<Record<string, BehaviorName>> }
  /**
   * A numeric column (e.g. a 0.5..5 rating) mapped by thresholds: the first rule with `value >= min` wins,
   * else `otherwise`. Non-numeric values are rejected as `unknown-behavior`.
   */
  | { kind: 'threshold'; column: number; rules: ReadonlyArray<{ min: number; behavior: BehaviorName }>; otherwise: BehaviorName }
  /** Every row has the same behavior (e.g. a click log). */
  | { kind: 'constant'; behavior: BehaviorName };

/** How the timestamp of a row is read; the result is always Unix seconds (int32). */
export interface TimestampMapping {
  column: number;
  /**
   * `seconds`/`milliseconds`: an unsigned integer since the Unix epoch (milliseconds are floored to seconds).
   * `date`: `YYYY-MM-DD`, optionally followed by `THH:MM[:SS]` or ` HH:MM[:SS]`, read in the zone `utcOffsetHours`.
   */
  format: 'seconds' | 'milliseconds' | 'date';
  /** Zone of `date` values, hours east of UTC (Beijing is 8). Default 0. */
  utcOffsetHours?: number;
  /** A second column with an unsigned integer offset added to the time (DIGINETICA's `timeframe`). */
  addColumn?: number;
  /** Unit of `addColumn`: milliseconds (floored to seconds) or seconds. Default `ms`. */
  addUnit?: 'ms' | 's';
}

/** Where each field of an interaction row lives in a delimited text file. Column indices are 0-based. */
export interface CsvLayout {
  /** One ASCII character, e.g. `,` or `;`. */
  delimiter: string;
  /** `true`: the first line is a header; `false`: it is data; `auto`: a header when none of its fields starts with a digit. */
  header: boolean | 'auto';
  /** Fields per row; rows with another count are rejected as `field-count`. */
  fields: number;
  user: number;
  /**
   * When the user field is one of `missing` (e.g. DIGINETICA's `NA`), take the user from `column` instead, plus
   * `offset` (default 0) to keep the two id spaces apart. The caller picks an offset above the largest real user id.
   */
  userFallback?: { column: number; missing: readonly string[]; offset?: number };
  item: number;
  /** A column index, or a constant for files without categories. */
  category: number | { constant: number };
  behavior: BehaviorMapping;
  timestamp: TimestampMapping;
}

/** Unix seconds, both ends inclusive. */
export interface TimeWindow {
  start: number;
  end: number;
}

/** A layout plus the cleaning defaults that suit its dataset. */
export interface DatasetPreset {
  name: string;
  layout: CsvLayout;
  /** Drop exact duplicates and out-of-window rows by default. */
  clean: boolean;
  /** The documented time window, or null when the dataset has none. */
  window: TimeWindow | null;
}

/**
 * The documented UserBehavior window: 2017-11-25 00:00:00 to 2017-12-03 23:59:59 Beijing time (UTC+8).
 * 2017-11-25 00:00 UTC is 1511568000; minus 8 h = 1511539200. The end is 9 days later minus 1 s: 1511539200 + 777600 - 1.
 */
export const USER_BEHAVIOR_WINDOW: TimeWindow = { start: 1511539200, end: 1512316799 };

const userBehaviorLayout: CsvLayout = {
  delimiter: ',',
  header: 'auto',
  fields: 5,
  user: 0,
  item: 1,
  category: 2,
  behavior: { kind: 'names', column: 3 },
  timestamp: { column: 4, format: 'seconds' },
};

/**
 * Presets for the three supported datasets.
 * - `userBehavior`: Alibaba/Taobao UserBehavior.csv; cleaning on (duplicates and rows outside the Beijing window dropped).
 * - `movielensRatings`: MovieLens `ratings.csv` (`userId,movieId,rating,timestamp`, header, CRLF). Ratings map to
 *   behaviors by explicit-feedback strength: rating >= 4 -> buy, 3 <= rating < 4 -> cart, below 3 -> pv (a rating
 *   implies at least a view). Category is the constant 0 unless `categoryOfItem` (see `readMovieLensGenres`) is given.
 * - `diginetica`: DIGINETICA `train-item-views.csv` (`session_id;user_id;item_id;timeframe;eventdate`). The session
 *   is the user for every row (user_id is `NA` on most rows and would collide with session ids); every event is a pv;
 *   time = eventdate (UTC midnight) + timeframe milliseconds. Category is the constant 0.
 */
export const presets = {
  userBehavior: { name: 'userBehavior', layout: userBehaviorLayout, clean: true, window: USER_BEHAVIOR_WINDOW },
  movielensRatings: {
    name: 'movielensRatings',
    layout: {
      delimiter: ',',
      header: 'auto',
      fields: 4,
      user: 0,
      item: 1,
      category: { constant: 0 },
      behavior: {
        kind: 'threshold',
        column: 2,
        rules: [
          { min: 4, behavior: 'buy' },
          { min: 3, behavior: 'cart' },
        ],
        otherwise: 'pv',
      },
      timestamp: { column: 3, format: 'seconds' },
    },
    clean: false,
    window: null,
  },
  diginetica: {
    name: 'diginetica',
    layout: {
      delimiter: ';',
      header: 'auto',
      fields: 5,
      user: 0,
      item: 2,
      category: { constant: 0 },
      behavior: { kind: 'constant', behavior: 'pv' },
      timestamp: { column: 4, format: 'date', utcOffsetHours: 0, addColumn: 3, addUnit: 'ms' },
    },
    clean: false,
    window: null,
  },
} satisfies Record<string, DatasetPreset>;

export type PresetName = keyof typeof presets;

/** Why a row was rejected. */
export const REJECT_REASONS = [
  'empty-line',
  'field-count',
  'non-numeric-id',
  'id-out-of-range',
  'unknown-behavior',
  'bad-timestamp',
  'truncated-last-line',
  'line-too-long',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** One rejected row, as kept in the report. */
export interface RejectedRow {
  /** 1-based physical line number in the (decompressed) file, counting the header. */
  line: number;
  reason: RejectReason;
  /** Which field and what was wrong with it. */
  detail: string;
  /** The row text, cut to 200 characters. */
  text: string;
}

const R_OK = 0;
const R_EMPTY = 1;
const R_FIELDS = 2;
const R_NONNUM = 3;
const R_RANGE = 4;
const R_BEHAVIOR = 5;
const R_TIME = 6;
const REASON_OF_CODE: RejectReason[] = ['empty-line', 'empty-line', 'field-count', 'non-numeric-id', 'id-out-of-range', 'unknown-behavior', 'bad-timestamp'];
const INT32_MAX = 2147483647;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Checks a layout and throws InvalidArgumentError naming the bad key. */
export function validateLayout(layout: CsvLayout, where = 'CsvLayout'): void {
  const bad = (key: string, expected: string, got: unknown): never => {
    throw new InvalidArgumentError('invalid layout', {
      where: `${where}.${key}`,
      expected,
      got,
      hint: 'start from one of `presets` and change only what differs',
    });
  };
  if (typeof layout !== 'object' || layout === null) bad('', 'an object', layout);
  if (
    typeof layout.delimiter !== 'string' ||
    layout.delimiter.length !== 1 ||
    layout.delimiter.charCodeAt(0) > 127 ||
    layout.delimiter === '\n' ||
    layout.delimiter === '\r'
  )
    bad('delimiter', 'one ASCII character other than CR/LF', layout.delimiter);
  if (!(layout.header === true || layout.header === false || layout.header === 'auto')) bad('header', 'true, false or "auto"', layout.header);
  if (!Number.isInteger(layout.fields) || layout.fields < 1 || layout.fields > 256) bad('fields', 'an integer in [1, 256]', layout.fields);
  const col = (key: string, c: unknown) => {
    if (!Number.isInteger(c) || (c as number) < 0 || (c as number) >= layout.fields) bad(key, `a column index in [0, ${layout.fields - 1}]`, c);
  };
  col('user', layout.user);
  if (layout.userFallback !== undefined) {
    const f = layout.userFallback;
    col('userFallback.column', f?.column);
    if (!Array.isArray(f.missing) || f.missing.length === 0 || !f.missing.every((m) => typeof m === 'string')) bad('userFallback.missing', 'a non-empty array of strings', f.missing);
    if (f.offset !== undefined && !(Number.isInteger(f.offset) && f.offset >= 0 && f.offset <= INT32_MAX)) bad('userFallback.offset', 'an integer in [0, 2^31 - 1]', f.offset);
  }
  col('item', layout.item);
  if (typeof layout.category === 'number') col('category', layout.category);
  else if (typeof layout.category !== 'object' || !Number.isInteger(layout.category?.constant))
    bad('category', 'a column index or { constant: integer }', layout.category);
  const b = layout.behavior;
  const isName = (x: unknown) => (BEHAVIORS as readonly unknown[]).includes(x);
  if (b?.kind === 'names') {
    col('behavior.column', b.column);
    for (const [k, v] of Object.entries(b.names ?? {})) if (!isName(v)) bad(`behavior.names.${k}`, BEHAVIORS.join('|'), v);
  } else if (b?.kind === 'threshold') {
    col('behavior.column', b.column);
    if (!Array.isArray(b.rules)) bad('behavior.rules', 'an array of { min, behavior }', b.rules);
    b.rules.forEach((r, i) => {
      if (!Number.isFinite(r?.min) || !isName(r?.behavior)) bad(`behavior.rules[${i}]`, '{ min: finite number, behavior: pv|cart|fav|buy }', r);
    });
    if (!isName(b.otherwise)) bad('behavior.otherwise', BEHAVIORS.join('|'), b.otherwise);
  } else if (b?.kind === 'constant') {
    if (!isName(b.behavior)) bad('behavior.behavior', BEHAVIORS.join('|'), b.behavior);
  } else bad('behavior.kind', '"names", "threshold" or "constant"', (b as { kind?: unknown })?.kind);
  const t = layout.timestamp;
  col('timestamp.column', t?.column);
  if (!['seconds', 'milliseconds', 'date'].includes(t.format)) bad('timestamp.format', '"seconds", "milliseconds" or "date"', t.format);
  if (t.addColumn !== undefined) col('timestamp.addColumn', t.addColumn);
  if (t.addUnit !== undefined && t.addUnit !== 'ms' && t.addUnit !== 's') bad('timestamp.addUnit', '"ms" or "s"', t.addUnit);
  if (t.utcOffsetHours !== undefined && !(Number.isFinite(t.utcOffsetHours) && Math.abs(t.utcOffsetHours) <= 14))
    bad('timestamp.utcOffsetHours', 'a number in [-14, 14]', t.utcOffsetHours);
}

/** True when `layout` is exactly the UserBehavior layout the fast loop handles. */
export function isUserBehaviorLayout(layout: CsvLayout): boolean {
  const b = layout.behavior;
  return (
    layout.delimiter === ',' &&
    layout.fields === 5 &&
    layout.user === 0 &&
    layout.userFallback === undefined &&
    layout.item === 1 &&
    layout.category === 2 &&
    b.kind === 'names' &&
    b.column === 3 &&
    (b.names === undefined || sameDefaultNames(b.names)) &&
    layout.timestamp.column === 4 &&
    layout.timestamp.format === 'seconds' &&
    layout.timestamp.addColumn === undefined
  );
}

function sameDefaultNames(names: Readonly<Record<string, BehaviorName>>): boolean {
  const keys = Object.keys(names);
  return keys.length === 4 && BEHAVIORS.every((n) => names[n] === n);
}

const CODE: Record<BehaviorName, BehaviorCode> = { pv: 0, cart: 1, fav: 2, buy: 3 };

/** Growable columns for parsed rows. Capacity grows by 1.25x; `reserve` is called once per block, not per row. */
export class ColumnBuilder {
  user: Int32Array;
  item: Int32Array;
  category: Int32Array;
  behavior: Uint8Array;
  timestamp: Int32Array;
  length = 0;

  constructor(initialCapacity = 1024) {
    const c = Math.max(16, Math.ceil(initialCapacity));
    this.user = new Int32Array(c);
    this.item = new Int32Array(c);
    this.category = new Int32Array(c);
    this.behavior = new Uint8Array(c);
    this.timestamp = new Int32Array(c);
  }

  get capacity(): number {
    return this.user.length;
  }

  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.user.length) return;
    const cap = Math.max(need, Math.ceil(this.user.length * 1.25));
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.length));
      return b;
    };
    this.user = grow(this.user, (n) => new Int32Array(n));
    this.item = grow(this.item, (n) => new Int32Array(n));
    this.category = grow(this.category, (n) => new Int32Array(n));
    this.behavior = grow(this.behavior, (n) => new Uint8Array(n));
    this.timestamp = grow(this.timestamp, (n) => new Int32Array(n));
  }

  /**
   * Final columns: views when the spare capacity is at most 25% (no copy: a copy would hold both sizes at once, which
   * matters at 100M rows), tight copies otherwise.
   */
  finish(): { user: Int32Array; item: Int32Array; category: Int32Array; behavior: Uint8Array; timestamp: Int32Array } {
    const n = this.length;
    const tight = this.user.length - n > n / 4;
    const cut = <T extends Int32Array | Uint8Array>(a: T): T => (tight ? (a.slice(0, n) as T) : (a.subarray(0, n) as T));
    return { user: cut(this.user), item: cut(this.item), category: cut(this.category), behavior: cut(this.behavior), timestamp: cut(this.timestamp) };
  }
}

/** Counts and examples of rejected rows. */
export class RejectLog {
  readonly counts: Record<RejectReason, number> = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  readonly examples: RejectedRow[] = [];
  private perReason: Record<string, number> = {};
  total = 0;

  constructor(readonly maxExamplesPerReason: number, readonly strict: boolean, readonly source: string) {}

  add(line: number, reason: RejectReason, detail: string, text: string): void {
    if (this.strict) {
      throw new DataFormatError(`bad row (${reason})`, {
        where: `${this.source}:${line}`,
        expected: 'a row matching the layout',
        got: text,
        hint: `${detail}. Fix the row, or ingest with strict: false to count and skip bad rows`,
      });
    }
    this.total++;
    this.counts[reason]++;
    const k = (this.perReason[reason] ?? 0) + 1;
    this.perReason[reason] = k;
    if (k <= this.maxExamplesPerReason) this.examples.push({ line, reason, detail, text: text.length > 200 ? `${text.slice(0, 197)}...` : text });
  }
}

/** Ids at or above this never use the direct-address table (64 MiB of int32 at most). */
const DIRECT_LIMIT = 1 << 24;

/**
 * Raw id -> dense id in first-seen order, built while parsing. Non-negative ids below 2^24 use a growable
 * direct-address table (one array read per row); others go to a hash map.
 */
export class IdTable {
  table = new Int32Array(1024).fill(-1);
  readonly toRaw: number[] = [];
  private hash: Map<number, number> | null = null;
  private readonly limit: number;

  /** `directLimit`: ids below it use the direct table (keep it near the expected row count so small files stay small). */
  constructor(directLimit = DIRECT_LIMIT) {
    this.limit = Math.max(1024, Math.min(DIRECT_LIMIT, directLimit));
  }

  get size(): number {
    return this.toRaw.length;
  }

  /** Dense id of `v`, assigning the next one when `v` is new. */
  add(v: number): number {
    if (v >= 0 && v < this.limit) {
      if (v >= this.table.length) {
        let cap = this.table.length;
        while (cap <= v) cap *= 2;
        const t = new Int32Array(Math.min(cap, this.limit)).fill(-1);
        t.set(this.table);
        this.table = t;
      }
      let d = this.table[v];
      if (d < 0) {
        d = this.toRaw.length;
        this.toRaw.push(v);
        this.table[v] = d;
      }
      return d;
    }
    this.hash ??= new Map();
    let d = this.hash.get(v);
    if (d === undefined) {
      d = this.toRaw.length;
      this.toRaw.push(v);
      this.hash.set(v, d);
    }
    return d;
  }
}

/**
 * Ingest mode of the parser: ids are written dense (raw ids kept in the IdTables), and the duplicate/window scan
 * runs on each row as it is parsed. Duplicates are found among rows of the same user and second while users come
 * in contiguous, time-sorted blocks; once that order breaks, `ordered` turns false and the caller rescans.
 */
export class IngestTracker {
  readonly users: IdTable;
  readonly items: IdTable;
  readonly categories: IdTable;
  /** Output row indices that repeat an earlier row exactly (valid while `ordered`). */
  readonly duplicates: number[] = [];
  outOfWindow = 0;
  ordered = true;
  readonly lo: number;
  readonly hi: number;
  // Previous row (raw user, dense user, time) and the first row of the current (user, second) run.
  pU = -1;
  pDu = -1;
  pT = 0;
  runStart = 0;

  /** `expectedRows` sizes the direct-address id tables (ids up to 4x the rows, at most 2^24). */
  constructor(window: TimeWindow | null, expectedRows = 1 << 22) {
    const limit = Math.max(1 << 16, 4 * expectedRows);
    this.users = new IdTable(limit);
    this.items = new IdTable(limit);
    this.categories = new IdTable(limit);
    this.lo = window ? window.start : -2147483648;
    this.hi = window ? window.end : 2147483647;
  }
}

/**
 * Parses blocks of complete lines into a ColumnBuilder. Feed it with `parseLines(buf, start, end)` where
 * `buf[end - 1]` is `\n`, then `parseLastLine` for a final line without a newline. Keeps the line count across calls.
 */
export class RowParser {
  /** Physical lines consumed so far (the header included). */
  line = 0;
  /** Data lines examined (good and bad; the header excluded). */
  rowsRead = 0;
  header: string | null = null;
  private headerPending: boolean;
  private readonly fast: boolean;
  private readonly delim: number;
  private readonly fieldStart: Int32Array;
  private readonly fieldEnd: Int32Array;
  private readonly names: { bytes: Uint8Array; code: BehaviorCode }[];
  private readonly thresholds: { min: number; code: BehaviorCode }[];
  private readonly otherwise: BehaviorCode;
  private readonly constantBehavior: BehaviorCode;
  private readonly dateOffset: number;
  private readonly tracker: IngestTracker | null;
  /** Fewest bytes of a row that can be kept: delimiters, one byte per mapped column, the newline. */
  private readonly minRowBytes: number;
  private readonly missingUser: Uint8Array[];
  private detail = '';
  // Scratch outputs of parseGeneric.
  private oUser = 0;
  private oItem = 0;
  private oCat = 0;
  private oBeh = 0;
  private oTs = 0;

  constructor(
    readonly layout: CsvLayout,
    readonly out: ColumnBuilder,
    readonly rejects: RejectLog,
    opts: { forceGeneric?: boolean; tracker?: IngestTracker } = {}
  ) {
    validateLayout(layout);
    this.tracker = opts.tracker ?? null;
    const mapped = new Set<number>([layout.user, layout.item, layout.timestamp.column]);
    if (typeof layout.category === 'number') mapped.add(layout.category);
    if (layout.behavior.kind !== 'constant') mapped.add(layout.behavior.column);
    if (layout.timestamp.addColumn !== undefined) mapped.add(layout.timestamp.addColumn);
    if (layout.userFallback) mapped.add(layout.userFallback.column);
    // A fallback-eligible user field may be empty (when "" is a missing token): one byte less.
    this.minRowBytes = Math.max(1, layout.fields - 1 + mapped.size + 1 - (layout.userFallback ? 1 : 0));
    this.missingUser = (layout.userFallback?.missing ?? []).map((m) => Buffer.from(m, 'latin1'));
    this.fast = !opts.forceGeneric && isUserBehaviorLayout(layout);
    this.headerPending = layout.header !== false;
    this.delim = layout.delimiter.charCodeAt(0);
    this.fieldStart = new Int32Array(layout.fields + 1);
    this.fieldEnd = new Int32Array(layout.fields + 1);
    const b = layout.behavior;
    const names = b.kind === 'names' ? b.names ?? { pv: 'pv', cart: 'cart', fav: 'fav', buy: 'buy' } : {};
    this.names = Object.entries(names).map(([k, v]) => ({ bytes: Buffer.from(k, 'latin1'), code: CODE[v] }));
    this.thresholds = b.kind === 'threshold' ? b.rules.map((r) => ({ min: r.min, code: CODE[r.behavior] })) : [];
    this.otherwise = b.kind === 'threshold' ? CODE[b.otherwise] : 0;
    this.constantBehavior = b.kind === 'constant' ? CODE[b.behavior] : 0;
    this.dateOffset = Math.round((layout.timestamp.utcOffsetHours ?? 0) * 3600);
  }

  get parserKind(): 'fast' | 'generic' {
    return this.fast ? 'fast' : 'generic';
  }

  /** Parses every line in `buf[start, end)`; `buf[end - 1]` must be `\n`. */
  parseLines(buf: Uint8Array, start: number, end: number): void {
    let p = start;
    if (this.headerPending && p < end) p = this.takeHeader(buf, p, end);
    if (p >= end) return;
    // A kept row has at least minRowBytes bytes, so this bounds the rows of the block; no capacity check per row.
    this.out.reserve(Math.ceil((end - p) / this.minRowBytes) + 1);
    if (this.fast) {
      if (this.tracker) this.parseFastTracked(buf, p, end);
      else this.parseFast(buf, p, end);
    } else this.parseGenericLines(buf, p, end);
  }

  /** Counts one line that was too long to keep (only its first bytes are given). */
  rejectLongLine(head: Uint8Array, maxBytes: number): void {
    if (this.headerPending) this.headerPending = false;
    this.line++;
    this.rowsRead++;
    this.rejects.add(this.line, 'line-too-long', `the line is longer than ${maxBytes} bytes; skipped to its newline`, latin1(head, 0, Math.min(head.length, 200)));
  }

  /** Parses a final line that has no newline. A bad one is rejected as `truncated-last-line`. */
  parseLastLine(buf: Uint8Array, start: number, end: number): void {
    if (start >= end) return;
    const tmp = new Uint8Array(end - start + 1);
    tmp.set(buf.subarray(start, end));
    tmp[end - start] = 10;
    if (this.headerPending) {
      this.takeHeader(tmp, 0, tmp.length);
      if (!this.headerPending && this.header !== null) return;
    }
    this.out.reserve(1);
    this.rowsRead++;
    this.line++;
    const lineEnd = tmp.length - 1;
    const r = this.parseGeneric(tmp, 0, lineEnd);
    if (r === R_OK) this.emitScratch();
    else this.rejects.add(this.line, 'truncated-last-line', `no newline at end of file and ${REASON_OF_CODE[r]}: ${this.detail}`, latin1(tmp, 0, lineEnd));
  }

  private takeHeader(buf: Uint8Array, p: number, end: number): number {
    this.headerPending = false;
    let e = p;
    while (e < end && buf[e] !== 10) e++;
    const lineEnd = e > p && buf[e - 1] === 13 ? e - 1 : e;
    let isHeader = this.layout.header === true;
    if (this.layout.header === 'auto') {
      // A header has no field starting with a digit; a data row (good or bad) nearly always has some.
      isHeader = lineEnd > p;
      let fieldStart = true;
      for (let i = p; i < lineEnd; i++) {
        const c = buf[i];
        if (fieldStart && c >= 48 && c <= 57) {
          isHeader = false;
          break;
        }
        fieldStart = c === this.delim;
      }
    }
    if (!isHeader) return p;
    this.header = latin1(buf, p, lineEnd);
    this.line++;
    return e < end ? e + 1 : end;
  }

  private emitScratch(): void {
    const o = this.out;
    if (o.length >= o.capacity) o.reserve(1); // the generic path does not rely on the per-block bound
    const n = o.length;
    const tr = this.tracker;
    if (tr === null) {
      o.user[n] = this.oUser;
      o.item[n] = this.oItem;
      o.category[n] = this.oCat;
    } else {
      // The same steps as the inline ones in parseFast, for rows the generic parser reads.
      const u = this.oUser;
      const t = this.oTs;
      const di = tr.items.add(this.oItem);
      const dc = tr.categories.add(this.oCat);
      const be = this.oBeh;
      let du: number;
      if (n > 0 && u === tr.pU) {
        du = tr.pDu;
        if (t === tr.pT) {
          if (tr.ordered) {
            for (let j = tr.runStart; j < n; j++) {
              if (o.item[j] === di && o.category[j] === dc && o.behavior[j] === be) {
                tr.duplicates.push(n);
                break;
              }
            }
          }
        } else {
          if (t < tr.pT) tr.ordered = false;
          tr.runStart = n;
        }
      } else {
        const before = tr.users.size;
        du = tr.users.add(u);
        if (tr.users.size === before) tr.ordered = false;
        tr.runStart = n;
        tr.pU = u;
        tr.pDu = du;
      }
      tr.pT = t;
      if (t < tr.lo || t > tr.hi) tr.outOfWindow++;
      o.user[n] = du;
      o.item[n] = di;
      o.category[n] = dc;
    }
    o.behavior[n] = this.oBeh;
    o.timestamp[n] = this.oTs;
    o.length = n + 1;
  }

  /** One bad line from `rowStart`: diagnose with the generic parser; keep it if that one accepts it. Returns the next line's start. */
  private slowLine(buf: Uint8Array, rowStart: number, end: number): number {
    let e = rowStart;
    while (e < end && buf[e] !== 10) e++;
    const lineEnd = e > rowStart && buf[e - 1] === 13 ? e - 1 : e;
    this.line++;
    this.rowsRead++;
    const r = this.parseGeneric(buf, rowStart, lineEnd);
    if (r === R_OK) this.emitScratch();
    else this.rejects.add(this.line, REASON_OF_CODE[r], this.detail, latin1(buf, rowStart, lineEnd));
    return e + 1;
  }

  /**
   * The UserBehavior loop: digits parsed straight from the bytes, the behavior told by its first byte and checked
   * in full, no allocation per row. Any surprise sends the row to `slowLine`.
   */
  private parseFast(buf: Uint8Array, start: number, end: number): void {
    const o = this.out;
    const U = o.user;
    const I = o.item;
    const C = o.category;
    const B = o.behavior;
    const T = o.timestamp;
    let n = o.length;
    let p = start;
    let lines = 0;
    while (p < end) {
      const rowStart = p;
      ok: {
        let c = buf[p];
        let d = c - 48;
        if (d >>> 0 > 9) break ok;
        let u = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          u = u * 10 + d;
          c = buf[++p];
        }
        if (c !== 44 || u > INT32_MAX) break ok;
        c = buf[++p];
        d = c - 48;
        if (d >>> 0 > 9) break ok;
        let it = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          it = it * 10 + d;
          c = buf[++p];
        }
        if (c !== 44 || it > INT32_MAX) break ok;
        c = buf[++p];
        d = c - 48;
        if (d >>> 0 > 9) break ok;
        let ca = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          ca = ca * 10 + d;
          c = buf[++p];
        }
        if (c !== 44 || ca > INT32_MAX) break ok;
        c = buf[++p];
        let be: number;
        // pv | cart | fav | buy, each followed by the delimiter; a mismatch stops at the latest at the newline.
        if (c === 112) {
          if (buf[p + 1] !== 118 || buf[p + 2] !== 44) break ok;
          be = 0;
          p += 3;
        } else if (c === 99) {
          if (buf[p + 1] !== 97 || buf[p + 2] !== 114 || buf[p + 3] !== 116 || buf[p + 4] !== 44) break ok;
          be = 1;
          p += 5;
        } else if (c === 102) {
          if (buf[p + 1] !== 97 || buf[p + 2] !== 118 || buf[p + 3] !== 44) break ok;
          be = 2;
          p += 4;
        } else if (c === 98) {
          if (buf[p + 1] !== 117 || buf[p + 2] !== 121 || buf[p + 3] !== 44) break ok;
          be = 3;
          p += 4;
        } else break ok;
        c = buf[p];
        d = c - 48;
        if (d >>> 0 > 9) break ok;
        let t = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          t = t * 10 + d;
          c = buf[++p];
        }
        if (c === 13) c = buf[++p];
        if (c !== 10 || t > INT32_MAX) break ok;
        p++;
        U[n] = u;
        I[n] = it;
        C[n] = ca;
        B[n] = be;
        T[n] = t;
        n++;
        lines++;
        continue;
      }
      // Rare path: flush the counters, then let the generic parser diagnose (or accept) the line.
      o.length = n;
      this.line += lines;
      this.rowsRead += lines;
      lines = 0;
      p = this.slowLine(buf, rowStart, end);
      n = o.length;
      // The slow path may have grown the columns (it should not: parseLines reserved room): restart with fresh views.
      if (o.user !== U) return this.parseFast(buf, p, end);
    }
    o.length = n;
    this.line += lines;
    this.rowsRead += lines;
  }

  /**
   * The UserBehavior loop in ingest mode (a copy of `parseFast` with the tracker on). The UserBehavior loop: digits parsed straight from the bytes, the behavior told by its first byte and checked
   * in full, no allocation per row. Any surprise sends the row to `slowLine`.
   */
  private parseFastTracked(buf: Uint8Array, start: number, end: number): void {
    const o = this.out;
    const U = o.user;
    const I = o.item;
    const C = o.category;
    const B = o.behavior;
    const T = o.timestamp;
    let n = o.length;
    let p = start;
    let lines = 0;
    // Ingest mode (see IngestTracker): tracker state lives in locals inside the loop and is synced around slowLine.
    const tr = this.tracker!;
    const users = tr.users;
    const items = tr.items;
    const cats = tr.categories;
    let uTab = users.table;
    let iTab = items.table;
    let cTab = cats.table;
    let pU = tr.pU;
    let pDu = tr.pDu;
    let pT = tr.pT;
    let runStart = tr.runStart;
    let ordered = tr.ordered;
    let oow = 0;
    const lo = tr.lo;
    const hi = tr.hi;
    while (p < end) {
      const rowStart = p;
      ok: {
        let c = buf[p];
        let d = c - 48;
        if (d >>> 0 > 9) break ok;
        let u = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          u = u * 10 + d;
          c = buf[++p];
        }
        if (c !== 44 || u > INT32_MAX) break ok;
        c = buf[++p];
        d = c - 48;
        if (d >>> 0 > 9) break ok;
        let it = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          it = it * 10 + d;
          c = buf[++p];
        }
        if (c !== 44 || it > INT32_MAX) break ok;
        c = buf[++p];
        d = c - 48;
        if (d >>> 0 > 9) break ok;
        let ca = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          ca = ca * 10 + d;
          c = buf[++p];
        }
        if (c !== 44 || ca > INT32_MAX) break ok;
        c = buf[++p];
        let be: number;
        // pv | cart | fav | buy, each followed by the delimiter; a mismatch stops at the latest at the newline.
        if (c === 112) {
          if (buf[p + 1] !== 118 || buf[p + 2] !== 44) break ok;
          be = 0;
          p += 3;
        } else if (c === 99) {
          if (buf[p + 1] !== 97 || buf[p + 2] !== 114 || buf[p + 3] !== 116 || buf[p + 4] !== 44) break ok;
          be = 1;
          p += 5;
        } else if (c === 102) {
          if (buf[p + 1] !== 97 || buf[p + 2] !== 118 || buf[p + 3] !== 44) break ok;
          be = 2;
          p += 4;
        } else if (c === 98) {
          if (buf[p + 1] !== 117 || buf[p + 2] !== 121 || buf[p + 3] !== 44) break ok;
          be = 3;
          p += 4;
        } else break ok;
        c = buf[p];
        d = c - 48;
        if (d >>> 0 > 9) break ok;
        let t = d;
        c = buf[++p];
        while ((d = c - 48) >>> 0 <= 9) {
          t = t * 10 + d;
          c = buf[++p];
        }
        if (c === 13) c = buf[++p];
        if (c !== 10 || t > INT32_MAX) break ok;
        p++;
        let di = it < iTab.length ? iTab[it] : -1;
        if (di < 0) {
          di = items.add(it);
          iTab = items.table;
        }
        let dc = ca < cTab.length ? cTab[ca] : -1;
        if (dc < 0) {
          dc = cats.add(ca);
          cTab = cats.table;
        }
        if (u === pU && n > 0) {
          if (t === pT) {
            // Same user and second as the previous row: compare with the rows of this run (usually 0-2 of them).
            if (ordered) {
              for (let j = runStart; j < n; j++) {
                if (I[j] === di && C[j] === dc && B[j] === be) {
                  tr.duplicates.push(n);
                  break;
                }
              }
            }
          } else {
            if (t < pT) ordered = false;
            runStart = n;
          }
        } else {
          let du = u < uTab.length ? uTab[u] : -1;
          if (du >= 0) ordered = false; // this user had an earlier block
          else {
            const before = users.size;
            du = users.add(u);
            uTab = users.table;
            if (users.size === before) ordered = false;
          }
          pU = u;
          pDu = du;
          runStart = n;
        }
        pT = t;
        if (t < lo || t > hi) oow++;
        U[n] = pDu;
        I[n] = di;
        C[n] = dc;
        B[n] = be;
        T[n] = t;
        n++;
        lines++;
        continue;
      }
      // Rare path: flush the counters, then let the generic parser diagnose (or accept) the line.
      o.length = n;
      this.line += lines;
      this.rowsRead += lines;
      lines = 0;
      tr.pU = pU;
      tr.pDu = pDu;
      tr.pT = pT;
      tr.runStart = runStart;
      tr.ordered = ordered;
      tr.outOfWindow += oow;
      oow = 0;
      p = this.slowLine(buf, rowStart, end);
      n = o.length;
      // The slow path may have grown the columns (it should not: parseLines reserved room): restart with fresh views.
      if (o.user !== U) return this.parseFastTracked(buf, p, end);
      pU = tr.pU;
      pDu = tr.pDu;
      pT = tr.pT;
      runStart = tr.runStart;
      ordered = tr.ordered;
      uTab = tr.users.table;
      iTab = tr.items.table;
      cTab = tr.categories.table;
    }
    o.length = n;
    this.line += lines;
    this.rowsRead += lines;
    tr.pU = pU;
    tr.pDu = pDu;
    tr.pT = pT;
    tr.runStart = runStart;
    tr.ordered = ordered;
    tr.outOfWindow += oow;
  }

  private parseGenericLines(buf: Uint8Array, start: number, end: number): void {
    let p = start;
    while (p < end) {
      let e = p;
      while (buf[e] !== 10) e++;
      const lineEnd = e > p && buf[e - 1] === 13 ? e - 1 : e;
      this.line++;
      this.rowsRead++;
      const r = this.parseGeneric(buf, p, lineEnd);
      if (r === R_OK) this.emitScratch();
      else this.rejects.add(this.line, REASON_OF_CODE[r], this.detail, latin1(buf, p, lineEnd));
      p = e + 1;
    }
  }

  /** Parses one line `buf[s, e)` (no newline) by the layout into the scratch fields; returns R_OK or a reason code. */
  private parseGeneric(buf: Uint8Array, s: number, e: number): number {
    const L = this.layout;
    if (e <= s) {
      this.detail = 'the line is empty';
      return R_EMPTY;
    }
    const fs = this.fieldStart;
    const fe = this.fieldEnd;
    const nf = L.fields;
    let k = 0;
    fs[0] = s;
    for (let i = s; i < e; i++) {
      if (buf[i] === this.delim) {
        if (k + 1 >= nf) {
          k = nf; // too many
          break;
        }
        fe[k] = i;
        fs[++k] = i + 1;
      }
    }
    if (k >= nf) {
      this.detail = `expected ${nf} fields separated by "${L.delimiter}", got more`;
      return R_FIELDS;
    }
    fe[k] = e;
    if (k + 1 !== nf) {
      this.detail = `expected ${nf} fields separated by "${L.delimiter}", got ${k + 1}`;
      return R_FIELDS;
    }
    let r: number;
    const fb = L.userFallback;
    if (fb !== undefined && this.missingUser.some((m) => bytesEqual(buf, fs[L.user], fe[L.user], m))) {
      r = this.readId(buf, fs[fb.column], fe[fb.column], 'user (fallback column)');
      if (r !== R_OK) return r;
      const v = this.idValue + (fb.offset ?? 0);
      if (v > INT32_MAX) {
        this.detail = `fallback user id ${this.idValue} + offset ${fb.offset} exceeds int32 (${INT32_MAX})`;
        return R_RANGE;
      }
      this.oUser = v;
    } else {
      r = this.readId(buf, fs[L.user], fe[L.user], 'user');
      if (r !== R_OK) return r;
      this.oUser = this.idValue;
    }
    r = this.readId(buf, fs[L.item], fe[L.item], 'item');
    if (r !== R_OK) return r;
    this.oItem = this.idValue;
    if (typeof L.category === 'number') {
      r = this.readId(buf, fs[L.category], fe[L.category], 'category');
      if (r !== R_OK) return r;
      this.oCat = this.idValue;
    } else this.oCat = L.category.constant;
    const b = L.behavior;
    if (b.kind === 'constant') this.oBeh = this.constantBehavior;
    else if (b.kind === 'names') {
      const a = fs[b.column];
      const z = fe[b.column];
      let code = -1;
      for (const nm of this.names) {
        const bytes = nm.bytes;
        if (bytes.length !== z - a) continue;
        let j = 0;
        while (j < bytes.length && bytes[j] === buf[a + j]) j++;
        if (j === bytes.length) {
          code = nm.code;
          break;
        }
      }
      if (code < 0) {
        this.detail = `behavior column ${b.column}: expected one of ${this.names.map((x) => latin1(x.bytes, 0, x.bytes.length)).join('|')}, got "${latin1(
          buf,
          a,
          z
        )}"`;
        return R_BEHAVIOR;
      }
      this.oBeh = code;
    } else {
      const v = parseDecimal(buf, fs[b.column], fe[b.column]);
      if (Number.isNaN(v)) {
        this.detail = `behavior column ${b.column}: expected a number for the threshold rule, got "${latin1(buf, fs[b.column], fe[b.column])}"`;
        return R_BEHAVIOR;
      }
      let code = this.otherwise;
      for (const t of this.thresholds) {
        if (v >= t.min) {
          code = t.code;
          break;
        }
      }
      this.oBeh = code;
    }
    return this.readTime(buf);
  }

  private idValue = 0;

  private readId(buf: Uint8Array, a: number, z: number, what: string): number {
    let v = 0;
    if (z <= a) {
      this.detail = `${what} id is empty`;
      return R_NONNUM;
    }
    for (let i = a; i < z; i++) {
      const d = buf[i] - 48;
      if (d >>> 0 > 9) {
        this.detail = `${what} id: expected an unsigned integer, got "${latin1(buf, a, z)}"`;
        return R_NONNUM;
      }
      v = v * 10 + d;
    }
    if (v > INT32_MAX) {
      this.detail = `${what} id ${latin1(buf, a, z)} exceeds int32 (${INT32_MAX})`;
      return R_RANGE;
    }
    this.idValue = v;
    return R_OK;
  }

  private readTime(buf: Uint8Array): number {
    const t = this.layout.timestamp;
    const a = this.fieldStart[t.column];
    const z = this.fieldEnd[t.column];
    let secs: number;
    if (t.format === 'date') {
      secs = parseDateSeconds(buf, a, z);
      if (Number.isNaN(secs)) {
        this.detail = `timestamp column ${t.column}: expected YYYY-MM-DD[ HH:MM[:SS]], got "${latin1(buf, a, z)}"`;
        return R_TIME;
      }
      secs -= this.dateOffset;
    } else {
      const v = parseUint(buf, a, z);
      if (Number.isNaN(v)) {
        this.detail = `timestamp column ${t.column}: expected unix ${t.format} (digits), got "${latin1(buf, a, z)}"`;
        return R_TIME;
      }
      secs = t.format === 'milliseconds' ? Math.floor(v / 1000) : v;
    }
    if (t.addColumn !== undefined) {
      const a2 = this.fieldStart[t.addColumn];
      const z2 = this.fieldEnd[t.addColumn];
      const v = parseUint(buf, a2, z2);
      if (Number.isNaN(v)) {
        this.detail = `time offset column ${t.addColumn}: expected an unsigned integer, got "${latin1(buf, a2, z2)}"`;
        return R_TIME;
      }
      secs += t.addUnit === 's' ? v : Math.floor(v / 1000);
    }
    if (!(secs >= -2147483648 && secs <= INT32_MAX)) {
      this.detail = `timestamp ${secs} s is outside the int32 range (1901..2038)`;
      return R_TIME;
    }
    this.oTs = secs;
    return R_OK;
  }
}

function bytesEqual(buf: Uint8Array, a: number, z: number, m: Uint8Array): boolean {
  if (z - a !== m.length) return false;
  for (let j = 0; j < m.length; j++) if (buf[a + j] !== m[j]) return false;
  return true;
}

function latin1(buf: Uint8Array, a: number, z: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + a, Math.max(0, z - a)).toString('latin1');
}

/** Digits only; NaN otherwise (also for an empty field or more than 15 digits). */
function parseUint(buf: Uint8Array, a: number, z: number): number {
  if (z <= a || z - a > 15) return NaN;
  let v = 0;
  for (let i = a; i < z; i++) {
    const d = buf[i] - 48;
    if (d >>> 0 > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** `[-]digits[.digits]`; NaN otherwise. */
function parseDecimal(buf: Uint8Array, a: number, z: number): number {
  let i = a;
  let neg = false;
  if (i < z && buf[i] === 45) {
    neg = true;
    i++;
  }
  let v = 0;
  let digits = 0;
  while (i < z && (buf[i] - 48) >>> 0 <= 9) {
    v = v * 10 + (buf[i] - 48);
    i++;
    digits++;
  }
  if (i < z && buf[i] === 46) {
    i++;
    let scale = 0.1;
    while (i < z && (buf[i] - 48) >>> 0 <= 9) {
      v += (buf[i] - 48) * scale;
      scale /= 10;
      i++;
      digits++;
    }
  }
  if (i !== z || digits === 0) return NaN;
  return neg ? -v : v;
}

/** `YYYY-MM-DD` optionally followed by `T` or space and `HH:MM[:SS]`, as seconds since the epoch in UTC; NaN if malformed. */
function parseDateSeconds(buf: Uint8Array, a: number, z: number): number {
  const len = z - a;
  if (len < 10 || buf[a + 4] !== 45 || buf[a + 7] !== 45) return NaN;
  const y = parseUint(buf, a, a + 4);
  const m = parseUint(buf, a + 5, a + 7);
  const d = parseUint(buf, a + 8, a + 10);
  if (Number.isNaN(y) || !(m >= 1 && m <= 12) || !(d >= 1 && d <= DAYS_IN_MONTH[m])) return NaN;
  if (m === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return NaN;
  let secs = daysFromCivil(y, m, d) * 86400;
  if (len === 10) return secs;
  const sep = buf[a + 10];
  if ((sep !== 84 && sep !== 32) || (len !== 16 && len !== 19) || buf[a + 13] !== 58) return NaN;
  const hh = parseUint(buf, a + 11, a + 13);
  const mm = parseUint(buf, a + 14, a + 16);
  let ss = 0;
  if (len === 19) {
    if (buf[a + 16] !== 58) return NaN;
    ss = parseUint(buf, a + 17, a + 19);
  }
  if (!(hh <= 23 && mm <= 59 && ss <= 60)) return NaN;
  secs += hh * 3600 + mm * 60 + ss;
  return secs;
}

/** Exposed for tests: parse a `YYYY-MM-DD[ HH:MM[:SS]]` string as UTC seconds (NaN when malformed). */
export function parseDateUtcSeconds(text: string): number {
  const b = Buffer.from(text, 'latin1');
  return parseDateSeconds(b, 0, b.length);
}
