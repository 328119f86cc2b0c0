// A real (tiny) LSTM-DQN saved by @rec/models-lstm-dqn, loaded from its directory and served over HTTP.
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { LstmDqn, loadLstmDqn, saveModel, type NetworkConfig } from '@rec/models-lstm-dqn';
import { createTd3 } from '@rec/models-td3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behaviorSimEncoder, ensureServeBackend } from './model-adapters.js';
import { createServer, type RecService } from './server.js';
import { emptyUserState } from './recommender.js';
import { getJson, postJson, tmpDir } from './testutil.js';

const TOKEN = 'adapter-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const NUM_ITEMS = 40;

const TINY_NETWORK = { seqLen: 5, featureDim: 10, hidden: 8, mlp: [8] };

async function saveTinyModel(dir: string, seed: number, inference: 'auto' | 'tfjs' = 'auto', network: Partial<NetworkConfig> = TINY_NETWORK): Promise<void> {
  const agent = new LstmDqn({ numActions: NUM_ITEMS, seed, coldStartThreshold: 2, inference, network });
  // item i counted (i % 7) + 1 times
  const pops: number[] = [];
  for (let i = 0; i < NUM_ITEMS; i++) for (let c = 0; c <= i % 7; c++) pops.push(i);
  agent.addPopularity(Int32Array.from(pops));
  await saveModel(agent, dir);
  agent.dispose();
}

describe('LSTM-DQN model directories in the service', () => {
  let svc: RecService;
  let base: string;
  let root: string;

  beforeAll(async () => {
    await ensureServeBackend(['cpu']);
    root = tmpDir();
    await saveTinyModel(join(root, 'v1'), 1);
    await saveTinyModel(join(root, 'v2'), 2);
    // the model in the HTTP thread here, so the tensor-leak check below sees its tensors (worker mode is tested below)
    svc = await createServer({ port: 0, logPath: join(root, 'events.jsonl'), models: { default: join(root, 'v1') }, adminToken: TOKEN, timeoutMs: 2000, modelThread: 'main', backend: ['cpu'] });
    base = await svc.listen();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('serves the same lists as the model called directly, for warm and cold users, and leaks no tensors', async () => {
    expect(svc.slots.get('default')!.describe().name).toBe('lstm-dqn');
    const history = [3, 17, 17, 25];
    for (const [i, item] of history.entries()) {
      expect((await postJson(base, '/interaction', { user_id: 'w1', item_id: item, interaction_type: i === 3 ? 'buy' : 'pv', timestamp: 1_700_000_000 + i })).status).toBe(202);
    }
    await getJson(base, '/recommendations/w1?k=6&exclude=5'); // warm-up: the first call compiles kernels
    const tensorsBefore = tf.memory().numTensors;
    const r = await getJson(base, '/recommendations/w1?k=6&exclude=5,9');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(r.body).toMatchObject({ model: 'lstm-dqn', fallback: false, cached: false });
    const got = r.body.items.map((x: { item_id: number }) => x.item_id);

    // the reference: load the directory with the model package and encode the same state by hand
    const direct = await loadLstmDqn(join(root, 'v1'));
    const state = new Float32Array(5 * 10);
    // 4 events right-aligned in 5 rows: row 0 is padding; feature 0 = (index + 1) / 40, behavior one-hot at 6 + code
    history.forEach((item, j) => {
      state[(1 + j) * 10] = (item + 1) / NUM_ITEMS;
      state[(1 + j) * 10 + 6 + (j === 3 ? 3 : 0)] = 1;
    });
    const want = direct.recommend(state, 6, { exclude: [5, 9], historyLength: 4 });
    expect(want.coldStart).toBe(false);
    expect(got).toEqual(Array.from(want.items));
    r.body.items.forEach((x: { score: number }, i: number) => expect(x.score).toBeCloseTo(want.scores[i], 5));
    // the built-in encoder writes exactly that state
    const enc = new Float32Array(50);
    const us = svc.users.get('w1');
    behaviorSimEncoder().encode(us, 5, (it) => direct.vocab.indexOf(it), NUM_ITEMS, enc, 0);
    expect(Array.from(enc)).toEqual(Array.from(state));

    // a user with no history is a cold start: the model's own popularity (i % 7 + 1 -> items 6, 13, 20, ... first)
    const cold = await getJson(base, '/recommendations/nobody?k=3');
    const coldWant = direct.recommend(new Float32Array(50), 3, { historyLength: 0 });
    expect(coldWant.coldStart).toBe(true);
    expect(cold.body.items.map((x: { item_id: number }) => x.item_id)).toEqual(Array.from(coldWant.items));
    direct.dispose();
    expect(emptyUserState('x').recentItems.length).toBe(0);
  });

  it('hot-swaps to a new version and refuses a corrupted or unservable directory', async () => {
    const ok = await postJson(base, '/admin/models/default', { dir: join(root, 'v2') }, auth);
    expect(ok.status).toBe(200);
    expect(ok.body.serving.version).toMatch(/^v2@/);
    // corrupt copy of v2: a flipped weights file fails the checksum
    const bad = join(root, 'corrupt');
    mkdirSync(bad);
    for (const f of readdirSync(join(root, 'v2'))) copyFileSync(join(root, 'v2', f), join(bad, f));
    writeFileSync(join(bad, 'weights.bin'), new Uint8Array(64));
    const refused = await postJson(base, '/admin/models/default', { dir: bad }, auth);
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/weights\.bin|checksum|sha256/i);
    expect(refused.body.serving.version).toMatch(/^v2@/);
    // a TD3 save without serving data (item embeddings) is recognised and refused with the reason
    const td3 = join(root, 'td3');
    const agent = createTd3({ stateDim: 4, actionDim: 3, actorHidden: [4], criticHidden: [4] });
    await agent.save(td3);
    agent.dispose();
    const t = await postJson(base, '/admin/models/default', { dir: td3 }, auth);
    expect(t.status).toBe(422);
    expect(t.body.message).toMatch(/TD3 directory has no item embeddings to serve from/);
    // and a directory that only claims to be TD3 is refused for its missing checkpoint manifest
    const fake = join(root, 'td3-fake');
    mkdirSync(fake);
    writeFileSync(join(fake, 'config.json'), JSON.stringify({ package: '@rec/models-td3', config: {} }));
    const f = await postJson(base, '/admin/models/default', { dir: fake }, auth);
    expect(f.status).toBe(422);
    expect(f.body.message).toMatch(/MANIFEST\.json/);
    expect((await getJson(base, '/recommendations/w1?k=3')).body).toMatchObject({ model: 'lstm-dqn', fallback: false });
  });
});

describe('LSTM-DQN in a worker thread', () => {
  it('gives the same lists as in-thread, and the deadline fires while the worker computes', async () => {
    const root = tmpDir();
    await saveTinyModel(join(root, 'v1'), 1);
    const events = join(root, 'events.jsonl');
    const mk = (modelThread: 'main' | 'worker', timeoutMs: number) =>
      createServer({ port: 0, logPath: events, models: { default: join(root, 'v1') }, timeoutMs, modelThread, backend: ['cpu'] });
    const main = await mk('main', 5000);
    const mainBase = await main.listen();
    for (const [i, item] of [4, 8, 15, 16].entries()) await postJson(mainBase, '/interaction', { user_id: 'w', item_id: item, interaction_type: 'pv', timestamp: 1_700_000_000 + i });
    const want = (await getJson(mainBase, '/recommendations/w?k=5&exclude=3')).body;
    await main.close();

    const worker = await mk('worker', 5000); // replays the same log: same user state
    const base = await worker.listen();
    const got = (await getJson(base, '/recommendations/w?k=5&exclude=3')).body;
    expect(got).toMatchObject({ model: 'lstm-dqn', fallback: false });
    expect(got.items).toEqual(want.items);
    await worker.close();

    // a 1 ms deadline: the worker cannot answer in time, the HTTP thread answers from popularity meanwhile. The
    // model here is the paper-sized LSTM (2 x 128) on the tfjs cpu graph, tens of ms per call: the tiny network
    // answered within 1 ms on a fast run, so the deadline did not fire (a flaky failure in CI).
    await saveTinyModel(join(root, 'slow'), 1, 'tfjs', { ...TINY_NETWORK, hidden: 128, layers: 2, mlp: [256, 128] });
    const strict = await createServer({ port: 0, logPath: events, models: { default: join(root, 'slow') }, timeoutMs: 1, modelThread: 'worker', backend: ['cpu'] });
    const sb = await strict.listen();
    const r = await getJson(sb, '/recommendations/w?k=5&exclude=3');
    expect(r.body.fallback).toBe('timeout');
    expect(r.body.model).toBe('popularity');
    expect(strict.metrics.toJSON().recommendations.timeouts).toBe(1);
    await strict.close();
  });
});

describe('TD3 through td3Recommender', () => {
  it('serves what the agent + matcher give, minus excluded items, over HTTP', async () => {
    const { createTd3, ItemMatcher } = await import('@rec/models-td3');
    await ensureServeBackend(['cpu']);
    const agent = createTd3({ stateDim: 4, actionDim: 3, actorHidden: [8], criticHidden: [8], replayCapacity: 64, seed: 3 });
    // 12 items on distinct directions in 3-d; raw ids 100..111
    const emb = Float32Array.from({ length: 36 }, (_, i) => Math.sin(1 + i * 0.7));
    const matcher = new ItemMatcher(emb, 3);
    const itemIds = Int32Array.from({ length: 12 }, (_, i) => 100 + i);
    // state: last item (scaled), history length (scaled), two zeros
    const encode = (s: { recentItems: Int32Array }, out: Float32Array, off: number) => {
      const n = s.recentItems.length;
      out[off] = n ? s.recentItems[n - 1] / 1000 : 0;
      out[off + 1] = n / 10;
    };
    const { td3Recommender } = await import('./model-adapters.js');
    const svc = await createServer({ port: 0, logPath: join(tmpDir(), 'e.jsonl'), recommenders: { default: td3Recommender({ agent, matcher, itemIds, encode, version: 't1' }) } });
    const base = await svc.listen();
    await postJson(base, '/interaction', { user_id: 'z', item_id: 104, interaction_type: 'pv' });
    const r = await getJson(base, '/recommendations/z?k=4&exclude=100,101');
    expect(r.body).toMatchObject({ model: 'td3', version: 't1', fallback: false });
    const obs = Float32Array.of(0.104, 0.1, 0, 0);
    const idx = matcher.match(agent.act(obs), 1, 6);
    const want = Array.from(idx, (i: number) => 100 + i).filter((x) => x !== 100 && x !== 101).slice(0, 4);
    expect(r.body.items.map((x: { item_id: number }) => x.item_id)).toEqual(want);
    expect(r.body.items.map((x: { score: number }) => x.score)).toEqual([1, 0.5, expect.closeTo(1 / 3, 6), 0.25]);
    await svc.close();
    matcher.dispose();

    // a matcher with the @rec/env contract (topK with scores): its cosine scores are passed through
    const agent2 = createTd3({ stateDim: 4, actionDim: 3, actorHidden: [8], criticHidden: [8], replayCapacity: 64, seed: 3 });
    const envLike = {
      numItems: 12,
      dim: 3,
      topK(_q: Float32Array, n: number, k: number, out: Int32Array, scores?: Float32Array) {
        // fixed ranking for the check: index j at rank j with score 1 - j / 100
        for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) (out[r * k + j] = j), scores && (scores[r * k + j] = 1 - j / 100);
      },
    };
    const rec = td3Recommender({ agent: agent2, matcher: envLike, itemIds, encode, version: 't2' });
    const out = rec.recommend(svc.users.get('z'), 3, Int32Array.of(101));
    expect(Array.from((out as { items: Int32Array }).items)).toEqual([100, 102, 103]);
    expect(Array.from((out as { scores: Float32Array }).scores)).toEqual([1, 0.98, 0.97].map(Math.fround));
    agent2.dispose();
  });
});
