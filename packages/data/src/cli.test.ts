import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defaultDataDir, main, parseArgs } from './cli.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
const haveData = existsSync(join(dataDir, 'userbehavior-head', 'UserBehavior.csv'));
if (!haveData && process.env.CI) throw new Error(`real data folder missing: ${dataDir} (set REC_DATA_DIR)`);
const tmp = mkdtempSync(join(tmpdir(), 'rec-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('rec-data CLI', () => {
  it('parses flags and rejects unknown ones', () => {
    expect(parseArgs(['x.csv', '--preset', 'diginetica', '--no-cache', '--no-clean'])).toMatchObject({ path: 'x.csv', preset: 'diginetica', cache: false, clean: false });
    expect(() => parseArgs(['--preset', 'nope'])).toThrow(/unknown preset/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown flag/);
  });

  it.runIf(haveData)('default run: ingests the UserBehavior head from the data dir and prints report + statistics', async () => {
    expect(defaultDataDir(repoRoot)).toBe(dataDir);
    const r = await run(['--cache-dir', join(tmp, 'c')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/rows read\s+4,321/);
    expect(r.out).toMatch(/rows kept\s+4,320/);
    expect(r.out).toMatch(/users\s+43\n/);
    expect(r.out).toMatch(/behaviors\s+pv 3,925/);
  });

  it('reports bad rows of a given file, JSON output, and a missing file exits 1', async () => {
    const p = join(tmp, 'bad.csv');
    writeFileSync(p, '1,10,100,pv,1511544070\n1,10,100,zz,1511544071\n');
    const r = await run([p, '--no-cache', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.report.rejected.examples[0]).toMatchObject({ line: 2, reason: 'unknown-behavior' });
    expect(j.stats.rows).toBe(1);
    const strict = await run([p, '--no-cache', '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.err).toContain('bad.csv:2');
    expect((await run([join(tmp, 'missing.csv')])).code).toBe(1);
  });
});
