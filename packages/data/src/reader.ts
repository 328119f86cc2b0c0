/**
 * Streaming reader: a delimited interaction file (plain or gzip, LF or CRLF, with or without a header) into
 * columnar typed arrays, with every bad row counted by reason and kept as an example with its line number.
 */
import { createReadStream, openSync, readSync, closeSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { DataFormatError, InvalidArgumentError, NotAvailableError } from '@rec/core';
import { ColumnBuilder, RejectLog, RowParser, presets, type IngestTracker, REJECT_REASONS, type CsvLayout, type DatasetPreset, type PresetName, type RejectReason, type RejectedRow } from './csv.js';
import type { Table } from 'apache-arrow';
import { logToTable } from './arrow.js';
import type { InteractionLog } from './types.js';

/** Lines longer than this are rejected as `line-too-long` without being held in memory. */
export const MAX_LINE_BYTES = 1 << 20;

export interface ReadOptions {
  /** A preset (or its name) giving the layout; default `userBehavior`. `layout` overrides the preset's layout. */
  preset?: DatasetPreset | PresetName;
  layout?: CsvLayout;
  /** Throw a DataFormatError (with file:line) on the first bad row instead of counting it. Default false. */
  strict?: boolean;
  /** Examples kept per reject reason. Default 100. */
  maxExamples?: number;
  /**
   * Category of each item, looked up after parsing (e.g. MovieLens genres from `readMovieLensGenres`); items not in the
   * map get `missingCategory` (default 0). Overrides the layout's category.
   */
  categoryOfItem?: ReadonlyMap<number, number>;
  missingCategory?: number;
  /** Read chunk size in bytes (default 1 MiB). Small values exercise rows that cross chunk boundaries. */
  chunkSize?: number;
  /** Use the generic parser even for the UserBehavior layout (for tests and comparisons). */
  forceGenericParser?: boolean;
}

/** What `readInteractions` found while parsing. */
export interface ReadReport {
  source: string;
  /** Size of the file on disk. */
  bytes: number;
  gzip: boolean;
  /** The header line, or null when there was none. */
  header: string | null;
  parser: 'fast' | 'generic';
  /** Physical lines read, the header included. */
  lines: number;
  /** Data lines examined (good and bad). */
  rowsRead: number;
  /** Rows that parsed. */
  rowsParsed: number;
  rejected: { total: number; byReason: Record<RejectReason, number>; examples: RejectedRow[] };
  parseSeconds: number;
}

export interface ReadResult {
  log: InteractionLog;
  /** The same columns as an Arrow table (zero-copy). */
  table: Table;
  report: ReadReport;
}

export function resolvePreset(preset: DatasetPreset | PresetName | undefined, where: string): DatasetPreset {
  if (preset === undefined) return presets.userBehavior;
  if (typeof preset === 'string') {
    const p = (presets as Record<string, DatasetPreset>)[preset];
    if (!p) throw new InvalidArgumentError('unknown preset', { where, expected: Object.keys(presets).join(' | '), got: preset });
    return p;
  }
  return preset;
}

/** True when the file starts with the gzip magic bytes 1f 8b. */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const n = readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Streams `path` into an InteractionLog (raw ids). Chunks are parsed in place; only a row that crosses a chunk
 * boundary is copied. Never throws on bad rows unless `strict`.
 */
export async function readInteractions(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const r = await streamParse(path, options, null, `readInteractions(${path})`);
  if (options.categoryOfItem) {
    const map = options.categoryOfItem;
    const missing = options.missingCategory ?? 0;
    const { category: cat, item } = r.log;
    for (let i = 0; i < r.log.numRows; i++) cat[i] = map.get(item[i]) ?? missing;
  }
  return r;
}

/**
 * The streaming loop behind `readInteractions` and `ingest`. With a tracker (ingest mode) the id columns come out
 * dense (raw ids in the tracker's IdTables) and the duplicate/window scan is done on the way. Does not apply
 * `categoryOfItem`.
 */
export async function streamParse(path: string, options: ReadOptions, tracker: IngestTracker | null, where: string): Promise<ReadResult> {
  const preset = resolvePreset(options.preset, `${where}.preset`);
  const layout = options.layout ?? preset.layout;
  const maxExamples = options.maxExamples ?? 100;
  if (!(Number.isInteger(maxExamples) && maxExamples >= 0)) throw new InvalidArgumentError('invalid option', { where: `${where}.maxExamples`, expected: 'an integer >= 0', got: maxExamples });
  const chunkSize = options.chunkSize ?? 1 << 20;
  if (!(Number.isInteger(chunkSize) && chunkSize >= 1)) throw new InvalidArgumentError('invalid option', { where: `${where}.chunkSize`, expected: 'a positive integer', got: chunkSize });
  let bytes: number;
  let isFile: boolean;
  try {
    const st = statSync(path);
    bytes = st.size;
    isFile = st.isFile();
  } catch (e) {
    throw new NotAvailableError('cannot read the input file', { where, expected: 'an existing readable file', got: path, hint: 'check the path (tests and the CLI take data from REC_DATA_DIR or ../shared/data)', cause: e });
  }
  if (!isFile) throw new NotAvailableError('not a file', { where, expected: 'a regular file (CSV or gzip)', got: path, hint: 'pass the data file inside that folder' });
  const t0 = performance.now();
  const gzip = bytes >= 2 && isGzipFile(path);
  // ~34 bytes per UserBehavior row; gzip text is about 4x smaller than the text.
  const out = new ColumnBuilder((gzip ? bytes * 4 : bytes) / 30 + 1024);
  const rejects = new RejectLog(maxExamples, options.strict ?? false, path);
  const parser = new RowParser(layout, out, rejects, { forceGeneric: options.forceGenericParser, tracker: tracker ?? undefined });

  let stream: Readable = createReadStream(path, { highWaterMark: chunkSize });
  if (gzip) {
    const source = stream;
    const gunzip = createGunzip({ chunkSize: Math.max(64, Math.min(chunkSize, 1 << 20)) });
    source.on('error', (e) => gunzip.destroy(e)); // pipe() does not forward read errors
    stream = source.pipe(gunzip);
  }
  // The start of a line that continues in the next chunk(s), kept as parts (one concat when the line ends). A line
  // longer than MAX_LINE_BYTES is not kept: it is skipped to its newline and rejected as `line-too-long`.
  let carry: Buffer[] = [];
  let carryLen = 0;
  let oversized = false;
  const takeCarry = (piece: Buffer) => {
    if (oversized) return;
    carry.push(piece);
    carryLen += piece.length;
    if (carryLen > MAX_LINE_BYTES) {
      oversized = true;
      carry = [Buffer.concat(carry).subarray(0, 200)];
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      if (carryLen > 0) {
        const nl = chunk.indexOf(10);
        if (nl < 0) {
          takeCarry(chunk);
          continue;
        }
        if (oversized) parser.rejectLongLine(carry[0], MAX_LINE_BYTES);
        else {
          const joined = Buffer.concat([...carry, chunk.subarray(0, nl + 1)]);
          parser.parseLines(joined, 0, joined.length);
        }
        carry = [];
        carryLen = 0;
        oversized = false;
        start = nl + 1;
      }
      const last = chunk.lastIndexOf(10);
      if (last >= start) {
        parser.parseLines(chunk, start, last + 1);
        start = last + 1;
      }
      if (start < chunk.length) takeCarry(Buffer.from(chunk.subarray(start)));
    }
  } catch (e) {
    stream.destroy();
    if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string' && (e as { code: string }).code.startsWith('Z_')) {
      throw new DataFormatError('corrupt gzip stream', { where, expected: 'a complete gzip file', got: (e as Error).message, hint: 'the file starts with the gzip magic bytes but does not decompress; re-download or re-compress it', cause: e });
    }
    throw e;
  }
  if (carryLen > 0) {
    if (oversized) parser.rejectLongLine(carry[0], MAX_LINE_BYTES);
    else {
      const last = Buffer.concat(carry);
      parser.parseLastLine(last, 0, last.length);
    }
  }

  const cols = out.finish();
  const numRows = cols.user.length;
  const byReason = { ...rejects.counts };
  for (const r of REJECT_REASONS) byReason[r] ??= 0;
  const log: InteractionLog = { numRows, ...cols };
  return {
    log,
    table: logToTable(log),
    report: {
      source: path,
      bytes,
      gzip,
      header: parser.header,
      parser: parser.parserKind,
      lines: parser.line,
      rowsRead: parser.rowsRead,
      rowsParsed: numRows,
      rejected: { total: rejects.total, byReason, examples: rejects.examples },
      parseSeconds: (performance.now() - t0) / 1000,
    },
  };
}

/**
 * MovieLens `movies.csv` (`movieId,title,genres`, quoted titles, genres joined by `|`) to movieId -> genre index of
 * the movie's first genre. Genre indices are 1-based in order of first appearance in the file; 0 is kept for
 * `(no genres listed)` and unknown movies. Returns the map and the genre names (index 0 = `(none)`).
 */
export function readMovieLensGenres(text: string): { categoryOfItem: Map<number, number>; genres: string[] } {
  const genres = ['(none)'];
  const index = new Map<string, number>();
  const categoryOfItem = new Map<number, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const firstComma = line.indexOf(',');
    const lastComma = line.lastIndexOf(',');
    if (firstComma < 0 || lastComma === firstComma) continue;
    const id = Number(line.slice(0, firstComma));
    if (!Number.isInteger(id)) continue;
    const first = line.slice(lastComma + 1).split('|')[0];
    if (first === '(no genres listed)' || first === '') {
      categoryOfItem.set(id, 0);
      continue;
    }
    let g = index.get(first);
    if (g === undefined) {
      g = genres.length;
      genres.push(first);
      index.set(first, g);
    }
    categoryOfItem.set(id, g);
  }
  return { categoryOfItem, genres };
}
