import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { kMeans, userClusterAffinity } from './clusters.js';
import { cosineSimilarity, learnEmbeddings } from './embeddings.js';
import type { InteractionLog } from './types.js';

/**
 * Planted structure: 5 groups of 40 items; each user belongs to one group and views 30 items, 90% from its group,
 * 10% from anywhere. Items of a group co-occur; items of different groups rarely do.
 */
function planted(seed: number): { log: InteractionLog; group: Int32Array } {
  const G = 5;
  const perGroup = 40;
  const users = 250;
  const events = 30;
  const rng = new Rng(seed);
  const n = users * events;
  const log: InteractionLog = {
    numRows: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    category: new Int32Array(n),
    behavior: new Uint8Array(n),
    timestamp: new Int32Array(n),
  };
  const group = new Int32Array(G * perGroup);
  for (let i = 0; i < group.length; i++) group[i] = Math.floor(i / perGroup);
  let r = 0;
  for (let u = 0; u < users; u++) {
    const g = u % G;
    for (let e = 0; e < events; e++, r++) {
      const it = rng.next() < 0.9 ? g * perGroup + rng.int(perGroup) : rng.int(G * perGroup);
      log.user[r] = u;
      log.item[r] = it;
      log.category[r] = group[it];
      log.timestamp[r] = 1_511_539_200 + u * 1000 + e * 10;
    }
  }
  return { log, group };
}

describe.each(['cpu', 'wasm'] as const)('learnEmbeddings on %s', (backend) => {
  it('places co-occurring items closer than random pairs, recoverable by k-means, seeded, no leaks', async () => {
    await initBackend(backend, { ignoreEnv: true });
    expect(tf.getBackend()).toBe(backend);
    const { log, group } = planted(1);
    const before = tf.memory().numTensors;
    const opts = { dim: 64, steps: 150, batchSize: 64, learningRate: 0.02, seed: 7 };
    const emb = learnEmbeddings(log, opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(emb.items.length).toBe(200 * 64);
    expect(emb.users.length).toBe(250 * 64);
    // Learning: cross-entropy of the first 10% of steps vs the last (uniform over 200 items is ln 200 = 5.3).
    expect(emb.lossFirst).toBeGreaterThan(5);
    expect(emb.lossLast).toBeLessThan(emb.lossFirst - 0.8);
    let same = 0;
    let sameN = 0;
    let diff = 0;
    let diffN = 0;
    for (let a = 0; a < 200; a += 3) {
      for (let b = a + 1; b < 200; b += 7) {
        const c = cosineSimilarity(emb.items, 64, a, b);
        if (group[a] === group[b]) {
          same += c;
          sameN++;
        } else {
          diff += c;
          diffN++;
        }
      }
    }
    expect(sameN).toBeGreaterThan(20);
    expect(same / sameN).toBeGreaterThan(diff / diffN + 0.3);
    // k-means on the learned item vectors finds the 5 groups (purity: majority group share per cluster).
    const km = kMeans(emb.items, 64, { k: 5, seed: 2 });
    let pure = 0;
    for (let c = 0; c < 5; c++) {
      const counts = new Array(5).fill(0);
      for (let i = 0; i < 200; i++) if (km.assignment[i] === c) counts[group[i]]++;
      pure += Math.max(...counts);
    }
    expect(pure / 200).toBeGreaterThan(0.9);
    // User vectors sit near their group's items; cluster affinity concentrates on the user's group cluster.
    const aff = userClusterAffinity(log, km.assignment, 5);
    let top = 0;
    for (let u = 0; u < 250; u++) top += Math.max(...aff.subarray(u * 5, u * 5 + 5));
    expect(top / 250).toBeGreaterThan(0.75);
    // Same seed, same backend: identical arrays; another seed differs.
    const again = learnEmbeddings(log, opts);
    expect(again.items).toEqual(emb.items);
    const other = learnEmbeddings(log, { ...opts, seed: 8, steps: 10 });
    expect(other.items).not.toEqual(emb.items);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('learnEmbeddings input checks', () => {
  it('rejects non-dense ids and too many items', async () => {
    await initBackend('cpu', { ignoreEnv: true });
    const { log } = planted(2);
    expect(() => learnEmbeddings(log, { maxItems: 100 })).toThrow(/too many items/);
    const bad = { ...log, item: log.item.map((v, i) => (i === 5 ? -1 : v)) };
    expect(() => learnEmbeddings(bad, { steps: 1 })).toThrow(/row 5/);
  });
});
