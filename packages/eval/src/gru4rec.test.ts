import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng } from '@rec/core';
import type { InteractionLog } from '@rec/data';
import { lstmDqnSessionSplit } from './protocols.js';
import { mostPopularScorer, randomScorer } from './baselines.js';
import { trainGru4Rec } from './gru4rec.js';
import { evaluatePolicy } from './evaluate.js';

/** Items in 20 groups of 10; each session walks inside one group, so the next item's group is the last one's. */
function structuredLog(seed: number, users: number): InteractionLog {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let u = 0; u < users; u++) {
    let t = 1_000_000 + rng.int(100_000);
    const sessions = 2 + rng.int(3);
    for (let s = 0; s < sessions; s++) {
      const g = Math.min(19, Math.floor(rng.exponential(0.25)));
      const len = 3 + rng.int(5);
      for (let j = 0; j < len; j++) {
        const buy = j === len - 1 && rng.next() < 0.7;
        rows.push([u, g * 10 + rng.int(10), g, buy ? 3 : 0, t]);
        t += 30 + rng.int(300);
      }
      t += 5000 + rng.int(50_000);
    }
  }
  return {
    numRows: rows.length,
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    category: Int32Array.from(rows, (r) => r[2]),
    behavior: Uint8Array.from(rows, (r) => r[3]),
    timestamp: Int32Array.from(rows, (r) => r[4]),
  };
}

describe('GRU4Rec-style baseline', () => {
  beforeAll(async () => {
    await initBackend('wasm', { ignoreEnv: true });
  });

  it('learns: loss falls, beats random and popularity on a fixed seed, leaks no tensors', () => {
    const split = lstmDqnSessionSplit(structuredLog(4, 200), { seed: 1 });
    const before = tf.memory().numTensors;
    const gru = trainGru4Rec(split, { embeddingDim: 16, hiddenDim: 24, maxLen: 6, epochs: 6, batchSize: 64, learningRate: 0.02, seed: 3 });
    const res = [randomScorer(split.numItems, 0), mostPopularScorer(split), gru].map((p) => evaluatePolicy(p, split, { k: 10, bootstrap: 100 }));
    gru.dispose();
    expect(tf.memory().numTensors).toBe(before);
    console.log(`gru4rec losses ${gru.losses.map((l) => l.toFixed(3)).join(' ')}; recall@10 random ${res[0].summary.recall.value.toFixed(3)}, pop ${res[1].summary.recall.value.toFixed(3)}, gru ${res[2].summary.recall.value.toFixed(3)} over ${split.numUnits} units`);
    expect(gru.losses[gru.losses.length - 1]).toBeLessThan(gru.losses[0] - 0.3);
    // ln(200) = 5.30 is the loss of a uniform guess; group structure allows ln(10) = 2.30
    expect(gru.losses[gru.losses.length - 1]).toBeLessThan(4);
    expect(res[2].summary.recall.value).toBeGreaterThan(res[1].summary.recall.value);
    expect(res[2].summary.ndcg.value).toBeGreaterThan(res[1].summary.ndcg.value);
    expect(res[1].summary.recall.value).toBeGreaterThan(res[0].summary.recall.value);
    expect(() => gru.scoreUsers(Int32Array.from([0]), 5)).toThrow(/disposed/);
  });

  it('maxItems caps the softmax to the most frequent training items; a cap >= the catalogue changes nothing', () => {
    const split = lstmDqnSessionSplit(structuredLog(5, 120), { seed: 2 });
    const cfg = { embeddingDim: 8, hiddenDim: 12, maxLen: 5, epochs: 2, batchSize: 64, learningRate: 0.02, seed: 4 };
    const counts = new Float64Array(split.numItems);
    for (const r of split.trainRows) counts[split.log.item[r]]++;
    const top20 = new Set(Array.from({ length: split.numItems }, (_, i) => i).sort((x, y) => counts[y] - counts[x] || x - y).slice(0, 20));
    const units = Int32Array.from({ length: split.numUnits }, (_, i) => i);
    const before = tf.memory().numTensors;
    const capped = trainGru4Rec(split, { ...cfg, maxItems: 20 });
    expect(capped.vocabSize).toBe(20);
    expect(capped.droppedExamples).toBeGreaterThan(0);
    const lists = capped.scoreUsers(units, 10, split.seen);
    for (let u = 0; u < units.length; u++) {
      const row = Array.from(lists.subarray(u * 10, (u + 1) * 10)).filter((x) => x >= 0);
      const seen = new Set(split.seen.items.subarray(split.seen.offsets[u], split.seen.offsets[u + 1]));
      expect(row.length).toBe(Math.min(10, [...top20].filter((x) => !seen.has(x)).length));
      for (const it of row) {
        expect(top20.has(it)).toBe(true);
        expect(seen.has(it)).toBe(false);
      }
    }
    capped.dispose();
    const plain = trainGru4Rec(split, cfg);
    const wide = trainGru4Rec(split, { ...cfg, maxItems: split.numItems });
    expect(wide.vocabSize).toBe(split.numItems);
    expect(wide.droppedExamples).toBe(0);
    expect(Array.from(wide.scoreUsers(units, 10))).toEqual(Array.from(plain.scoreUsers(units, 10)));
    expect(wide.losses).toEqual(plain.losses);
    plain.dispose();
    wide.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
