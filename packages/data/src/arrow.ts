/**
 * Arrow interchange: an InteractionLog as an Apache Arrow table whose columns are the log's typed arrays
 * (zero-copy both ways), and Arrow IPC files read with one readFileSync.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Field, Float64, Int32, RecordBatch, RecordBatchFileWriter, Schema, Struct, Table, Uint8, makeData, tableFromIPC, type Data, type DataType } from 'apache-arrow';
import { DataFormatError } from '@rec/core';
import type { InteractionLog } from './types.js';

export const LOG_COLUMNS = ['user', 'item', 'category', 'behavior', 'timestamp'] as const;

function logSchema(metadata?: ReadonlyMap<string, string> | Record<string, string>): Schema {
  const meta = metadata instanceof Map ? new Map(metadata) : new Map(Object.entries(metadata ?? {}));
  return new Schema(
    [
      new Field('user', new Int32(), false),
      new Field('item', new Int32(), false),
      new Field('category', new Int32(), false),
      new Field('behavior', new Uint8(), false),
      new Field('timestamp', new Int32(), false),
    ],
    meta,
  );
}

/** The log as a one-batch Arrow table over the same buffers (no copy). `metadata` goes into the schema. */
export function logToTable(log: InteractionLog, metadata?: ReadonlyMap<string, string> | Record<string, string>): Table {
  const schema = logSchema(metadata);
  const n = log.numRows;
  const children: Data<DataType>[] = [
    makeData({ type: new Int32(), length: n, nullCount: 0, data: log.user }),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: log.item }),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: log.category }),
    makeData({ type: new Uint8(), length: n, nullCount: 0, data: log.behavior }),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: log.timestamp }),
  ];
  const struct = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new Table(schema, [new RecordBatch(schema, struct)]);
}

function columnValues<T extends Int32Array | Uint8Array | Float64Array>(table: Table, name: string, ctor: { new (n: number): T; name: string }, where: string): T {
  const col = table.getChild(name);
  if (col === null) throw new DataFormatError('missing column', { where, expected: `a column "${name}"`, got: table.schema.fields.map((f) => f.name) });
  const n = table.numRows;
  if (col.data.length === 1) {
    const d = col.data[0];
    const v = d.values as unknown;
    if (!(v instanceof (ctor as unknown as typeof Int32Array))) throw new DataFormatError('wrong column type', { where: `${where}.${name}`, expected: ctor.name, got: String(d.type) });
    if (d.nullCount > 0) throw new DataFormatError('nulls in column', { where: `${where}.${name}`, expected: 'no nulls', got: d.nullCount });
    return (v as T).subarray(d.offset, d.offset + n) as T;
  }
  // Several batches: one copy into a contiguous array.
  const out = new ctor(n);
  let k = 0;
  for (const d of col.data) {
    const v = d.values as unknown as T;
    out.set(v.subarray(d.offset, d.offset + d.length) as never, k);
    k += d.length;
  }
  return out;
}

/** The log behind an Arrow table with the five columns (views when the table has one batch). */
export function tableToLog(table: Table, where = 'tableToLog'): InteractionLog {
  return {
    numRows: table.numRows,
    user: columnValues(table, 'user', Int32Array, where),
    item: columnValues(table, 'item', Int32Array, where),
    category: columnValues(table, 'category', Int32Array, where),
    behavior: columnValues(table, 'behavior', Uint8Array, where),
    timestamp: columnValues(table, 'timestamp', Int32Array, where),
  };
}

/**
 * Writes a table as an Arrow IPC file, atomically (temp file, fsync, rename). The writer's chunks go straight to the
 * file: column bodies are written from the columns' own buffers, so no second copy of the data is built in memory.
 * Returns the bytes written.
 */
export async function writeArrowFile(path: string, table: Table): Promise<number> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  try {
    for await (const chunk of RecordBatchFileWriter.writeAll(table)) {
      let off = 0;
      while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
      bytes += chunk.byteLength;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return bytes;
}

/** Reads an Arrow IPC file with one readFileSync; column values are views into that one buffer. */
export function readArrowFile(path: string): Table {
  const buf = readFileSync(path);
  try {
    return tableFromIPC(buf);
  } catch (e) {
    throw new DataFormatError('not an Arrow IPC file', { where: `readArrowFile(${path})`, expected: 'an Arrow IPC file', got: `${buf.byteLength} bytes`, hint: 'delete the file; it is re-created from the source', cause: e });
  }
}

/** Id maps (toRaw arrays of possibly different lengths) as an Arrow table of one Float64 column `raw`, one batch per map. */
export function idMapsToTable(maps: Float64Array[], names: string[]): Table {
  const schema = new Schema([new Field('raw', new Float64(), false)], new Map([['rec.maps', JSON.stringify(names)]]));
  const batches = maps.map((m) => {
    const child = makeData({ type: new Float64(), length: m.length, nullCount: 0, data: m });
    return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: m.length, nullCount: 0, children: [child] }));
  });
  return new Table(schema, batches);
}

/** The inverse of `idMapsToTable`: name -> toRaw (views into the table's buffer). */
export function tableToIdMaps(table: Table, where: string): Map<string, Float64Array> {
  const names = JSON.parse(table.schema.metadata.get('rec.maps') ?? '[]') as string[];
  const col = table.getChild('raw');
  if (col === null || col.data.length !== names.length) throw new DataFormatError('bad id-map file', { where, expected: `${names.length} batches of column "raw"`, got: col?.data.length ?? 0, hint: 'delete the cache files; they are re-created' });
  const out = new Map<string, Float64Array>();
  names.forEach((name, i) => {
    const d = col.data[i];
    out.set(name, (d.values as Float64Array).subarray(d.offset, d.offset + d.length));
  });
  return out;
}
