/**
 * Loaders for the model packages' saved formats, registered under the model types their `config.json` names
 * (detected by `modelTypeOf`: LSTM-DQN saves carry `versions['@rec/models-lstm-dqn']`, TD3 saves
 * `package: '@rec/models-td3'`). The model packages are imported lazily, so the service starts (with the
 * popularity model) even where a model package or a tfjs backend is unavailable; such a model is then refused.
 *
 * A model reads a state built from the user's recent events by a `StateEncoder`. A directory saved with a state
 * layout (`saveModel(agent, dir, { stateLayout, stateStats })`, TD3 `save(dir, { serving })`) gets the encoder of
 * that layout, with the saved statistics: `replay-profile` (@rec/env's LoggedReplayEnv: the 10-d user profile at
 * each of the last N purchases or interactions, + the item id with `itemHistory`), `behavior-sim-10`,
 * `event-state-20`. A directory without a layout (saved before layouts existed) is read by its feature count:
 * 10 -> behaviour simulator, 20 -> event state, with the statistics columns at zero. Register your own with
 * `registerModelLoader('lstm-dqn', lstmDqnLoader({ encoder }))`.
 */
import { InvalidArgumentError, ModelFormatError, NotAvailableError, initBackend } from '@rec/core';
import { userProfileFromEvents, USER_PROFILE_DIM, type UserProfileOptions } from '@rec/data';
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
  /** Steps the encoder was built for, when its layout fixes them (checked against the model's seqLen). */
  readonly seqLen?: number;
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

/** @rec/env LoggedReplayEnv state parameters, as saved in a model directory's state layout. */
export interface ReplayProfileLayout {
  name: 'replay-profile';
  /** History rows (the env's `historyLength`, default 10 there). */
  historyLength: number;
  /** Which past events make the rows. */
  history: 'purchased' | 'interacted';
  /** Rows carry the event's item id after the 10 profile features (11 numbers; -1 on padding rows). */
  itemHistory: boolean;
  /** `userProfileAllSteps` options the profiles were computed with (recentWindow, actionsPerDayScale, ageScaleDays, include). */
  profile: UserProfileOptions;
}

const PROFILE_KEYS = ['recentWindow', 'actionsPerDayScale', 'ageScaleDays', 'include'];

/** Check a saved `replay-profile` layout (every field, as a directory is untrusted input). */
export function parseReplayProfileLayout(layout: Record<string, unknown>, where: string): ReplayProfileLayout {
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new ModelFormatError('bad replay-profile state layout', { where: `${where} ${field}`, expected, got, hint: "save with stateLayout { name: 'replay-profile', historyLength, history, itemHistory, profile } matching the LoggedReplayEnv options" });
  };
  if (layout?.name !== 'replay-profile') bad('name', "'replay-profile'", layout?.name);
  const H = layout.historyLength;
  if (!(Number.isInteger(H) && (H as number) > 0)) bad('historyLength', 'a positive integer', H);
  if (layout.history !== 'purchased' && layout.history !== 'interacted') bad('history', "'purchased' or 'interacted'", layout.history);
  if (typeof layout.itemHistory !== 'boolean') bad('itemHistory', 'true or false', layout.itemHistory);
  const profile = (layout.profile ?? {}) as Record<string, unknown>;
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) bad('profile', 'an object of userProfile options', profile);
  for (const k of Object.keys(profile)) if (!PROFILE_KEYS.includes(k)) bad(`profile.${k}`, `one of ${PROFILE_KEYS.join(', ')}`, k);
  if (profile.include !== undefined && profile.include !== 'through' && profile.include !== 'before') bad('profile.include', "'through' or 'before'", profile.include);
  try {
    userProfileFromEvents([], [], [], profile as UserProfileOptions); // @rec/data's own checks of the options
  } catch (e) {
    bad('profile', 'valid userProfile options', (e as Error).message);
  }
  return { name: 'replay-profile', historyLength: H as number, history: layout.history as ReplayProfileLayout['history'], itemHistory: layout.itemHistory as boolean, profile: profile as UserProfileOptions };
}

/**
 * The LoggedReplayEnv state from the user's events: row h (oldest first, right-aligned, zero-padded in front) is the
 * 10-d profile (@rec/data `userProfileFromEvents`, the same code as `userProfileAllSteps`) as of one of the user's
 * last `historyLength` purchases ('purchased') or events ('interacted'), then with `itemHistory` that event's
 * item id as a float (-1 on padding rows): the id the requests carry, which is the env's (dense) item id for a
 * model trained on a replay env. `itemCategories` maps item id -> category (any integer labels); an item it does
 * not know counts as one shared "unknown" category. Exact while the user's whole history is in the state store
 * (`maxRecent` events); beyond that the profile is computed over the kept events only.
 */
export function replayProfileEncoder(layout: ReplayProfileLayout, itemCategories: ReadonlyMap<number, number>): StateEncoder {
  const { historyLength: H, itemHistory } = layout;
  const purchased = layout.history === 'purchased';
  const F = USER_PROFILE_DIM + (itemHistory ? 1 : 0);
  let unknown = -1;
  for (const c of itemCategories.values()) if (c <= unknown) unknown = c - 1;
  return {
    name: `replay-profile-${H}x${F}`,
    featureDim: F,
    seqLen: H,
    encode(state, seqLen, _itemIndex, _numItems, out, offset) {
      if (seqLen !== H) throw new InvalidArgumentError('state length differs from the layout', { where: 'replayProfileEncoder.encode(seqLen)', expected: `${H} steps`, got: seqLen });
      const n = state.recentItems.length;
      const cats = new Int32Array(n);
      for (let p = 0; p < n; p++) cats[p] = itemCategories.get(state.recentItems[p]) ?? unknown;
      const profiles = userProfileFromEvents(state.recentTypes, cats, state.recentTimes, layout.profile);
      // history positions, newest last: the last H events, or the last H buys
      const rows: number[] = [];
      for (let p = n - 1; p >= 0 && rows.length < H; p--) if (!purchased || state.recentTypes[p] === 3) rows.push(p);
      const pad = H - rows.length;
      if (itemHistory) for (let h = 0; h < pad; h++) out[offset + h * F + USER_PROFILE_DIM] = -1;
      for (let q = 0; q < rows.length; q++) {
        const p = rows[rows.length - 1 - q];
        const o = offset + (pad + q) * F;
        out.set(profiles.subarray(p * USER_PROFILE_DIM, (p + 1) * USER_PROFILE_DIM), o);
        if (itemHistory) out[o + USER_PROFILE_DIM] = state.recentItems[p];
      }
    },
  };
}

/** The saved state of a model directory (what @rec/models-lstm-dqn's `readModelState` returns). */
export interface SavedStateLike {
  layout: { name: string; [parameter: string]: unknown };
  stats: { itemIds: Int32Array; itemCategories?: Int32Array; popularity?: Float32Array; cartRate?: Float32Array; favRate?: Float32Array; buyRate?: Float32Array } | null;
}

/**
 * The encoder for a saved layout and its statistics. `indexOf` maps an item id to the model's vocabulary index
 * (for the item statistics of the behaviour-sim / event-state layouts, which are per vocabulary index).
 */
export function encoderFromSavedState(saved: SavedStateLike, where: string, vocab?: { size: number; indexOf(item: number): number }): StateEncoder {
  const { layout, stats } = saved;
  if (layout.name === 'replay-profile') {
    const L = parseReplayProfileLayout(layout, where);
    if (!stats?.itemCategories) {
      throw new ModelFormatError('the replay profile needs item categories', {
        where,
        expected: 'state statistics with itemCategories (saveModel(..., { stateStats: { itemIds, itemCategories } }))',
        got: stats ? Object.keys(stats).join(', ') : 'no state-stats',
        hint: 'save the item -> category map of the training log with the model',
      });
    }
    const map = new Map<number, number>();
    for (let i = 0; i < stats.itemIds.length; i++) map.set(stats.itemIds[i], stats.itemCategories[i]);
    return replayProfileEncoder(L, map);
  }
  if (layout.name === 'behavior-sim-10' || layout.name === 'event-state-20') {
    const itemStats: ItemFeatureStats = {};
    if (stats && vocab) {
      for (const k of ['popularity', 'cartRate', 'favRate', 'buyRate'] as const) {
        const v = stats[k];
        if (!v) continue;
        const a = new Float32Array(vocab.size);
        for (let i = 0; i < stats.itemIds.length; i++) {
          const idx = vocab.indexOf(stats.itemIds[i]);
          if (idx >= 0) a[idx] = v[i];
        }
        itemStats[k] = a;
      }
    }
    return layout.name === 'behavior-sim-10' ? behaviorSimEncoder(itemStats) : eventStateEncoder(itemStats);
  }
  throw new ModelFormatError('unknown state layout', {
    where,
    expected: "a layout named 'replay-profile', 'behavior-sim-10' or 'event-state-20'",
    got: layout.name,
    hint: "register a loader with your encoder: registerModelLoader('lstm-dqn', lstmDqnLoader({ encoder }))",
  });
}

/** The subset of @rec/models-lstm-dqn's `LstmDqnServable` the adapter uses. */
export interface LstmDqnLike {
  readonly config: { network: { seqLen: number; featureDim: number; numActions: number } };
  readonly vocab: { size: number; toItem: Int32Array; indexOf(item: number): number };
  /** The saved state layout and statistics (null or absent: a directory saved without them). */
  readonly state?: SavedStateLike | null;
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
  if (encoder.featureDim !== featureDim || (encoder.seqLen !== undefined && encoder.seqLen !== seqLen)) {
    throw new ModelFormatError('state encoder does not fit the model', {
      where: `lstmDqnRecommender(${version})`,
      expected: `an encoder of ${featureDim} features per step${encoder.seqLen !== undefined ? ` and ${seqLen} steps` : ''}`,
      got: `${encoder.name} (${encoder.seqLen ?? '-'} x ${encoder.featureDim})`,
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
  /**
   * State encoder; default: the one of the directory's saved state layout, else (directories without a layout) by
   * the model's featureDim: 10 -> behaviorSimEncoder, 20 -> eventStateEncoder.
   */
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
    try {
      const fd = model.config.network.featureDim;
      const where = `lstm-dqn loader (${dir}/state-layout.json)`;
      const encoder =
        opts.encoder ??
        (model.state ? encoderFromSavedState(model.state, where, model.vocab) : fd === 10 ? behaviorSimEncoder() : fd === 20 ? eventStateEncoder() : undefined);
      if (!encoder) {
        throw new InvalidArgumentError('no state encoder for this feature layout', {
          where: `lstm-dqn loader (${dir})`,
          expected: 'a saved state layout (saveModel(agent, dir, { stateLayout, stateStats })), featureDim 10 or 20, or a custom encoder',
          got: `featureDim ${fd}, no state-layout.json`,
          hint: "save the model with its state layout, or registerModelLoader('lstm-dqn', lstmDqnLoader({ encoder }))",
        });
      }
      const savedAt = typeof config.savedAt === 'string' ? config.savedAt : '';
      return lstmDqnRecommender(model, savedAt ? `${basename(dir)}@${savedAt}` : basename(dir), encoder);
    } catch (e) {
      model.dispose();
      throw e;
    }
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

/** The parts of @rec/models-td3 the TD3 loader uses (imported lazily). */
interface Td3Module {
  loadTd3(dir: string): Promise<Td3Like & { dispose(): void }>;
  loadTd3Serving(dir: string): Promise<{ itemIds: Int32Array; itemEmbeddings: Float32Array; stateLayout?: { name: string; [k: string]: unknown }; itemCategories?: Int32Array } | null>;
  ItemMatcher: new (embeddings: Float32Array, dim: number) => ItemMatcherLike & { dispose?(): void };
}

/**
 * A loader for TD3 directories saved with `save(dir, { serving: { itemIds, itemEmbeddings, stateLayout,
 * itemCategories } })`: the actor, cosine matching against the saved embeddings (@rec/models-td3 `ItemMatcher`),
 * and the state encoder of the saved layout (the flattened `[historyLength * featureDim]` of a replay-profile
 * layout must equal the actor's stateDim). Directories without serving data (every save before the option, and
 * saves without it) or without a state layout are refused with the reason.
 */
export function td3Loader(opts: { backend?: string | readonly string[] } = {}): ModelLoader {
  return async (dir) => {
    await ensureServeBackend(opts.backend);
    const mod = (await importModelPackage('@rec/models-td3')) as unknown as Td3Module;
    if (typeof mod.loadTd3Serving !== 'function' || typeof mod.loadTd3 !== 'function') {
      throw new NotAvailableError('loadTd3Serving missing', { where: '@rec/models-td3', expected: 'exported loadTd3 and loadTd3Serving', got: Object.keys(mod).join(', ') });
    }
    const serving = await mod.loadTd3Serving(dir);
    if (!serving) {
      throw new NotAvailableError('TD3 directory has no item embeddings to serve from', {
        where: `td3 loader (${dir})`,
        expected: 'a save that includes the item embeddings the actor acts in: agent.save(dir, { serving: { itemIds, itemEmbeddings, stateLayout } })',
        got: 'an actor/critic checkpoint only',
        hint: 'save again with the serving option, or serve TD3 with td3Recommender({ agent: await loadTd3(dir), matcher: new ItemMatcher(embeddings, dim), itemIds, encode, version }) in config.recommenders',
      });
    }
    if (!serving.stateLayout) {
      throw new NotAvailableError('TD3 directory has no state layout', {
        where: `td3 loader (${dir}/serving.json)`,
        expected: "serving.stateLayout, e.g. { name: 'replay-profile', historyLength, history, itemHistory, profile }",
        got: 'item embeddings without a state layout',
        hint: 'the actor state cannot be rebuilt from events without it: save with serving.stateLayout, or pass td3Recommender({ encode }) in config.recommenders',
      });
    }
    const where = `td3 loader (${dir}/serving.json stateLayout)`;
    const encoder = encoderFromSavedState({ layout: serving.stateLayout, stats: { itemIds: serving.itemIds, itemCategories: serving.itemCategories } }, where);
    const agent = await mod.loadTd3(dir);
    const { stateDim, actionDim } = agent.config;
    const steps = encoder.seqLen ?? 1;
    if (steps * encoder.featureDim !== stateDim) {
      agent.dispose();
      throw new ModelFormatError('state layout does not fit the actor', { where, expected: `a layout of stateDim ${stateDim} numbers`, got: `${encoder.name}: ${steps} x ${encoder.featureDim} = ${steps * encoder.featureDim}` });
    }
    let matcher: ItemMatcherLike & { dispose?(): void };
    try {
      matcher = new mod.ItemMatcher(serving.itemEmbeddings, actionDim);
    } catch (e) {
      agent.dispose();
      throw e;
    }
    return td3Recommender({
      agent: { config: agent.config, act: (obs) => agent.act(obs), dispose: () => { agent.dispose(); matcher.dispose?.(); } },
      matcher,
      itemIds: serving.itemIds,
      encode: (state, out, offset) => encoder.encode(state, steps, () => -1, serving.itemIds.length, out, offset),
      version: basename(dir),
    });
  };
}

let registered = false;

/** Register the built-in loaders (once; a type the user registered first keeps the user's loader). */
export function registerBuiltinModelLoaders(): void {
  if (registered) return;
  registered = true;
  const have = new Set(registeredModelTypes());
  const lstm = lstmDqnLoader();
  for (const t of ['lstm-dqn', 'rec-lstm-dqn']) if (!have.has(t)) registerModelLoader(t, lstm);
  const td3 = td3Loader();
  for (const t of ['td3', 'rec-td3']) if (!have.has(t)) registerModelLoader(t, td3);
}
