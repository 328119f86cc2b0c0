/**
 * Shared start of the benches. The root tsconfig maps @rec/* to the packages' src/, which tsx follows, and @rec/core's
 * src imports a tfjs-core deep path that only works bundled. `useBuiltPackages(pkg)` re-runs the calling script once
 * with `packages/<pkg>/tsconfig.json` (no `paths`), so the built dist/ packages are measured, as users get them, and
 * exits with the child's status; in the child it returns at once. Call it before importing any @rec package
 * (import them dynamically after it). run.mjs skips this file (leading underscore).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function useBuiltPackages(pkg: string): void {
  if (process.env.TSX_TSCONFIG_PATH) return;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: fileURLToPath(new URL(`../packages/${pkg}/tsconfig.json`, import.meta.url)) },
  });
  process.exit(r.status ?? 1);
}
