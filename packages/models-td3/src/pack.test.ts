/**
 * The package as users get it: pack @rec/core, @rec/data, @rec/env and @rec/models-td3 with `pnpm pack`, install
 * the tarballs plus tfjs-core and its cpu backend into an empty temporary project with npm, and run the README's
 * first example there. Needs the npm registry; skipped only when REC_SKIP_PACK_TEST=1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(pkgDir, '../..');
const skip = process.env.REC_SKIP_PACK_TEST === '1';

function run(cmd: string, args: string[], cwd: string, timeout = 150_000): string {
  try {
    return execFileSync(cmd, args, { cwd, timeout, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COREPACK_INTEGRITY_KEYS: '0' } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

describe.skipIf(skip)('packed package', () => {
  it('installs from tarballs into an empty project and runs the README example', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'td3-pack-'));
    try {
      // Our own dist must match the source under test; the packages below it are used as built.
      run('pnpm', ['--filter', '@rec/models-td3', 'build'], repo);
      const packages = { '@rec/core': 'core', '@rec/data': 'data', '@rec/env': 'env', '@rec/models-td3': 'models-td3' };
      const deps: Record<string, string> = { '@tensorflow/tfjs-core': '4.22.0', '@tensorflow/tfjs-backend-cpu': '4.22.0' };
      for (const [name, dir] of Object.entries(packages)) {
        const abs = join(repo, 'packages', dir);
        if (!existsSync(join(abs, 'dist', 'index.js'))) run('pnpm', ['--filter', name, 'build'], repo);
        const before = new Set(readdirSync(tmp));
        run('pnpm', ['pack', '--pack-destination', tmp], abs);
        const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz') && !before.has(f));
        expect(tgz, `tarball of ${name}`).toBeDefined();
        deps[name] = `file:./${tgz}`;
      }
      writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'td3-pack-check', private: true, type: 'module', dependencies: deps }, null, 2));
      run('npm', ['install', '--legacy-peer-deps', '--no-audit', '--no-fund', '--loglevel=error'], tmp, 170_000);
      // The README's first js block, verbatim.
      const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
      const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
      expect(example).toBeTruthy();
      writeFileSync(join(tmp, 'example.mjs'), example!);
      const out = run('node', ['example.mjs'], tmp, 120_000);
      console.log(`packed README example output:\n${out}`);
      const m = /average reward before (-?[\d.]+), after (-?[\d.]+)/.exec(out);
      expect(m).not.toBeNull();
      expect(Number(m![2])).toBeGreaterThan(Number(m![1]) + 0.2);
      expect(existsSync(join(tmp, 'td3-model', 'MANIFEST.json'))).toBe(true);
      // Installed from the tarball, not linked to the workspace.
      expect(existsSync(join(tmp, 'node_modules', '@rec', 'models-td3', 'src'))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 420_000);
});
