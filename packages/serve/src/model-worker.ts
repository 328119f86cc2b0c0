/**
 * Worker-thread side of `WorkerRecommender`: loads one model directory with the registered loaders, validates it,
 * then answers batches. Requests arrive as CSR typed arrays (transferred, not copied) and results go back the same
 * way. tfjs inference is synchronous, so running it here keeps the HTTP thread free (cached requests keep flowing
 * and the deadline timer can fire while the model computes).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ensureServeBackend, registerBuiltinModelLoaders } from './model-adapters.js';
import { loadRecommender } from './registry.js';
import { emptyUserState, type RecommendRequest, type Recommender } from './recommender.js';
import type { WorkerBatchMessage, WorkerData, WorkerReply } from './worker-recommender.js';

const port = parentPort!;
const data = workerData as WorkerData;

async function init(): Promise<Recommender> {
  for (const m of data.imports ?? []) await import(m);
  registerBuiltinModelLoaders();
  await ensureServeBackend(data.backend ?? ['wasm', 'cpu']);
  return loadRecommender(data.dir);
}

function decode(m: WorkerBatchMessage): RecommendRequest[] {
  const out: RecommendRequest[] = [];
  for (let i = 0; i < m.k.length; i++) {
    const a = m.histOffsets[i];
    const b = m.histOffsets[i + 1];
    out.push({
      state: { userId: m.userIds[i], recentItems: m.histItems.subarray(a, b), recentTypes: m.histTypes.subarray(a, b), recentTimes: m.histTimes.subarray(a, b) },
      k: m.k[i],
      exclude: m.exItems.subarray(m.exOffsets[i], m.exOffsets[i + 1]),
    });
  }
  return out;
}

init().then(
  async (model) => {
    const report = await model.validate();
    const cold = await model.recommend(emptyUserState('__probe__'), 5, new Int32Array(0));
    port.postMessage({ type: 'ready', name: model.name, version: model.version, report, probeItems: Array.from(cold.items) } satisfies WorkerReply);
    port.on('message', async (m: WorkerBatchMessage | { type: 'dispose' }) => {
      if (m.type === 'dispose') {
        await model.dispose?.();
        port.postMessage({ type: 'disposed' } satisfies WorkerReply);
        return;
      }
      try {
        const reqs = decode(m);
        const res = model.recommendBatch ? await model.recommendBatch(reqs) : await Promise.all(reqs.map((r) => model.recommend(r.state, r.k, r.exclude)));
        const offsets = new Int32Array(res.length + 1);
        for (let i = 0; i < res.length; i++) offsets[i + 1] = offsets[i] + res[i].items.length;
        const items = new Int32Array(offsets[res.length]);
        const scores = new Float32Array(offsets[res.length]);
        for (let i = 0; i < res.length; i++) {
          items.set(res[i].items, offsets[i]);
          scores.set(res[i].scores, offsets[i]);
        }
        port.postMessage({ type: 'result', id: m.id, offsets, items, scores } satisfies WorkerReply, [offsets.buffer, items.buffer, scores.buffer]);
      } catch (e) {
        port.postMessage({ type: 'error', id: m.id, message: (e as Error).message } satisfies WorkerReply);
      }
    });
  },
  (e) => {
    port.postMessage({ type: 'failed', message: (e as Error).message } satisfies WorkerReply);
  },
);
