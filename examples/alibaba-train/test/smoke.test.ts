import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLstmDqn } from '@rec/models-lstm-dqn';
import { defaultDataPath, runAlibabaTrain } from '../src/pipeline.js';

const data = defaultDataPath();
if (!data && process.env.CI) throw new Error('real data folder missing: set REC_DATA_DIR (CI must have ../shared/data)');

describe.skipIf(!data)('alibaba-train end to end (tiny budget, real UserBehavior head)', () => {
  it('ingests, trains, evaluates against the baselines and writes a readable results folder with a servable model', async () => {
    const out = mkdtempSync(join(tmpdir(), 'alibaba-train-'));
    const summary = await runAlibabaTrain({ out, episodes: 64, bootstrap: 50, backend: 'wasm,cpu', seed: 7, quiet: true });
    expect(summary.rows).toBe(4320); // 4,321 rows, one outside the Beijing-time window dropped by cleaning
    expect(summary.users).toBe(43);
    const policies = new Set(summary.results.map((r) => r.policy));
    for (const p of ['random', 'most-popular', 'recent-popular', 'item-knn', 'LSTM-DQN (paper+items)']) expect(policies.has(p)).toBe(true);
    expect(new Set(summary.results.map((r) => r.protocol))).toEqual(new Set(['lstm-dqn-sessions', 'leave-last-out']));
    for (const r of summary.results) for (const v of Object.values(r.metrics)) expect(Number.isFinite(v) || Number.isNaN(v)).toBe(true);

    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/### lstm-dqn-sessions/);
    expect(report).toMatch(/### leave-last-out/);
    expect(report).toMatch(/\| LSTM-DQN \(paper\+items\) \|/);
    for (const f of ['metrics.json', 'hit-rate.png', 'hit-rate.svg', 'training.jsonl', 'model/config.json']) expect(existsSync(join(out, f))).toBe(true);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.config.seed).toBe(7);
    expect(metrics.versions.backend).toMatch(/^backend (wasm|cpu)/);

    // The saved model loads and answers for a state of the training layout.
    const servable = await loadLstmDqn(join(out, 'model'));
    // ... with the state layout and item categories @rec/serve rebuilds the replay state from
    expect(servable.state?.layout).toEqual({ name: 'replay-profile', historyLength: 10, history: 'interacted', itemHistory: true, profile: {} });
    expect(servable.state?.stats?.itemCategories?.length).toBe(summary.items);
    expect(servable.state?.stats?.itemCategories?.every((c) => c >= 0)).toBe(true);
    const c = servable.config.network;
    const state = new Float32Array(c.seqLen * c.featureDim).fill(-1);
    const rec = servable.recommend(state, 10);
    expect(rec.items.length).toBe(10);
    expect(new Set(rec.items).size).toBe(10);
  });
});

describe('alibaba-train --synthetic-sessions (tiny budget)', () => {
  it('generates a log with at least N sessions, caps the Q-head vocabulary and reports what the cap leaves out', async () => {
    const { ingest, sessionize } = await import('@rec/data');
    const out = mkdtempSync(join(tmpdir(), 'alibaba-train-syn-'));
    const summary = await runAlibabaTrain({ out, syntheticSessions: 3000, maxItems: 300, episodes: 32, bootstrap: 20, backend: 'wasm,cpu', seed: 3, quiet: true });
    expect(summary.dataset).toMatch(/^synthetic \(\d+ sessions/);
    // The generated file is left in out/data; its 30-minute sessions are counted again here.
    const csv = join(out, 'data', 'synthetic-3000-sessions-seed3.csv');
    const { log } = await ingest(csv, { preset: 'userBehavior', cache: false });
    expect(sessionize(log).numSessions).toBeGreaterThanOrEqual(3000);
    expect(summary.rows).toBe(log.numRows);
    expect(summary.items).toBeGreaterThan(300);
    expect(summary.vocab.capped).toBe(true);
    expect(summary.vocab.size).toBe(300);
    for (const share of Object.values(summary.vocab.truthInVocab)) {
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThan(1);
    }
    const policies = new Set(summary.results.map((r) => r.policy));
    for (const p of ['random', 'most-popular', 'item-knn', 'LSTM-DQN (paper+items)']) expect(policies.has(p)).toBe(true);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/capped to the 300 most frequent training items/);
    const servable = await loadLstmDqn(join(out, 'model'));
    expect(servable.vocab.size).toBe(300);
    const inVocab = new Set(servable.vocab.toItem);
    const c = servable.config.network;
    const rec = servable.recommend(new Float32Array(c.seqLen * c.featureDim).fill(-1), 10);
    expect(rec.items.length).toBe(10);
    for (const it of rec.items) expect(inVocab.has(it)).toBe(true);
    servable.dispose();
  });
});
