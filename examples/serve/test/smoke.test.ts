import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServeExample } from '../src/run.js';

// Uses the real UserBehavior head sample when the data folder is there, else a small synthetic log (the example's
// own fallback), so it runs everywhere.
describe('serve example (tiny budget)', () => {
  it('trains, serves both arms over loopback, and returns the experiment analysis', async () => {
    const out = mkdtempSync(join(tmpdir(), 'serve-example-'));
    const s = await runServeExample({ out, episodes: 20, maxRequests: 150, maxSeconds: 20, syntheticRows: 3_000, seed: 5, backend: 'wasm,cpu', verbose: false });
    expect(s.requests).toBeGreaterThan(0);
    expect(s.requests).toBeLessThanOrEqual(150);
    // Both arms served traffic (50% rollout over dozens of users) and the model never fell back to popularity.
    expect(s.requestsByVariant.control ?? 0).toBeGreaterThan(0);
    expect(s.requestsByVariant.treatment ?? 0).toBeGreaterThan(0);
    expect(s.fallbacks).toBe(0);
    const a = s.analysis as { counts: { control: { users: number; exposures: number }; treatment: { users: number; exposures: number } }; statistics: { engagement: unknown; sampleRatio: { pValue: number } } };
    expect(a.counts.control.exposures + a.counts.treatment.exposures).toBe(s.requests);
    expect(a.counts.control.users + a.counts.treatment.users).toBeLessThanOrEqual(s.users);
    expect(a.statistics.engagement).toBeTruthy();
    expect(a.statistics.sampleRatio.pValue).toBeGreaterThanOrEqual(0);
    for (const f of ['model/config.json', 'popularity/popularity.json', 'events.jsonl', 'summary.json']) expect(existsSync(join(out, f))).toBe(true);
    const lines = readFileSync(join(out, 'events.jsonl'), 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.includes('"exposure"')).length).toBe(s.requests);
  });
});
