/**
 * Saved model format (one directory per version, written atomically):
 *   model.json    format name + version, network config, and a tfjs-style weights manifest
 *                 `weightsManifest: [{ paths: ['weights.bin'], weights: [{ name, shape, dtype }] }]`
 *   weights.bin   float32 little-endian, the weights in manifest order (plus `meta.popularity` for cold start)
 *   config.json   the resolved agent config, package versions, backend, seed
 *   vocab.bin     item id per vocabulary index (packArrays format of @rec/core, key `toItem`)
 *   state-layout.json  (optional, `saveModel(..., { stateLayout })`) how the states the model reads are built
 *                 from a user's events: `{ name, ...parameters }`, e.g. `{ name: 'replay-profile', historyLength: 10,
 *                 history: 'interacted', itemHistory: true, profile: {} }` for @rec/env's LoggedReplayEnv. @rec/serve
 *                 builds its state encoder from it; directories without it are served by the old featureDim rule.
 *   state-stats.bin    (optional, `{ stateStats }`) the statistics that layout needs, packArrays format: `itemIds`
 *                 (Int32Array, the model's item id space: the ids requests carry and `vocab.bin` maps) and aligned
 *                 with it `itemCategories` (Int32Array) and/or `popularity`, `cartRate`, `favRate`, `buyRate`
 *                 (Float32Array).
 *   checksum.json sha256 of each file above (the optional ones only when written)
 * `loadModel` verifies the checksums and that the weights fit the saved network config, and with `expect` that
 * the config is what the caller wants; every mismatch is a ModelFormatError naming the file and field.
 */
import { promises as fs, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, ModelFormatError, packArrays, replaceDirAtomic, sha256, unpackArrays } from '@rec/core';
import { diffConfig, LstmDqn, type BatchRecommendation, type LstmDqnConfig, type Recommendation } from './lstm-dqn.js';
import type { NetworkConfig } from './network.js';
import { networkParamShapes } from './network.js';
import { ItemVocab } from './vocab.js';

export const MODEL_FORMAT = 'rec-lstm-dqn';
export const MODEL_FORMAT_VERSION = 1;
const FILES = ['model.json', 'weights.bin', 'config.json', 'vocab.bin'] as const;
/** Optional files (absent in directories saved without a state layout, and in every directory saved before them). */
const STATE_FILES = ['state-layout.json', 'state-stats.bin'] as const;

/**
 * How a model's states are built from a user's events: a layout name and its parameters (JSON). The consumer
 * (@rec/serve) owns the meaning of each name; `saveModel` checks that the layout's width fits the network.
 */
export interface StateLayout {
  name: string;
  [parameter: string]: unknown;
}

/** Statistics a state layout reads, aligned with `itemIds` (the model's item id space). */
export interface StateStats {
  itemIds: Int32Array;
  /** Category of each item (any integer labels; the replay profile's categoryDiversity/topCategoryRatio need them). */
  itemCategories?: Int32Array;
  popularity?: Float32Array;
  cartRate?: Float32Array;
  favRate?: Float32Array;
  buyRate?: Float32Array;
}

export interface SaveModelOptions {
  /** The layout of the states the model was trained on (written to `state-layout.json`). */
  stateLayout?: StateLayout;
  /** Statistics the layout needs (written to `state-stats.bin`); needs `stateLayout`. */
  stateStats?: StateStats;
}

/** What `readModelState` returns: the saved layout and its statistics (null when the directory has none). */
export interface SavedModelState {
  layout: StateLayout;
  stats: StateStats | null;
}

const STAT_FLOATS = ['popularity', 'cartRate', 'favRate', 'buyRate'] as const;

/** Numbers per step a layout produces, when the layout is one whose width is known here (else undefined). */
function layoutWidth(layout: StateLayout): { seqLen?: number; featureDim: number } | undefined {
  if (layout.name === 'replay-profile') return { seqLen: layout.historyLength as number, featureDim: 10 + (layout.itemHistory ? 1 : 0) };
  if (layout.name === 'behavior-sim-10') return { featureDim: 10 };
  if (layout.name === 'event-state-20') return { featureDim: 20 };
  return undefined;
}

function checkStateOptions(agent: LstmDqn, o: SaveModelOptions): void {
  const W = 'saveModel(options';
  const { stateLayout: layout, stateStats: stats } = o;
  if (layout !== undefined) {
    if (typeof layout !== 'object' || layout === null || typeof layout.name !== 'string' || layout.name.length === 0) {
      throw new InvalidArgumentError('state layout needs a name', { where: `${W}.stateLayout)`, expected: "{ name: string, ...parameters } e.g. { name: 'replay-profile', historyLength: 10, history: 'interacted', itemHistory: true }", got: layout });
    }
    let json: string;
    try {
      json = JSON.stringify(layout);
    } catch (e) {
      throw new InvalidArgumentError('state layout is not JSON', { where: `${W}.stateLayout)`, expected: 'a JSON-serialisable object', got: (e as Error).message });
    }
    if (JSON.stringify(JSON.parse(json)) !== json) throw new InvalidArgumentError('state layout does not survive JSON', { where: `${W}.stateLayout)`, expected: 'plain numbers, strings, booleans, arrays and objects', got: json });
    const w = layoutWidth(layout);
    const net = agent.config.network;
    if (w && (w.featureDim !== net.featureDim || (w.seqLen !== undefined && w.seqLen !== net.seqLen))) {
      throw new InvalidArgumentError('state layout does not fit the network', {
        where: `${W}.stateLayout)`,
        expected: `a layout of ${net.seqLen} steps x ${net.featureDim} features (the network's seqLen x featureDim)`,
        got: `${layout.name}: ${w.seqLen ?? '?'} x ${w.featureDim}`,
        hint: 'pass the layout of the environment the agent was trained on',
      });
    }
  }
  if (stats !== undefined) {
    if (layout === undefined) throw new InvalidArgumentError('state statistics without a layout', { where: `${W}.stateStats)`, expected: 'stateLayout given as well', got: 'stateStats only' });
    if (!(stats.itemIds instanceof Int32Array) || stats.itemIds.length === 0) {
      throw new InvalidArgumentError('state statistics need item ids', { where: `${W}.stateStats.itemIds)`, expected: 'a non-empty Int32Array of item ids (the model\'s id space)', got: stats.itemIds });
    }
    const n = stats.itemIds.length;
    const fields: [string, unknown, 'Int32Array' | 'Float32Array'][] = [['itemCategories', stats.itemCategories, 'Int32Array'], ...STAT_FLOATS.map((k) => [k, stats[k], 'Float32Array'] as [string, unknown, 'Float32Array'])];
    for (const [k, v, type] of fields) {
      if (v === undefined) continue;
      if (!(type === 'Int32Array' ? v instanceof Int32Array : v instanceof Float32Array) || (v as ArrayLike<number>).length !== n) {
        throw new InvalidArgumentError('state statistic has the wrong type or length', { where: `${W}.stateStats.${k})`, expected: `a ${type} of ${n} values (aligned with itemIds)`, got: (v as ArrayLike<number>)?.length ?? v });
      }
    }
  }
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/**
 * Save the online network, config, vocabulary and popularity of `agent` to `dir` (replaced atomically), and with
 * `options.stateLayout` / `stateStats` how its states are built from a user's events (for @rec/serve).
 */
export async function saveModel(agent: LstmDqn, dir: string, options: SaveModelOptions = {}): Promise<void> {
  checkStateOptions(agent, options ?? {});
  const entries: WeightEntry[] = [];
  const chunks: Float32Array[] = [];
  for (const name of Object.keys(agent.online).sort()) {
    entries.push({ name, shape: agent.online[name].shape, dtype: 'float32' });
    chunks.push(agent.online[name].dataSync() as Float32Array);
  }
  entries.push({ name: 'meta.popularity', shape: [agent.popularity.length], dtype: 'float32' });
  chunks.push(Float32Array.from(agent.popularity));
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const weights = new Float32Array(total);
  let off = 0;
  for (const c of chunks) {
    weights.set(c, off);
    off += c.length;
  }
  const files: Record<string, Uint8Array> = {
    'model.json': enc(JSON.stringify({ format: MODEL_FORMAT, formatVersion: MODEL_FORMAT_VERSION, network: agent.config.network, weightsManifest: [{ paths: ['weights.bin'], weights: entries }] }, null, 1)),
    'weights.bin': new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
    'config.json': enc(
      JSON.stringify(
        {
          config: agent.config,
          seed: agent.config.seed,
          backend: tf.getBackend(),
          versions: { '@rec/models-lstm-dqn': packageVersion(), '@tensorflow/tfjs-core': tf.version_core, node: process.versions.node },
          trained: { episodes: agent.episodes, envSteps: agent.envSteps, gradientSteps: agent.gradientSteps },
          vocabSize: agent.vocab.size,
          savedAt: new Date().toISOString(),
        },
        null,
        1,
      ),
    ),
    'vocab.bin': agent.vocab.serialize(),
  };
  if (options?.stateLayout) files['state-layout.json'] = enc(JSON.stringify(options.stateLayout, null, 1));
  const st = options?.stateStats;
  if (st) {
    const arrays: Record<string, Int32Array | Float32Array> = { itemIds: st.itemIds };
    if (st.itemCategories) arrays.itemCategories = st.itemCategories;
    for (const k of STAT_FLOATS) if (st[k]) arrays[k] = st[k] as Float32Array;
    files['state-stats.bin'] = packArrays(arrays);
  }
  await replaceDirAtomic(dir, async (tmp) => {
    const sums: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(files)) {
      await fs.writeFile(join(tmp, name), bytes);
      sums[name] = sha256(bytes);
    }
    await fs.writeFile(join(tmp, 'checksum.json'), JSON.stringify({ sha256: sums }, null, 1));
  });
}

function enc(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/**
 * The state layout and statistics saved with a model (`saveModel` options), checksum-verified; null for a directory
 * saved without a layout (every directory from before layouts were saved).
 */
export async function readModelState(dir: string): Promise<SavedModelState | null> {
  const sumsPath = join(dir, 'checksum.json');
  let sums: Record<string, string>;
  try {
    sums = JSON.parse(await fs.readFile(sumsPath, 'utf8')).sha256 as Record<string, string>;
  } catch (e) {
    throw new ModelFormatError('saved model has no readable checksum.json', { where: sumsPath, expected: 'a directory written by saveModel', got: (e as Error).message });
  }
  const bytes: Partial<Record<(typeof STATE_FILES)[number], Uint8Array>> = {};
  for (const f of STATE_FILES) {
    const listed = typeof sums?.[f] === 'string';
    const there = existsSync(join(dir, f));
    if (listed !== there) {
      throw new ModelFormatError(listed ? 'saved model is missing a file' : 'saved model has a file its checksums do not list', { where: join(dir, f), expected: listed ? 'the file checksum.json lists' : 'no such file, or one listed in checksum.json', got: there ? 'an unlisted file' : 'no such file' });
    }
    if (!there) continue;
    const b = new Uint8Array(await fs.readFile(join(dir, f)));
    if (sha256(b) !== sums[f]) throw new ModelFormatError('saved model file is corrupt', { where: join(dir, f), expected: `sha256 ${sums[f]}`, got: sha256(b) });
    bytes[f] = b;
  }
  if (!bytes['state-layout.json']) {
    if (bytes['state-stats.bin']) throw new ModelFormatError('state statistics without a layout', { where: join(dir, 'state-stats.bin'), expected: 'state-layout.json beside it', got: 'no layout' });
    return null;
  }
  let layout: StateLayout;
  try {
    layout = JSON.parse(new TextDecoder().decode(bytes['state-layout.json'])) as StateLayout;
  } catch (e) {
    throw new ModelFormatError('state layout is not JSON', { where: join(dir, 'state-layout.json'), expected: 'a JSON object', got: (e as Error).message });
  }
  if (typeof layout !== 'object' || layout === null || typeof layout.name !== 'string') {
    throw new ModelFormatError('state layout has no name', { where: join(dir, 'state-layout.json'), expected: '{ name: string, ...parameters }', got: layout });
  }
  let stats: StateStats | null = null;
  if (bytes['state-stats.bin']) {
    const a = unpackArrays(bytes['state-stats.bin']);
    const where = join(dir, 'state-stats.bin');
    if (!(a.itemIds instanceof Int32Array)) throw new ModelFormatError('state statistics have no item ids', { where, expected: 'itemIds: Int32Array', got: Object.keys(a) });
    const n = a.itemIds.length;
    stats = { itemIds: a.itemIds };
    if (a.itemCategories !== undefined) {
      if (!(a.itemCategories instanceof Int32Array) || a.itemCategories.length !== n) throw new ModelFormatError('item categories do not fit the item ids', { where, expected: `itemCategories: Int32Array of ${n}`, got: a.itemCategories.length });
      stats.itemCategories = a.itemCategories;
    }
    for (const k of STAT_FLOATS) {
      const v = a[k];
      if (v === undefined) continue;
      if (!(v instanceof Float32Array) || v.length !== n) throw new ModelFormatError('item statistic does not fit the item ids', { where: `${where} ${k}`, expected: `Float32Array of ${n}`, got: v.length });
      stats[k] = v;
    }
  }
  return { layout, stats };
}

export interface LoadModelOptions {
  /** Fields the caller requires (e.g. `{ seqLen: 10, featureDim: 10 }`); a difference is a ModelFormatError. */
  expect?: Partial<NetworkConfig>;
  /** Override the saved `inference` setting (which forward scores users: 'auto', 'tfjs' or 'wasm-simd'). */
  inference?: LstmDqnConfig['inference'];
}

/** Load a model saved by `saveModel` into a new agent (ready to recommend or to train further). */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<LstmDqn> {
  for (const f of [...FILES, 'checksum.json']) {
    if (!existsSync(join(dir, f))) {
      throw new ModelFormatError('saved model is missing a file', { where: join(dir, f), expected: `${FILES.join(', ')}, checksum.json`, got: 'no such file', hint: 'Point at a directory written by saveModel.' });
    }
  }
  const sums = JSON.parse(await fs.readFile(join(dir, 'checksum.json'), 'utf8')).sha256 as Record<string, string>;
  const bytes: Record<string, Uint8Array> = {};
  for (const f of FILES) {
    bytes[f] = new Uint8Array(await fs.readFile(join(dir, f)));
    if (sha256(bytes[f]) !== sums[f]) throw new ModelFormatError('saved model file is corrupt', { where: join(dir, f), expected: `sha256 ${sums[f]}`, got: sha256(bytes[f]) });
  }
  const model = JSON.parse(new TextDecoder().decode(bytes['model.json']));
  if (model.format !== MODEL_FORMAT || model.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new ModelFormatError('not an LSTM-DQN model of a known version', { where: join(dir, 'model.json'), expected: `${MODEL_FORMAT} v${MODEL_FORMAT_VERSION}`, got: `${model.format} v${model.formatVersion}` });
  }
  const cfg = JSON.parse(new TextDecoder().decode(bytes['config.json'])).config as LstmDqnConfig;
  const network = model.network as NetworkConfig;
  if (options.expect) {
    const wanted = { ...network, ...options.expect } as NetworkConfig;
    const diff = diffConfig(network, wanted);
    if (diff.length) {
      throw new ModelFormatError('saved model config does not match what the caller expects', {
        where: join(dir, 'model.json'),
        expected: JSON.stringify(Object.fromEntries(diff.map((k) => [k, (wanted as unknown as Record<string, unknown>)[k]]))),
        got: Object.fromEntries(diff.map((k) => [k, (network as unknown as Record<string, unknown>)[k]])),
        hint: 'Load the model with the settings it was trained with, or retrain for the new ones.',
      });
    }
  }
  const vocab = ItemVocab.deserialize(bytes['vocab.bin'], join(dir, 'vocab.bin'));
  if (vocab.size !== network.numActions) {
    throw new ModelFormatError('vocabulary size does not match the Q-head', { where: join(dir, 'vocab.bin'), expected: `${network.numActions} items`, got: vocab.size });
  }
  const shapes = networkParamShapes(network);
  const entries = model.weightsManifest[0].weights as WeightEntry[];
  const wb = bytes['weights.bin'];
  const weights = new Float32Array(wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength));
  const values: Record<string, Float32Array> = {};
  let off = 0;
  for (const e of entries) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    if (e.name !== 'meta.popularity') {
      const want = shapes[e.name];
      if (!want || want.join(',') !== e.shape.join(',')) {
        throw new ModelFormatError('weight does not fit the network config', { where: `${join(dir, 'model.json')} weight ${e.name}`, expected: want ? `shape [${want.join(', ')}]` : 'no such weight', got: `[${e.shape.join(', ')}]` });
      }
    }
    values[e.name] = weights.subarray(off, off + size);
    off += size;
  }
  if (off !== weights.length) throw new ModelFormatError('weights.bin size does not match the manifest', { where: join(dir, 'weights.bin'), expected: `${off} floats`, got: weights.length });
  const { network: _n, ...rest } = cfg;
  const agent = new LstmDqn({ ...rest, ...(options.inference ? { inference: options.inference } : {}), bufferSize: 1, learningStarts: 1, network, vocab });
  for (const name of Object.keys(shapes)) {
    if (!values[name]) throw new ModelFormatError('saved model lacks a weight', { where: join(dir, 'model.json'), expected: name, got: Object.keys(values) });
  }
  tf.tidy(() => {
    for (const name of Object.keys(shapes)) {
      agent.online[name].assign(tf.tensor(values[name], shapes[name]));
      agent.target[name].assign(tf.tensor(values[name], shapes[name]));
    }
  });
  if (values['meta.popularity']) agent.popularity.set(values['meta.popularity']);
  return agent;
}

/** What @rec/serve uses: typed arrays in, typed arrays out. */
export interface LstmDqnServable {
  readonly config: LstmDqnConfig;
  readonly vocab: ItemVocab;
  /** The saved state layout and statistics (`saveModel` options), null when the directory has none. */
  readonly state: SavedModelState | null;
  /** One user: state `[seqLen * featureDim]`. */
  recommend(state: Float32Array, k: number, options?: { exclude?: ArrayLike<number>; historyLength?: number }): Recommendation;
  /** `n` users: states `[n * seqLen * featureDim]`, exclusions as CSR over users (item ids). */
  recommendBatch(states: Float32Array, k: number, options?: { exclude?: { offsets: Int32Array; items: Int32Array }; historyLengths?: Int32Array }): BatchRecommendation;
  dispose(): void;
}

/** Load a saved model for serving. */
export async function loadLstmDqn(dir: string, options: LoadModelOptions = {}): Promise<LstmDqnServable> {
  const state = await readModelState(dir);
  const agent = await loadModel(dir, options);
  return {
    config: agent.config,
    vocab: agent.vocab,
    state,
    recommend: (state, k, o) => agent.recommend(state, k, o),
    recommendBatch: (states, k, o) => agent.recommendBatch(states, k, o),
    dispose: () => agent.dispose(),
  };
}
