/**
 * The ingest pipeline: read (or reload from the Arrow cache) -> count duplicates and out-of-window rows -> clean
 * (optional) -> re-index -> Arrow table + report. And `describeDataset`, the printable statistics of a log.
 */
import { statSync } from 'node:fs';
import { InvalidArgumentError } from '@rec/core';
import type { Table } from 'apache-arrow';
import { logToTable } from './arrow.js';
import { cacheLocation, readCache, writeCache } from './cache.js';
import { IngestTracker, REJECT_REASONS, type RejectReason, type TimeWindow } from './csv.js';
import { resolvePreset, streamParse, type ReadOptions, type ReadReport } from './reader.js';
import { checkLog, denseColumn, DenseIdMap, type IdOrder } from './reindex.js';
import { BEHAVIORS, type IdMap, type IndexedLog, type InteractionLog } from './types.js';

export interface IngestOptions extends ReadOptions {
  /**
   * Drop exact duplicate rows (all five fields equal to an earlier row; the first copy is kept) and rows outside
   * `window`. Default: the preset's (on for `userBehavior`, off for the others). Counts are reported either way.
   */
  clean?: boolean;
  /** Time window in Unix seconds (inclusive), or null for none. Default: the preset's (none when only `layout` is given). */
  window?: TimeWindow | null;
  /**
   * Dense id order. `first-seen` (default): order of first appearance in the file (rows later dropped by cleaning
   * count for the order, not for the ids); `sorted`: ascending raw id.
   */
  order?: IdOrder;
  /** `false`: no cache. `true` (default): cache in `defaultCacheDir()` ($REC_CACHE_DIR or <tmpdir>/rec-data-cache). `{ dir }`: that dir (e.g. beside the source). */
  cache?: boolean | { dir: string };
}

export interface IngestReport extends ReadReport {
  preset: string;
  /** Rows that repeat an earlier row exactly (extra copies; the first copy is not counted). */
  duplicates: number;
  /** Parsed rows with a timestamp outside `window` (0 when there is no window). */
  outOfWindow: number;
  window: TimeWindow | null;
  cleaned: boolean;
  /** Rows dropped by cleaning (a row both duplicate and out of window counts once). */
  dropped: number;
  /** Rows in the final log. */
  rowsKept: number;
  numUsers: number;
  numItems: number;
  numCategories: number;
  /** Whether users formed contiguous blocks, time-sorted within each block (then duplicates are found in one pass). */
  groupedByUserTimeSorted: boolean;
  seconds: { parse: number; clean: number; reindex: number; cache: number; total: number };
  cache: { enabled: boolean; hit: boolean; path: string | null; bytesWritten: number; note?: string };
}

export interface IngestResult {
  /** The cleaned, dense-indexed log. */
  log: IndexedLog;
  /** The same columns as an Arrow table (zero-copy); the report JSON is in its schema metadata under `rec.report`. */
  table: Table;
  report: IngestReport;
}

export interface DuplicateScan {
  /** 1 for rows that repeat an earlier row exactly; null when there are none. */
  duplicateMask: Uint8Array | null;
  duplicates: number;
  outOfWindow: number;
  groupedByUserTimeSorted: boolean;
}

/**
 * Finds exact duplicates and out-of-window rows. Duplicates share (user, timestamp), so they are neighbours once rows
 * are ordered by (user, time). When users form contiguous time-sorted blocks (the UserBehavior layout) one pass
 * compares each row only with the earlier rows of its run of equal (user, timestamp). Otherwise the rows are
 * ordered by (user, time, row) first (counting sort by user, then a sort within each user).
 */
export function scanDuplicates(log: InteractionLog, window: TimeWindow | null): DuplicateScan {
  const n = log.numRows;
  const { user: U, item: I, category: C, behavior: B, timestamp: T } = log;
  let outOfWindow = 0;
  if (window) {
    const lo = window.start;
    const hi = window.end;
    for (let i = 0; i < n; i++) {
      const t = T[i];
      if (t < lo || t > hi) outOfWindow++;
    }
  }
  let mask: Uint8Array | null = null;
  let duplicates = 0;
  let sorted = true;
  const seenUsers = new Set<number>();
  if (n > 0) seenUsers.add(U[0]);
  let runStart = 0;
  for (let i = 1; i < n && sorted; i++) {
    const u = U[i];
    if (u !== U[i - 1]) {
      if (seenUsers.has(u)) sorted = false;
      seenUsers.add(u);
      runStart = i;
      continue;
    }
    const t = T[i];
    const tp = T[i - 1];
    if (t !== tp) {
      if (t < tp) sorted = false;
      runStart = i;
      continue;
    }
    for (let j = runStart; j < i; j++) {
      if (I[j] === I[i] && C[j] === C[i] && B[j] === B[i]) {
        mask ??= new Uint8Array(n);
        mask[i] = 1;
        duplicates++;
        break;
      }
    }
  }
  if (sorted) return { duplicateMask: mask, duplicates, outOfWindow, groupedByUserTimeSorted: true };

  // General order: rows of each user together, by time, ties by row index.
  const order = orderByUserTime(log);
  mask = null;
  duplicates = 0;
  runStart = 0;
  for (let k = 1; k < n; k++) {
    const i = order[k];
    const p = order[k - 1];
    if (U[i] !== U[p] || T[i] !== T[p]) {
      runStart = k;
      continue;
    }
    for (let m = runStart; m < k; m++) {
      const j = order[m];
      if (I[j] === I[i] && C[j] === C[i] && B[j] === B[i]) {
        mask ??= new Uint8Array(n);
        mask[i] = 1;
        duplicates++;
        break;
      }
    }
  }
  return { duplicateMask: mask, duplicates, outOfWindow, groupedByUserTimeSorted: false };
}

/** Row indices ordered by (user, timestamp, row). Users come in first-seen order. */
export function orderByUserTime(log: InteractionLog): Int32Array {
  const n = log.numRows;
  const { dense, toRaw } = denseColumn(log.user);
  const nu = toRaw.length;
  const offsets = new Int32Array(nu + 1);
  for (let i = 0; i < n; i++) offsets[dense[i] + 1]++;
  for (let u = 0; u < nu; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, nu);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[dense[i]]++] = i; // stable: rows of a user stay in file order
  const T = log.timestamp;
  for (let u = 0; u < nu; u++) {
    const a = offsets[u];
    const b = offsets[u + 1];
    if (b - a < 2) continue;
    let isSorted = true;
    for (let k = a + 1; k < b; k++) if (T[order[k]] < T[order[k - 1]]) { isSorted = false; break; }
    if (!isSorted) order.subarray(a, b).sort((x, y) => T[x] - T[y] || x - y);
  }
  return order;
}

/**
 * Removes the rows listed in `drop` (ascending, distinct) by moving the runs between them with copyWithin (a
 * memmove per run: cheap when drops are rare, as in the real log). Returns the shortened views.
 */
function compact(log: InteractionLog, drop: ArrayLike<number>): InteractionLog {
  const cols = [log.user, log.item, log.category, log.behavior, log.timestamp];
  const n = log.numRows;
  const m = drop.length;
  let w = m > 0 ? drop[0] : n;
  for (let k = 0; k < m; k++) {
    const from = drop[k] + 1;
    const to = k + 1 < m ? drop[k + 1] : n;
    if (to > from) {
      for (const c of cols) c.copyWithin(w, from, to);
      w += to - from;
    }
  }
  return { numRows: w, user: log.user.subarray(0, w), item: log.item.subarray(0, w), category: log.category.subarray(0, w), behavior: log.behavior.subarray(0, w), timestamp: log.timestamp.subarray(0, w) };
}

/**
 * Drops dense ids that no longer occur in `col` after cleaning and renumbers the rest in their old order (in
 * place); returns the new toRaw. One pass when nothing is missing.
 */
function pruneIds(col: Int32Array, toRaw: number[]): number[] {
  const seen = new Uint8Array(toRaw.length);
  for (let i = 0; i < col.length; i++) seen[col[i]] = 1;
  let k = 0;
  const remap = new Int32Array(toRaw.length);
  const kept: number[] = [];
  for (let d = 0; d < toRaw.length; d++) {
    if (seen[d]) {
      remap[d] = k++;
      kept.push(toRaw[d]);
    }
  }
  if (k === toRaw.length) return toRaw;
  for (let i = 0; i < col.length; i++) col[i] = remap[col[i]];
  return kept;
}

function toIndexed(log: InteractionLog, maps: { users: number[]; items: number[]; categories: number[] }): IndexedLog {
  const u = Float64Array.from(maps.users);
  const it = Float64Array.from(maps.items);
  const c = Float64Array.from(maps.categories);
  return {
    ...log,
    numUsers: u.length,
    numItems: it.length,
    numCategories: c.length,
    users: new DenseIdMap(u),
    items: new DenseIdMap(it),
    categories: new DenseIdMap(c),
  };
}

/** Renumbers an IndexedLog's ids by ascending raw id (in place on the id columns). */
function reindexSorted(log: IndexedLog): IndexedLog {
  const one = (col: Int32Array, map: IdMap) => {
    const order = Array.from(map.toRaw.keys()).sort((a, b) => map.toRaw[a] - map.toRaw[b]);
    const perm = new Int32Array(order.length);
    order.forEach((old, k) => (perm[old] = k));
    for (let i = 0; i < col.length; i++) col[i] = perm[col[i]];
    return new DenseIdMap(Float64Array.from(order, (old) => map.toRaw[old]));
  };
  return { ...log, users: one(log.user, log.users), items: one(log.item, log.items), categories: one(log.category, log.categories) };
}

function optionsKey(o: IngestOptions, layout: unknown, clean: boolean, window: TimeWindow | null): string {
  let catHash = '';
  if (o.categoryOfItem) {
    const entries = [...o.categoryOfItem.entries()].sort((a, b) => a[0] - b[0]);
    catHash = JSON.stringify(entries);
  }
  return JSON.stringify({ layout, clean, window, order: o.order ?? 'first-seen', maxExamples: o.maxExamples ?? 100, missingCategory: o.missingCategory ?? 0, catHash });
}

/**
 * Reads `path` into a cleaned, dense-indexed log with an Arrow table and a report; reloads the Arrow cache instead of
 * parsing when the source (size, mtime) and the options are unchanged. Bad rows never throw unless `strict`.
 */
export async function ingest(path: string, options: IngestOptions = {}): Promise<IngestResult> {
  const t0 = performance.now();
  const where = `ingest(${path})`;
  const preset = resolvePreset(options.preset, `${where}.preset`);
  const layout = options.layout ?? preset.layout;
  // A custom layout without a preset says nothing about the dataset: no cleaning and no window unless asked for.
  const customOnly = options.layout !== undefined && options.preset === undefined;
  const clean = options.clean ?? (customOnly ? false : preset.clean);
  const window = options.window === undefined ? (customOnly ? null : preset.window) : options.window;
  if (window !== null && !(Number.isInteger(window.start) && Number.isInteger(window.end) && window.start <= window.end)) {
    throw new InvalidArgumentError('invalid option', { where: `${where}.window`, expected: '{ start, end } integer Unix seconds with start <= end, or null', got: window });
  }
  const cacheOpt = options.cache ?? true;
  let loc: ReturnType<typeof cacheLocation> | null = null;
  let cacheNote: string | undefined;
  if (cacheOpt !== false) {
    try {
      loc = cacheLocation(path, optionsKey(options, layout, clean, window), typeof cacheOpt === 'object' ? cacheOpt.dir : undefined);
    } catch {
      loc = null; // a missing source is reported by readInteractions below
    }
  }
  if (loc) {
    const tc = performance.now();
    try {
      const hit = readCache(loc);
      if (hit) {
        const report = JSON.parse(hit.metadata.get('rec.report') ?? 'null') as IngestReport | null;
        if (report && !(options.strict && report.rejected.total > 0)) {
          const cacheSeconds = (performance.now() - tc) / 1000;
          report.cache = { enabled: true, hit: true, path: loc.logPath, bytesWritten: 0 };
          report.seconds = { parse: 0, clean: 0, reindex: 0, cache: cacheSeconds, total: (performance.now() - t0) / 1000 };
          return { log: hit.log, table: hit.table, report };
        }
        cacheNote = report ? 'strict mode re-parses a source that had bad rows' : 'cache had no report; re-parsed';
      }
    } catch (e) {
      cacheNote = `cache unreadable, re-parsed: ${(e as Error).message}`;
    }
  }

  // Ingest mode: ids come out dense and the duplicate/window scan runs while parsing.
  let expectedRows = 1 << 16;
  try {
    expectedRows = statSync(path).size / 20; // ~34 bytes a UserBehavior row; a gzip file gives fewer ids than it holds
  } catch {
    // missing file: streamParse reports it
  }
  const tracker = new IngestTracker(window, expectedRows);
  const read = await streamParse(path, { ...options, preset, layout }, tracker, where);
  const tClean = performance.now();
  let log = read.log;
  const users = tracker.users.toRaw;
  const items = tracker.items.toRaw;
  let categories = tracker.categories.toRaw;
  if (options.categoryOfItem) {
    // Category from the item (e.g. the movie's first genre): raw category per row, then dense again.
    const map = options.categoryOfItem;
    const missing = options.missingCategory ?? 0;
    const { category: cat, item } = log;
    for (let i = 0; i < log.numRows; i++) cat[i] = map.get(items[item[i]]) ?? missing;
    categories = Array.from(denseColumn(cat, 'first-seen', cat).toRaw);
  }
  const outOfWindow = tracker.outOfWindow;
  let duplicates: number;
  let dupMask: Uint8Array | null = null;
  // The inline scan compared the file's categories; when categoryOfItem replaced a category column, rescan.
  const inlineScanValid = tracker.ordered && !(options.categoryOfItem && typeof layout.category === 'number');
  if (inlineScanValid) {
    duplicates = tracker.duplicates.length;
    if (duplicates > 0 && outOfWindow > 0 && clean) {
      dupMask = new Uint8Array(log.numRows);
      for (const i of tracker.duplicates) dupMask[i] = 1;
    }
  } else {
    // Users not in contiguous time-sorted blocks: the general scan (sorts rows by user and time).
    const scan = scanDuplicates(log, null);
    duplicates = scan.duplicates;
    dupMask = scan.duplicateMask;
  }
  let dropped = 0;
  let maps = { users, items, categories };
  if (clean && (duplicates > 0 || outOfWindow > 0)) {
    let drop: ArrayLike<number>;
    if (outOfWindow === 0 && inlineScanValid) drop = tracker.duplicates; // ascending, as found
    else {
      const mask = dupMask ?? new Uint8Array(log.numRows);
      if (window) {
        const T = log.timestamp;
        for (let i = 0; i < log.numRows; i++) if (T[i] < window.start || T[i] > window.end) mask[i] = 1;
      }
      const list: number[] = [];
      for (let i = 0; i < mask.length; i++) if (mask[i]) list.push(i);
      drop = list;
    }
    const before = log.numRows;
    log = compact(log, drop);
    dropped = before - log.numRows;
    maps = {
      users: pruneIds(log.user, users),
      items: pruneIds(log.item, items),
      categories: pruneIds(log.category, categories),
    };
  }
  const tIndex = performance.now();
  let indexed = toIndexed(log, maps);
  if ((options.order ?? 'first-seen') === 'sorted') indexed = reindexSorted(indexed);
  const tDone = performance.now();
  const report: IngestReport = {
    ...read.report,
    preset: options.layout ? `${preset.name} (custom layout)` : preset.name,
    duplicates,
    outOfWindow,
    window,
    cleaned: clean,
    dropped,
    rowsKept: indexed.numRows,
    numUsers: indexed.numUsers,
    numItems: indexed.numItems,
    numCategories: indexed.numCategories,
    groupedByUserTimeSorted: tracker.ordered,
    seconds: { parse: read.report.parseSeconds, clean: (tIndex - tClean) / 1000, reindex: (tDone - tIndex) / 1000, cache: 0, total: 0 },
    cache: { enabled: loc !== null, hit: false, path: loc?.logPath ?? null, bytesWritten: 0, ...(cacheNote ? { note: cacheNote } : {}) },
  };
  const table = logToTable(indexed, { 'rec.report': JSON.stringify(report), 'rec.source': path });
  if (loc) {
    const tw = performance.now();
    try {
      report.cache.bytesWritten = await writeCache(loc, indexed, { 'rec.report': JSON.stringify(report), 'rec.source': path });
    } catch (e) {
      report.cache.note = `cache not written: ${(e as Error).message}`;
      report.cache.path = null;
    }
    report.seconds.cache = (performance.now() - tw) / 1000;
  }
  report.seconds.total = (performance.now() - t0) / 1000;
  return { log: indexed, table, report };
}

/** Summary statistics of a log (computed, not read from the report). */
export interface DatasetStats {
  rows: number;
  users: number;
  items: number;
  categories: number;
  behaviorCounts: Record<(typeof BEHAVIORS)[number], number>;
  timeRange: { min: number; max: number } | null;
  eventsPerUser: { min: number; p25: number; median: number; p75: number; p90: number; p99: number; max: number; mean: number } | null;
}

function distinctCount(col: Int32Array, known?: number): number {
  return known ?? denseColumn(col).toRaw.length;
}

export function datasetStats(log: InteractionLog | IndexedLog): DatasetStats {
  checkLog(log, 'datasetStats(log)');
  const n = log.numRows;
  const indexed = 'numUsers' in log ? (log as IndexedLog) : null;
  const userDense = indexed ? indexed.user : denseColumn(log.user).dense;
  const users = distinctCount(log.user, indexed?.numUsers);
  const counts = new Int32Array(users);
  for (let i = 0; i < n; i++) counts[userDense[i]]++;
  const behaviorCounts = { pv: 0, cart: 0, fav: 0, buy: 0 };
  const bc = new Float64Array(4);
  for (let i = 0; i < n; i++) bc[log.behavior[i] & 3]++;
  BEHAVIORS.forEach((b, k) => (behaviorCounts[b] = bc[k]));
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = log.timestamp[i];
    if (t < min) min = t;
    if (t > max) max = t;
  }
  let eventsPerUser: DatasetStats['eventsPerUser'] = null;
  if (users > 0) {
    const s = counts.slice().sort();
    // Nearest-rank quantile: the smallest value with at least q of the users at or below it.
    const q = (p: number) => s[Math.min(users - 1, Math.max(0, Math.ceil(p * users) - 1))];
    eventsPerUser = { min: s[0], p25: q(0.25), median: q(0.5), p75: q(0.75), p90: q(0.9), p99: q(0.99), max: s[users - 1], mean: n / users };
  }
  return {
    rows: n,
    users,
    items: distinctCount(log.item, indexed?.numItems),
    categories: distinctCount(log.category, indexed?.numCategories),
    behaviorCounts,
    timeRange: n > 0 ? { min, max } : null,
    eventsPerUser,
  };
}

function iso(t: number, offsetHours = 0): string {
  return new Date((t + offsetHours * 3600) * 1000).toISOString().replace('T', ' ').replace('.000Z', '');
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Printable statistics of a log, with the ingest report above them when given. */
export function describeDataset(log: InteractionLog | IndexedLog, report?: IngestReport): string {
  const s = datasetStats(log);
  const lines: string[] = [];
  if (report) {
    lines.push(`source         ${report.source} (${fmt(report.bytes)} bytes${report.gzip ? ', gzip' : ''}), preset ${report.preset}, ${report.parser} parser`);
    lines.push(`cache          ${report.cache.enabled ? (report.cache.hit ? `hit: ${report.cache.path}` : `miss, written: ${report.cache.path ?? 'no'}`) : 'off'}${report.cache.note ? ` (${report.cache.note})` : ''}`);
    lines.push(`header         ${report.header === null ? 'none' : JSON.stringify(report.header)}`);
    lines.push(`rows read      ${fmt(report.rowsRead)} (${fmt(report.lines)} lines)`);
    lines.push(`rows parsed    ${fmt(report.rowsParsed)}`);
    const rej = REJECT_REASONS.filter((r) => report.rejected.byReason[r] > 0)
      .map((r: RejectReason) => `${r} ${fmt(report.rejected.byReason[r])}`)
      .join(', ');
    lines.push(`rejected       ${fmt(report.rejected.total)}${rej ? ` (${rej})` : ''}`);
    for (const ex of report.rejected.examples.slice(0, 5)) lines.push(`  line ${ex.line}: ${ex.reason}: ${ex.detail}`);
    if (report.rejected.examples.length > 5) lines.push(`  ... ${report.rejected.examples.length - 5} more examples in the report`);
    const w = report.window ? `${iso(report.window.start, 8)} .. ${iso(report.window.end, 8)} UTC+8` : 'none';
    lines.push(`duplicates     ${fmt(report.duplicates)}`);
    lines.push(`out of window  ${fmt(report.outOfWindow)} (window ${w})`);
    lines.push(`cleaning       ${report.cleaned ? `on, dropped ${fmt(report.dropped)}` : 'off'}`);
    lines.push(`rows kept      ${fmt(report.rowsKept)}`);
    const sec = report.seconds;
    lines.push(`seconds        total ${sec.total.toFixed(3)} (parse ${sec.parse.toFixed(3)}, clean ${sec.clean.toFixed(3)}, reindex ${sec.reindex.toFixed(3)}, cache ${sec.cache.toFixed(3)})`);
    lines.push('');
  }
  lines.push(`rows           ${fmt(s.rows)}`);
  lines.push(`users          ${fmt(s.users)}`);
  lines.push(`items          ${fmt(s.items)}`);
  lines.push(`categories     ${fmt(s.categories)}`);
  const mix = BEHAVIORS.map((b) => `${b} ${fmt(s.behaviorCounts[b])} (${s.rows ? ((100 * s.behaviorCounts[b]) / s.rows).toFixed(1) : '0.0'}%)`).join(', ');
  lines.push(`behaviors      ${mix}`);
  if (s.timeRange) lines.push(`time range     ${iso(s.timeRange.min)} .. ${iso(s.timeRange.max)} UTC (${((s.timeRange.max - s.timeRange.min) / 86400).toFixed(1)} days)`);
  const e = s.eventsPerUser;
  if (e) lines.push(`events/user    min ${e.min}, p25 ${e.p25}, median ${e.median}, p75 ${e.p75}, p90 ${e.p90}, p99 ${e.p99}, max ${e.max}, mean ${e.mean.toFixed(1)}`);
  return lines.join('\n');
}
