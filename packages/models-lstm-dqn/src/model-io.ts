/**
 * Saved model format (one directory per version, written atomically):
 *   model.json    format name + version, network config, and a tfjs-style weights manifest
 *                 `weightsManifest: [{ paths: ['weights.bin'], weights: [{ name, shape, dtype }] }]`
 *   weights.bin   float32 little-endian, the weights in manifest order (plus `meta.popularity` for cold start)
 *   config.json   the resolved agent config, package versions, backend, seed
 *   vocab.bin     item id per vocabulary index (packArrays format of @rec/core, key `toItem`)
 *   checksum.json sha256 of each file above
 * `loadModel` verifies the checksums and that the weights fit the saved network config, and with `expect` that
 * the config is what the caller wants; every mismatch is a ModelFormatError naming the file and field.
 */
import { promises as fs, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelFormatError, replaceDirAtomic, sha256 } from '@rec/core';
import { diffConfig, LstmDqn, type BatchRecommendation, type LstmDqnConfig, type Recommendation } from './lstm-dqn.js';
import type { NetworkConfig } from './network.js';
import { networkParamShapes } from './network.js';
import { ItemVocab } from './vocab.js';

export const MODEL_FORMAT = 'rec-lstm-dqn';
export const MODEL_FORMAT_VERSION = 1;
const FILES = ['model.json', 'weights.bin', 'config.json', 'vocab.bin'] as const;

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

/** Save the online network, config, vocabulary and popularity of `agent` to `dir` (replaced atomically). */
export async function saveModel(agent: LstmDqn, dir: string): Promise<void> {
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

export interface LoadModelOptions {
  /** Fields the caller requires (e.g. `{ seqLen: 10, featureDim: 10 }`); a difference is a ModelFormatError. */
  expect?: Partial<NetworkConfig>;
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
  const agent = new LstmDqn({ ...rest, bufferSize: 1, learningStarts: 1, network, vocab });
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
  /** One user: state `[seqLen * featureDim]`. */
  recommend(state: Float32Array, k: number, options?: { exclude?: ArrayLike<number>; historyLength?: number }): Recommendation;
  /** `n` users: states `[n * seqLen * featureDim]`, exclusions as CSR over users (item ids). */
  recommendBatch(states: Float32Array, k: number, options?: { exclude?: { offsets: Int32Array; items: Int32Array }; historyLengths?: Int32Array }): BatchRecommendation;
  dispose(): void;
}

/** Load a saved model for serving. */
export async function loadLstmDqn(dir: string, options: LoadModelOptions = {}): Promise<LstmDqnServable> {
  const agent = await loadModel(dir, options);
  return {
    config: agent.config,
    vocab: agent.vocab,
    recommend: (state, k, o) => agent.recommend(state, k, o),
    recommendBatch: (states, k, o) => agent.recommendBatch(states, k, o),
    dispose: () => agent.dispose(),
  };
}
