import { describe, expect, it } from 'vitest';
import { ReplayBuffer, linearSchedule, exponentialSchedule, stepSchedule } from './replay.js';
import { Rng } from './rng.js';

const fields = { obs: { size: 3 }, action: { size: 1, type: Int32Array }, reward: { size: 1 } };

describe('ReplayBuffer', () => {
  it('stores transitions in a ring and samples only stored ones', () => {
    const buf = new ReplayBuffer({ capacity: 4, fields });
    for (let i = 0; i < 6; i++) buf.add({ obs: [i, i, i], action: i, reward: i / 10 });
    expect(buf.size).toBe(4);
    const { batch, indices } = buf.sample(64, new Rng(1));
    // After 6 adds into capacity 4, slots hold transitions 4,5,2,3 (0 and 1 were overwritten).
    const seen = new Set(Array.from(batch.action as Int32Array));
    expect([...seen].sort()).toEqual([2, 3, 4, 5]);
    for (let b = 0; b < 64; b++) {
      const a = (batch.action as Int32Array)[b];
      expect(batch.obs[b * 3]).toBe(a);
      expect(batch.reward[b]).toBeCloseTo(a / 10, 6);
      expect(indices[b]).toBeGreaterThanOrEqual(0);
    }
  });

  it('rejects short fields with a message naming the field', () => {
    const buf = new ReplayBuffer({ capacity: 4, fields });
    expect(() => buf.addBatch({ obs: [1, 2], action: [1], reward: [0] }, 1)).toThrow(/addBatch\(obs\).*expected 1 x 3/);
    expect(() => buf.sample(1, new Rng(0))).toThrow(/non-empty buffer/);
  });

  it('prioritized sampling follows priorities^alpha and weights are normalised', () => {
    const buf = new ReplayBuffer({ capacity: 4, fields: { x: { size: 1 } }, prioritized: { alpha: 1, beta0: 1 } });
    buf.addBatch({ x: [0, 1, 2, 3] });
    // priorities 1,1,1,5 (+eps): slot 3 should get 5/8 of the mass.
    buf.updatePriorities(new Int32Array([0, 1, 2, 3]), [1, 1, 1, 5]);
    const rng = new Rng(2);
    let hits = 0;
    let n = 0;
    for (let i = 0; i < 500; i++) {
      const s = buf.sample(8, rng);
      for (let b = 0; b < 8; b++) {
        n++;
        if (s.indices[b] === 3) {
          hits++;
          // beta = 1: w_i = (N p_i)^-1 / max_j (N p_j)^-1 = p_min / p_i = 1/5.
          expect(s.weights[b]).toBeCloseTo(0.2, 4);
        } else expect(s.weights[b]).toBeCloseTo(1, 4);
      }
    }
    expect(Math.abs(hits / n - 5 / 8)).toBeLessThan(0.03);
  });

  it('restores its exact state', () => {
    const a = new ReplayBuffer({ capacity: 8, fields, prioritized: true });
    for (let i = 0; i < 11; i++) a.add({ obs: [i, 0, 1], action: i, reward: 1 });
    a.updatePriorities(new Int32Array([1, 2]), [3, 0.5]);
    const b = new ReplayBuffer({ capacity: 8, fields, prioritized: true });
    b.setState(a.getState());
    const ra = new Rng(4);
    const rb = new Rng(4);
    const sa = a.sample(16, ra);
    const sb = b.sample(16, rb);
    expect(Array.from(sb.indices)).toEqual(Array.from(sa.indices));
    expect(Array.from(sb.weights)).toEqual(Array.from(sa.weights));
    b.add({ obs: [99, 0, 0], action: 99, reward: 0 });
    a.add({ obs: [99, 0, 0], action: 99, reward: 0 });
    expect(Array.from(b.getState().fields.action)).toEqual(Array.from(a.getState().fields.action));
  });
});

describe('schedules', () => {
  it('linear, exponential and step schedules', () => {
    const lin = linearSchedule(0.9, 0.1, 100);
    expect(lin(0)).toBeCloseTo(0.9);
    expect(lin(50)).toBeCloseTo(0.5);
    expect(lin(1000)).toBeCloseTo(0.1);
    const exp = exponentialSchedule(0.9, 0.1, 0.995);
    expect(exp(100)).toBeCloseTo(0.9 * Math.pow(0.995, 100));
    expect(exp(1e6)).toBe(0.1);
    const step = stepSchedule(1e-3, 1000, 0.9);
    expect(step(999)).toBeCloseTo(1e-3);
    expect(step(2500)).toBeCloseTo(1e-3 * 0.81);
  });
});
