// WorkerRecommender with a model that blocks its thread (as tfjs inference does): the HTTP thread stays
// responsive, the deadline fires, and requests already past their deadline are skipped instead of computed.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createServer } from './server.js';
import { WorkerRecommender } from './worker-recommender.js';
import { getJson, tmpDir } from './testutil.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** A module for the worker: registers a loader whose model busy-waits `ms` per call (no await: it blocks). */
function slowLoaderModule(dir: string): string {
  const path = join(dir, 'slow-loader.mjs');
  writeFileSync(
    path,
    `import { registerModelLoader, PopularityRecommender } from ${JSON.stringify(DIST)};
registerModelLoader('busy', async (_dir, cfg) => {
  const pop = PopularityRecommender.fromCounts([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1], 'busy');
  const spin = () => { const t = Date.now() + cfg.ms; while (Date.now() < t) {} };
  return {
    name: 'busy', version: 'b1',
    recommend: (s, k, ex) => { spin(); return pop.topK(k, ex); },
    recommendBatch: (reqs) => { spin(); return reqs.map((r) => pop.topK(r.k, r.exclude)); },
    validate: () => ({ ok: true, problems: [] }),
  };
});
`,
  );
  return path;
}

describe('WorkerRecommender', () => {
  it('keeps the HTTP thread free while the model blocks its own thread, and skips expired requests', async () => {
    const d = tmpDir();
    const modelDir = join(d, 'busy');
    mkdirSync(modelDir);
    writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ modelType: 'busy', ms: 400 }));
    const w = await WorkerRecommender.spawn({ dir: modelDir, imports: [slowLoaderModule(d)] });
    expect(w.name).toBe('busy');
    expect((await w.validate()).ok).toBe(true);
    const svc = await createServer({ port: 0, logPath: join(d, 'e.jsonl'), recommenders: { default: w }, timeoutMs: 40 });
    const base = await svc.listen();
    const before = w.stats();
    // a burst in separate turns: the first goes to the worker (400 ms), the rest queue behind it and expire
    const burst: Promise<{ body: { fallback: unknown } }>[] = [];
    for (let i = 0; i < 6; i++) {
      burst.push(getJson(base, `/recommendations/b${i}?k=2`));
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    const health = await getJson(base, '/health');
    const healthMs = performance.now() - t0;
    expect(health.status).toBe(200);
    // the model thread is spinning for 400 ms; the HTTP thread answers well before that
    expect(healthMs).toBeLessThan(300);
    const rs = await Promise.all(burst);
    expect(rs.every((r) => r.body.fallback === 'timeout')).toBe(true);
    await new Promise((r) => setTimeout(r, 1000)); // let the worker finish and look at the queue again
    const s = w.stats();
    // every burst request was either computed or skipped as expired, and some were skipped
    expect(s.skippedExpired - before.skippedExpired).toBeGreaterThan(0);
    expect(s.computed - before.computed + s.skippedExpired - before.skippedExpired).toBe(6);
    await svc.close();
  });
});
