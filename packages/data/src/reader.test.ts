import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RecError } from '@rec/core';
import { parseDateUtcSeconds, presets, type CsvLayout } from './csv.js';
import { readInteractions, readMovieLensGenres } from './reader.js';
import { generateSyntheticLog, writeSyntheticUserBehavior } from './synthetic.js';
import type { InteractionLog } from './types.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
const haveData = existsSync(join(dataDir, 'userbehavior-head', 'UserBehavior.csv'));
if (!haveData && process.env.CI) throw new Error(`real data folder missing: ${dataDir} (set REC_DATA_DIR)`);
const describeData = haveData ? describe : describe.skip;

const tmp = mkdtempSync(join(tmpdir(), 'rec-reader-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function write(name: string, content: string | Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

function distinct(a: Int32Array): number {
  return new Set(a).size;
}
function behaviorCounts(log: InteractionLog): number[] {
  const c = [0, 0, 0, 0];
  for (const b of log.behavior) c[b]++;
  return c;
}
function expectSameLog(a: InteractionLog, b: InteractionLog): void {
  expect(a.numRows).toBe(b.numRows);
  expect(a.user).toEqual(b.user);
  expect(a.item).toEqual(b.item);
  expect(a.category).toEqual(b.category);
  expect(a.behavior).toEqual(b.behavior);
  expect(a.timestamp).toEqual(b.timestamp);
}

describeData('real samples (exact counts from ../shared/data/README.md, items and behaviors checked with awk)', () => {
  it('UserBehavior head: 4,321 rows, 43 users, 3,276 items, 567 categories, pv/cart/fav/buy 3926/190/128/77', async () => {
    const { log, report, table } = await readInteractions(join(dataDir, 'userbehavior-head', 'UserBehavior.csv'));
    expect(report.parser).toBe('fast');
    expect(table.numRows).toBe(4321);
    expect(table.getChild('item')!.data[0].values.buffer).toBe(log.item.buffer);
    expect(table.getChild('item')!.get(4320)).toBe(log.item[4320]);
    expect(report.rowsRead).toBe(4321);
    expect(report.rejected.total).toBe(0);
    expect(log.numRows).toBe(4321);
    expect(distinct(log.user)).toBe(43);
    expect(distinct(log.item)).toBe(3276);
    expect(distinct(log.category)).toBe(567);
    expect(behaviorCounts(log)).toEqual([3926, 190, 128, 77]);
    expect(report.header).toBeNull();
    // First row of the file: 1,2268318,2520377,pv,1511544070
    expect([log.user[0], log.item[0], log.category[0], log.behavior[0], log.timestamp[0]]).toEqual([1, 2268318, 2520377, 0, 1511544070]);
  });

  it('the generic parser reads the UserBehavior head identically to the fast one, also with 7-byte chunks', async () => {
    const path = join(dataDir, 'userbehavior-head', 'UserBehavior.csv');
    const fast = await readInteractions(path);
    const generic = await readInteractions(path, { forceGenericParser: true });
    const tiny = await readInteractions(path, { chunkSize: 7 });
    expect(generic.report.parser).toBe('generic');
    expectSameLog(generic.log, fast.log);
    expectSameLog(tiny.log, fast.log);
  });

  it('MovieLens latest-small: 100,836 ratings, 610 users, 9,724 rated movies; rating rule buy/cart/pv = 48580/33183/19073', async () => {
    const { log, report } = await readInteractions(join(dataDir, 'ml-latest-small', 'ratings.csv'), { preset: 'movielensRatings' });
    expect(report.header).toBe('userId,movieId,rating,timestamp');
    expect(report.rejected.total).toBe(0);
    expect(report.lines).toBe(100837);
    expect(log.numRows).toBe(100836);
    expect(distinct(log.user)).toBe(610);
    expect(distinct(log.item)).toBe(9724);
    // awk: rating >= 4 -> 48580 rows; 3.0 and 3.5 -> 20047 + 13136 = 33183; below 3 -> 19073. No fav in this rule.
    expect(behaviorCounts(log)).toEqual([19073, 33183, 0, 48580]);
    expect(Math.min(...log.timestamp)).toBe(828124615);
    expect(Math.max(...log.timestamp)).toBe(1537799250);
    expect(new Set(log.category)).toEqual(new Set([0]));
  });

  it('MovieLens with first genres from movies.csv: 19 categories among rated movies (python csv check), 0 = no genre', async () => {
    const genres = readMovieLensGenres(readFileSync(join(dataDir, 'ml-latest-small', 'movies.csv'), 'utf8'));
    expect(genres.genres[0]).toBe('(none)');
    expect(genres.categoryOfItem.size).toBe(9742);
    // movieId 1 is "Toy Story (1995)" with genres Adventure|Animation|...: first genre Adventure.
    expect(genres.genres[genres.categoryOfItem.get(1)!]).toBe('Adventure');
    // movieId 11 has a quoted title with a comma; its first genre is Comedy.
    expect(genres.genres[genres.categoryOfItem.get(11)!]).toBe('Comedy');
    const { log } = await readInteractions(join(dataDir, 'ml-latest-small', 'ratings.csv'), { preset: 'movielensRatings', categoryOfItem: genres.categoryOfItem });
    expect(distinct(log.category)).toBe(19);
  });

  it('DIGINETICA sample: 12,391 rows, 2,986 sessions as users, 7,139 items, all pv; time = eventdate + timeframe ms', async () => {
    const { log, report } = await readInteractions(join(dataDir, 'diginetica-sample', 'train-item-views.csv'), { preset: 'diginetica' });
    expect(report.header).toBe('session_id;user_id;item_id;timeframe;eventdate');
    expect(report.rejected.total).toBe(0); // the last line has no newline but is complete, so it is kept
    expect(log.numRows).toBe(12391);
    expect(distinct(log.user)).toBe(2986);
    expect(distinct(log.item)).toBe(7139);
    expect(behaviorCounts(log)).toEqual([12391, 0, 0, 0]);
    // Row 1: "1;NA;81766;526309;2016-05-09": 2016-05-09 00:00 UTC = 1462752000, + floor(526309 / 1000) = 526 s.
    expect([log.user[0], log.item[0], log.timestamp[0]]).toEqual([1, 81766, 1462752000 + 526]);
  });

  it('DIGINETICA with user_id, falling back to the session (offset 10M) where user_id is NA: 2,994 users (awk)', async () => {
    // awk: 7,681 NA rows in the NA sessions plus 1,270 distinct real user ids -> 2,994 distinct users; the largest real
    // user id is 231,213 and the largest session 3,999, so offset 10,000,000 cannot collide.
    const layout: CsvLayout = { ...presets.diginetica.layout, user: 1, userFallback: { column: 0, missing: ['NA'], offset: 10_000_000 } };
    const { log, report } = await readInteractions(join(dataDir, 'diginetica-sample', 'train-item-views.csv'), { layout });
    expect(report.rejected.total).toBe(0);
    expect(report.parser).toBe('generic');
    expect(distinct(log.user)).toBe(2994);
    expect(log.user[0]).toBe(10_000_001); // session 1, user NA
    let na = 0;
    for (const u of log.user) if (u >= 10_000_000) na++;
    expect(na).toBe(7681);
  });
});

describe('round trip with the synthetic generator', () => {
  it('a written synthetic CSV (plain and gzip) reads back to exactly the generated columns', async () => {
    const opts = { rows: 20_000, seed: 3 };
    const expected = generateSyntheticLog(opts);
    for (const name of ['syn.csv', 'syn.csv.gz']) {
      const p = join(tmp, name);
      await writeSyntheticUserBehavior(p, opts);
      const { log, report } = await readInteractions(p, { chunkSize: 4099 });
      expect(report.gzip).toBe(name.endsWith('.gz'));
      expect(report.rejected.total).toBe(0);
      expectSameLog(log, expected);
    }
  });
});

describe('formats: gzip, CRLF, header, chunk boundaries', () => {
  const rows = ['1,10,100,pv,1511544070', '1,11,100,cart,1511544071', '2,10,101,fav,1511544072', '3,12,102,buy,1511544073'];
  const lf = `${rows.join('\n')}\n`;

  it('LF, CRLF, header, gzip and gzip+CRLF+header all give the same log', async () => {
    const base = await readInteractions(write('lf.csv', lf));
    expect(base.log.numRows).toBe(4);
    expect(Array.from(base.log.behavior)).toEqual([0, 1, 2, 3]);
    const crlf = await readInteractions(write('crlf.csv', lf.replace(/\n/g, '\r\n')));
    const header = await readInteractions(write('header.csv', `user_id,item_id,category_id,behavior_type,timestamp\n${lf}`));
    const gz = await readInteractions(write('lf.csv.gz', gzipSync(lf)));
    const gzAll = await readInteractions(write('all.gz', gzipSync(`user_id,item_id,category_id,behavior_type,timestamp\r\n${lf.replace(/\n/g, '\r\n')}`)), { chunkSize: 5 });
    for (const r of [crlf, header, gz, gzAll]) {
      expectSameLog(r.log, base.log);
      expect(r.report.rejected.total).toBe(0);
    }
    expect(gz.report.gzip).toBe(true);
    expect(base.report.gzip).toBe(false);
    expect(header.report.header).toBe('user_id,item_id,category_id,behavior_type,timestamp');
    expect(gzAll.report.header).toBe('user_id,item_id,category_id,behavior_type,timestamp');
    expect(base.report.header).toBeNull();
  });

  it('every chunk size from 1 to 40 bytes parses the same rows (rows cross chunk boundaries)', async () => {
    const p = write('chunks.csv', lf.replace(/\n/g, '\r\n'));
    const base = await readInteractions(p);
    for (let cs = 1; cs <= 40; cs++) expectSameLog((await readInteractions(p, { chunkSize: cs })).log, base.log);
  });

  it('the shortest possible rows never overflow the per-block capacity bound (typed arrays drop writes past the end)', async () => {
    // "1,1,1,pv,1" is 11 bytes with its newline; the initial capacity estimate assumes ~30 bytes a row.
    const n = 50_000;
    const fast = await readInteractions(write('short.csv', '1,1,1,pv,1\n'.repeat(n)));
    expect(fast.log.numRows).toBe(n);
    expect(fast.log.timestamp[n - 1]).toBe(1);
    // DIGINETICA layout with an empty (unmapped) user_id: 15 bytes a row.
    const dg = await readInteractions(write('short-dg.csv', '1;;2;3;2016-01-01\n'.repeat(n)), { preset: 'diginetica' });
    expect(dg.log.numRows).toBe(n);
    expect(dg.log.item[n - 1]).toBe(2);
  });

  it('header: true skips the first line even when it looks like data; false keeps it', async () => {
    const p = write('h.csv', lf);
    const layoutH: CsvLayout = { ...presets.userBehavior.layout, header: true };
    const r = await readInteractions(p, { layout: layoutH });
    expect(r.log.numRows).toBe(3);
    expect(r.report.header).toBe(rows[0]);
    const p2 = write('h2.csv', `user,item,cat,behavior,ts\n${lf}`);
    const r2 = await readInteractions(p2, { layout: { ...presets.userBehavior.layout, header: false } });
    expect(r2.log.numRows).toBe(4);
    expect(r2.report.rejected.byReason['non-numeric-id']).toBe(1);
    expect(r2.report.rejected.examples[0].line).toBe(1);
  });

  it('a custom layout: tab-separated, reordered columns, named behaviors, millisecond times, constant category', async () => {
    const text = 'ts\titem\tuser\tevent\n1511544070123\t10\t7\tclick\n1511544071999\t11\t7\tpurchase\n';
    const layout: CsvLayout = {
      delimiter: '\t',
      header: 'auto',
      fields: 4,
      user: 2,
      item: 1,
      category: { constant: 5 },
      behavior: { kind: 'names', column: 3, names: { click: 'pv', purchase: 'buy' } },
      timestamp: { column: 0, format: 'milliseconds' },
    };
    const { log, report } = await readInteractions(write('custom.tsv', text), { layout });
    expect(report.rejected.total).toBe(0);
    expect(Array.from(log.user)).toEqual([7, 7]);
    expect(Array.from(log.item)).toEqual([10, 11]);
    expect(Array.from(log.category)).toEqual([5, 5]);
    expect(Array.from(log.behavior)).toEqual([0, 3]);
    expect(Array.from(log.timestamp)).toEqual([1511544070, 1511544071]);
  });

  it('date timestamps: YYYY-MM-DD and YYYY-MM-DD HH:MM:SS in a given zone', async () => {
    // 2017-11-25 is day 17495 since 1970-01-01 (17495 * 86400 = 1511568000).
    expect(parseDateUtcSeconds('2017-11-25')).toBe(1511568000);
    expect(parseDateUtcSeconds('2017-11-25 01:02:03')).toBe(1511568000 + 3723);
    expect(parseDateUtcSeconds('2016-02-29')).toBe(1456704000);
    expect(parseDateUtcSeconds('2017-02-29')).toBeNaN();
    expect(parseDateUtcSeconds('2017-13-01')).toBeNaN();
    const layout: CsvLayout = { ...presets.userBehavior.layout, timestamp: { column: 4, format: 'date', utcOffsetHours: 8 } };
    const { log } = await readInteractions(write('dates.csv', '1,2,3,pv,2017-11-25 00:00:00\n1,2,3,pv,2017-11-25T08:00\n'), { layout });
    // Beijing midnight is 16:00 UTC the day before: 1511568000 - 8 * 3600 = 1511539200 (the window start).
    expect(Array.from(log.timestamp)).toEqual([1511539200, 1511539200 + 8 * 3600]);
  });
});

describe('bad input: counted by reason with line numbers, good rows kept', () => {
  const lines = [
    '1,10,100,pv,1511544070', // 1 good
    '1,10,100,pv', // 2 field-count
    '', // 3 empty-line
    '1,x10,100,pv,1511544071', // 4 non-numeric-id (item)
    '1,11,100,like,1511544072', // 5 unknown-behavior
    '2,12,101,buy,15115x4073', // 6 bad-timestamp
    '2,13,101,cart,1511544074,9', // 7 field-count (too many)
    '99999999999,13,101,cart,1511544075', // 8 id-out-of-range
    '2,14,102,fav,1511544076', // 9 good
    '3,15,103,pv,151', // 10 truncated last line (no newline)
  ];
  const text = lines.join('\n');
  const expected = [
    { line: 2, reason: 'field-count' },
    { line: 3, reason: 'empty-line' },
    { line: 4, reason: 'non-numeric-id' },
    { line: 5, reason: 'unknown-behavior' },
    { line: 6, reason: 'bad-timestamp' },
    { line: 7, reason: 'field-count' },
    { line: 8, reason: 'id-out-of-range' },
  ];

  for (const variant of ['fast', 'generic', 'crlf', 'gzip', 'tiny-chunks'] as const) {
    it(`reports each bad row with line and reason (${variant})`, async () => {
      let content: string | Uint8Array = variant === 'crlf' ? text.replace(/\n/g, '\r\n') : text;
      if (variant === 'gzip') content = gzipSync(content);
      const p = write(`bad-${variant}.csv`, content);
      const { log, report } = await readInteractions(p, { forceGenericParser: variant === 'generic', chunkSize: variant === 'tiny-chunks' ? 3 : undefined });
      // The truncated last line "3,15,103,pv,151" is well-formed but has no newline: it is kept (a valid final row
      // without a newline is normal, e.g. DIGINETICA). A final line that is also malformed is rejected below.
      expect(log.numRows).toBe(3);
      expect(Array.from(log.item)).toEqual([10, 14, 15]);
      expect(report.rowsRead).toBe(10);
      expect(report.rejected.total).toBe(7);
      expect(report.rejected.examples.map((e) => ({ line: e.line, reason: e.reason }))).toEqual(expected);
      expect(report.rejected.byReason).toMatchObject({ 'field-count': 2, 'empty-line': 1, 'non-numeric-id': 1, 'unknown-behavior': 1, 'bad-timestamp': 1, 'id-out-of-range': 1, 'truncated-last-line': 0 });
      const beh = report.rejected.examples.find((e) => e.reason === 'unknown-behavior')!;
      expect(beh.text).toBe('1,11,100,like,1511544072');
      expect(beh.detail).toContain('"like"');
    });
  }

  it('a line longer than 1 MiB is skipped and rejected as line-too-long, in the middle and at the end', async () => {
    const long = 'x'.repeat(1.5 * (1 << 20));
    const text = `1,10,100,pv,1511544070\n${long}\n2,11,100,pv,1511544071\n${long}`;
    const { log, report } = await readInteractions(write('long.csv', text), { chunkSize: 1 << 16 });
    expect(Array.from(log.item)).toEqual([10, 11]);
    expect(report.rejected.examples.map((e) => [e.line, e.reason])).toEqual([
      [2, 'line-too-long'],
      [4, 'line-too-long'],
    ]);
    expect(report.rejected.examples[0].text.length).toBeLessThanOrEqual(200);
  });

  it('a malformed last line without newline is rejected as truncated-last-line', async () => {
    const { log, report } = await readInteractions(write('trunc.csv', '1,10,100,pv,1511544070\n1,11,10'));
    expect(log.numRows).toBe(1);
    expect(report.rejected.examples).toHaveLength(1);
    expect(report.rejected.examples[0]).toMatchObject({ line: 2, reason: 'truncated-last-line', text: '1,11,10' });
  });

  it('keeps at most maxExamples examples per reason but counts all', async () => {
    const many = Array.from({ length: 30 }, (_, i) => `1,${i},1,nope,1511544070`).join('\n') + '\n1,1,1,pv,1511544070\n';
    const { log, report } = await readInteractions(write('many.csv', many), { maxExamples: 5 });
    expect(log.numRows).toBe(1);
    expect(report.rejected.byReason['unknown-behavior']).toBe(30);
    expect(report.rejected.examples.map((e) => e.line)).toEqual([1, 2, 3, 4, 5]);
  });

  it('strict mode throws a DataFormatError naming file:line on the first bad row', async () => {
    const p = write('strict.csv', text);
    const err = await readInteractions(p, { strict: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(RecError.isInstance(err)).toBe(true);
    expect((err as RecError).code).toBe('REC_DATA_FORMAT');
    expect((err as RecError).where).toBe(`${p}:2`);
    expect((err as Error).message).toContain('field-count');
    await expect(readInteractions(write('strict-ok.csv', `${lines[0]}\n`), { strict: true })).resolves.toMatchObject({ log: { numRows: 1 } });
  });

  it('a missing file and a bad layout throw RecErrors that say what to do', async () => {
    await expect(readInteractions(join(tmp, 'nope.csv'))).rejects.toThrow(/expected an existing readable file/);
    await expect(readInteractions(tmp)).rejects.toThrow(/not a file/);
    await expect(readInteractions(write('x.csv', '1\n'), { layout: { ...presets.userBehavior.layout, user: 9 } })).rejects.toThrow(/CsvLayout.user/);
    await expect(readInteractions(write('x.csv', '1\n'), { preset: 'nope' as never })).rejects.toThrow(/unknown preset/);
  });

  it('a corrupt gzip file is a DataFormatError', async () => {
    const gz = gzipSync('1,10,100,pv,1511544070\n'.repeat(1000));
    await expect(readInteractions(write('corrupt.gz', gz.subarray(0, gz.length - 20)))).rejects.toThrow(/gzip/);
  });
});
