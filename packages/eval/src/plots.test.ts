import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainingPointsFromJsonl, trainingCurvesSpec, metricComparisonSpec, abOverTimeSpec, renderSvg, svgToPng, savePlot } from './plots.js';
import { Rng } from '@rec/core';
import { MixtureSequentialTest, sequentialPoint } from './ab.js';
import { decodePng, pixelVariance, inkShare } from './png.testutil.js';

const LONG = 'lstm-dqn (paper config, 10k items, seed 7, excluding seen items)';

function svgSize(svg: string): [number, number] {
  const m = /<svg[^>]*width="([\d.]+)"[^>]*height="([\d.]+)"/.exec(svg);
  if (!m) throw new Error('no size in svg');
  return [Number(m[1]), Number(m[2])];
}

async function checkRender(spec: Record<string, unknown>, mustContain: string[]) {
  const svg = await renderSvg(spec);
  for (const s of mustContain) expect(svg).toContain(s);
  // vega truncates long labels with an ellipsis when they exceed labelLimit
  expect(svg).not.toContain('…');
  const { png, width, height } = await svgToPng(svg, { scale: 2 });
  const [w, h] = svgSize(svg);
  const img = decodePng(png);
  expect(img.width).toBe(width);
  expect(img.height).toBe(height);
  expect(Math.abs(img.width - Math.round(2 * w))).toBeLessThanOrEqual(1);
  expect(Math.abs(img.height - Math.round(2 * h))).toBeLessThanOrEqual(1);
  expect(img.width).toBeGreaterThan(300);
  // not blank: real ink and contrast
  expect(pixelVariance(img)).toBeGreaterThan(50);
  expect(inkShare(img)).toBeGreaterThan(0.01);
  return { svg, img };
}

describe('plots render to SVG and PNG', () => {
  it('training curves (reward, loss, epsilon by episode)', async () => {
    const pts = Array.from({ length: 60 }, (_, e) => ({
      episode: e,
      reward: Math.log1p(e) + 0.2 * Math.sin(e),
      loss: 2 * Math.exp(-e / 20) + 0.05,
      epsilon: Math.max(0.05, 1 - e / 40),
    }));
    const { svg } = await checkRender(trainingCurvesSpec(pts, 'LSTM-DQN training'), ['reward', 'loss', 'epsilon', 'episode']);
    expect(svg).toContain('LSTM-DQN training');
  });

  it('metric comparison with error bars and a long policy name', async () => {
    const pts = ['precision', 'recall', 'ndcg'].flatMap((metric, j) =>
      ['random', 'most-popular', LONG].map((policy, i) => ({ policy, metric, value: 0.05 * (i + 1) * (j + 1), lo: 0.04 * (i + 1) * (j + 1), hi: 0.06 * (i + 1) * (j + 1) })),
    );
    await checkRender(metricComparisonSpec(pts), [LONG, 'precision', 'most-popular']);
  });

  it('A/B over time (a real mixture-SPRT run: estimate, confidence sequence, always-valid p)', async () => {
    const rng = new Rng(5);
    const seq = new MixtureSequentialTest({ alpha: 0.05, tau: 0.03 });
    const pts = [];
    for (let look = 0; look < 60; look++) {
      seq.observe(0, Float64Array.from({ length: 100 }, () => (rng.next() < 0.1 ? 1 : 0)));
      const s = seq.observe(1, Float64Array.from({ length: 100 }, () => (rng.next() < 0.13 ? 1 : 0)));
      pts.push(sequentialPoint(look + 1, s));
    }
    // (looks before the 20-per-arm warm-up would carry infinite bounds; abOverTimeSpec drops those as null)
    await checkRender(abOverTimeSpec(pts), ['p-value', 'difference (B - A)']);
  });

  it('savePlot writes both files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-eval-plot-'));
    try {
      const r = await savePlot(trainingCurvesSpec([{ episode: 0, reward: 1 }, { episode: 1, reward: 2 }]), join(dir, 'curve'));
      const img = decodePng(new Uint8Array(readFileSync(r.pngPath)));
      expect(img.width).toBe(r.width);
      expect(readFileSync(r.svgPath, 'utf8')).toMatch(/^<svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads RunLogger JSON lines (CleanRL names), counting bad lines', () => {
    const text = [
      '{"step":10,"time":1,"charts/episodic_return":1.5,"losses/td_loss":0.9,"charts/epsilon":0.8}',
      'not json',
      '{"step":20,"time":2,"charts/episodic_return":2.5,"losses/td_loss":null,"charts/epsilon":0.6}',
      '',
    ].join('\n');
    const { points, skipped } = trainingPointsFromJsonl(text, 'a');
    expect(skipped).toEqual([2]);
    expect(points).toEqual([
      { episode: 10, reward: 1.5, loss: 0.9, epsilon: 0.8, run: 'a' },
      { episode: 20, reward: 2.5, loss: undefined, epsilon: 0.6, run: 'a' },
    ]);
  });

  it('rejects empty data with a RecError', () => {
    expect(() => metricComparisonSpec([])).toThrow(/metricComparisonSpec/);
  });
});
