/**
 * Ingest benchmark: a synthetic UserBehavior CSV (default 10M rows, ~337 MB) through @rec/data's `ingest`
 * (parse + validation + report + duplicate/window scan + re-index + Arrow table), against DuckDB read_csv into
 * typed arrays in the same run, plus peak RSS and the Arrow-cache reload.
 *
 *   pnpm tsx bench/ingest.ts [--rows N] [--quick] [--path file.csv] [--no-duckdb]
 *
 * `--quick` = 1M rows. The CSV is written once to <tmpdir>/rec-bench/ by the @rec/data synthetic generator and reused.
 * Build @rec/data first (`pnpm --filter @rec/data build`): this imports its dist, as users do.
 */
import { existsSync, mkdirSync, rmSync, statSync, createReadStream } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The root tsconfig maps @rec/* to src/, which tsx follows, and @rec/core's src needs bundling. Re-run once with a
// tsconfig without `paths` so the built dist/ of @rec/data is measured, as users get it.
if (!process.env.TSX_TSCONFIG_PATH) {
  const here = dirname(fileURLToPath(import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: join(here, '..', 'packages', 'data', 'tsconfig.json') },
  });
  process.exit(r.status ?? 1);
}
const { ingest, writeSyntheticUserBehavior } = await import('@rec/data');

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const quick = process.argv.includes('--quick');
const rows = Number(flag('--rows') ?? (quick ? 1_000_000 : 10_000_000));
const noDuck = process.argv.includes('--no-duckdb');
const mib = (b: number) => b / (1 << 20);
const rssMiB = () => mib(process.memoryUsage().rss);
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB

async function ensureCsv(): Promise<string> {
  const given = flag('--path');
  if (given) return given;
  const dir = join(tmpdir(), 'rec-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `userbehavior-synthetic-${rows}-seed0.csv`);
  if (!existsSync(path)) {
    const t = performance.now();
    const r = await writeSyntheticUserBehavior(path, { rows, seed: 0 });
    console.log(`generated ${r.rows.toLocaleString()} rows, ${r.users.toLocaleString()} users, ${mib(r.bytes).toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s -> ${path}`);
  }
  return path;
}

async function warmPageCache(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 1 << 20 })) void _;
}

async function duckdbToTypedArrays(path: string): Promise<{ seconds: number; rows: number; threads: string }> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  const threads = String((await con.runAndReadAll(`SELECT current_setting('threads')`)).getRows()[0][0]);
  const t = performance.now();
  const sql = `SELECT u, i, c, (CASE b WHEN 'pv' THEN 0 WHEN 'cart' THEN 1 WHEN 'fav' THEN 2 WHEN 'buy' THEN 3 END)::UTINYINT AS b, t
    FROM read_csv('${path.replace(/'/g, "''")}', header = false, delim = ',', columns = {'u': 'INTEGER', 'i': 'INTEGER', 'c': 'INTEGER', 'b': 'VARCHAR', 't': 'INTEGER'})`;
  const result = await con.stream(sql);
  let cap = 1 << 20;
  let U = new Int32Array(cap), I = new Int32Array(cap), C = new Int32Array(cap), B = new Uint8Array(cap), T = new Int32Array(cap);
  let n = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const m = chunk.rowCount;
    if (n + m > cap) {
      cap = Math.max(n + m, cap * 2);
      const g = <A extends Int32Array | Uint8Array>(a: A, b: A) => (b.set(a.subarray(0, n)), b);
      U = g(U, new Int32Array(cap)); I = g(I, new Int32Array(cap)); C = g(C, new Int32Array(cap)); B = g(B, new Uint8Array(cap)); T = g(T, new Int32Array(cap));
    }
    // The vectors' typed arrays (a private field in the typings) are copied in bulk, not per value.
    const col = (k: number) => (chunk.getColumnVector(k) as unknown as { items: Int32Array | Uint8Array }).items;
    U.set(col(0) as Int32Array, n); I.set(col(1) as Int32Array, n); C.set(col(2) as Int32Array, n); B.set(col(3) as Uint8Array, n); T.set(col(4) as Int32Array, n);
    n += m;
  }
  const seconds = (performance.now() - t) / 1000;
  con.closeSync?.();
  return { seconds, rows: n, threads };
}

const path = await ensureCsv();
const bytes = statSync(path).size;
await warmPageCache(path);
const base = rssMiB();
console.log(`\ninput: ${path}: ${mib(bytes).toFixed(0)} MiB; node ${process.version}; RSS before ingest ${base.toFixed(0)} MiB`);

// 1) ours, no cache: everything that a first ingest does.
const ours = await ingest(path, { cache: false });
const r = ours.report;
const peak = maxRssMiB();
const oursS = r.seconds.total;
console.log(`\n@rec/data ingest (validation, report, duplicate/window scan, cleaning, reindex, Arrow table): ${oursS.toFixed(2)} s`);
console.log(`  ${(r.rowsRead / oursS / 1e6).toFixed(2)} M rows/s, ${(mib(bytes) / oursS).toFixed(0)} MiB/s; parse ${r.seconds.parse.toFixed(2)} s, clean ${r.seconds.clean.toFixed(2)} s, reindex ${r.seconds.reindex.toFixed(2)} s`);
console.log(`  rows read ${r.rowsRead.toLocaleString()}, kept ${r.rowsKept.toLocaleString()}, rejected ${r.rejected.total}, duplicates ${r.duplicates}, out of window ${r.outOfWindow}; users ${r.numUsers.toLocaleString()}, items ${r.numItems.toLocaleString()}, categories ${r.numCategories.toLocaleString()}; parser ${r.parser}`);
console.log(`  Arrow table rows ${ours.table.numRows.toLocaleString()} (zero-copy: ${ours.table.getChild('user')!.data[0].values.buffer === ours.log.user.buffer})`);
const perRow = ((peak - base) * (1 << 20)) / r.rowsRead;
console.log(`  peak RSS ${peak.toFixed(0)} MiB (${(peak - base).toFixed(0)} MiB above the ${base.toFixed(0)} MiB before; ${perRow.toFixed(1)} B/row)`);
console.log(`  projection for 100M rows: ${((base + (perRow * 100e6) / (1 << 20)) / 1024).toFixed(2)} GiB peak (linear in rows; the five columns alone are 17 B/row = 1.58 GiB)`);

// 2) DuckDB in the same run.
let duckS = NaN;
if (!noDuck) {
  const d = await duckdbToTypedArrays(path);
  duckS = d.seconds;
  console.log(`\nDuckDB read_csv -> typed arrays (threads=${d.threads}): ${d.seconds.toFixed(2)} s, ${(d.rows / d.seconds / 1e6).toFixed(2)} M rows/s (parse only: no report, no dedupe, no reindex)`);
  console.log(`  ratio: @rec/data is ${(duckS / oursS).toFixed(2)}x DuckDB's speed (target >= 2x)`);
}

// 3) cache: write once, reload.
const cacheDir = join(tmpdir(), 'rec-bench', 'cache');
rmSync(cacheDir, { recursive: true, force: true });
const w = await ingest(path, { cache: { dir: cacheDir } });
const t0 = performance.now();
const hit = await ingest(path, { cache: { dir: cacheDir } });
const reloadS = (performance.now() - t0) / 1000;
console.log(`\nArrow cache: written ${mib(w.report.cache.bytesWritten).toFixed(0)} MiB in ${w.report.seconds.cache.toFixed(2)} s; reload (readFileSync + tableFromIPC, zero-copy views) ${reloadS.toFixed(3)} s, hit=${hit.report.cache.hit}`);
console.log(`  reload is ${(oursS / reloadS).toFixed(1)}x faster than parsing (target >= 10x)`);
console.log(`\nsummary: rows=${r.rowsRead} ours=${oursS.toFixed(2)}s (${(r.rowsRead / oursS / 1e6).toFixed(2)}M rows/s) duckdb=${Number.isNaN(duckS) ? 'skipped' : `${duckS.toFixed(2)}s`} ratio=${Number.isNaN(duckS) ? '-' : (duckS / oursS).toFixed(2)} peakRSS=${peak.toFixed(0)}MiB reload=${reloadS.toFixed(3)}s (${(oursS / reloadS).toFixed(1)}x)`);
