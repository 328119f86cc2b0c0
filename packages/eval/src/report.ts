/**
 * Reports: comparison tables as markdown and JSON, and a one-call `writeOfflineReport` that also renders the
 * metric-comparison plot. JSON rows are flat `{ policy, protocol, k, metric, value, lo, hi }` so they load
 * straight into a dataframe.
 */
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '@rec/core';
import type { OfflineEvalResult, OnlineEvalResult } from './evaluate.js';
import type { Estimate } from './metrics.js';
import { metricComparisonSpec, savePlot } from './plots.js';

export const REPORT_METRICS = ['precision', 'recall', 'f1', 'map', 'ndcg', 'hitRate', 'mrr'] as const;
export type ReportMetric = (typeof REPORT_METRICS)[number];

export interface MetricRow {
  policy: string;
  protocol: string;
  k: number;
  metric: string;
  value: number;
  lo: number;
  hi: number;
}

/** Long-format rows for every policy and metric (ranking metrics with intervals, then coverage/diversity/novelty). */
export function offlineRows(results: OfflineEvalResult[], metrics: readonly ReportMetric[] = REPORT_METRICS): MetricRow[] {
  const rows: MetricRow[] = [];
  for (const r of results) {
    for (const m of metrics) {
      const e = r.summary[m] as Estimate;
      rows.push({ policy: r.policy, protocol: r.protocol, k: r.k, metric: m, value: e.value, lo: e.lo, hi: e.hi });
    }
    rows.push({ policy: r.policy, protocol: r.protocol, k: r.k, metric: 'f1OfMeans', value: r.summary.f1OfMeans, lo: NaN, hi: NaN });
    for (const m of ['coverage', 'diversity', 'novelty'] as const) {
      rows.push({ policy: r.policy, protocol: r.protocol, k: r.k, metric: m, value: r[m], lo: NaN, hi: NaN });
    }
  }
  return rows;
}

function fmt(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toFixed(digits);
}

/** A markdown table from rows and column keys (numbers rounded to 4 decimals). */
export function markdownTable(rows: Record<string, unknown>[], columns: string[]): string {
  const head = `| ${columns.join(' | ')} |`;
  const sep = `|${columns.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${columns.map((c) => (typeof r[c] === 'number' ? fmt(r[c] as number) : String(r[c] ?? ''))).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

/** One row per policy: each ranking metric as `value [lo, hi]`, then coverage, diversity, novelty. */
export function offlineMarkdown(results: OfflineEvalResult[], metrics: readonly ReportMetric[] = REPORT_METRICS): string {
  if (results.length === 0) return '(no results)';
  const k = results[0].k;
  const cols = ['policy', ...metrics.map((m) => `${m}@${k}`), 'F1 of means', 'coverage', 'diversity', 'novelty (bits)', 'units'];
  const rows = results.map((r) => {
    const row: Record<string, unknown> = { policy: r.policy };
    for (const m of metrics) {
      const e = r.summary[m] as Estimate;
      row[`${m}@${k}`] = Number.isFinite(e.lo) && e.lo !== e.hi ? `${fmt(e.value)} [${fmt(e.lo)}, ${fmt(e.hi)}]` : fmt(e.value);
    }
    row['F1 of means'] = r.summary.f1OfMeans;
    row.coverage = r.coverage;
    row.diversity = r.diversity;
    row['novelty (bits)'] = r.novelty;
    row.units = String(r.summary.usersScored);
    return row;
  });
  return markdownTable(rows, cols);
}

/** One row per online evaluation. */
export function onlineMarkdown(results: OnlineEvalResult[]): string {
  const rows = results.map((r) => ({
    policy: r.policy,
    env: r.env,
    users: String(r.users),
    'mean return': `${fmt(r.meanReturn.value)} [${fmt(r.meanReturn.lo)}, ${fmt(r.meanReturn.hi)}]`,
    'reward/step': r.meanReward,
    CTR: r.ctr,
    conversion: r.conversion,
    'session length': r.sessionLength,
    coverage: r.coverage,
    diversity: r.diversity,
  }));
  return markdownTable(rows, ['policy', 'env', 'users', 'mean return', 'reward/step', 'CTR', 'conversion', 'session length', 'coverage', 'diversity']);
}

export interface OfflineReportOptions {
  title?: string;
  /** Extra lines under the title (split description, seed, backend). */
  notes?: string[];
  /** Render `metrics.png/svg` too (default true). */
  plot?: boolean;
}

/** Write `report.md`, `report.json` and (by default) `metrics.svg/png` into `dir`. */
export async function writeOfflineReport(dir: string, results: OfflineEvalResult[], options: OfflineReportOptions = {}): Promise<{ markdown: string; files: string[] }> {
  const title = options.title ?? 'Offline evaluation';
  const md = [`# ${title}`, '', ...(options.notes ?? []).map((n) => `- ${n}`), '', offlineMarkdown(results), ''].join('\n');
  const files = [join(dir, 'report.md'), join(dir, 'report.json')];
  await writeFileAtomic(files[0], md);
  await writeJsonAtomic(files[1], { title, notes: options.notes ?? [], rows: offlineRows(results) });
  if (options.plot ?? true) {
    const pts = offlineRows(results, ['precision', 'recall', 'ndcg', 'map']).map((r) => ({ policy: r.policy, metric: `${r.metric}@${r.k}`, value: r.value, lo: r.lo, hi: r.hi }));
    const p = await savePlot(metricComparisonSpec(pts, title), join(dir, 'metrics'));
    files.push(p.svgPath, p.pngPath);
  }
  return { markdown: md, files };
}
