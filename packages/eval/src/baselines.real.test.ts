/**
 * Baselines on the three real samples, measured in the same run, under full-ranking leave-last-out (seen items
 * excluded) and, for UserBehavior, the LSTM-DQN session protocol. Prints the comparison tables; asserts sane
 * orderings. Data folder: REC_DATA_DIR or ../shared/data beside the repo; skipped when missing (fails under CI).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '@rec/core';
import { ingest, type PresetName } from '@rec/data';
import { leaveLastOutSplit, lstmDqnSessionSplit, type OfflineSplit } from './protocols.js';
import { randomScorer, mostPopularScorer, recentPopularScorer, itemKnnScorer, type Scorer } from './baselines.js';
import { trainGru4Rec } from './gru4rec.js';
import { evaluatePolicy, type OfflineEvalResult } from './evaluate.js';
import { offlineMarkdown } from './report.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = resolve(repoRoot, process.env.REC_DATA_DIR ?? '../shared/data');
const have = existsSync(dataDir);
if (!have && process.env.CI) throw new Error(`real data folder ${dataDir} is missing (set REC_DATA_DIR)`);

// Taobao users re-view items constantly, so seen items stay allowed there; the recency half-life follows each
// log's time scale (9 days of Taobao, 22 years of MovieLens ratings, 5 months of DIGINETICA views).
const samples: { name: string; file: string; preset: PresetName; excludeSeen: boolean; halfLife: number }[] = [
  { name: 'userbehavior-head', file: 'userbehavior-head/UserBehavior.csv', preset: 'userBehavior', excludeSeen: false, halfLife: 86400 },
  { name: 'ml-latest-small', file: 'ml-latest-small/ratings.csv', preset: 'movielensRatings', excludeSeen: true, halfLife: 365 * 86400 },
  { name: 'diginetica-sample', file: 'diginetica-sample/train-item-views.csv', preset: 'diginetica', excludeSeen: true, halfLife: 7 * 86400 },
];

function runAll(split: OfflineSplit, gruExamples: number, halfLife: number): OfflineEvalResult[] {
  const gru = trainGru4Rec(split, { embeddingDim: 24, hiddenDim: 32, maxLen: 8, epochs: 3, batchSize: 128, learningRate: 0.01, maxExamples: gruExamples, seed: 1 });
  const scorers: Scorer[] = [randomScorer(split.numItems, 1), mostPopularScorer(split), recentPopularScorer(split, { halfLifeSeconds: halfLife }), itemKnnScorer(split), gru];
  try {
    return scorers.map((s) => evaluatePolicy(s, split, { k: 10, bootstrap: 300, seed: 1 }));
  } finally {
    gru.dispose();
  }
}

describe.skipIf(!have)('baselines on the real samples', () => {
  beforeAll(async () => {
    await initBackend('wasm', { ignoreEnv: true });
  });

  for (const s of samples) {
    it(`leave-last-out on ${s.name}`, async () => {
      const { log } = await ingest(resolve(dataDir, s.file), { preset: s.preset, cache: false });
      const split = leaveLastOutSplit(log, { excludeSeen: s.excludeSeen });
      expect(split.numUnits).toBeGreaterThan(20);
      const res = runAll(split, 4000, s.halfLife);
      console.log(`\n### ${s.name}: ${split.description}; ${split.numUnits} users, ${split.numItems} items, k = 10\n${offlineMarkdown(res)}\n`);
      const by = Object.fromEntries(res.map((r) => [r.policy, r.summary]));
      // sanity: item-KNN beats random everywhere; random has the widest coverage among random/popular
      expect(by['item-knn'].hitRate.value).toBeGreaterThan(by.random.hitRate.value);
      if (s.name !== 'userbehavior-head') {
        // In the 43-user Taobao head almost no item is shared between users, so popularity cannot hit there
        // (measured: 0 hits, like random); on the two larger samples it must beat random, and item-KNN beat it.
        expect(by['most-popular'].hitRate.value).toBeGreaterThan(by.random.hitRate.value);
        expect(by['item-knn'].hitRate.value).toBeGreaterThan(by['most-popular'].hitRate.value);
      }
      expect(res.find((r) => r.policy === 'random')!.coverage).toBeGreaterThan(res.find((r) => r.policy === 'most-popular')!.coverage);
      for (const r of res) {
        expect(r.summary.hitRate.lo).toBeLessThanOrEqual(r.summary.hitRate.value);
        expect(r.summary.precision.value).toBeLessThanOrEqual(r.summary.hitRate.value);
      }
    });
  }

  it('LSTM-DQN session protocol on userbehavior-head (held-out purchases)', async () => {
    const { log } = await ingest(resolve(dataDir, samples[0].file), { preset: 'userBehavior', cache: false });
    const split = lstmDqnSessionSplit(log, { seed: 0 });
    const res = runAll(split, 3000, 86400);
    console.log(`\n### userbehavior-head: ${split.description}; ${split.numUnits} test sessions with purchases\n${offlineMarkdown(res)}\n`);
    expect(split.numUnits).toBeGreaterThan(0);
    for (const r of res) expect(r.summary.usersScored).toBe(split.numUnits);
  });
});
