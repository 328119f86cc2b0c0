/** Test-only data loaders: the real UserBehavior head sample (skipped when absent, unless CI) and synthetic logs. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSyntheticLog, ingest, reindex, type IndexedLog } from '@rec/data';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
export const headCsv = resolve(dataDir, 'userbehavior-head/UserBehavior.csv');
export const hasHead = existsSync(headCsv);
if (!hasHead && process.env.CI) throw new Error(`real data missing at ${headCsv} (REC_DATA_DIR) and CI is set`);

let cached: Promise<IndexedLog> | null = null;
/** The 4,321-row UserBehavior head, cleaned and re-indexed by @rec/data (no cache files written). */
export function loadHead(): Promise<IndexedLog> {
  cached ??= ingest(headCsv, { preset: 'userBehavior', cache: false }).then((r) => r.log);
  return cached;
}

/** A small synthetic UserBehavior-like log from @rec/data's generator, re-indexed. */
export function syntheticLog(rows = 20_000, users = 200, seed = 1): IndexedLog {
  return reindex(generateSyntheticLog({ rows, users, seed }));
}
