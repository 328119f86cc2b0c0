import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readArrowFile, tableToLog } from './arrow.js';
import { presets, USER_BEHAVIOR_WINDOW } from './csv.js';
import { describeDataset, datasetStats, ingest, scanDuplicates } from './ingest.js';
import { Rng } from '@rec/core';
import { gzipSync } from 'node:zlib';
import { readInteractions } from './reader.js';
import { denseColumn, rawLog, reindex } from './reindex.js';
import type { InteractionLog } from './types.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
const haveData = existsSync(join(dataDir, 'userbehavior-head', 'UserBehavior.csv'));
if (!haveData && process.env.CI) throw new Error(`real data folder missing: ${dataDir} (set REC_DATA_DIR)`);
const describeData = haveData ? describe : describe.skip;

const tmp = mkdtempSync(join(tmpdir(), 'rec-ingest-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function write(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}
function logOf(rows: number[][]): InteractionLog {
  return {
    numRows: rows.length,
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    category: Int32Array.from(rows.map((r) => r[2])),
    behavior: Uint8Array.from(rows.map((r) => r[3])),
    timestamp: Int32Array.from(rows.map((r) => r[4])),
  };
}

describeData('ingest of the real samples', () => {
  it('UserBehavior head: 49 duplicates claim is for the full log; the head has 0 duplicates and 1 row before the window (awk)', async () => {
    const cacheDir = join(tmp, 'ub-cache');
    const path = join(dataDir, 'userbehavior-head', 'UserBehavior.csv');
    const raw = await ingest(path, { clean: false, cache: false });
    expect(raw.report).toMatchObject({ rowsRead: 4321, rowsKept: 4321, duplicates: 0, outOfWindow: 1, numUsers: 43, numItems: 3276, numCategories: 567, cleaned: false, dropped: 0 });
    // awk: no user's timestamps ever go backwards in the head, and users are contiguous: the one-pass duplicate scan applies.
    expect(raw.report.groupedByUserTimeSorted).toBe(true);
    const cleaned = await ingest(path, { cache: { dir: cacheDir } });
    // Cleaning is on by default for this preset: the one row before 2017-11-25 00:00 Beijing is dropped.
    expect(cleaned.report).toMatchObject({ cleaned: true, dropped: 1, rowsKept: 4320, window: USER_BEHAVIOR_WINDOW });
    for (let i = 0; i < cleaned.log.numRows; i++) {
      const t = cleaned.log.timestamp[i];
      if (t < USER_BEHAVIOR_WINDOW.start || t > USER_BEHAVIOR_WINDOW.end) throw new Error(`row ${i} out of window`);
    }
    expect(cleaned.table.numRows).toBe(4320);
    const text = describeDataset(cleaned.log, cleaned.report);
    expect(text).toMatch(/rows kept\s+4,320/);
    expect(text).toMatch(/users\s+43\n/);
    expect(text).toMatch(/out of window\s+1 /);
  });

  it('DIGINETICA: 5 duplicates after flooring timeframe ms to seconds (awk on session,item,floor(ms/1000),date); MovieLens: none', async () => {
    const dg = await ingest(join(dataDir, 'diginetica-sample', 'train-item-views.csv'), { preset: 'diginetica', cache: false });
    expect(dg.report).toMatchObject({ duplicates: 5, cleaned: false, rowsKept: 12391, numUsers: 2986, numItems: 7139, outOfWindow: 0 });
    const ml = await ingest(join(dataDir, 'ml-latest-small', 'ratings.csv'), { preset: 'movielensRatings', cache: false });
    expect(ml.report).toMatchObject({ duplicates: 0, rowsKept: 100836, numUsers: 610, numItems: 9724, numCategories: 1 });
    const stats = datasetStats(ml.log);
    expect(stats.behaviorCounts).toEqual({ pv: 19073, cart: 33183, fav: 0, buy: 48580 });
    // 100,836 ratings / 610 users = 165.3 mean; MovieLens gives every user at least 20 ratings.
    expect(stats.eventsPerUser!.mean).toBeCloseTo(165.305, 2);
    expect(stats.eventsPerUser!.min).toBe(20);
  });
});

describe('duplicates and cleaning', () => {
  it('finds exact duplicates in grouped, time-sorted logs and in shuffled ones alike', () => {
    const rows = [
      [1, 10, 5, 0, 100],
      [1, 11, 5, 0, 100],
      [1, 10, 5, 0, 100], // dup of row 0 (same second, not adjacent)
      [1, 10, 5, 1, 100], // differs in behavior
      [1, 10, 5, 0, 101],
      [2, 10, 5, 0, 101], // other user
      [2, 10, 5, 0, 101], // dup
      [2, 10, 5, 0, 101], // dup
    ];
    const sorted = scanDuplicates(logOf(rows), null);
    expect(sorted.groupedByUserTimeSorted).toBe(true);
    expect(sorted.duplicates).toBe(3);
    expect(Array.from(sorted.duplicateMask!)).toEqual([0, 0, 1, 0, 0, 0, 1, 1]);
    // Shuffled: users interleave and times go backwards; the same 3 extra copies are found, the first copy kept.
    const order = [6, 0, 5, 4, 2, 3, 7, 1];
    const shuffled = scanDuplicates(logOf(order.map((i) => rows[i])), { start: 100, end: 100 });
    expect(shuffled.groupedByUserTimeSorted).toBe(false);
    expect(shuffled.duplicates).toBe(3);
    // New positions: user 2's three copies sit at 0, 2, 6 (0 kept, 2 and 6 dups); user 1's [10,5,pv,100] copies sit
    // at 1 and 4 (1 kept, 4 dup).
    expect(Array.from(shuffled.duplicateMask!)).toEqual([0, 0, 1, 0, 1, 0, 1, 0]);
    // window [100, 100]: rows at 101 are out: rows 6, 5, 4, 7 -> 4 rows
    expect(shuffled.outOfWindow).toBe(4);
  });

  it('duplicates are judged after categoryOfItem replaced the category column', async () => {
    const p = write('catmap.csv', '1,10,5,pv,1511544070\n1,10,6,pv,1511544070\n1,11,6,pv,1511544070\n');
    const plain = await ingest(p, { cache: false });
    expect(plain.report.duplicates).toBe(0);
    const mapped = await ingest(p, { cache: false, categoryOfItem: new Map([[10, 3]]), missingCategory: 9 });
    expect(mapped.report).toMatchObject({ duplicates: 1, rowsKept: 2, numCategories: 2 });
    expect(Array.from(rawLog(mapped.log).category)).toEqual([3, 9]);
  });

  it('a custom layout without a preset gets no cleaning and no window by default', async () => {
    const p = write('custom-layout.csv', '1;10;5;pv;100\n1;10;5;pv;100\n');
    const r = await ingest(p, { cache: false, layout: { ...presets.userBehavior.layout, delimiter: ';' } });
    expect(r.report).toMatchObject({ cleaned: false, window: null, duplicates: 1, outOfWindow: 0, rowsKept: 2, parser: 'generic' });
    const withPreset = await ingest(p, { cache: false, preset: 'userBehavior', layout: { ...presets.userBehavior.layout, delimiter: ';' } });
    expect(withPreset.report).toMatchObject({ cleaned: true, outOfWindow: 2, rowsKept: 0 });
  });

  it('clean drops duplicates and out-of-window rows; the report counts them either way', async () => {
    const text = ['1,10,5,pv,1511539199', '1,10,5,pv,1511539200', '1,10,5,pv,1511539200', '1,11,6,buy,1512316799', '2,12,7,cart,1512316800'].join('\n') + '\n';
    const p = write('clean.csv', text);
    const on = await ingest(p, { cache: false });
    expect(on.report).toMatchObject({ duplicates: 1, outOfWindow: 2, dropped: 3, rowsKept: 2, numUsers: 1, numItems: 2, numCategories: 2 });
    expect(Array.from(rawLog(on.log).item)).toEqual([10, 11]);
    const off = await ingest(p, { cache: false, clean: false });
    expect(off.report).toMatchObject({ duplicates: 1, outOfWindow: 2, dropped: 0, rowsKept: 5, numUsers: 2 });
    const noWindow = await ingest(p, { cache: false, window: null });
    expect(noWindow.report).toMatchObject({ duplicates: 1, outOfWindow: 0, dropped: 1, rowsKept: 4 });
  });
});

describe('reindex', () => {
  const log = logOf([
    [50, 7, 3, 0, 1],
    [50, 9, 3, 0, 2],
    [40, 7, 1, 0, 3],
    [2000000000, 8, 3, 0, 4], // a raw id far beyond the direct-address range: the hash-table path
  ]);

  it('first-seen order, maps both ways, and the raw log back', () => {
    const ix = reindex(log);
    expect(Array.from(ix.user)).toEqual([0, 0, 1, 2]);
    expect(Array.from(ix.item)).toEqual([0, 1, 0, 2]);
    expect(Array.from(ix.category)).toEqual([0, 0, 1, 0]);
    expect([ix.numUsers, ix.numItems, ix.numCategories]).toEqual([3, 3, 2]);
    expect(Array.from(ix.users.toRaw)).toEqual([50, 40, 2000000000]);
    expect(ix.users.toDense(2000000000)).toBe(2);
    expect(ix.users.toDense(40)).toBe(1);
    expect(ix.users.toDense(41)).toBe(-1);
    expect(ix.items.toDense(1.5)).toBe(-1);
    const back = rawLog(ix);
    expect(back.user).toEqual(log.user);
    expect(back.item).toEqual(log.item);
    expect(back.category).toEqual(log.category);
    expect(ix.timestamp).toBe(log.timestamp); // shared, not copied
  });

  it('sorted order numbers ids by ascending raw id', () => {
    const ix = reindex(log, { order: 'sorted' });
    expect(Array.from(ix.users.toRaw)).toEqual([40, 50, 2000000000]);
    expect(Array.from(ix.user)).toEqual([1, 1, 0, 2]);
    expect(Array.from(ix.items.toRaw)).toEqual([7, 8, 9]);
    expect(Array.from(ix.item)).toEqual([0, 2, 0, 1]);
  });

  it('direct and hashed paths agree on a random column', () => {
    const n = 5000;
    const raw = new Int32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      raw[i] = s % 700;
    }
    const direct = denseColumn(raw);
    const shifted = raw.map((v) => v * 1000003 + 7); // max ~7e8 > 4n and > 2^22: hashed
    const hashed = denseColumn(shifted);
    expect(hashed.dense).toEqual(direct.dense);
    expect(Array.from(hashed.toRaw)).toEqual(Array.from(direct.toRaw).map((v) => v * 1000003 + 7));
  });
});

describe('Arrow table and cache', () => {
  const text = ['7,10,5,pv,1511544070', '7,11,5,cart,1511544071', '8,10,6,buy,1511544072'].join('\n') + '\n';

  it('the Arrow table wraps the log columns without copying', async () => {
    const r = await ingest(write('arrow.csv', text), { cache: false });
    expect(r.table.numRows).toBe(3);
    for (const k of ['user', 'item', 'category', 'behavior', 'timestamp'] as const) {
      const v = r.table.getChild(k)!.data[0].values;
      expect(v.buffer).toBe(r.log[k].buffer);
      expect(v.byteOffset).toBe(r.log[k].byteOffset);
    }
    expect(JSON.parse(r.table.schema.metadata.get('rec.report')!).rowsKept).toBe(3);
  });

  it('second ingest hits the cache (same columns, maps and report); a changed file or option misses', async () => {
    const dir = join(tmp, 'cache');
    const p = write('cached.csv', text);
    const first = await ingest(p, { cache: { dir } });
    expect(first.report.cache).toMatchObject({ enabled: true, hit: false });
    expect(first.report.cache.bytesWritten).toBeGreaterThan(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('cached.csv.')).length).toBe(2); // log + ids

    const second = await ingest(p, { cache: { dir } });
    expect(second.report.cache.hit).toBe(true);
    expect(second.report.rowsKept).toBe(3);
    expect(second.log.user).toEqual(first.log.user);
    expect(second.log.item).toEqual(first.log.item);
    expect(second.log.timestamp).toEqual(first.log.timestamp);
    expect(Array.from(second.log.items.toRaw)).toEqual([10, 11]);
    expect(second.log.users.toDense(8)).toBe(1);
    // Zero-copy: the log columns are views into the table read from the file.
    expect(second.table.getChild('user')!.data[0].values.buffer).toBe(second.log.user.buffer);

    // Another option (clean off) is another cache entry.
    const other = await ingest(p, { cache: { dir }, clean: false });
    expect(other.report.cache.hit).toBe(false);

    // Same size, new mtime: miss, and the stale files of that source+options are removed.
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    const touched = await ingest(p, { cache: { dir } });
    expect(touched.report.cache.hit).toBe(false);
    // New content: miss, and the new rows are read.
    writeFileSync(p, `${text}9,12,7,fav,1511544073\n`);
    const changed = await ingest(p, { cache: { dir } });
    expect(changed.report.cache.hit).toBe(false);
    expect(changed.log.numRows).toBe(4);
    const again = await ingest(p, { cache: { dir } });
    expect(again.report.cache.hit).toBe(true);
    expect(again.log.numRows).toBe(4);
    // Per source+options: one current log file and its ids file (clean on) + the clean-off pair.
    expect(readdirSync(dir).filter((f) => f.startsWith('cached.csv.')).length).toBe(4);
    // The cached file is a plain Arrow IPC file.
    const t = readArrowFile(again.report.cache.path!);
    expect(tableToLog(t).numRows).toBe(4);
  });

  it('an empty file and a header-only file ingest to 0 rows, also through the cache', async () => {
    const dir = join(tmp, 'cache-empty');
    for (const [name, content] of [['empty.csv', ''], ['header-only.csv', 'user_id,item_id,category_id,behavior_type,timestamp\n']]) {
      const p = write(name, content);
      const a = await ingest(p, { cache: { dir } });
      expect(a.report).toMatchObject({ rowsRead: 0, rowsKept: 0, numUsers: 0, numItems: 0 });
      const b = await ingest(p, { cache: { dir } });
      expect(b.report.cache.hit).toBe(true);
      expect(b.log.numRows).toBe(0);
      expect(b.log.items.size).toBe(0);
      expect(describeDataset(b.log, b.report)).toMatch(/rows\s+0/);
    }
  });

  it('strict mode does not trust a cache of a source with bad rows: it re-parses and throws', async () => {
    const dir = join(tmp, 'cache-strict');
    const p = write('strictcache.csv', `${text}oops\n`);
    const lax = await ingest(p, { cache: { dir } });
    expect(lax.report.rejected.total).toBe(1);
    expect((await ingest(p, { cache: { dir } })).report.cache.hit).toBe(true);
    await expect(ingest(p, { cache: { dir }, strict: true })).rejects.toThrow(/strictcache\.csv:4/);
  });
});

describe('ingest mode (dense ids and the duplicate scan while parsing) equals the reference pipeline', () => {
  /** A random UserBehavior-like file: duplicates, out-of-window rows, bad lines; users grouped+sorted or shuffled. */
  function randomCsv(seed: number, shuffled: boolean): string {
    const rng = new Rng(seed);
    const lines: string[] = [];
    for (let u = 0; u < 30; u++) {
      const user = 1 + rng.int(5_000_000); // sometimes repeated: a user's second block breaks the order
      let t = 1511539200 - 50 + rng.int(100);
      for (let k = 1 + rng.int(20); k > 0; k--) {
        t += rng.int(3); // repeats of a second are common: duplicate candidates
        const row = `${user},${rng.int(40) * 1000003},${rng.int(5)},${['pv', 'cart', 'fav', 'buy'][rng.int(4)]},${t}`;
        lines.push(row);
        if (rng.next() < 0.15) lines.push(row); // exact duplicate
        if (rng.next() < 0.03) lines.push(['', 'x,1,2,pv,3', `${user},1,2,pv`, `${user},3000000000,1,pv,1511539300`][rng.int(4)]);
      }
    }
    if (shuffled) {
      for (let i = lines.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [lines[i], lines[j]] = [lines[j], lines[i]];
      }
    }
    return `${lines.join('\n')}\n`;
  }

  for (const shuffled of [false, true]) {
    for (const variant of ['fast', 'generic', 'chunks-5', 'gzip'] as const) {
      it(`${shuffled ? 'shuffled' : 'grouped'} rows, ${variant}`, async () => {
        for (let seed = 0; seed < 3; seed++) {
          const text = randomCsv(seed, shuffled);
          const p = join(tmp, `eq-${shuffled}-${variant}-${seed}.csv`);
          writeFileSync(p, variant === 'gzip' ? gzipSync(text) : text);
          const opts = { cache: false as const, forceGenericParser: variant === 'generic', chunkSize: variant === 'chunks-5' ? 5 : undefined };
          const got = await ingest(p, opts);
          // Reference: raw read, scan, drop, reindex, each by its own exported function.
          const raw = (await readInteractions(p)).log;
          const scan = scanDuplicates(raw, USER_BEHAVIOR_WINDOW);
          expect(got.report.duplicates).toBe(scan.duplicates);
          expect(got.report.outOfWindow).toBe(scan.outOfWindow);
          expect(got.report.groupedByUserTimeSorted).toBe(scan.groupedByUserTimeSorted);
          const keep: number[] = [];
          for (let i = 0; i < raw.numRows; i++) {
            const t = raw.timestamp[i];
            if (!scan.duplicateMask?.[i] && t >= USER_BEHAVIOR_WINDOW.start && t <= USER_BEHAVIOR_WINDOW.end) keep.push(i);
          }
          const back = rawLog(got.log);
          expect(back.numRows).toBe(keep.length);
          expect(Array.from(back.user)).toEqual(keep.map((i) => raw.user[i]));
          expect(Array.from(back.item)).toEqual(keep.map((i) => raw.item[i]));
          expect(Array.from(back.category)).toEqual(keep.map((i) => raw.category[i]));
          expect(Array.from(back.behavior)).toEqual(keep.map((i) => raw.behavior[i]));
          expect(Array.from(back.timestamp)).toEqual(keep.map((i) => raw.timestamp[i]));
          const ref = reindex({ numRows: keep.length, user: Int32Array.from(keep, (i) => raw.user[i]), item: Int32Array.from(keep, (i) => raw.item[i]), category: Int32Array.from(keep, (i) => raw.category[i]), behavior: Uint8Array.from(keep, (i) => raw.behavior[i]), timestamp: Int32Array.from(keep, (i) => raw.timestamp[i]) });
          expect([got.log.numUsers, got.log.numItems, got.log.numCategories]).toEqual([ref.numUsers, ref.numItems, ref.numCategories]);
          // Dense ids are 0..n-1, each used, and the maps invert each other.
          for (const [col, map] of [[got.log.user, got.log.users], [got.log.item, got.log.items]] as const) {
            const used = new Uint8Array(map.size);
            for (const d of col) used[d] = 1;
            expect(used.every((x) => x === 1)).toBe(true);
            for (let d = 0; d < map.size; d++) expect(map.toDense(map.toRaw[d])).toBe(d);
          }
          expect(got.report.rejected.total).toBe((await readInteractions(p)).report.rejected.total);
        }
      });
    }
  }

  it('sorted id order renumbers by raw id and keeps the rows', async () => {
    const p = write('sorted.csv', ['9,30,5,pv,1511544070', '3,20,6,pv,1511544071', '9,10,5,buy,1511544072'].join('\n') + '\n');
    const a = await ingest(p, { cache: false, order: 'sorted' });
    expect(Array.from(a.log.users.toRaw)).toEqual([3, 9]);
    expect(Array.from(a.log.items.toRaw)).toEqual([10, 20, 30]);
    expect(Array.from(a.log.user)).toEqual([1, 0, 1]);
    expect(Array.from(a.log.item)).toEqual([2, 1, 0]);
    expect(Array.from(rawLog(a.log).item)).toEqual([30, 20, 10]);
  });
});
