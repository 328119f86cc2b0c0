#!/usr/bin/env node
/**
 * rec-data: ingest an interaction file and print the ingest report and dataset statistics.
 *
 *   rec-data [path] [--preset userBehavior|movielensRatings|diginetica] [--movies movies.csv]
 *            [--no-cache] [--cache-dir DIR] [--strict] [--clean|--no-clean] [--json]
 *
 * Without a path it reads `<REC_DATA_DIR or ../shared/data>/userbehavior-head/UserBehavior.csv`, the folder taken
 * relative to the repository root (the nearest parent with pnpm-workspace.yaml, else the working directory).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { RecError } from '@rec/core';
import { presets, type PresetName } from './csv.js';
import { describeDataset, datasetStats, ingest, type IngestOptions } from './ingest.js';
import { readMovieLensGenres } from './reader.js';

const USAGE = `usage: rec-data [path] [--preset ${Object.keys(presets).join('|')}] [--movies movies.csv] [--no-cache] [--cache-dir DIR] [--strict] [--clean|--no-clean] [--json]`;

function repoRoot(from: string): string {
  let d = resolve(from);
  for (;;) {
    if (existsSync(join(d, 'pnpm-workspace.yaml'))) return d;
    const up = dirname(d);
    if (up === d) return resolve(from);
    d = up;
  }
}

export function defaultDataDir(cwd = process.cwd()): string {
  return resolve(repoRoot(cwd), process.env.REC_DATA_DIR ?? '../shared/data');
}

export interface CliArgs {
  path: string | null;
  preset: PresetName;
  movies: string | null;
  cache: boolean;
  cacheDir: string | null;
  strict: boolean;
  clean: boolean | undefined;
  json: boolean;
}

export function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = { path: null, preset: 'userBehavior', movies: null, cache: true, cacheDir: null, strict: false, clean: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${x} needs a value\n${USAGE}`);
      return v;
    };
    if (x === '--preset') {
      const p = value();
      if (!(p in presets)) throw new Error(`unknown preset "${p}"; expected one of ${Object.keys(presets).join(', ')}`);
      a.preset = p as PresetName;
    } else if (x === '--movies') a.movies = value();
    else if (x === '--no-cache') a.cache = false;
    else if (x === '--cache-dir') a.cacheDir = value();
    else if (x === '--strict') a.strict = true;
    else if (x === '--clean') a.clean = true;
    else if (x === '--no-clean') a.clean = false;
    else if (x === '--json') a.json = true;
    else if (x === '--help' || x === '-h') throw new Error(USAGE);
    else if (x.startsWith('--')) throw new Error(`unknown flag ${x}\n${USAGE}`);
    else if (a.path === null) a.path = x;
    else throw new Error(`more than one path given\n${USAGE}`);
  }
  return a;
}

const DEFAULT_FILES: Record<PresetName, string> = {
  userBehavior: 'userbehavior-head/UserBehavior.csv',
  movielensRatings: 'ml-latest-small/ratings.csv',
  diginetica: 'diginetica-sample/train-item-views.csv',
};

export async function main(argv: string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const path = args.path ?? join(defaultDataDir(), DEFAULT_FILES[args.preset]);
  if (!existsSync(path)) {
    console.error(`rec-data: no file at ${path}. Pass a path, or set REC_DATA_DIR to the folder holding userbehavior-head/ (default ../shared/data beside the repository).`);
    return 1;
  }
  const opts: IngestOptions = { preset: args.preset, strict: args.strict, cache: args.cache ? (args.cacheDir ? { dir: args.cacheDir } : true) : false };
  if (args.clean !== undefined) opts.clean = args.clean;
  const movies = args.movies ?? (args.preset === 'movielensRatings' && args.path === null ? join(dirname(path), 'movies.csv') : null);
  if (movies && existsSync(movies)) opts.categoryOfItem = readMovieLensGenres(readFileSync(movies, 'utf8')).categoryOfItem;
  try {
    const { log, report } = await ingest(path, opts);
    if (args.json) console.log(JSON.stringify({ report, stats: datasetStats(log) }, null, 2));
    else console.log(describeDataset(log, report));
    return 0;
  } catch (e) {
    if (RecError.isInstance(e)) {
      console.error(`rec-data: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
