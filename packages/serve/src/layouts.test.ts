/**
 * Saved state layouts on the real UserBehavior head sample: the replay-profile encoder rebuilds @rec/env's
 * LoggedReplayEnv state byte for byte from a user's events, and model directories saved with their layout
 * (LSTM-DQN `saveModel(..., { stateLayout, stateStats })`, TD3 `save(dir, { serving })`) are served over HTTP with
 * the lists the models give on the env's own states. Data from REC_DATA_DIR (default ../shared/data beside the
 * checkout); in CI a missing sample is an error, not a skip.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@rec/core';
import { ingest, sessionize, userSequences, type IndexedLog, type UserSequences } from '@rec/data';
import { LoggedReplayEnv } from '@rec/env';
import { LstmDqn, saveModel } from '@rec/models-lstm-dqn';
import { createTd3, ItemMatcher } from '@rec/models-td3';
import { ensureServeBackend, parseReplayProfileLayout, replayProfileEncoder } from './model-adapters.js';
import type { UserState } from './recommender.js';
import { createServer, type RecService } from './server.js';
import { getJson, postJson, tmpDir } from './testutil.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
const head = resolve(dataDir, 'userbehavior-head/UserBehavior.csv');
const have = existsSync(head);
if (!have && process.env.CI) throw new Error(`real data missing: ${head} (REC_DATA_DIR) and CI is set`);

const TOKEN = 'layout-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const BEHAVIORS = ['pv', 'cart', 'fav', 'buy'];

let log: IndexedLog;
let seqs: UserSequences;
let categories: Int32Array;
let itemIds: Int32Array;

/** Item -> category of the log (one category per item in this sample; checked). */
function itemCategoryMap(l: IndexedLog): Int32Array {
  const c = new Int32Array(l.numItems).fill(-1);
  for (let r = 0; r < l.numRows; r++) {
    if (c[l.item[r]] !== -1 && c[l.item[r]] !== l.category[r]) throw new Error(`item ${l.item[r]} has two categories`);
    c[l.item[r]] = l.category[r];
  }
  return c;
}

/** User u's events at sequence positions offsets[u] .. p (inclusive), as the service's UserState holds them. */
function stateThrough(u: number, p: number): UserState {
  const rows = seqs.rows.subarray(seqs.offsets[u], p + 1);
  return {
    userId: `u${u}`,
    recentItems: Int32Array.from(rows, (r) => log.item[r]),
    recentTypes: Uint8Array.from(rows, (r) => log.behavior[r]),
    recentTimes: Float64Array.from(rows, (r) => log.timestamp[r]),
  };
}

function replayEnv(history: 'purchased' | 'interacted', itemHistory: boolean): LoggedReplayEnv {
  return new LoggedReplayEnv({ log: { ...log, numItems: log.numItems }, sessions: sessionize(log, { sequences: seqs }), sequences: seqs, history, itemHistory, batchSize: 4, seed: 3 });
}

/** POST every event of user u through position p, in sequence order, with its logged timestamp. */
async function postHistory(base: string, userId: string, u: number, p: number): Promise<void> {
  for (let j = seqs.offsets[u]; j <= p; j++) {
    const r = seqs.rows[j];
    const res = await postJson(base, '/interaction', { user_id: userId, item_id: log.item[r], interaction_type: BEHAVIORS[log.behavior[r]], timestamp: log.timestamp[r] });
    if (res.status !== 202) throw new Error(`interaction refused: ${JSON.stringify(res.body)}`);
  }
}

const ids = (body: { items: { item_id: number }[] }) => body.items.map((x) => x.item_id);

/** A user with a long history (>= 60 events, several buys); the first events of it make a cold-start history. */
function longUser(): number {
  for (let u = 0; u < seqs.numUsers; u++) {
    let buys = 0;
    for (let j = seqs.offsets[u]; j < seqs.offsets[u + 1]; j++) if (log.behavior[seqs.rows[j]] === 3) buys++;
    if (seqs.offsets[u + 1] - seqs.offsets[u] >= 60 && buys >= 2) return u;
  }
  throw new Error('sample lacks a user with >= 60 events and 2 buys');
}

describe.skipIf(!have)('saved state layouts on the UserBehavior head sample', () => {
  beforeAll(async () => {
    await ensureServeBackend(['cpu']);
    log = (await ingest(head, { cache: false })).log as IndexedLog;
    seqs = userSequences(log);
    categories = itemCategoryMap(log);
    itemIds = Int32Array.from({ length: log.numItems }, (_, i) => i);
  }, 60_000);

  it('the replay-profile encoder equals LoggedReplayEnv.observeAt for every user and position (4 layouts)', () => {
    const map = new Map(Array.from(itemIds, (id) => [id, categories[id]] as [number, number]));
    for (const history of ['purchased', 'interacted'] as const) {
      for (const itemHistory of [false, true]) {
        const env = replayEnv(history, itemHistory);
        const enc = replayProfileEncoder(parseReplayProfileLayout({ name: 'replay-profile', historyLength: 10, history, itemHistory, profile: {} }, 'test'), map);
        const F = 10 + (itemHistory ? 1 : 0);
        const got = new Float32Array(10 * F);
        let compared = 0;
        let nonTrivial = 0;
        for (let u = 0; u < seqs.numUsers; u++) {
          const a = seqs.offsets[u];
          const b = seqs.offsets[u + 1];
          // every position of the first 30 users, the first / middle / last of the others
          const positions = u < 30 ? Array.from({ length: b - a }, (_, q) => a + q) : [a, (a + b - 1) >> 1, b - 1];
          for (const p of positions) {
            const want = env.observeAt(Int32Array.of(u), Int32Array.of(p));
            got.fill(0);
            enc.encode(stateThrough(u, p), 10, () => -1, log.numItems, got, 0);
            if (got.some((x, i) => x !== want[i])) throw new Error(`${history}/${itemHistory} user ${u} position ${p}: ${Array.from(got)} vs ${Array.from(want)}`);
            compared++;
            if (want.some((x) => x > 0)) nonTrivial++;
          }
        }
        expect(compared).toBeGreaterThan(1000);
        expect(nonTrivial).toBeGreaterThan(compared / 4);
      }
    }
  });

  describe('LSTM-DQN trained on the replay env (alibaba-train layout), served from its directory', () => {
    let svc: RecService;
    let base: string;
    let agent: LstmDqn;
    let env: LoggedReplayEnv;
    const root = tmpDir('rec-serve-layout-');
    const layout = { name: 'replay-profile', historyLength: 10, history: 'interacted', itemHistory: true, profile: {} };

    beforeAll(async () => {
      env = replayEnv('interacted', true);
      agent = new LstmDqn({
        numActions: log.numItems,
        network: { featureDim: 11, itemInputDim: 8, hidden: 16, layers: 1, mlp: [16], rnnDropout: 0, mlpDropout: 0 },
        seed: 5,
        fullInformation: true,
        learningStarts: 16,
        batchSize: 16,
      });
      agent.addPopularity(log.item);
      await agent.learn({ env, episodes: 8, maxEpisodeSteps: 4 });
      await saveModel(agent, join(root, 'model'), { stateLayout: layout, stateStats: { itemIds, itemCategories: categories } });
      await saveModel(agent, join(root, 'no-layout'));
      svc = await createServer({ port: 0, logPath: join(root, 'events.jsonl'), models: { default: join(root, 'model') }, adminToken: TOKEN, timeoutMs: 5000, backend: ['cpu'] });
      base = await svc.listen();
    }, 120_000);
    afterAll(async () => {
      await svc?.close();
      agent?.dispose();
    });

    it('serves, over HTTP, the lists agent.recommend gives on the env state of the same history', async () => {
      expect(svc.slots.get('default')!.describe().name).toBe('lstm-dqn');
      const long = longUser();
      const u = long;
      // the whole history, and its first 3 events (below coldStartThreshold 5: popularity)
      for (const [name, last] of [['long', seqs.offsets[u + 1] - 1], ['short', seqs.offsets[u] + 2]] as const) {
        await postHistory(base, name, u, last);
        const n = last - seqs.offsets[u] + 1;
        const obs = env.observeAt(Int32Array.of(u), Int32Array.of(last));
        for (const exclude of [[], [log.item[seqs.rows[last]], 0, 1]]) {
          const q = exclude.length ? `&exclude=${exclude.join(',')}` : '';
          const r = await getJson(base, `/recommendations/${name}?k=10${q}`);
          expect(r.status).toBe(200);
          expect(r.body).toMatchObject({ model: 'lstm-dqn', fallback: false });
          const want = agent.recommend(obs, 10, { exclude, historyLength: Math.min(10, n) });
          expect(want.coldStart).toBe(name === 'short');
          expect(ids(r.body)).toEqual(Array.from(want.items));
          expect(ids(r.body)).toHaveLength(10);
        }
      }
      // a different history gives a different state: the long user's list as of an earlier point
      const mid = seqs.offsets[long] + 20;
      await postHistory(base, 'long-mid', long, mid);
      const early = agent.recommend(env.observeAt(Int32Array.of(long), Int32Array.of(mid)), 10, { historyLength: 10 });
      expect(ids((await getJson(base, '/recommendations/long-mid?k=10')).body)).toEqual(Array.from(early.items));
    }, 60_000);

    it('refuses the same model saved without its layout (featureDim 11 has no default encoder), with the reason', async () => {
      const r = await postJson(base, '/admin/models/default', { dir: join(root, 'no-layout') }, auth);
      expect(r.status).toBe(422);
      expect(JSON.stringify(r.body)).toMatch(/lstm-dqn loader.*no-layout.*no state encoder for this feature layout/s);
      expect(svc.slots.get('default')!.describe().name).toBe('lstm-dqn');
    }, 60_000);
  });

  describe('TD3 saved with its item embeddings and state layout, served from its directory', () => {
    let svc: RecService;
    let base: string;
    const root = tmpDir('rec-serve-td3-');
    const dim = 8;
    let embeddings: Float32Array;
    const agent = () => createTd3({ stateDim: 100, actionDim: dim, actorHidden: [16], criticHidden: [16], seed: 9 });
    const layout = { name: 'replay-profile', historyLength: 10, history: 'purchased', itemHistory: false, profile: {} };

    beforeAll(async () => {
      embeddings = new Rng(4).fillNormal(new Float32Array(log.numItems * dim), 0, 1) as Float32Array;
      const a = agent();
      await a.save(join(root, 'td3'), { serving: { itemIds, itemEmbeddings: embeddings, itemCategories: categories, stateLayout: layout } });
      await a.save(join(root, 'td3-plain'));
      await a.save(join(root, 'td3-no-layout'), { serving: { itemIds, itemEmbeddings: embeddings } });
      a.dispose();
      svc = await createServer({ port: 0, logPath: join(root, 'events.jsonl'), models: { default: join(root, 'td3') }, adminToken: TOKEN, timeoutMs: 5000, backend: ['cpu'] });
      base = await svc.listen();
    }, 120_000);
    afterAll(async () => {
      await svc?.close();
    });

    it('serves, over HTTP, actor + cosine matching on the env state of the same history', async () => {
      expect(svc.slots.get('default')!.describe().name).toBe('td3');
      const long = longUser();
      const last = seqs.offsets[long + 1] - 1;
      await postHistory(base, 'buyer', long, last);
      const r = await getJson(base, '/recommendations/buyer?k=10');
      expect(r.body).toMatchObject({ model: 'td3', fallback: false });
      const obs = replayEnv('purchased', false).observeAt(Int32Array.of(long), Int32Array.of(last));
      expect(obs.some((x) => x > 0)).toBe(true);
      const a = agent();
      const matcher = new ItemMatcher(embeddings, dim);
      const want = Array.from(matcher.match(a.act(obs), 1, 10), (i) => itemIds[i]);
      expect(ids(r.body)).toEqual(want);
      // a cold user (no purchases: an all-padding state) gets the actor's list for the zero state
      const cold = Array.from(matcher.match(a.act(new Float32Array(100)), 1, 10), (i) => itemIds[i]);
      expect(ids((await getJson(base, '/recommendations/nobody?k=10')).body)).toEqual(cold);
      expect(cold).not.toEqual(want);
      a.dispose();
      matcher.dispose();
    }, 60_000);

    it('refuses TD3 directories without item embeddings or without a state layout, with the reason', async () => {
      const plain = await postJson(base, '/admin/models/default', { dir: join(root, 'td3-plain') }, auth);
      expect(plain.status).toBe(422);
      expect(JSON.stringify(plain.body)).toMatch(/no item embeddings/);
      const noLayout = await postJson(base, '/admin/models/default', { dir: join(root, 'td3-no-layout') }, auth);
      expect(noLayout.status).toBe(422);
      expect(JSON.stringify(noLayout.body)).toMatch(/no state layout/);
      expect(svc.slots.get('default')!.describe().name).toBe('td3');
    }, 60_000);
  });
});
