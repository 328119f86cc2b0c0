/**
 * Arrow IPC cache of an ingested (cleaned, re-indexed) log.
 *
 * Two files per source and options: `<name>.<optionsHash>.<stateHash>.arrow` (the five dense columns, the ingest
 * report in the schema metadata) and the same name with `.ids.arrow` (the three `toRaw` maps). `optionsHash`
 * covers the absolute source path and every option that changes the result; `stateHash` covers the source size and
 * mtime. A changed source or option gives another name, so a stale file is never read; older files of the same
 * source and options are deleted when a new one is written.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { idMapsToTable, logToTable, readArrowFile, tableToIdMaps, tableToLog, writeArrowFile } from './arrow.js';
import { DenseIdMap } from './reindex.js';
import type { IndexedLog } from './types.js';
import type { Table } from 'apache-arrow';

/** Bump when the cache layout or the meaning of a cached column changes. */
export const CACHE_FORMAT_VERSION = 1;

export interface CacheLocation {
  dir: string;
  logPath: string;
  idsPath: string;
  /** Prefix shared by every cache file of this source and options (for clean-up). */
  prefix: string;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * The default cache directory: `$REC_CACHE_DIR` when set, else `<os tmpdir>/rec-data-cache`. Never beside the source
 * by default (data folders are often shared or read-only); pass `cache: { dir: dirname(source) }` for that.
 */
export function defaultCacheDir(): string {
  return process.env.REC_CACHE_DIR ?? join(tmpdir(), 'rec-data-cache');
}

/** Where the cache for `source` read with `optionsKey` (a canonical string of the options) lives now. */
export function cacheLocation(source: string, optionsKey: string, dir?: string): CacheLocation {
  const abs = resolve(source);
  const st = statSync(abs);
  const d = dir ?? defaultCacheDir();
  const prefix = `${basename(abs)}.${shortHash(`${CACHE_FORMAT_VERSION}\n${abs}\n${optionsKey}`)}.`;
  const state = shortHash(`${st.size}\n${st.mtimeMs}`);
  return { dir: d, prefix, logPath: join(d, `${prefix}${state}.arrow`), idsPath: join(d, `${prefix}${state}.ids.arrow`) };
}

/** Writes the indexed log and its maps; removes older cache files of the same source and options. Returns bytes written. */
export async function writeCache(loc: CacheLocation, log: IndexedLog, metadata: Record<string, string>): Promise<number> {
  mkdirSync(loc.dir, { recursive: true });
  for (const f of readdirSync(loc.dir)) {
    if (f.startsWith(loc.prefix) && join(loc.dir, f) !== loc.logPath && join(loc.dir, f) !== loc.idsPath) rmSync(join(loc.dir, f), { force: true });
  }
  // Maps first: the log file appearing last marks a complete cache.
  let bytes = await writeArrowFile(loc.idsPath, idMapsToTable([log.users.toRaw, log.items.toRaw, log.categories.toRaw], ['users', 'items', 'categories']));
  bytes += await writeArrowFile(loc.logPath, logToTable(log, metadata));
  return bytes;
}

/** Loads a cache written by `writeCache`, or returns null when there is none. Columns are views into the file buffers. */
export function readCache(loc: CacheLocation): { log: IndexedLog; table: Table; metadata: Map<string, string> } | null {
  if (!existsSync(loc.logPath) || !existsSync(loc.idsPath)) return null;
  const table = readArrowFile(loc.logPath);
  const maps = tableToIdMaps(readArrowFile(loc.idsPath), loc.idsPath);
  const base = tableToLog(table, loc.logPath);
  const users = maps.get('users')!;
  const items = maps.get('items')!;
  const categories = maps.get('categories')!;
  return {
    log: {
      ...base,
      numUsers: users.length,
      numItems: items.length,
      numCategories: categories.length,
      users: new DenseIdMap(users),
      items: new DenseIdMap(items),
      categories: new DenseIdMap(categories),
    },
    table,
    metadata: table.schema.metadata,
  };
}
