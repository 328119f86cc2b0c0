#!/usr/bin/env node
// Packs every publishable package, installs the tarballs into an empty temporary project with npm, and checks
// that each one imports as ESM there and that its types resolve under TypeScript's node16 resolution.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const pkgsDir = join(root, 'packages');
const work = mkdtempSync(join(tmpdir(), 'rec-pack-'));
const tarDir = join(work, 'tarballs');
const app = join(work, 'app');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

const pkgs = readdirSync(pkgsDir)
  .map((d) => join(pkgsDir, d))
  .filter((d) => existsSync(join(d, 'package.json')))
  .map((d) => ({ dir: d, json: JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) }))
  .filter((p) => !p.json.private);

const tarballs = [];
for (const p of pkgs) {
  const out = run('pnpm', ['pack', '--pack-destination', tarDir], p.dir).trim().split('\n').pop();
  tarballs.push(out.startsWith('/') ? out : join(tarDir, out));
  console.log(`packed ${p.json.name} -> ${out.split('/').pop()}`);
}

run('mkdir', ['-p', app]);
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'rec-pack-check', private: true, type: 'module' }, null, 2));
const peers = ['@tensorflow/tfjs-core@4.22.0', '@tensorflow/tfjs-backend-cpu@4.22.0', '@tensorflow/tfjs-backend-wasm@4.22.0', 'typescript@5.9.3', '@types/node@20'];
console.log('npm install into an empty project ...');
run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--legacy-peer-deps', ...tarballs, ...peers], app);

const names = pkgs.map((p) => p.json.name);
const importLines = names.map((n, i) => `import * as m${i} from '${n}';`).join('\n');
writeFileSync(
  join(app, 'check.mjs'),
  `${importLines}\nconst mods = [${names.map((_, i) => `m${i}`).join(', ')}];\n` +
    `for (const [i, m] of mods.entries()) { if (Object.keys(m).length === 0) throw new Error('${'empty module'} ' + i); }\n` +
    `console.log('imported ' + mods.length + ' packages: ' + ${JSON.stringify(names.join(', '))});\n`,
);
process.stdout.write(run('node', ['check.mjs'], app));

writeFileSync(join(app, 'check.ts'), `${importLines}\nexport const all = [${names.map((_, i) => `m${i}`).join(', ')}];\n`);
writeFileSync(
  join(app, 'tsconfig.json'),
  JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] }, files: ['check.ts'] }),
);
try {
  run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], app);
} catch (e) {
  console.error(e.stdout);
  throw new Error('types did not resolve in the packed install');
}
console.log('types resolve (node16) for every package');
if (!process.env.KEEP_PACK_DIR) rmSync(work, { recursive: true, force: true });
