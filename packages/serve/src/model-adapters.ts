/**
 * Loaders for the model packages' saved formats, registered under the model types their `config.json` names
 * (detected by `modelTypeOf`: LSTM-DQN saves carry `versions['@rec/models-lstm-dqn']`, TD3 saves
 * `package: '@rec/models-td3'`). The model packages are imported lazily, so the service starts (with the
 * popularity model) even where a model package or a tfjs backend is unavailable; such a model is then refused.
 *
 * LSTM-DQN reads a state `[seqLen, featureDim]` built from the user's recent events. The saved directory does not
 * say which feature layout it was trained on, so the adapter takes a `StateEncoder`: built in are the layouts of
 * @rec/env's behavior simulator (10 features) and @rec/data's event state (20 features), filling the columns that
 * the raw events determine (item id, behavior one-hot, time gaps, user rates, position); the columns that need
 * training-set statistics (item popularity and rates, category features) are zero unless the encoder is given
 * them. Register your own with `registerModelLoader('lstm-dqn', lstmDqnLoader({ encoder }))`.
 */
import { InvalidArgumentError, ModelFormatError, NotAvailableError, initBackend } from '@rec/core';
import { basename } from 'node:path';
import { registerModelLoader, registeredModelTypes, type ModelLoader } from './registry.js';
import { validateRecommender, type Recommendation, type RecommendRequest, type Recommender, type UserState } from './recommender.js';

/** Per-item statistics aligned with the model vocabulary's indices (optional encoder input). */
export interface ItemFeatureStats {
  popularity?: Float32Array;
  cartRate?: Float32Array;
  favRate?: Float32Array;
  buyRate?: Float32Array;
}

export interface StateEncoder {
  readonly name: string;
  readonly featureDim: number;
  /**
   * Write the user's state `[seqLen, featureDim]` at `out[offset ..]` (zeros are padding; the most recent event
   * is the last row). `itemIndex` maps a raw item id to the model vocabulary index (-1 when unknown).
   */
  encode(state: UserState, seqLen: number, itemIndex: (item: number) => number, numItems: number, out: Float32Array, offset: number): void;
}

function rowsToUse(state: UserState, seqLen: number): number {
  return Math.min(seqLen, state.recentItems.length);
}

/** @rec/env behavior simulator layout (10 features): item (index+1)/numItems, 4 item stats, category pref, 4-way behavior one-hot. */
export function behaviorSimEncoder(stats: ItemFeatureStats = {}): StateEncoder {
  return {
    name: 'behavior-sim-10',
    featureDim: 10,
    encode(state, seqLen, itemIndex, numItems, out, offset) {
      const n = rowsToUse(state, seqLen);
      const first = state.recentItems.length - n;
      for (let j = 0; j < n; j++) {
        const o = offset + (seqLen - n + j) * 10;
        const idx = itemIndex(state.recentItems[first + j]);
        out[o] = idx >= 0 ? (idx + 1) / numItems : 0;
        if (idx >= 0) {
          out[o + 1] = stats.popularity?.[idx] ?? 0;
          out[o + 2] = stats.cartRate?.[idx] ?? 0;
          out[o + 3] = stats.favRate?.[idx] ?? 0;
          out[o + 4] = stats.buyRate?.[idx] ?? 0;
        }
        // column 5 (the user's preference for the item's category) needs category data: left at 0
        const beh = state.recentTypes[first + j];
        if (beh <= 3) out[o + 6 + beh] = 1;
      }
    },
  };
}

/** @rec/data event-state layout (20 features), see EVENT_STATE_FEATURES there. Gap scale 9 days, activity/position scale 1000. */
export function eventStateEncoder(stats: ItemFeatureStats = {}): StateEncoder {
  const logGap = Math.log1p(9 * 86400);
  const logScale = Math.log1p(1000);
  return {
    name: 'event-state-20',
    featureDim: 20,
    encode(state, seqLen, itemIndex, numItems, out, offset) {
      const total = state.recentItems.length;
      const n = rowsToUse(state, seqLen);
      const first = total - n;
      let buys = 0;
      for (let p = 0; p < first; p++) if (state.recentTypes[p] === 3) buys++;
      for (let j = 0; j < n; j++) {
        const p = first + j;
        const o = offset + (seqLen - n + j) * 20;
        const idx = itemIndex(state.recentItems[p]);
        out[o] = idx >= 0 ? idx / Math.max(1, numItems - 1) : 0;
        if (idx >= 0) {
          out[o + 1] = stats.popularity?.[idx] ?? 0;
          out[o + 2] = stats.cartRate?.[idx] ?? 0;
          out[o + 3] = stats.favRate?.[idx] ?? 0;
          out[o + 4] = stats.buyRate?.[idx] ?? 0;
        }
        // 5, 6 (category id and buy rate) need category data: left at 0
        const beh = state.recentTypes[p];
        if (beh <= 3) out[o + 7 + beh] = 1;
        if (beh === 3) buys++;
        out[o + 11] = p === 0 ? 1 : Math.min(1, Math.log1p(Math.max(0, state.recentTimes[p] - state.recentTimes[p - 1])) / logGap);
        out[o + 12] = buys / (p + 1);
        out[o + 13] = Math.min(1, Math.log1p(p + 1) / logScale);
        // 14 (category diversity) needs categories: left at 0
        out[o + 15] = Math.min(1, Math.log1p(p) / logScale);
      }
    },
  };
}

/** The subset of @rec/models-lstm-dqn's `LstmDqnServable` the adapter uses. */
export interface LstmDqnLike {
  readonly config: { network: { seqLen: number; featureDim: number; numActions: number } };
  readonly vocab: { size: number; toItem: Int32Array; indexOf(item: number): number };
  recommendBatch(
    states: Float32Array,
    k: number,
    options?: { exclude?: { offsets: Int32Array; items: Int32Array }; historyLengths?: Int32Array },
  ): { items: Int32Array; scores: Float32Array; coldStart: Uint8Array };
  dispose(): void;
}

/** Wrap a loaded LSTM-DQN as a Recommender: encode states, one batched forward pass, per-user k. */
export function lstmDqnRecommender(model: LstmDqnLike, version: string, encoder: StateEncoder): Recommender {
  const { seqLen, featureDim } = model.config.network;
  if (encoder.featureDim !== featureDim) {
    throw new ModelFormatError('state encoder does not fit the model', {
      where: `lstmDqnRecommender(${version})`,
      expected: `an encoder of ${featureDim} features per step`,
      got: `${encoder.name} (${encoder.featureDim})`,
      hint: "register a loader with your encoder: registerModelLoader('lstm-dqn', lstmDqnLoader({ encoder }))",
    });
  }
  const stateSize = seqLen * featureDim;
  const numItems = model.vocab.size;
  const itemIndex = (item: number) => model.vocab.indexOf(item);
  const batch = (requests: RecommendRequest[]): Recommendation[] => {
      const n = requests.length;
      const states = new Float32Array(n * stateSize);
      const lengths = new Int32Array(n);
      const offsets = new Int32Array(n + 1);
      let kMax = 1;
      for (let i = 0; i < n; i++) {
        const q = requests[i];
        encoder.encode(q.state, seqLen, itemIndex, numItems, states, i * stateSize);
        lengths[i] = Math.min(seqLen, q.state.recentItems.length);
        offsets[i + 1] = offsets[i] + q.exclude.length;
        if (q.k > kMax) kMax = q.k;
      }
      const exItems = new Int32Array(offsets[n]);
      for (let i = 0; i < n; i++) exItems.set(requests[i].exclude, offsets[i]);
      const out = model.recommendBatch(states, kMax, { exclude: { offsets, items: exItems }, historyLengths: lengths });
      return requests.map((q, i) => {
        let m = 0;
        while (m < q.k && out.items[i * kMax + m] >= 0) m++;
        return { items: out.items.slice(i * kMax, i * kMax + m), scores: out.scores.slice(i * kMax, i * kMax + m) };
      });
  };
  const r: Recommender = {
    name: 'lstm-dqn',
    version,
    recommendBatch: batch,
    recommend(state: UserState, k: number, exclude: Int32Array): Recommendation {
      return batch([{ state, k, exclude }])[0];
    },
    validate() {
      return validateRecommender(r, model.vocab.toItem.subarray(0, Math.min(5, numItems)));
    },
    dispose() {
      model.dispose();
    },
  };
  return r;
}

let backendReady: Promise<unknown> | null = null;
/** Pick the tfjs backend once for the service (`REC_BACKEND` overrides; default wasm, then cpu). */
export function ensureServeBackend(preference: string | readonly string[] = ['wasm', 'cpu']): Promise<unknown> {
  if (!backendReady) backendReady = initBackend(preference) as Promise<unknown>;
  return backendReady;
}

async function importModelPackage(name: string): Promise<Record<string, unknown>> {
  try {
    return (await import(name)) as Record<string, unknown>;
  } catch (e) {
    throw new NotAvailableError('model package not importable', { where: `import(${name})`, expected: 'the package installed and built', got: (e as Error).message });
  }
}

export interface LstmDqnLoaderOptions {
  /** State encoder; default by the model's featureDim: 10 -> behaviorSimEncoder, 20 -> eventStateEncoder. */
  encoder?: StateEncoder;
  /** tfjs backend preference (default wasm, then cpu). */
  backend?: string | readonly string[];
}

/** A loader for LSTM-DQN model directories written by @rec/models-lstm-dqn's `saveModel`. */
export function lstmDqnLoader(opts: LstmDqnLoaderOptions = {}): ModelLoader {
  return async (dir, config) => {
    await ensureServeBackend(opts.backend);
    const mod = await importModelPackage('@rec/models-lstm-dqn');
    const load = mod.loadLstmDqn as ((d: string) => Promise<LstmDqnLike>) | undefined;
    if (typeof load !== 'function') {
      throw new NotAvailableError('loadLstmDqn missing', { where: '@rec/models-lstm-dqn', expected: 'an exported loadLstmDqn(dir)', got: Object.keys(mod).join(', ') });
    }
    const model = await load(dir);
    const fd = model.config.network.featureDim;
    const encoder = opts.encoder ?? (fd === 10 ? behaviorSimEncoder() : fd === 20 ? eventStateEncoder() : undefined);
    if (!encoder) {
      model.dispose();
      throw new InvalidArgumentError('no state encoder for this feature layout', {
        where: `lstm-dqn loader (${dir})`,
        expected: 'featureDim 10 or 20, or a custom encoder',
        got: fd,
        hint: "registerModelLoader('lstm-dqn', lstmDqnLoader({ encoder }))",
      });
    }
    const savedAt = typeof config.savedAt === 'string' ? config.savedAt : '';
    return lstmDqnRecommender(model, savedAt ? `${basename(dir)}@${savedAt}` : basename(dir), encoder);
  };
}

/** The parts of a @rec/models-td3 `Td3Agent` and `ItemMatcher` the TD3 adapter uses. */
export interface Td3Like {
  readonly config: { stateDim: number; actionDim: number };
  act(obs: Float32Array): Float32Array;
  dispose?(): void;
}
/**
 * An item matcher: @rec/models-td3's `ItemMatcher` (`match`, indices only; used when present) or @rec/env's
 * `ItemMatcher` contract (`topK` with cosine scores, e.g. `CosineMatcher`), whose scores become the list scores.
 */
export type ItemMatcherLike =
  | {
      readonly numItems: number;
      /** `[batch * k]` matcher indices, best first (cosine similarity to the action). */
      match(actions: Float32Array, batch: number, k: number): Int32Array;
    }
  | {
      readonly numItems: number;
      topK(queries: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void;
    };

export interface Td3RecommenderOptions {
  agent: Td3Like;
  matcher: ItemMatcherLike;
  /** Raw item id of each matcher index. */
  itemIds: Int32Array;
  /** Writes the user's `stateDim` state at `out[offset ..]` (the layout the agent was trained on). */
  encode: (state: UserState, out: Float32Array, offset: number) => void;
  version: string;
}

/**
 * Wrap a TD3 agent and its item matcher as a Recommender: one batched `act`, then cosine top-(k + |exclude|)
 * matching and exclusion. Scores: the cosine similarities with a `topK` matcher; with `match` (no scores) the
 * reciprocal ranks 1, 1/2, 1/3, ...
 */
export function td3Recommender(o: Td3RecommenderOptions): Recommender {
  const { stateDim } = o.agent.config;
  if (!('match' in o.matcher) && !('topK' in o.matcher)) {
    throw new InvalidArgumentError('not an item matcher', { where: 'td3Recommender(matcher)', expected: 'an object with topK(...) or match(...)', got: Object.keys(o.matcher) });
  }
  if (o.itemIds.length !== o.matcher.numItems) {
    throw new InvalidArgumentError('item ids do not match the matcher', { where: 'td3Recommender(itemIds)', expected: `${o.matcher.numItems} ids`, got: o.itemIds.length });
  }
  const batch = (requests: RecommendRequest[]): Recommendation[] => {
    const n = requests.length;
    const obs = new Float32Array(n * stateDim);
    let kMax = 1;
    for (let i = 0; i < n; i++) {
      o.encode(requests[i].state, obs, i * stateDim);
      kMax = Math.max(kMax, requests[i].k + requests[i].exclude.length);
    }
    kMax = Math.min(kMax, o.matcher.numItems);
    const actions = o.agent.act(obs);
    let idx: Int32Array;
    let sc: Float32Array | null = null;
    // `match` first: TD3's ItemMatcher also has a (TypeScript-private) topK with another signature
    const m = o.matcher;
    if ('match' in m && typeof m.match === 'function') idx = m.match(actions, n, kMax);
    else {
      idx = new Int32Array(n * kMax);
      sc = new Float32Array(n * kMax);
      (m as { topK(q: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array): void }).topK(actions, n, kMax, idx, sc);
    }
    return requests.map((q, i) => {
      const ex = new Set(q.exclude);
      const items: number[] = [];
      const scores: number[] = [];
      for (let j = 0; j < kMax && items.length < q.k; j++) {
        const id = o.itemIds[idx[i * kMax + j]];
        if (ex.has(id)) continue;
        items.push(id);
        scores.push(sc ? sc[i * kMax + j] : 1 / items.length);
      }
      return { items: Int32Array.from(items), scores: Float32Array.from(scores) };
    });
  };
  const r: Recommender = {
    name: 'td3',
    version: o.version,
    recommendBatch: batch,
    recommend: (state, k, exclude) => batch([{ state, k, exclude }])[0],
    validate: () => validateRecommender(r, o.itemIds.subarray(0, Math.min(5, o.itemIds.length))),
    dispose: () => o.agent.dispose?.(),
  };
  return r;
}

/**
 * TD3 saves hold the actor (an action in item-embedding space) but no item embeddings or matcher, so a directory
 * alone cannot produce item lists: the loader refuses with that reason until the save format carries them.
 */
const td3Loader: ModelLoader = async (dir) => {
  throw new NotAvailableError('TD3 model directories cannot be served yet', {
    where: `td3 loader (${dir})`,
    expected: 'a save that includes the item embeddings the actor acts in (for ItemMatcher)',
    got: 'an actor/critic checkpoint only',
    hint: 'serve TD3 with td3Recommender({ agent: await loadTd3(dir), matcher: new ItemMatcher(embeddings, dim), itemIds, encode, version }) in config.recommenders',
  });
};

let registered = false;

/** Register the built-in loaders (once; a type the user registered first keeps the user's loader). */
export function registerBuiltinModelLoaders(): void {
  if (registered) return;
  registered = true;
  const have = new Set(registeredModelTypes());
  const lstm = lstmDqnLoader();
  for (const t of ['lstm-dqn', 'rec-lstm-dqn']) if (!have.has(t)) registerModelLoader(t, lstm);
  for (const t of ['td3', 'rec-td3']) if (!have.has(t)) registerModelLoader(t, td3Loader);
}
