import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng, ShapeError } from '@rec/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CosineMatcher } from '@rec/env';
import { ItemMatcher } from './matching.js';
import { createTd3 } from './td3.js';

beforeAll(async () => {
  await initBackend('cpu', { ignoreEnv: true });
});

/** Brute-force reference: indices sorted by cosine(action, item), best first. */
function bruteCosine(items: Float32Array, dim: number, action: Float32Array): number[] {
  const n = items.length / dim;
  const an = Math.hypot(...action);
  const scores = Array.from({ length: n }, (_, i) => {
    let dot = 0;
    let nn = 0;
    for (let j = 0; j < dim; j++) {
      dot += items[i * dim + j] * action[j];
      nn += items[i * dim + j] ** 2;
    }
    return dot / (Math.sqrt(nn) * an);
  });
  return scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]).map((x) => x[1]);
}

describe('ItemMatcher', () => {
  it('ranks by cosine, not by dot product (hand example)', () => {
    // Items in 2-d: A = (10, 0) (long, 0 degrees), B = (1, 1) (45 degrees), C = (0, 1) (90 degrees).
    // Action (1, 1): cosines A 0.707, B 1.0, C 0.707 -> B first; dot products would put A (10) first.
    const m = new ItemMatcher(new Float32Array([10, 0, 1, 1, 0, 1]), 2);
    expect(m.match(new Float32Array([1, 1]), 1, 1)[0]).toBe(1);
    // Pre-trained list uses raw dot products: user (1, 0.2) -> A (10) then B (1.2) then C (0.2).
    expect(Array.from(m.pretrained(new Float32Array([1, 0.2]), 1, 3))).toEqual([0, 1, 2]);
    m.dispose();
  });

  it('matches a brute-force cosine top-k', () => {
    const rng = new Rng(5);
    const dim = 16;
    const items = rng.fillNormal(new Float32Array(300 * dim)) as Float32Array;
    const actions = rng.fillUniform(new Float32Array(7 * dim), -1, 1) as Float32Array;
    const m = new ItemMatcher(items, dim, { threads: 1 });
    const got = m.match(actions, 7, 5);
    for (let b = 0; b < 7; b++) {
      expect(Array.from(got.subarray(b * 5, b * 5 + 5))).toEqual(bruteCosine(items, dim, actions.subarray(b * dim, (b + 1) * dim)).slice(0, 5));
    }
    m.dispose();
  });

  it('matches exactly what @rec/env\'s CosineMatcher (the belief simulator\'s reference) returns, ties included', () => {
    const rng = new Rng(6);
    const dim = 64;
    const items = rng.fillUniform(new Float32Array(1500 * dim), -1, 1) as Float32Array;
    items.copyWithin(700 * dim, 100 * dim, 101 * dim); // a duplicate item: a tie, the lower index first
    const actions = rng.fillUniform(new Float32Array(37 * dim), -1, 1) as Float32Array;
    actions.set(items.subarray(100 * dim, 101 * dim), 0);
    const m = new ItemMatcher(items, dim);
    const ref = new Int32Array(37 * 10);
    new CosineMatcher(items, dim).topK(actions, 37, 10, ref);
    const got = m.match(actions, 37, 10);
    expect(Array.from(got)).toEqual(Array.from(ref));
    expect(Array.from(got.subarray(0, 2))).toEqual([100, 700]);
    m.dispose();
  });

  it('merges the RL and pre-trained lists into distinct items, RL first', () => {
    const rng = new Rng(9);
    const dim = 8;
    const items = rng.fillNormal(new Float32Array(60 * dim)) as Float32Array;
    const users = rng.fillNormal(new Float32Array(20 * dim)) as Float32Array;
    const m = new ItemMatcher(items, dim);
    // Actions equal to the user embeddings make the two lists overlap heavily: the merge must still give 20 distinct.
    const out = m.recommend(users, users, 20, 10, 10);
    expect(out.items.length).toBe(400);
    for (let b = 0; b < 20; b++) {
      const row = out.items.subarray(b * 20, (b + 1) * 20);
      expect(new Set(row).size).toBe(20);
      expect(Array.from(row.subarray(0, 10))).toEqual(Array.from(out.rl.subarray(b * 10, (b + 1) * 10)));
      expect(Array.from(row.subarray(10))).toEqual(Array.from(out.pretrained.subarray(b * 10, (b + 1) * 10)));
    }
    expect(() => m.match(new Float32Array(5), 1, 3)).toThrow(ShapeError);
    m.dispose();
  });

  it('exclude keeps a user\'s items out of both lists; the next-best matches fill in, -1 when the catalogue runs out', () => {
    const rng = new Rng(4);
    const dim = 8;
    const items = rng.fillNormal(new Float32Array(40 * dim)) as Float32Array;
    const actions = rng.fillNormal(new Float32Array(3 * dim)) as Float32Array;
    const users = rng.fillNormal(new Float32Array(3 * dim)) as Float32Array;
    const m = new ItemMatcher(items, dim, { threads: 1 });
    const plain = m.recommend(actions, users, 3, 5, 5);
    // User 0: its 1st and 3rd RL items and its 1st pre-trained item excluded; user 1: nothing; user 2: every item
    // but four (the first two of user 1's list, and items 0 and 1).
    const ex0 = [plain.rl[0], plain.rl[2], plain.pretrained[0]];
    const keep2 = new Set(Array.from(plain.items.subarray(10, 12)));
    const ex2: number[] = [];
    for (let i = 0; i < 40 && ex2.length < 36; i++) if (!keep2.has(i) && i !== 0 && i !== 1) ex2.push(i);
    const offsets = Int32Array.from([0, ex0.length, ex0.length, ex0.length + ex2.length]);
    const out = m.recommend(actions, users, 3, 5, 5, { offsets, items: Int32Array.from([...ex0, ...ex2]) });
    // User 0: the reference rankings with the excluded items removed.
    const cos0 = bruteCosine(items, dim, actions.subarray(0, dim)).filter((i) => !ex0.includes(i));
    expect(Array.from(out.rl.subarray(0, 5))).toEqual(cos0.slice(0, 5));
    for (const e of ex0) expect(Array.from(out.items.subarray(0, 10))).not.toContain(e);
    expect(new Set(out.items.subarray(0, 10)).size).toBe(10);
    // User 1: unchanged.
    expect(Array.from(out.items.subarray(10, 20))).toEqual(Array.from(plain.items.subarray(10, 20)));
    // User 2: only the items left are listed, the rest of the row is -1.
    const left = [...new Set([...keep2, 0, 1])].sort((a, b) => a - b);
    expect(40 - ex2.length).toBe(left.length);
    const row2 = Array.from(out.items.subarray(20, 30));
    expect(row2.filter((i) => i >= 0).sort((a, b) => a - b)).toEqual(left);
    expect(row2.filter((i) => i < 0).length).toBe(10 - left.length);
    expect(() => m.recommend(actions, users, 3, 5, 5, { offsets: Int32Array.from([0, 1]), items: Int32Array.from([2]) })).toThrow(/exclude\.offsets/);
    expect(() => m.recommend(actions, users, 3, 5, 5, { offsets: Int32Array.from([0, 1, 1, 1]), items: Int32Array.from([40]) })).toThrow(/exclude\.items/);
    m.dispose();
  });

  it('recommends from an agent without leaking tensors', () => {
    const agent = createTd3({ stateDim: 13, actionDim: 8, actorHidden: [16], criticHidden: [16], replayCapacity: 10 });
    const rng = new Rng(2);
    const m = new ItemMatcher(rng.fillNormal(new Float32Array(100 * 8)) as Float32Array, 8);
    const obs = rng.fillNormal(new Float32Array(6 * 13)) as Float32Array;
    agent.recommend(obs, m);
    const before = tf.memory().numTensors;
    const out = agent.recommend(obs, m);
    expect(tf.memory().numTensors).toBe(before);
    expect(out.items.length).toBe(6 * 20);
    // The pre-trained list defaults to the last 8 numbers of each observation as the user embedding.
    const users = new Float32Array(6 * 8);
    for (let b = 0; b < 6; b++) users.set(obs.subarray(b * 13 + 5, b * 13 + 13), b * 8);
    expect(Array.from(agent.recommend(obs, m, { userEmbeddings: users }).items)).toEqual(Array.from(out.items));
    agent.dispose();
    m.dispose();
  });
});
