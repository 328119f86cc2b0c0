/**
 * Plots without a browser: vega-lite spec -> vega SVG (headless View, renderer 'none') -> resvg PNG.
 * vega and vega-lite are loaded lazily on the first render (no top-level await), so importing @rec/eval stays
 * cheap and works from `require` (tslab notebooks).
 *
 * Spec builders: `trainingCurvesSpec` (reward / loss / epsilon by episode, one panel each, as in the LSTM-DQN
 * paper's figures 3 and 4), `metricComparisonSpec` (bars with confidence-interval error bars per policy and
 * metric), `abOverTimeSpec` (the running estimate of an A/B difference with its interval band and p-value).
 * Labels are never truncated: every axis, legend and header `labelLimit` is raised to 1000 px.
 */
import { check } from '@rec/core';
import { writeFileAtomic } from '@rec/core';

/** A vega-lite JSON spec (kept loose to avoid pulling vega-lite's types into the public API). */
export type VegaLiteSpec = Record<string, unknown>;

const LABEL_CONFIG = {
  font: 'DejaVu Sans',
  axis: { labelLimit: 1000, titleLimit: 1000, labelFontSize: 11, titleFontSize: 12 },
  legend: { labelLimit: 1000, titleLimit: 1000 },
  header: { labelLimit: 1000, titleLimit: 1000 },
  title: { limit: 1000, fontSize: 14 },
  view: { stroke: '#ddd' },
};

function base(title: string, extra: VegaLiteSpec = {}): VegaLiteSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    background: 'white',
    padding: 12,
    config: LABEL_CONFIG,
    ...extra,
  };
}

export interface TrainingPoint {
  episode: number;
  reward?: number;
  loss?: number;
  epsilon?: number;
  /** Optional series name (several runs in one plot). */
  run?: string;
}

/** Reward, loss and epsilon against episode, one panel per quantity present in the data. */
export function trainingCurvesSpec(points: TrainingPoint[], title = 'Training curves'): VegaLiteSpec {
  check(Array.isArray(points) && points.length > 0, 'trainingCurvesSpec(points)', 'a non-empty array of { episode, reward?, loss?, epsilon? }', points);
  const keys = (['reward', 'loss', 'epsilon'] as const).filter((k) => points.some((p) => typeof p[k] === 'number' && Number.isFinite(p[k])));
  check(keys.length > 0, 'trainingCurvesSpec(points)', 'at least one of reward, loss, epsilon', points[0]);
  const rows = points.flatMap((p) =>
    keys.filter((k) => typeof p[k] === 'number' && Number.isFinite(p[k])).map((k) => ({ episode: p.episode, quantity: k, value: p[k], run: p.run ?? 'run' })),
  );
  const multiRun = new Set(rows.map((r) => r.run)).size > 1;
  return base(title, {
    data: { values: rows },
    facet: { row: { field: 'quantity', type: 'nominal', title: null, sort: keys } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 480,
      height: 140,
      mark: { type: 'line', strokeWidth: 1.5 },
      encoding: {
        x: { field: 'episode', type: 'quantitative', title: 'episode' },
        y: { field: 'value', type: 'quantitative', title: 'value', scale: { zero: false } },
        color: multiRun ? { field: 'run', type: 'nominal', title: 'run' } : { value: '#1f77b4' },
      },
    },
  });
}

/**
 * Training points from RunLogger metrics JSON lines (`{ step, ...values }` per line, CleanRL names): reward from
 * `charts/episodic_return`, loss from the first of `losses/td_loss`, `losses/qf_loss`, `losses/loss`, epsilon from
 * `charts/epsilon`; episode = `step`. Lines that do not parse are counted in `skipped`, not fatal.
 */
export function trainingPointsFromJsonl(text: string, run?: string): { points: TrainingPoint[]; skipped: number[] } {
  const points: TrainingPoint[] = [];
  const skipped: number[] = [];
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      skipped.push(i + 1);
      return;
    }
    const episode = num(o.step);
    if (episode === undefined) {
      skipped.push(i + 1);
      return;
    }
    const loss = num(o['losses/td_loss']) ?? num(o['losses/qf_loss']) ?? num(o['losses/loss']);
    points.push({ episode, reward: num(o['charts/episodic_return']), loss, epsilon: num(o['charts/epsilon']), run });
  });
  return { points, skipped };
}

export interface MetricPoint {
  policy: string;
  metric: string;
  value: number;
  lo?: number;
  hi?: number;
}

/** Grouped bars (one group per metric, one bar per policy) with interval error bars where lo/hi are given. */
export function metricComparisonSpec(points: MetricPoint[], title = 'Metric comparison'): VegaLiteSpec {
  check(Array.isArray(points) && points.length > 0, 'metricComparisonSpec(points)', 'a non-empty array of { policy, metric, value, lo?, hi? }', points);
  const rows = points.map((p) => ({ ...p, lo: p.lo ?? p.value, hi: p.hi ?? p.value }));
  const policies = [...new Set(rows.map((r) => r.policy))];
  return base(title, {
    data: { values: rows },
    facet: { column: { field: 'metric', type: 'nominal', title: null, header: { labelFontSize: 12 } } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: { step: 22 },
      height: 220,
      encoding: {
        // policy names go in the legend (in full); x labels would repeat them under every panel
        x: { field: 'policy', type: 'nominal', title: null, sort: policies, axis: { labels: false, ticks: false } },
      },
      layer: [
        {
          mark: 'bar',
          encoding: {
            y: { field: 'value', type: 'quantitative', title: 'value' },
            color: { field: 'policy', type: 'nominal', sort: policies, title: 'policy' },
          },
        },
        {
          mark: { type: 'rule', color: 'black' },
          encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        },
      ],
    },
  });
}

export interface AbPoint {
  /** Time index (day, hour, look number) or an ISO date string. */
  t: number | string;
  estimate: number;
  lo: number;
  hi: number;
  pValue?: number;
}

/** The running estimate of a difference (B - A) with its interval band, a zero line, and p-value below. */
export function abOverTimeSpec(points: AbPoint[], title = 'A/B difference over time', xTitle = 'look'): VegaLiteSpec {
  check(Array.isArray(points) && points.length > 0, 'abOverTimeSpec(points)', 'a non-empty array of { t, estimate, lo, hi }', points);
  const temporal = typeof points[0].t === 'string';
  const x = { field: 't', type: temporal ? 'temporal' : 'quantitative', title: xTitle };
  const rows = points.map((p) => ({
    ...p,
    lo: Number.isFinite(p.lo) ? p.lo : null,
    hi: Number.isFinite(p.hi) ? p.hi : null,
  }));
  const panels: VegaLiteSpec[] = [
    {
      width: 480,
      height: 200,
      layer: [
        { mark: { type: 'area', opacity: 0.25, color: '#1f77b4' }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: 'difference (B - A)' }, y2: { field: 'hi' } } },
        { mark: { type: 'line', color: '#1f77b4' }, encoding: { x, y: { field: 'estimate', type: 'quantitative' } } },
        { data: { values: [{ zero: 0 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { field: 'zero', type: 'quantitative' } } },
      ],
    },
  ];
  if (points.some((p) => typeof p.pValue === 'number')) {
    panels.push({
      width: 480,
      height: 100,
      mark: { type: 'line', color: '#d62728' },
      encoding: { x, y: { field: 'pValue', type: 'quantitative', title: 'p-value', scale: { domain: [0, 1] } } },
    });
  }
  return base(title, { data: { values: rows }, vconcat: panels });
}

type VegaModule = typeof import('vega');
type VegaLiteModule = typeof import('vega-lite');
let vegaModules: Promise<[VegaModule, VegaLiteModule]> | undefined;

function loadVega(): Promise<[VegaModule, VegaLiteModule]> {
  vegaModules ??= Promise.all([import('vega'), import('vega-lite')]);
  return vegaModules;
}

/** Render a vega-lite spec to an SVG string (headless). */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const [vega, vl] = await loadVega();
  const compiled = vl.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Pixel scale of the SVG (default 2 for crisp text). */
  scale?: number;
}

/** Rasterise an SVG string with resvg (system fonts, DejaVu Sans by default). Returns PNG bytes and the size. */
export async function svgToPng(svg: string, options: PngOptions = {}): Promise<{ png: Uint8Array; width: number; height: number }> {
  const { Resvg } = await import('@resvg/resvg-js');
  const scale = options.scale ?? 2;
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  const img = r.render();
  return { png: new Uint8Array(img.asPng()), width: img.width, height: img.height };
}

/** Render a spec to both files: `<pathBase>.svg` and `<pathBase>.png` (atomic writes). Returns the PNG size. */
export async function savePlot(spec: VegaLiteSpec, pathBase: string, options: PngOptions = {}): Promise<{ svgPath: string; pngPath: string; width: number; height: number }> {
  const svg = await renderSvg(spec);
  const { png, width, height } = await svgToPng(svg, options);
  await writeFileAtomic(`${pathBase}.svg`, svg);
  await writeFileAtomic(`${pathBase}.png`, png);
  return { svgPath: `${pathBase}.svg`, pngPath: `${pathBase}.png`, width, height };
}
