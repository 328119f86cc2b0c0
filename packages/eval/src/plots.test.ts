import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainingCurvesSpec, metricComparisonSpec, abOverTimeSpec, renderSvg, svgToPng, savePlot } from './plots.js';
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

  it('A/B over time', async () => {
    const pts = Array.from({ length: 30 }, (_, t) => ({ t, estimate: 0.01 + 0.02 / (t + 1), lo: -0.05 / Math.sqrt(t + 1), hi: 0.07 / Math.sqrt(t + 1), pValue: Math.max(0.01, 1 - t / 25) }));
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

  it('rejects empty data with a RecError', () => {
    expect(() => metricComparisonSpec([])).toThrow(/metricComparisonSpec/);
  });
});
