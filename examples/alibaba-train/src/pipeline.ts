/**
 * The alibaba-train pipeline: data -> features and splits -> LSTM-DQN training -> evaluation against baselines
 * (the paper's session protocol and full-ranking leave-last-out) -> results/ (metrics JSON, markdown report,
 * training curves, the saved model ready for @rec/serve).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import {
  initBackend,
  trainingWasmThreads,
  describeBackend,
  RunLogger,
  writeJsonAtomic,
  writeFileAtomic,
  InvalidArgumentError,
  type BackendInfo,
} from '@rec/core';
import {
  ingest,
  describeDataset,
  datasetStats,
  sessionize,
  sampleSessions,
  userSequences,
  userProfileAllSteps,
  subLog,
  writeSyntheticUserBehavior,
  type IndexedLog,
  type IngestReport,
} from '@rec/data';
import { LoggedReplayEnv } from '@rec/env';
import {
  lstmDqnSessionSplit,
  leaveLastOutSplit,
  evaluatePolicy,
  randomScorer,
  mostPopularScorer,
  recentPopularScorer,
  itemKnnScorer,
  offlineMarkdown,
  offlineRows,
  trainingCurvesSpec,
  metricComparisonSpec,
  savePlot,
  trainingPointsFromJsonl,
  type OfflineEvalResult,
  type OfflineSplit,
  type Scorer,
  type ItemsCsr,
} from '@rec/eval';
import { LstmDqn, ItemVocab, saveModel, type LstmDqnOptions } from '@rec/models-lstm-dqn';

export interface TrainOptions {
  /** UserBehavior CSV (plain or gzip). Default: ../shared/data/userbehavior-head when present, else synthetic. */
  data?: string;
  /** Reader preset for `data` (userBehavior, movielensRatings, diginetica). */
  preset?: 'userBehavior' | 'movielensRatings' | 'diginetica';
  /** Rows of the synthetic log generated when no data is found. */
  syntheticRows?: number;
  /**
   * Generate a synthetic log with at least this many 30-minute sessions and use it (even when real data is found;
   * `data` wins). Rows are sized from the generator's session length and checked after ingest.
   */
  syntheticSessions?: number;
  /** Item vocabulary cap of the LSTM-DQN's Q-head (most frequent training items first; default 10,000). */
  maxItems?: number;
  /** Sessions sampled for training (the paper used 100,000). */
  sessions?: number;
  /** Training episodes (user-episodes, see @rec/models-lstm-dqn). */
  episodes?: number;
  /** `paper` (the paper's 10x10 profile state) or `variant`; `items` adds the history's item ids to the state. */
  model?: 'paper' | 'paper+items' | 'variant';
  backend?: string;
  /**
   * Threads for the wasm backend's matrix kernels (default: REC_WASM_THREADS, else the machine's cores up to 4;
   * results are the same for any count, only the speed changes).
   */
  wasmThreads?: number;
  seed?: number;
  /** Output directory (default ./results). */
  out?: string;
  /** Resume training from the latest checkpoint in `<out>/checkpoints`. */
  resume?: boolean;
  /** List length for the metrics. */
  k?: number;
  /** Bootstrap resamples for the confidence intervals. */
  bootstrap?: number;
  /** Print progress bars (default: when stderr is a terminal). */
  progress?: boolean;
  quiet?: boolean;
}

export interface TrainSummary {
  dataset: string;
  backend: string;
  rows: number;
  users: number;
  items: number;
  trainSeconds: number;
  results: { protocol: string; policy: string; metrics: Record<string, number> }[];
  /** The LSTM-DQN's item vocabulary: size, whether it was capped, share of held-out items inside it per protocol. */
  vocab: VocabInfo;
  out: string;
}

export interface VocabInfo {
  size: number;
  capped: boolean;
  /** Per protocol: share of (unit, held-out item) pairs whose item is in the vocabulary (the recall a capped model can reach). */
  truthInVocab: Record<string, number>;
}

/** Default cap of the Q-head's item vocabulary (the size the training-step benchmark uses). */
export const DEFAULT_MAX_ITEMS = 10_000;

/** Events per 30-minute session of the synthetic generator's defaults (measured: 599,692 rows -> 104,287 sessions). */
const SYNTHETIC_ROWS_PER_SESSION = 5.9;

export interface SyntheticBySessions {
  path: string;
  rows: number;
  log: IndexedLog;
  report: IngestReport;
  sessions: number;
}

/**
 * Writes a synthetic UserBehavior CSV (streamed to `path`, never held as text) with at least `sessions` 30-minute
 * sessions after cleaning and ingests it (streamed). The row count starts from the generator's mean session length
 * and grows until the ingested log has enough sessions (at most 4 tries).
 */
export async function syntheticLogWithSessions(path: string, sessions: number, seed: number, say: (s: string) => void = () => {}): Promise<SyntheticBySessions> {
  let rows = Math.ceil(sessions * SYNTHETIC_ROWS_PER_SESSION);
  for (let attempt = 0; attempt < 4; attempt++) {
    await writeSyntheticUserBehavior(path, { rows, seed });
    const { log, report } = (await ingest(path, { preset: 'userBehavior', cache: false })) as { log: IndexedLog; report: IngestReport };
    const got = sessionize(log).numSessions;
    say(`synthetic log: ${rows} rows generated, ${log.numRows} after cleaning, ${got} sessions (${sessions} wanted)`);
    if (got >= sessions) return { path, rows, log, report, sessions: got };
    rows = Math.ceil(rows * (sessions / got) * 1.02);
  }
  throw new InvalidArgumentError('synthetic log has too few sessions', { where: 'syntheticLogWithSessions', expected: `>= ${sessions} sessions`, got: rows });
}

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (examples/alibaba-train/dist -> ../../..). */
export const repoRoot = resolve(here, '..', '..', '..');

export function defaultDataPath(): string | null {
  const dir = process.env.REC_DATA_DIR ?? join(repoRoot, '..', 'shared', 'data');
  const p = join(dir, 'userbehavior-head', 'UserBehavior.csv');
  return existsSync(p) ? p : null;
}

/** Wrap the agent as an @rec/eval Scorer: each unit's state is the replay observation at its context's end. */
export function lstmDqnScorer(agent: LstmDqn, split: OfflineSplit, env: LoggedReplayEnv, name = 'LSTM-DQN'): Scorer {
  const seqs = env.sequences;
  // Sequence position of each unit's last context event (the state the model sees before the held-out items).
  const posOfRow = new Int32Array(split.log.numRows);
  for (let j = 0; j < seqs.rows.length; j++) posOfRow[seqs.rows[j]] = j;
  return {
    name,
    scoreUsers(units: Int32Array, k: number, exclude?: ItemsCsr): Int32Array {
      const users = new Int32Array(units.length);
      const pos = new Int32Array(units.length);
      for (let i = 0; i < units.length; i++) {
        const u = units[i];
        users[i] = split.unitUser[u];
        const ctxLen = split.context.offsets[u + 1] - split.context.offsets[u];
        // Context = the user's first ctxLen events in time order, so its last event is at offset ctxLen - 1.
        pos[i] = ctxLen > 0 ? seqs.offsets[users[i]] + ctxLen - 1 : -1;
      }
      const states = env.observeAt(users, pos);
      let ex: { offsets: Int32Array; items: Int32Array } | undefined;
      if (exclude) {
        const offsets = new Int32Array(units.length + 1);
        const items: number[] = [];
        for (let i = 0; i < units.length; i++) {
          const u = units[i];
          for (let j = exclude.offsets[u]; j < exclude.offsets[u + 1]; j++) items.push(exclude.items[j]);
          offsets[i + 1] = items.length;
        }
        ex = { offsets, items: Int32Array.from(items) };
      }
      const historyLengths = new Int32Array(units.length);
      for (let i = 0; i < units.length; i++) historyLengths[i] = split.context.offsets[units[i] + 1] - split.context.offsets[units[i]];
      return agent.recommendBatch(states, k, { exclude: ex, historyLengths }).items;
    },
  };
}

function fmt(x: number, d = 4): string {
  return Number.isFinite(x) ? x.toFixed(d) : 'n/a';
}

export interface EvaluateOptions {
  seed: number;
  k: number;
  model: 'paper' | 'paper+items' | 'variant';
  episodes: number;
  sessions?: number;
  bootstrap?: number;
  logger: RunLogger;
  checkpointDir?: string;
  resume?: boolean;
  /** Cap on replayed steps per session (default 50). */
  maxEpisodeSteps?: number;
  /** Extra baselines to evaluate next to the built-in ones (e.g. the supervised GRU4Rec). */
  extraScorers?: (split: OfflineSplit) => Scorer[];
  /** Evaluate random, most-popular, recent-popular, item-KNN and `extraScorers` (default true; false: the LSTM-DQN only). */
  baselines?: boolean;
  /**
   * Item vocabulary cap of the Q-head: when the log has more items, the agent's actions are the `maxItems` most
   * frequent items of its training rows (ties: lower id) and every other item is out of vocabulary (it is never
   * recommended, its id in a state is the unknown row). Default: no cap.
   */
  maxItems?: number;
}

export interface EvaluateResult {
  sessionSplit: OfflineSplit;
  lloSplit: OfflineSplit;
  results: OfflineEvalResult[];
  agent: LstmDqn;
  learnResult: Awaited<ReturnType<LstmDqn['learn']>>;
  trainSeconds: number;
  vocab: VocabInfo;
}

/** Share of (unit, held-out item) pairs of `split` whose item is in `vocab`. */
function truthInVocab(split: OfflineSplit, vocab: ItemVocab): number {
  const { items } = split.truth;
  let inside = 0;
  for (let j = 0; j < items.length; j++) if (vocab.indexOf(items[j]) >= 0) inside++;
  return items.length ? inside / items.length : Number.NaN;
}

/**
 * Splits `log` by the paper's protocol and leave-last-out, trains the LSTM-DQN on replayed training sessions and
 * evaluates it with the baselines on both protocols. The agent trains only on rows that are training rows of both
 * splits, so neither protocol's held-out events leak into it.
 */
export async function trainAndEvaluate(log: IndexedLog, o: EvaluateOptions): Promise<EvaluateResult> {
  const { seed, k, model, logger } = o;
  const say = (s: string) => logger.info(s);
  // Splits: the paper's protocol (sessions, 70/30) and full-ranking leave-last-out.
  const sessionSplit = lstmDqnSessionSplit(log, { seed, trainShare: 0.7 });
  const lloSplit = leaveLastOutSplit(log, { excludeSeen: true });
  say(`paper protocol: ${sessionSplit.numUnits} test sessions with a purchase; leave-last-out: ${lloSplit.numUnits} users`);

  // Training environment: replay of sampled training sessions; the state's history reads only training rows.
  const inLlo = new Uint8Array(log.numRows);
  for (const r of lloSplit.trainRows) inLlo[r] = 1;
  const trainRows = sessionSplit.trainRows.filter((r) => inLlo[r] === 1);
  const trainLog = subLog(log, trainRows) as IndexedLog;
  const trainSeqs = userSequences(trainLog, log.numUsers);
  const allTrainSessions = sessionize(trainLog, { sequences: trainSeqs });
  const wanted = o.sessions ?? 100_000;
  const trainSessions = sampleSessions(allTrainSessions, Math.min(wanted, allTrainSessions.numSessions), seed, { ifTooFew: 'all' });
  const itemHistory = model !== 'paper';
  const env = new LoggedReplayEnv({
    log: { ...trainLog, numItems: log.numItems },
    sessions: trainSessions,
    sequences: trainSeqs,
    profiles: userProfileAllSteps(trainLog, trainSeqs),
    batchSize: 32,
    history: 'interacted',
    targetBehavior: 'any',
    itemHistory,
    seed,
  });
  say(`training on ${trainSessions.numSessions} sessions (${allTrainSessions.numSessions} available, ${wanted} requested)`);

  const capped = o.maxItems !== undefined && log.numItems > o.maxItems;
  const vocab = capped ? ItemVocab.fromCounts(trainLog.item, o.maxItems!) : ItemVocab.identity(log.numItems);
  if (capped) say(`item vocabulary capped: the Q-head covers the ${vocab.size} most frequent of ${log.numItems} items (training rows)`);
  const agentOptions: LstmDqnOptions = {
    vocab,
    // paper+items: the paper network, with the history's item ids embedded next to the 10 profile features.
    // variant: BiLSTM(256) x 3 + 8-head attention + dueling head, on the same replay state as paper+items (the
    // replay environment produces 10 steps of profile features + item id, not the variant's 20-d event encoding).
    network:
      model === 'variant'
        ? { featureDim: 11, itemInputDim: 32, hidden: 256, layers: 3, bidirectional: true, rnnDropout: 0.3, attentionHeads: 8, mlpDropout: 0.3, dueling: true }
        : model === 'paper+items'
          ? { featureDim: 11, itemInputDim: 32 }
          : 'paper',
    seed,
    // In a logged replay the next state does not depend on the action and every item's reward at a step is known
    // (1 for the logged next item): regress the whole Q row toward it (`fullInformation`), with a shorter horizon
    // than the paper's 0.99 so the bootstrapped term does not drown the immediate signal.
    fullInformation: true,
    // The logged next item is also a demonstration: a softmax cross-entropy on Q / 0.1 (DQfD-style supervised term
    // on the same head). Measured on the DIGINETICA sample (paper+items, 224 episodes, leave-last-out HR@10 /
    // coverage): without it 0.0073 / 0.0032, with it and 4 gradient steps per env step 0.0088-0.0093 / 0.036.
    demoLoss: 'softmax',
    // Short sessions give few env steps per episode (DIGINETICA: 114 gradient steps in 224 episodes at 1 per step);
    // 4 per env step for the paper networks; the variant costs several times more per step and keeps 1.
    gradientSteps: model === 'variant' ? 1 : 4,
    gamma: 0.5,
    targetSyncEvery: 100,
    learningRate: 2e-3,
    learningStarts: 256,
    batchSize: 64,
    epsilonDecay: 'linear',
    epsilonDecayEpisodes: Math.max(1, Math.floor(o.episodes * 0.6)),
  };
  const agent = new LstmDqn(agentOptions);
  // Popularity for cold-start users comes from training rows only.
  agent.addPopularity(trainLog.item);
  const tTrain = performance.now();
  const learnResult = await agent.learn({
    env,
    episodes: o.episodes,
    // Long sessions (MovieLens rates dozens of movies in one sitting) are cut: the replay signal is per step.
    maxEpisodeSteps: o.maxEpisodeSteps ?? 50,
    logger,
    checkpointDir: o.checkpointDir,
    checkpointEvery: o.checkpointDir ? Math.max(100, Math.floor(o.episodes / 5)) : 0,
    resume: o.resume ?? false,
  });
  const trainSeconds = (performance.now() - tTrain) / 1000;
  say(`trained ${learnResult.episodes} episodes, ${learnResult.gradientSteps} gradient steps in ${trainSeconds.toFixed(1)} s`);

  // Evaluation against baselines, in the same run. The agent reads history through the full log up to each
  // unit's context end (nothing after it).
  const fullSeqs = userSequences(log);
  const evalEnv = new LoggedReplayEnv({
    log,
    sessions: sessionize(log, { sequences: fullSeqs }),
    sequences: fullSeqs,
    profiles: userProfileAllSteps(log, fullSeqs),
    batchSize: 1,
    history: 'interacted',
    targetBehavior: 'any',
    itemHistory,
    seed,
  });
  const results: OfflineEvalResult[] = [];
  for (const split of [sessionSplit, lloSplit]) {
    const scorers: Scorer[] = [
      ...(o.baselines === false
        ? []
        : [randomScorer(log.numItems, seed), mostPopularScorer(split), recentPopularScorer(split), itemKnnScorer(split), ...(o.extraScorers?.(split) ?? [])]),
      lstmDqnScorer(agent, split, evalEnv, `LSTM-DQN (${model})`),
    ];
    for (const sc of scorers) {
      const t = performance.now();
      results.push(evaluatePolicy(sc, split, { k, bootstrap: o.bootstrap ?? 500, seed }));
      say(`evaluated ${sc.name} on ${split.protocol} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  }
  const vocabInfo: VocabInfo = {
    size: vocab.size,
    capped,
    truthInVocab: { [sessionSplit.protocol]: truthInVocab(sessionSplit, vocab), [lloSplit.protocol]: truthInVocab(lloSplit, vocab) },
  };
  return { sessionSplit, lloSplit, results, agent, learnResult, trainSeconds, vocab: vocabInfo };
}

export async function runAlibabaTrain(options: TrainOptions = {}): Promise<TrainSummary> {
  const seed = options.seed ?? 42;
  const out = resolve(options.out ?? 'results');
  const k = options.k ?? 10;
  const model = options.model ?? 'paper+items';
  mkdirSync(out, { recursive: true });
  const logger = new RunLogger({ metricsPath: join(out, 'training.jsonl'), progress: options.progress, quiet: options.quiet });
  const say = (s: string) => logger.info(s);

  // 1. Backend.
  const backend: BackendInfo = await initBackend(options.backend ?? 'tensorflow,webgpu,wasm,cpu', { wasmThreads: options.wasmThreads ?? trainingWasmThreads() });
  say(describeBackend(backend));

  // 2. Data: a given path, the real sample beside the checkout, or a generated synthetic log.
  let dataPath = options.data ?? (options.syntheticSessions ? null : defaultDataPath());
  let datasetName: string;
  let loaded: { log: IndexedLog; report: IngestReport } | null = null;
  const t0 = performance.now();
  if (!dataPath && options.syntheticSessions) {
    const n = options.syntheticSessions;
    dataPath = join(out, 'data', `synthetic-${n}-sessions-seed${seed}.csv`);
    mkdirSync(dirname(dataPath), { recursive: true });
    const syn = await syntheticLogWithSessions(dataPath, n, seed, say);
    loaded = syn;
    datasetName = `synthetic (${syn.sessions} sessions, ${syn.rows} rows generated, seed ${seed})`;
  } else if (dataPath) {
    if (!existsSync(dataPath)) {
      throw new InvalidArgumentError('data file not found', { where: 'alibaba-train --data', expected: 'a UserBehavior CSV (or .gz)', got: dataPath });
    }
    datasetName = dataPath;
  } else {
    const rows = options.syntheticRows ?? 200_000;
    dataPath = join(out, 'data', `synthetic-${rows}-seed${seed}.csv`);
    if (!existsSync(dataPath)) {
      say(`no data given and none found: generating a synthetic UserBehavior log of ${rows} rows -> ${dataPath}`);
      await writeSyntheticUserBehavior(dataPath, { rows, seed });
    }
    datasetName = `synthetic (${rows} rows, seed ${seed})`;
  }
  const { log, report } = loaded ?? ((await ingest(dataPath, { preset: options.preset ?? 'userBehavior' })) as { log: IndexedLog; report: IngestReport });
  say(describeDataset(log, report));
  say(`ingest ${((performance.now() - t0) / 1000).toFixed(2)} s`);

  const { sessionSplit, lloSplit, results, agent, learnResult, trainSeconds, vocab } = await trainAndEvaluate(log, {
    seed,
    k,
    model,
    maxItems: options.maxItems ?? DEFAULT_MAX_ITEMS,
    episodes: options.episodes ?? 1000,
    sessions: options.sessions,
    bootstrap: options.bootstrap,
    logger,
    checkpointDir: join(out, 'checkpoints'),
    resume: options.resume,
  });
  const episodes = options.episodes ?? 1000;

  // 6. Results: metrics JSON, markdown report, plots, saved model.
  const table = [sessionSplit, lloSplit]
    .map((s) => `### ${s.protocol} (${s.numUnits} units)\n\n${offlineMarkdown(results.filter((r) => r.protocol === s.protocol))}`)
    .join('\n\n');
  const trainingPoints = existsSync(join(out, 'training.jsonl')) ? trainingPointsFromJsonl(readFileSync(join(out, 'training.jsonl'), 'utf8')).points : [];
  const plots: string[] = [];
  if (trainingPoints.length > 1) {
    const p = await savePlot(trainingCurvesSpec(trainingPoints, 'LSTM-DQN training'), join(out, 'training-curves'));
    plots.push(p.pngPath, p.svgPath);
  }
  const rows = offlineRows(results);
  const cmp = await savePlot(
    metricComparisonSpec(
      results.map((r) => ({ policy: r.policy, metric: `HR@${k} (${r.protocol})`, value: r.summary.hitRate.value, lo: r.summary.hitRate.lo, hi: r.summary.hitRate.hi })),
      `Hit rate @${k} with 95% bootstrap intervals`,
    ),
    join(out, 'hit-rate'),
  );
  plots.push(cmp.pngPath, cmp.svgPath);
  const modelDir = join(out, 'model');
  // The replay state the agent was trained on (trainAndEvaluate's LoggedReplayEnv: default historyLength 10,
  // history 'interacted', item ids unless 'paper') and the item -> category map its profile features read, in the
  // log's dense item ids (the ids the model's actions and its state's item column use), so rec-serve can rebuild
  // the state from a user's raw events. An item logged under several categories keeps its first one.
  const itemCategories = new Int32Array(log.numItems).fill(-1);
  for (let r = 0; r < log.numRows; r++) if (itemCategories[log.item[r]] === -1) itemCategories[log.item[r]] = log.category[r];
  await saveModel(agent, modelDir, {
    stateLayout: { name: 'replay-profile', historyLength: 10, history: 'interacted', itemHistory: model !== 'paper', profile: {} },
    stateStats: { itemIds: Int32Array.from({ length: log.numItems }, (_, i) => i), itemCategories },
  });
  const stats = datasetStats(log);
  const summary: TrainSummary = {
    dataset: datasetName,
    backend: backend.name,
    rows: log.numRows,
    users: log.numUsers,
    items: log.numItems,
    trainSeconds,
    vocab,
    results: results.map((r) => ({
      protocol: r.protocol,
      policy: r.policy,
      metrics: Object.fromEntries(
        Object.entries(r.summary).map(([m, e]) => [m, typeof e === 'number' ? e : (e as { value: number }).value]),
      ),
    })),
    out,
  };
  await writeJsonAtomic(join(out, 'metrics.json'), {
    ...summary,
    config: { ...options, seed, k, model, episodes, resolved: agent.config },
    versions: { node: process.version, tfjs: tf.version_core, backend: describeBackend(backend) },
    ingest: report,
    stats,
    learn: learnResult,
    rows,
  });
  const md = [
    `# alibaba-train report`,
    '',
    `- dataset: ${datasetName}`,
    `- rows ${log.numRows}, users ${log.numUsers}, items ${log.numItems}, categories ${log.numCategories}`,
    `- backend: ${describeBackend(backend)}`,
    `- model: LSTM-DQN (${model}), ${learnResult.episodes} episodes, ${learnResult.gradientSteps} gradient steps, ${trainSeconds.toFixed(1)} s`,
    `- item vocabulary of the Q-head: ${vocab.capped ? `capped to the ${vocab.size} most frequent training items of ${log.numItems} (the model cannot recommend the others); held-out items inside it: ${Object.entries(vocab.truthInVocab).map(([p, v]) => `${p} ${(100 * v).toFixed(1)}%`).join(', ')}` : `all ${vocab.size} items`}`,
    `- seed ${seed}; list length k = ${k}; 95% bootstrap intervals (${options.bootstrap ?? 500} resamples)`,
    '',
    '## Results',
    '',
    table,
    '',
    '## Protocols',
    '',
    ...[sessionSplit, lloSplit].map((s) => `- **${s.protocol}**: ${s.description}`),
    '',
    '## Plots',
    '',
    ...plots.filter((p) => p.endsWith('.png')).map((p) => `![${p.split('/').pop()}](${p.split('/').pop()})`),
    '',
    `The trained model is in \`model/\` (@rec/models-lstm-dqn's saved format with its state layout; load it with \`loadLstmDqn('${modelDir}')\` or serve it with \`rec-serve --model default=${modelDir}\`).`,
    '',
  ].join('\n');
  await writeFileAtomic(join(out, 'report.md'), md);
  await logger.close();

  if (!options.quiet) {
    process.stdout.write(`\n${table}\n\nresults in ${out} (report.md, metrics.json, ${plots.length} plot files, model/)\n`);
  }
  agent.dispose();
  return summary;
}

export { fmt };
