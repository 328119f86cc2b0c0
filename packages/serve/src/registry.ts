/**
 * Model directories -> recommenders. A directory holds `config.json`; its model type (`modelType`, `type`, `model`
 * or `algorithm` field) picks a loader registered with `registerModelLoader`. `ModelSlot` holds the recommender in
 * service under one name and swaps versions without downtime: the new version is loaded and validated off to the
 * side, then replaces the old one in one assignment; a version that fails to load or validate is refused and the
 * previous one keeps serving. The old version is disposed once its in-flight calls have finished.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ModelFormatError, NotAvailableError, RecError } from '@rec/core';
import { PopularityRecommender, type Recommender, type ValidationReport } from './recommender.js';

export type ModelLoader = (dir: string, config: Record<string, unknown>) => Promise<Recommender>;

const loaders = new Map<string, ModelLoader>();

/** Register (or replace) the loader for a model type, e.g. `registerModelLoader('lstm-dqn', dir => ...)`. */
export function registerModelLoader(type: string, loader: ModelLoader): void {
  loaders.set(type, loader);
}

export function registeredModelTypes(): string[] {
  return [...loaders.keys()].sort();
}

/**
 * The model type of a config.json: the first of `modelType`, `type`, `model`, `algorithm` that is a string; else
 * the writing package (`package: '@rec/models-td3'` -> `td3`, `versions['@rec/models-lstm-dqn']` -> `lstm-dqn`).
 */
export function modelTypeOf(config: Record<string, unknown>): string | undefined {
  for (const key of ['modelType', 'type', 'model', 'algorithm']) {
    const v = config[key];
    if (typeof v === 'string' && v.length > 0) return v.toLowerCase();
  }
  const pkgs = [config.package, ...Object.keys((config.versions as Record<string, unknown> | undefined) ?? {})];
  if (pkgs.includes('@rec/models-lstm-dqn')) return 'lstm-dqn';
  if (pkgs.includes('@rec/models-td3')) return 'td3';
  return undefined;
}

export async function readModelConfig(dir: string): Promise<Record<string, unknown>> {
  const path = join(resolve(dir), 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new NotAvailableError('cannot read model config', {
      where: `loadRecommender(${dir})`,
      expected: 'a model directory containing config.json',
      got: (e as NodeJS.ErrnoException).code ?? String(e),
      hint: 'point at a directory written by a model package save() or one with {"modelType":"popularity"}',
    });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ModelFormatError('config.json is not a JSON object', {
      where: path,
      expected: 'a JSON object',
      got: (e as Error).message,
    });
  }
}

/** Read `dir/config.json`, pick the loader for its model type and load the recommender (not yet validated). */
export async function loadRecommender(dir: string): Promise<Recommender> {
  const config = await readModelConfig(dir);
  const type = modelTypeOf(config);
  const loader = type === undefined ? undefined : loaders.get(type);
  if (!loader) {
    throw new ModelFormatError('no loader for this model type', {
      where: join(dir, 'config.json'),
      expected: `a modelType among ${registeredModelTypes().join(', ') || '(none registered)'}`,
      got: type ?? '(no modelType/type/model/algorithm field)',
      hint: 'register one with registerModelLoader(type, loader)',
    });
  }
  return loader(resolve(dir), config);
}

/**
 * Built-in loader for `{"modelType": "popularity"}` directories: `popularity.json` holds `{items: number[],
 * counts: number[]}` (raw item ids and their weights).
 */
registerModelLoader('popularity', async (dir, config) => {
  const path = join(dir, 'popularity.json');
  let data: { items?: unknown; counts?: unknown };
  try {
    data = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new ModelFormatError('cannot read popularity table', { where: path, expected: '{items: number[], counts: number[]}', got: (e as Error).message });
  }
  if (!Array.isArray(data.items) || !Array.isArray(data.counts)) {
    throw new ModelFormatError('bad popularity table', { where: path, expected: '{items: number[], counts: number[]}', got: data });
  }
  const version = typeof config.version === 'string' ? config.version : basename(dir);
  return PopularityRecommender.fromCounts(data.items as number[], data.counts as number[], version);
});

export interface SwapResult {
  ok: boolean;
  slot: string;
  /** What is serving after the call. */
  serving: { name: string; version: string };
  /** The refused candidate and why (when !ok). */
  refused?: { dir?: string; problems: string[] };
}

/** One named place a recommender serves from (e.g. `default`, `control`, `lstm`). */
export class ModelSlot {
  private current: Recommender;
  private inFlight = new Map<Recommender, number>();
  private retiring = new Set<Recommender>();
  private swapChain: Promise<unknown> = Promise.resolve();
  loadedAt = Date.now();
  dir?: string;

  constructor(
    readonly name: string,
    initial: Recommender,
    dir?: string,
  ) {
    this.current = initial;
    this.dir = dir;
  }

  get recommender(): Recommender {
    return this.current;
  }

  /** Run `fn` against the current model, tracking it as in flight so a swap does not dispose it underneath. */
  async use<T>(fn: (r: Recommender) => Promise<T> | T): Promise<T> {
    const r = this.current;
    this.inFlight.set(r, (this.inFlight.get(r) ?? 0) + 1);
    try {
      return await fn(r);
    } finally {
      const n = (this.inFlight.get(r) ?? 1) - 1;
      if (n === 0) {
        this.inFlight.delete(r);
        if (this.retiring.has(r)) void this.retire(r);
      } else this.inFlight.set(r, n);
    }
  }

  private async retire(r: Recommender): Promise<void> {
    if ((this.inFlight.get(r) ?? 0) > 0) {
      this.retiring.add(r);
      return;
    }
    this.retiring.delete(r);
    try {
      await r.dispose?.();
    } catch {
      // a failing dispose of a retired model must not affect the one serving
    }
  }

  /**
   * Validate `candidate` and put it in service, or refuse it and keep the current one. Swaps are serialised.
   */
  swap(candidate: Recommender, dir?: string): Promise<SwapResult> {
    const run = async (): Promise<SwapResult> => {
      let report: ValidationReport;
      try {
        report = await candidate.validate();
      } catch (e) {
        report = { ok: false, problems: [`validate() threw: ${(e as Error).message}`] };
      }
      if (!report.ok) {
        try {
          await candidate.dispose?.();
        } catch {
          // ignore: the candidate is being thrown away
        }
        return { ok: false, slot: this.name, serving: this.describe(), refused: { dir, problems: report.problems } };
      }
      const old = this.current;
      this.current = candidate;
      this.dir = dir;
      this.loadedAt = Date.now();
      if (old !== candidate) void this.retire(old);
      return { ok: true, slot: this.name, serving: this.describe() };
    };
    const p = this.swapChain.then(run, run);
    this.swapChain = p;
    return p;
  }

  /** Load a model directory and swap it in (refused on any load or validation error). */
  async swapFromDir(dir: string, load: (dir: string) => Promise<Recommender> = loadRecommender): Promise<SwapResult> {
    let candidate: Recommender;
    try {
      candidate = await load(dir);
    } catch (e) {
      const msg = RecError.isInstance(e) ? (e as Error).message : `load failed: ${(e as Error).message}`;
      return { ok: false, slot: this.name, serving: this.describe(), refused: { dir, problems: [msg] } };
    }
    return this.swap(candidate, dir);
  }

  describe(): { name: string; version: string } {
    return { name: this.current.name, version: this.current.version };
  }
}
