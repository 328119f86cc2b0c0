import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, Rng } from '@rec/core';
import { kMeans, userClusterAffinity } from './clusters.js';
import { cosineSimilarity, learnEmbeddings, sgnsLossAndGradients } from './embeddings.js';
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

describe('learnEmbeddings', () => {
  it('places co-occurring items closer than random pairs, recoverable by k-means (wasm), no leaks', async () => {
    const backend = 'wasm';
    await initBackend(backend, { ignoreEnv: true });
    expect(tf.getBackend()).toBe(backend);
    const { log, group } = planted(1);
    const before = tf.memory().numTensors;
    const opts = { dim: 64, steps: 200, batchSize: 256, seed: 7 };
    const emb = learnEmbeddings(log, opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(emb.items.length).toBe(200 * 64);
    expect(emb.users.length).toBe(250 * 64);
    // Learning: cross-entropy of the first 10% of steps vs the last (uniform over 200 items is ln 200 = 5.3).
    // Learning: output vectors start at zero, so every score is 0 and the loss of a pair with 5 negatives starts at
    // 6 ln 2 = 4.16; the first 10% of steps average a bit below that, and training must cut it clearly.
    expect(emb.lossFirst).toBeGreaterThan(2.5);
    expect(emb.lossFirst).toBeLessThan(6 * Math.LN2 + 1e-6);
    expect(emb.lossLast).toBeLessThan(emb.lossFirst - 0.5);
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
  });

  it('is deterministic by seed, leak-free, and gives the same vectors on cpu as on wasm', async () => {
    const { log } = planted(1);
    const short = { dim: 64, steps: 15, batchSize: 256, seed: 7 };
    const runs: Record<string, Float32Array> = {};
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend(backend, { ignoreEnv: true });
      expect(tf.getBackend()).toBe(backend);
      const before = tf.memory().numTensors;
      const a = learnEmbeddings(log, short);
      const b = learnEmbeddings(log, short);
      expect(b.items).toEqual(a.items);
      expect(b.users).toEqual(a.users);
      expect(a.lossLast).toBeLessThan(a.lossFirst);
      const other = learnEmbeddings(log, { ...short, seed: 8 });
      expect(other.items).not.toEqual(a.items);
      expect(tf.memory().numTensors).toBe(before);
      runs[backend] = a.items;
    }
    // Float rounding differs between the backends' kernels; after 15 steps the tables agree to about 1e-6.
    let maxDiff = 0;
    for (let i = 0; i < runs.cpu.length; i++) maxDiff = Math.max(maxDiff, Math.abs(runs.cpu[i] - runs.wasm[i]));
    expect(maxDiff).toBeLessThan(1e-3);
  });
});

describe('sgnsLossAndGradients', () => {
  it('matches tfjs autodiff and a hand-computed value', async () => {
    await initBackend('cpu', { ignoreEnv: true });
    const rng = new Rng(3);
    const [B, C, d] = [4, 3, 5];
    const u = tf.tensor2d(rng.fillNormal(new Float32Array(B * d)) as Float32Array, [B, d]);
    const c = tf.tensor3d(rng.fillNormal(new Float32Array(B * C * d)) as Float32Array, [B, C, d]);
    const sign = tf.tensor2d(Float32Array.from({ length: B * C }, (_, i) => (i % C === 0 ? 1 : -1)), [B, C]);
    const before = tf.memory().numTensors;
    const mine = tf.tidy(() => sgnsLossAndGradients(u, c, sign));
    const auto = tf.tidy(() => {
      const f = (uu: tf.Tensor, cc: tf.Tensor) =>
        tf.div(tf.sum(tf.softplus(tf.neg(tf.mul(sign, tf.sum(tf.mul(tf.reshape(uu, [B, 1, d]), cc), 2))))), B) as tf.Scalar;
      const { value, grads } = tf.valueAndGrads(f)([u, c]);
      return [value, ...grads];
    });
    expect(mine.loss.dataSync()[0]).toBeCloseTo(auto[0].dataSync()[0], 5);
    const close = (x: tf.Tensor, y: tf.Tensor) => Array.from(x.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(y.dataSync()[i], 5));
    close(mine.dU, auto[1]);
    close(mine.dC, auto[2]);
    // u = c = 0: every score 0, loss = C ln 2 per pair (softplus(0) = ln 2), averaged over B pairs -> 3 ln 2.
    const zero = tf.tidy(() => sgnsLossAndGradients(tf.zerosLike(u), tf.zerosLike(c), sign).loss.dataSync()[0]);
    expect(zero).toBeCloseTo(3 * Math.LN2, 6);
    tf.dispose([mine.loss, mine.dU, mine.dC, ...auto]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([u, c, sign]);
  });
});

describe('learnEmbeddings input checks', () => {
  it('rejects non-dense ids and too many items', async () => {
    await initBackend('cpu', { ignoreEnv: true });
    const { log } = planted(2);
    expect(() => learnEmbeddings(log, { negatives: 0 })).toThrow(/negatives/);
    const bad = { ...log, item: log.item.map((v, i) => (i === 5 ? -1 : v)) };
    expect(() => learnEmbeddings(bad, { steps: 1 })).toThrow(/row 5/);
  });
});
