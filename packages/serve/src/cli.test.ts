// The rec-serve command: starts from flags and a config file, prints where it listens, stops cleanly on SIGTERM.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tmpDir, writePopularityDir } from './testutil.js';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
// run from the package directory so workspace imports resolve to the built packages, as for a user
const PKG = fileURLToPath(new URL('..', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const p = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: PKG, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const waitFor = async (re: RegExp, ms = 60_000) => {
    const t0 = Date.now();
    while (!re.test(out)) {
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}; output: ${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return re.exec(out)!;
  };
  return { p, exited, waitFor, output: () => out };
}

describe('rec-serve CLI', () => {
  it('starts from a config file plus flags, serves, and shuts down gracefully on SIGTERM', async () => {
    const d = tmpDir();
    const pop = writePopularityDir(join(d, 'pop'), [5, 6, 7], [3, 2, 1]);
    writeFileSync(join(d, 'serve.json'), JSON.stringify({ defaultK: 2, fsync: 'interval' }));
    const c = run(['--config', join(d, 'serve.json'), '--port', '0', '--model', `default=${pop}`, '--log', join(d, 'ev.jsonl')], { REC_REDIS_URL: '', REC_ADMIN_TOKEN: '' });
    const m = await c.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+) \(cache: memory, models: default=popularity@pop.*fsync: interval, admin: off\)/);
    const r = await fetch(`${m[1]}/recommendations/u1`).then((x) => x.json());
    expect(r.items.map((x: { item_id: number }) => x.item_id)).toEqual([5, 6]);
    c.p.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.output()).toMatch(/SIGTERM, shutting down/);
  });

  it('exits 1 with a clear message on a bad setting', async () => {
    const c = run(['--port', '70000', '--log', join(tmpDir(), 'e.jsonl')]);
    expect(await c.exited).toBe(1);
    expect(c.output()).toMatch(/config\.port: invalid configuration; expected an integer in \[0, 65535\]; got 70000/);
  });
});
