/**
 * serve example: train a small LSTM-DQN in @rec/env's behaviour simulator built from a log's training part, save
 * it, start @rec/serve on loopback with a most-popular slot (control) and the LSTM-DQN slot (treatment), create an
 * A/B experiment through the admin API, replay the held-out part of every user's sequence as traffic, and print the
 * experiment analysis from `GET /experiments/:id`.
 *
 * Traffic model (a logged replay, bounded): users are walked through their held-out events in order. Before each
 * held-out event the user asks for 10 items; when the logged next item is in the list the user takes it and the
 * logged behaviour (pv/cart/fav/buy) is posted to `/interaction`; otherwise nothing is posted and the user moves on
 * (their state stays as it was). An arm thus earns interactions only by putting the item the user really took next
 * into its list.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, RunLogger, initBackend, writeJsonAtomic } from '@rec/core';
import { BEHAVIORS, generateSyntheticLog, ingest, reindex, userSequences, type IndexedLog } from '@rec/data';
import { BehaviorSimEnv, behaviorSimDataFromLog } from '@rec/env';
import { ItemVocab, LstmDqn, loadLstmDqn, saveModel } from '@rec/models-lstm-dqn';
import { behaviorSimEncoder, createServer, lstmDqnRecommender, type LstmDqnLike } from '@rec/serve';

export interface ServeExampleOptions {
  /** UserBehavior CSV; default: $REC_DATA_DIR (or ../shared/data)/userbehavior-head/UserBehavior.csv when present, else synthetic. */
  data?: string;
  /** Rows of the synthetic log when no data is found. Default 20,000. */
  syntheticRows?: number;
  /** Output folder (model, popularity table, event log, analysis). Default ./results-serve. */
  out?: string;
  /** LSTM-DQN training episodes in the behaviour simulator. Default 300. */
  episodes?: number;
  /** Share of each user's sequence held out as traffic. Default 0.2. */
  heldOut?: number;
  /** Most recommendation requests sent. Default 5,000. */
  maxRequests?: number;
  /** Traffic time budget, seconds. Default 60. */
  maxSeconds?: number;
  /** Treatment share, percent. Default 50. */
  rolloutPct?: number;
  backend?: string;
  seed?: number;
  verbose?: boolean;
}

export interface ServeExampleSummary {
  data: string;
  users: number;
  items: number;
  trainRows: number;
  heldOutEvents: number;
  requests: number;
  hits: Record<string, number>;
  requestsByVariant: Record<string, number>;
  fallbacks: number;
  analysis: unknown;
  out: string;
}

/** The real head sample's path when the data folder is there (REC_DATA_DIR rule of the repo), else null. */
export function defaultDataPath(): string | null {
  const dir = resolve(process.env.REC_DATA_DIR ?? join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data'));
  const p = join(dir, 'userbehavior-head', 'UserBehavior.csv');
  return existsSync(p) ? p : null;
}

async function loadLog(o: ServeExampleOptions, seed: number): Promise<{ log: IndexedLog; source: string }> {
  const path = o.data ?? defaultDataPath();
  if (path) return { log: (await ingest(path, { preset: 'userBehavior' })).log as IndexedLog, source: path };
  const rows = o.syntheticRows ?? 20_000;
  return { log: reindex(generateSyntheticLog({ rows, seed })), source: `synthetic (${rows} rows)` };
}

export async function runServeExample(options: ServeExampleOptions = {}): Promise<ServeExampleSummary> {
  const seed = options.seed ?? 42;
  const verbose = options.verbose ?? true;
  const say = (s: string): void => {
    if (verbose) process.stdout.write(`${s}\n`);
  };
  const heldOut = options.heldOut ?? 0.2;
  if (!(heldOut > 0 && heldOut < 1)) {
    throw new InvalidArgumentError('serve example: bad heldOut', { where: 'heldOut', expected: 'a share in (0, 1)', got: heldOut, hint: 'e.g. 0.2' });
  }
  const out = resolve(options.out ?? 'results-serve');
  mkdirSync(out, { recursive: true });
  const backend = await initBackend(options.backend ?? 'wasm,cpu');

  // 1. Data and a per-user time split: the first 80% of each user's events train, the rest is traffic.
  const { log, source } = await loadLog(options, seed);
  const seqs = userSequences(log);
  const train: number[] = [];
  const traffic: { user: number; rows: Int32Array }[] = [];
  for (let u = 0; u < seqs.numUsers; u++) {
    const a = seqs.offsets[u];
    const b = seqs.offsets[u + 1];
    const cut = a + Math.max(1, Math.floor((b - a) * (1 - heldOut)));
    for (let i = a; i < cut; i++) train.push(seqs.rows[i]);
    if (cut < b) traffic.push({ user: u, rows: seqs.rows.slice(cut, b) });
  }
  const trainRows = Int32Array.from(train);
  // Item ids in the service are the log's dense item indices: the model's vocabulary speaks the simulator's item ids
  // (dense), and the service maps ids through that vocabulary. Users keep their raw ids.
  const rawItem = (dense: number): number => dense;
  const rawUser = (dense: number): string => `u${log.users.toRaw[dense]}`;
  say(`data ${source}: ${log.numUsers} users, ${log.numItems} items, ${trainRows.length} training rows, ${traffic.length} users with held-out traffic (backend ${backend.name})`);

  // 2. Most-popular table (control) from the training rows, weights as the service's popularity (pv 1, cart 3, fav 2, buy 5).
  const weight = [1, 3, 2, 5];
  const counts = new Float64Array(log.numItems);
  for (const r of trainRows) counts[log.item[r]] += weight[log.behavior[r]] ?? 1;
  const popItems: number[] = [];
  const popCounts: number[] = [];
  for (let i = 0; i < log.numItems; i++) {
    if (counts[i] > 0) {
      popItems.push(rawItem(i));
      popCounts.push(counts[i]);
    }
  }
  const popDir = join(out, 'popularity');
  mkdirSync(popDir, { recursive: true });
  writeFileSync(join(popDir, 'config.json'), JSON.stringify({ modelType: 'popularity' }));
  writeFileSync(join(popDir, 'popularity.json'), JSON.stringify({ items: popItems, counts: popCounts }));

  // 3. A small LSTM-DQN (paper network, 10 x 10 behaviour-simulator state) trained in the simulator of the training rows.
  const simData = behaviorSimDataFromLog(log, { rows: trainRows, sequences: seqs, historyLength: 10 });
  const env = new BehaviorSimEnv(simData, { batchSize: 16, seed });
  const vocab = ItemVocab.identity(log.numItems);
  const agent = new LstmDqn({
    vocab,
    network: { seqLen: 10, featureDim: 10, hidden: 64, layers: 1, mlp: [128, 64] },
    seed,
    learningStarts: 200,
    bufferSize: 20_000,
  });
  const t0 = Date.now();
  const episodes = options.episodes ?? 300;
  const res = await agent.learn({ env, episodes, logger: new RunLogger({ quiet: !verbose, progress: false }), logEvery: Math.max(1, Math.floor(episodes / 3)) });
  const modelDir = join(out, 'model');
  await saveModel(agent, modelDir);
  agent.dispose();
  say(`LSTM-DQN: ${res.episodes} episodes, ${res.envSteps} env steps, ${res.gradientSteps} updates in ${((Date.now() - t0) / 1000).toFixed(1)} s; saved to ${modelDir}`);

  // 4. The service: control = popularity directory, treatment = the saved LSTM-DQN reloaded, with the item
  // statistics the simulator state carries (the built-in loader would leave those columns at zero).
  const servable = await loadLstmDqn(modelDir, { expect: { seqLen: 10, featureDim: 10 } });
  const toVocab = (stat: Float32Array): Float32Array => Float32Array.from({ length: vocab.size }, (_, i) => stat[i]);
  const encoder = behaviorSimEncoder({
    popularity: toVocab(simData.itemPopularity),
    cartRate: toVocab(simData.itemCartRate),
    favRate: toVocab(simData.itemFavRate),
    buyRate: toVocab(simData.itemBuyRate),
  });
  const token = `example-admin-${seed}-0123456789`;
  const logPath = join(out, 'events.jsonl');
  writeFileSync(logPath, ''); // each run starts a fresh event log (the service replays an existing one on start)
  const svc = await createServer({
    port: 0,
    host: '127.0.0.1',
    models: { default: popDir, popular: popDir },
    recommenders: { lstm: lstmDqnRecommender(servable as unknown as LstmDqnLike, 'lstm-dqn@example', encoder) },
    popularityDir: popDir,
    logPath,
    fsync: 'none',
    adminToken: token,
    modelThread: 'main',
    timeoutMs: 1_000,
  });
  const base = await svc.listen();
  say(`rec-serve listening on ${base}`);
  const summary: ServeExampleSummary = {
    data: source,
    users: log.numUsers,
    items: log.numItems,
    trainRows: trainRows.length,
    heldOutEvents: traffic.reduce((a, t) => a + t.rows.length, 0),
    requests: 0,
    hits: {},
    requestsByVariant: {},
    fallbacks: 0,
    analysis: null,
    out,
  };
  try {
    const expId = 'popular-vs-lstm';
    const put = await fetch(`${base}/admin/experiments/${expId}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ control: 'popular', treatment: 'lstm', rolloutPct: options.rolloutPct ?? 50, status: 'running' }),
    });
    if (!put.ok) throw new Error(`PUT /admin/experiments/${expId}: ${put.status} ${await put.text()}`);

    // 5. Warm the users' states with their training events (so both arms see the same history), then the traffic.
    const post = async (user: string, item: number, type: number, ts: number): Promise<void> => {
      const r = await fetch(`${base}/interaction`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: user, item_id: item, interaction_type: BEHAVIORS[type] ?? 'pv', timestamp: ts }),
      });
      if (r.status !== 202) throw new Error(`POST /interaction: ${r.status} ${await r.text()}`);
    };
    for (const t of traffic) {
      const a = seqs.offsets[t.user];
      const last = a + (seqs.offsets[t.user + 1] - a) - t.rows.length;
      for (let i = Math.max(a, last - 10); i < last; i++) {
        const r = seqs.rows[i];
        await post(rawUser(t.user), rawItem(log.item[r]), log.behavior[r], log.timestamp[r]);
      }
    }
    const maxRequests = options.maxRequests ?? 5_000;
    const deadline = Date.now() + 1000 * (options.maxSeconds ?? 60);
    let pos = 0;
    let active = true;
    // Round-robin over users, one held-out event per user per pass, until the traffic, the count or the time runs out.
    while (active && summary.requests < maxRequests && Date.now() < deadline) {
      active = false;
      for (const t of traffic) {
        if (pos >= t.rows.length || summary.requests >= maxRequests || Date.now() >= deadline) continue;
        active = true;
        const user = rawUser(t.user);
        const res = await fetch(`${base}/recommendations/${user}?k=10`);
        if (!res.ok) throw new Error(`GET /recommendations/${user}: ${res.status} ${await res.text()}`);
        const body = (await res.json()) as { items: { item_id: number }[]; variant: string | null; fallback: string | false };
        summary.requests++;
        const v = body.variant === null ? 'none' : (body.variant.split(':').pop() ?? body.variant); // 'experiment:arm'
        summary.requestsByVariant[v] = (summary.requestsByVariant[v] ?? 0) + 1;
        if (body.fallback) summary.fallbacks++;
        const r = t.rows[pos];
        const next = rawItem(log.item[r]);
        if (body.items.some((x) => x.item_id === next)) {
          summary.hits[v] = (summary.hits[v] ?? 0) + 1;
          await post(user, next, log.behavior[r], log.timestamp[r]);
        }
      }
      pos++;
    }
    const exp = await fetch(`${base}/experiments/${expId}`);
    if (!exp.ok) throw new Error(`GET /experiments/${expId}: ${exp.status} ${await exp.text()}`);
    summary.analysis = await exp.json();
  } finally {
    await svc.close();
    servable.dispose();
  }
  await writeJsonAtomic(join(out, 'summary.json'), summary);
  say(`\ntraffic: ${summary.requests} requests (${JSON.stringify(summary.requestsByVariant)}), list hits ${JSON.stringify(summary.hits)}, fallbacks ${summary.fallbacks}`);
  say(`GET /experiments/popular-vs-lstm:\n${JSON.stringify(summary.analysis, null, 2)}`);
  return summary;
}
