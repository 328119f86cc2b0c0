/**
 * Regenerates docs/results.md: fixed-seed runs on each real sample in ../shared/data (UserBehavior head, MovieLens
 * latest-small, DIGINETICA) and on a synthetic log, comparing random, most-popular, recent-popular, item-KNN, the
 * supervised GRU4Rec-style sequence model and the LSTM-DQN (paper, paper+items, variant).
 *   node examples/alibaba-train/dist/results.js [--episodes N] [--out docs/results.md] [--datasets a,b]
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { initBackend, describeBackend, RunLogger, writeFileAtomic } from '@rec/core';
import { ingest, readMovieLensGenres, writeSyntheticUserBehavior, type IndexedLog } from '@rec/data';
import { trainGru4Rec, type OfflineEvalResult, type OfflineSplit } from '@rec/eval';
import { repoRoot, trainAndEvaluate } from './pipeline.js';
import { readFileSync } from 'node:fs';

interface Dataset {
  name: string;
  load: () => Promise<IndexedLog>;
}

const dataDir = process.env.REC_DATA_DIR ?? join(repoRoot, '..', 'shared', 'data');

function datasets(syntheticRows: number, seed: number): Dataset[] {
  return [
    { name: 'userbehavior-head', load: async () => (await ingest(join(dataDir, 'userbehavior-head', 'UserBehavior.csv'), { preset: 'userBehavior', cache: false })).log as IndexedLog },
    {
      name: 'ml-latest-small',
      load: async () => {
        const genres = readMovieLensGenres(readFileSync(join(dataDir, 'ml-latest-small', 'movies.csv'), 'utf8'));
        return (await ingest(join(dataDir, 'ml-latest-small', 'ratings.csv'), { preset: 'movielensRatings', categoryOfItem: genres.categoryOfItem, cache: false })).log as IndexedLog;
      },
    },
    { name: 'diginetica-sample', load: async () => (await ingest(join(dataDir, 'diginetica-sample', 'train-item-views.csv'), { preset: 'diginetica', cache: false })).log as IndexedLog },
    {
      name: `synthetic-${syntheticRows}`,
      load: async () => {
        const path = join(mkdtempSync(join(tmpdir(), 'rec-results-')), 'synthetic.csv');
        await writeSyntheticUserBehavior(path, { rows: syntheticRows, seed });
        return (await ingest(path, { preset: 'userBehavior', cache: false })).log as IndexedLog;
      },
    },
  ];
}

function f(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(4);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      episodes: { type: 'string' },
      out: { type: 'string' },
      datasets: { type: 'string' },
      models: { type: 'string' },
      'synthetic-rows': { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
    },
  });
  const seed = Number(values.seed ?? 42);
  const episodes = Number(values.episodes ?? 400);
  const syntheticRows = Number(values['synthetic-rows'] ?? 100_000);
  const models = (values.models ?? 'paper,paper+items,variant').split(',') as ('paper' | 'paper+items' | 'variant')[];
  const out = values.out ?? join(repoRoot, 'docs', 'results.md');
  const backend = await initBackend(values.backend ?? 'wasm,cpu');
  const logger = new RunLogger({ quiet: false, progress: false });
  const wanted = values.datasets?.split(',');
  const sections: string[] = [];
  for (const ds of datasets(syntheticRows, seed)) {
    if (wanted && !wanted.includes(ds.name)) continue;
    if (!ds.name.startsWith('synthetic') && !existsSync(dataDir)) throw new Error(`data folder missing: ${dataDir} (set REC_DATA_DIR)`);
    logger.info(`== ${ds.name}`);
    const log = await ds.load();
    const rows: { policy: string; session?: OfflineEvalResult; llo?: OfflineEvalResult; seconds: number }[] = [];
    const gruSeconds = new Map<string, number>();
    for (const model of models) {
      const r = await trainAndEvaluate(log, {
        seed,
        k: 10,
        model,
        episodes,
        bootstrap: 200,
        logger,
        // The baselines do not depend on the model: evaluate them (and train GRU4Rec) with the first model only.
        extraScorers:
          model === models[0]
            ? (split: OfflineSplit) => {
                const t = performance.now();
                const gru = trainGru4Rec(split, { seed });
                gruSeconds.set(split.protocol, (performance.now() - t) / 1000);
                return [gru];
              }
            : undefined,
      });
      for (const res of r.results) {
        const isModel = res.policy.startsWith('LSTM-DQN');
        if (!isModel && model !== models[0]) continue;
        let row = rows.find((x) => x.policy === res.policy);
        if (!row) {
          row = { policy: res.policy, seconds: isModel ? r.trainSeconds : 0 };
          rows.push(row);
        }
        if (res.protocol === 'lstm-dqn-sessions') row.session = res;
        else row.llo = res;
        if (res.protocol === 'leave-last-out' && gruSeconds.has(res.protocol) && res.policy.toLowerCase().includes('gru')) row.seconds = gruSeconds.get(res.protocol)!;
      }
      r.agent.dispose();
    }
    const s0 = rows[0];
    sections.push(
      [
        `## ${ds.name}`,
        '',
        `${log.numRows.toLocaleString('en-US')} rows, ${log.numUsers.toLocaleString('en-US')} users, ${log.numItems.toLocaleString('en-US')} items. ` +
          `Paper protocol: ${s0.session?.summary.usersScored ?? 0} test sessions with a purchase; leave-last-out: ${s0.llo?.summary.usersScored ?? 0} users.`,
        '',
        '| policy | HR@10 (LLO) | NDCG@10 (LLO) | P@10 (paper) | R@10 (paper) | F1@10 (paper) | MAP@10 (paper) | coverage (LLO) | train s |',
        '|---|---|---|---|---|---|---|---|---|',
        ...rows.map((r) =>
          `| ${r.policy} | ${f(r.llo?.summary.hitRate.value)} | ${f(r.llo?.summary.ndcg.value)} | ${f(r.session?.summary.precision.value)} | ${f(r.session?.summary.recall.value)} | ${f(r.session?.summary.f1.value)} | ${f(r.session?.summary.map.value)} | ${f(r.llo?.coverage)} | ${r.seconds ? r.seconds.toFixed(1) : '-'} |`,
        ),
        '',
      ].join('\n'),
    );
    // Written after every dataset, so a long run leaves the finished sections behind.
    await writeFileAtomic(out, header(seed, episodes, describeBackend(backend), sections));
  }
  await writeFileAtomic(out, header(seed, episodes, describeBackend(backend), sections));
  logger.info(`wrote ${out}`);
}

function header(seed: number, episodes: number, backend: string, sections: string[]): string {
  return [
    '# Results on real data',
    '',
    '_Generated by `node examples/alibaba-train/dist/results.js` (source `examples/alibaba-train/src/results.ts`); do not edit by hand._',
    '',
    `Seed ${seed}; LSTM-DQN trained for ${episodes} replay episodes per model; ${backend};`,
    `machine: ${process.arch}, Node ${process.version}. k = 10. LLO = full-ranking leave-last-out per user (seen items`,
    'excluded); paper = the LSTM-DQN paper\'s protocol (30-minute sessions, 70/30 at random, held-out purchases of each',
    'test session; F1 is the mean of per-session F1). Training times are wall seconds on a shared 2-core machine.',
    'The agent trains on rows that are training rows of both protocols. Per-metric 95% bootstrap intervals are in',
    'each run\'s metrics.json (examples/alibaba-train); on samples this small most differences are within them.',
    '',
    ...sections,
  ].join('\n');
}

main().catch((e) => {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
