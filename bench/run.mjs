#!/usr/bin/env node
// Runs every benchmark in bench/ one after another: `pnpm bench` (quick smoke sizes) or `pnpm bench -- --full`.
// Each script prints its own figures and ratios against the peer it measures in the same run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const full = process.argv.includes('--full');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const scripts = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.startsWith('_') && (only.length === 0 || only.some((o) => f.startsWith(o))));
let failed = 0;
for (const f of scripts) {
  console.log(`\n=== bench/${f}${full ? '' : ' --quick'}`);
  const r = spawnSync('pnpm', ['-s', 'tsx', join(here, f), ...(full ? [] : ['--quick'])], { stdio: 'inherit', cwd: join(here, '..') });
  if (r.status !== 0) {
    failed++;
    console.log(`bench/${f} exited with ${r.status}`);
  }
}
process.exit(failed ? 1 : 0);
