/**
 * Load a saved LSTM-DQN model (the directory format of @rec/models-lstm-dqn's `saveModel`: model.json,
 * weights.bin, config.json, vocab.bin, checksum.json) from bytes, and recommend with it. Browser-safe: no file
 * system, the bytes come from `fetch`; the network itself is the model package's own `qValues`, so the page runs
 * the same forward pass as Node.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelFormatError } from '@rec/core';
import { ItemVocab, MODEL_FORMAT, itemIdsToVocab, MODEL_FORMAT_VERSION, StreamingTopK, networkParamShapes, qValues, type NetworkConfig } from '@rec/models-lstm-dqn';

export const SAVED_MODEL_FILES = ['model.json', 'weights.bin', 'config.json', 'vocab.bin', 'checksum.json'] as const;
export type SavedModelBytes = Record<(typeof SAVED_MODEL_FILES)[number], Uint8Array>;

export interface BrowserModel {
  network: NetworkConfig;
  params: Record<string, tf.Tensor>;
  vocab: ItemVocab;
  /** Cold-start popularity per vocabulary index. */
  popularity: Float32Array;
  /** Users with fewer non-empty history steps than this get popularity-ranked items. */
  coldStartThreshold: number;
  dispose(): void;
}

export interface Recommendation {
  items: Int32Array;
  scores: Float32Array;
  coldStart: boolean;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetch the files of a saved model under `baseUrl` (ending in '/'). */
export async function fetchSavedModel(baseUrl: string): Promise<SavedModelBytes> {
  const out = {} as SavedModelBytes;
  for (const f of SAVED_MODEL_FILES) {
    const res = await fetch(baseUrl + f);
    if (!res.ok) {
      throw new ModelFormatError('saved model file could not be fetched', { where: baseUrl + f, expected: 'HTTP 200', got: res.status, hint: 'Run `pnpm --filter @rec/browser-demo build` first.' });
    }
    out[f] = new Uint8Array(await res.arrayBuffer());
  }
  return out;
}

/** Verify checksums and shapes, and build the parameter tensors on the active backend. */
export async function parseSavedModel(files: SavedModelBytes, where = 'saved model'): Promise<BrowserModel> {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const sums = JSON.parse(text(files['checksum.json'])).sha256 as Record<string, string>;
  for (const f of ['model.json', 'weights.bin', 'config.json', 'vocab.bin'] as const) {
    const got = await sha256Hex(files[f]);
    if (got !== sums[f]) throw new ModelFormatError('saved model file is corrupt', { where: `${where}/${f}`, expected: `sha256 ${sums[f]}`, got });
  }
  const model = JSON.parse(text(files['model.json']));
  if (model.format !== MODEL_FORMAT || model.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new ModelFormatError('not an LSTM-DQN model of a known version', { where: `${where}/model.json`, expected: `${MODEL_FORMAT} v${MODEL_FORMAT_VERSION}`, got: `${model.format} v${model.formatVersion}` });
  }
  const network = model.network as NetworkConfig;
  const config = JSON.parse(text(files['config.json'])).config as { coldStartThreshold: number };
  const vocab = ItemVocab.deserialize(files['vocab.bin'], `${where}/vocab.bin`);
  const shapes = networkParamShapes(network);
  const wb = files['weights.bin'];
  const weights = new Float32Array(wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.byteLength));
  const params: Record<string, tf.Tensor> = {};
  let popularity = new Float32Array(vocab.size);
  let off = 0;
  for (const e of model.weightsManifest[0].weights as { name: string; shape: number[] }[]) {
    const size = e.shape.reduce((a, b) => a * b, 1);
    const values = weights.subarray(off, off + size);
    off += size;
    if (e.name === 'meta.popularity') {
      popularity = Float32Array.from(values);
      continue;
    }
    const want = shapes[e.name];
    if (!want || want.join(',') !== e.shape.join(',')) {
      tf.dispose(Object.values(params));
      throw new ModelFormatError('weight does not fit the network config', { where: `${where}/model.json weight ${e.name}`, expected: want ? `[${want.join(', ')}]` : 'no such weight', got: `[${e.shape.join(', ')}]` });
    }
    params[e.name] = tf.tensor(values, e.shape);
  }
  const missing = Object.keys(shapes).filter((n) => !params[n]);
  if (missing.length || off !== weights.length) {
    tf.dispose(Object.values(params));
    throw new ModelFormatError('weights do not match the manifest', { where: `${where}/weights.bin`, expected: `${off} floats and every weight`, got: `${weights.length} floats, missing ${missing.join(', ') || 'none'}` });
  }
  return {
    network,
    params,
    vocab,
    popularity,
    coldStartThreshold: config.coldStartThreshold,
    dispose: () => tf.dispose(Object.values(params)),
  };
}

/** Steps of history in a state: rows that are not all zero (histories are zero-padded at the front). */
export function historyLength(state: Float32Array, network: NetworkConfig): number {
  let count = 0;
  for (let t = 0; t < network.seqLen; t++) {
    for (let f = 0; f < network.featureDim; f++) {
      if (state[t * network.featureDim + f] !== 0) {
        count++;
        break;
      }
    }
  }
  return count;
}

/** Top-k item ids for one user's state `[seqLen * featureDim]`, never recommending `exclude` (item ids). */
export async function recommend(model: BrowserModel, state: Float32Array, k: number, exclude: ArrayLike<number> = []): Promise<Recommendation> {
  const { network } = model;
  if (state.length !== network.seqLen * network.featureDim) {
    throw new ModelFormatError('state has the wrong size', { where: 'recommend(state)', expected: `${network.seqLen} x ${network.featureDim} = ${network.seqLen * network.featureDim} floats`, got: state.length });
  }
  const skip = new Set(Array.from(exclude, (item) => model.vocab.indexOf(item)));
  const coldStart = historyLength(state, network) < model.coldStartThreshold;
  let scores: ArrayLike<number> = model.popularity;
  if (!coldStart) {
    // An item-id input reads vocabulary indices; the state carries log item ids (as LstmDqn maps them).
    const x = network.itemInputDim > 0 ? itemIdsToVocab(state, network.featureDim, model.vocab) : state;
    const q = tf.tidy(() => qValues(model.params, network, tf.tensor3d(x, [1, network.seqLen, network.featureDim]), { training: false }));
    scores = (await q.data()) as Float32Array;
    q.dispose();
  }
  const top = new StreamingTopK(k);
  top.pushRange(scores, 0, model.vocab.size, 0, (id) => skip.has(id));
  const r = top.result();
  return { items: Int32Array.from(r.items, (i) => model.vocab.toItem[i]), scores: r.scores, coldStart };
}
