import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTd3Beliefs } from '../src/run.js';

describe('td3-beliefs (tiny budget, synthetic population)', () => {
  it('trains on the schedule and writes episode statistics and current_user_beliefs.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'td3-beliefs-'));
    // 200 users in batches of 100, 6 rounds: 1,200 transitions per episode; warm-up 600 so updates run in episode 1.
    const s = await runTd3Beliefs({
      out, users: 200, items: 300, episodes: 2, rounds: 6, populationBatch: 100, warmup: 600, updatesPerTrain: 3,
      backend: 'wasm,cpu', seed: 3, verbose: false,
    });
    expect(s.episodes).toHaveLength(2);
    expect(s.episodes.reduce((a, e) => a + e.updates, 0)).toBeGreaterThan(0);

    const lines = readFileSync(join(out, 'episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (const e of s.episodes) expect(e.roundRewards).toHaveLength(6);
    for (const e of lines) {
      expect(e.acceptanceRate).toBeGreaterThan(0);
      expect(e.acceptanceRate).toBeLessThanOrEqual(1);
      expect(e.improvedUsers).toBeGreaterThanOrEqual(0);
      expect(e.improvedUsers).toBeLessThanOrEqual(200);
      expect(Number.isFinite(e.averageReward)).toBe(true);
      // average reward is the mean of the per-round means; total = sum over users and rounds = 200 x 6 x average
      expect(e.totalReward).toBeCloseTo(200 * 6 * e.averageReward, -1);
      expect(e.secondsPerRound).toBeGreaterThan(0);
    }

    const beliefsPath = join(out, 'current_user_beliefs.json');
    expect(existsSync(beliefsPath)).toBe(true);
    const beliefs = JSON.parse(readFileSync(beliefsPath, 'utf8'));
    expect(beliefs.total_users).toBe(200);
    const users = Object.values(beliefs.users) as { beliefs: number[] }[];
    expect(users).toHaveLength(200);
    for (const u of users) {
      expect(u.beliefs).toHaveLength(5);
      for (const b of u.beliefs) expect(b).toBeGreaterThanOrEqual(0);
    }
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.users).toBe(200);
    expect(summary.state).toBe('gap');
    expect(summary.config.stateDim).toBe(74);
    for (const k of ['trained', 'random', 'pretrained', 'gapGreedy']) expect(summary.evaluation[k].acceptanceRate).toBeGreaterThan(0);
    // The hand-written policy reads the gaps from the observation: if they were wired wrong it would not get closer
    // to the optimal beliefs than random actions do.
    expect(summary.evaluation.gapGreedy.finalDistance).toBeLessThan(summary.evaluation.random.finalDistance);
  });

  it("runs the design's 69-d state with --design-state (no gap-greedy reference there)", async () => {
    const out = mkdtempSync(join(tmpdir(), 'td3-beliefs-design-'));
    const s = await runTd3Beliefs({
      out, users: 100, items: 200, episodes: 1, rounds: 3, populationBatch: 50, warmup: 100, updatesPerTrain: 2,
      backend: 'wasm,cpu', seed: 3, verbose: false, observeGap: false,
    });
    expect(s.state).toBe('design');
    expect(s.config.stateDim).toBe(69);
    expect(s.evaluation!.gapGreedy).toBeNull();
    expect(s.evaluation!.pretrained.acceptanceRate).toBeGreaterThan(0);
  });
});
