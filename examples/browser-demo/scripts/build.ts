/**
 * Build the static demo into a folder: a saved LSTM-DQN model (model/), the sample users (sample.json), the page
 * bundled by esbuild (app.js + index.html) and tfjs' wasm binaries (wasm/). `pnpm --filter @rec/browser-demo build`
 * writes examples/browser-demo/dist/; `--model DIR` bundles an existing saved model instead of the demo one.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync, cpSync, existsSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { Rng, initBackend } from '@rec/core';
import { ItemVocab, LstmDqn, saveModel } from '@rec/models-lstm-dqn';
import type { SampleFile } from '../src/sample.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEMO_ROOT = resolve(HERE, '..');

/** The demo network: the paper's shape, scaled down so the page loads in a blink (about 60k parameters). */
export const DEMO_NETWORK = { seqLen: 10, featureDim: 10, cell: 'lstm', hidden: 32, layers: 1, mlp: [64, 32] } as const;
export const DEMO_ITEMS = 500;
export const DEMO_SEED = 7;

/** A seeded, untrained LSTM-DQN saved in the model package's format, with a popularity prior for cold start. */
export async function writeDemoModel(dir: string): Promise<void> {
  await initBackend(['wasm', 'cpu'], { ignoreEnv: true });
  // Catalogue item ids are sparse (not 0..n-1) so the page must map vocabulary indices back through vocab.bin.
  const vocab = ItemVocab.fromItems(Int32Array.from({ length: DEMO_ITEMS }, (_, i) => 1000 + 7 * i));
  const agent = new LstmDqn({ vocab, seed: DEMO_SEED, network: { ...DEMO_NETWORK, mlp: [...DEMO_NETWORK.mlp] }, bufferSize: 1, learningStarts: 1 });
  const rng = new Rng(`${DEMO_SEED}-popularity`);
  for (let i = 0; i < DEMO_ITEMS; i++) agent.popularity[i] = Math.floor(rng.exponential(0.05));
  await saveModel(agent, dir);
  agent.dispose();
}

/** Sample users: most with a full history, one with too little (gets popularity-ranked items). */
export function makeSample(seqLen: number, featureDim: number, itemIds: ArrayLike<number>): SampleFile {
  const rng = new Rng('browser-demo-sample');
  const users = [
    { id: 17, label: 'long history' },
    { id: 42, label: 'long history, many seen' },
    { id: 99, label: 'medium history' },
    { id: 123, label: 'long history' },
    { id: 7, label: 'new user (cold start)' },
  ].map((u, n) => {
    const steps = n === 2 ? 6 : n === 4 ? 2 : seqLen;
    const state = new Array<number>(seqLen * featureDim).fill(0);
    for (let t = seqLen - steps; t < seqLen; t++) for (let f = 0; f < featureDim; f++) state[t * featureDim + f] = Number(rng.normal(0, 0.7).toFixed(4));
    const seen = n === 1 ? 25 : 5;
    const exclude = Array.from(rng.sampleWithoutReplacement(itemIds.length, seen), (i) => itemIds[i]);
    return { ...u, state, exclude };
  });
  return { users };
}

// Node built-ins reached by @rec/core's Node-only helpers (file writes, progress bars, tfjs-node detection).
// The page never calls them; they are replaced by an inert stand-in so the bundle loads in a browser.
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const stubNodeBuiltins: esbuild.Plugin = {
  name: 'stub-node-builtins',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => (nodeBuiltins.has(a.path) ? { path: a.path, namespace: 'node-stub' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({
      contents: `const f = function () { throw new Error(${JSON.stringify(`${a.path} is not available in the browser`)}); };
const p = new Proxy(f, { get: (t, k) => (k === '__esModule' ? false : k === 'prototype' ? {} : p), construct: () => ({}) });
module.exports = p;`,
      loader: 'js',
    }));
  },
};

export interface BuildOptions {
  /** Folder of a model saved by @rec/models-lstm-dqn's saveModel; default: write the demo model. */
  modelDir?: string;
  minify?: boolean;
}

/** Build the page into `outDir`; returns the sample it bundled. */
export async function buildDemo(outDir: string, options: BuildOptions = {}): Promise<SampleFile> {
  mkdirSync(outDir, { recursive: true });
  const modelOut = join(outDir, 'model');
  if (options.modelDir) cpSync(options.modelDir, modelOut, { recursive: true });
  else await writeDemoModel(modelOut);
  const { readFileSync } = await import('node:fs');
  const model = JSON.parse(readFileSync(join(modelOut, 'model.json'), 'utf8'));
  const vocab = ItemVocab.deserialize(new Uint8Array(readFileSync(join(modelOut, 'vocab.bin'))), 'vocab.bin');
  const sample = makeSample(model.network.seqLen, model.network.featureDim, vocab.toItem);
  writeFileSync(join(outDir, 'sample.json'), JSON.stringify(sample));

  await esbuild.build({
    entryPoints: [join(DEMO_ROOT, 'src/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: join(outDir, 'app.js'),
    minify: options.minify ?? true,
    sourcemap: true,
    plugins: [stubNodeBuiltins],
    logLevel: 'error',
  });
  copyFileSync(join(DEMO_ROOT, 'static/index.html'), join(outDir, 'index.html'));

  const wasmDir = join(outDir, 'wasm');
  mkdirSync(wasmDir, { recursive: true });
  const wasmPkg = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  for (const f of readdirSync(join(wasmPkg, 'dist')).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmPkg, 'dist', f), join(wasmDir, f));
  return sample;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--model');
  const modelDir = i > 0 ? process.argv[i + 1] : undefined;
  if (modelDir && !existsSync(join(modelDir, 'model.json'))) {
    console.error(`--model ${modelDir}: no model.json there (expected a folder written by saveModel)`);
    process.exit(1);
  }
  const out = join(DEMO_ROOT, 'dist');
  await buildDemo(out, { modelDir });
  console.log(`built ${out}: serve it with \`pnpm --filter @rec/browser-demo serve\` and open the printed address`);
}
