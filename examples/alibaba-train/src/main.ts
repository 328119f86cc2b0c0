/**
 * alibaba-train: one command from a UserBehavior log to a trained, evaluated, servable LSTM-DQN.
 *   node dist/main.js [--data FILE] [--sessions N] [--episodes N] [--model paper|paper+items|variant]
 *                     [--backend LIST] [--seed N] [--out DIR] [--resume] [--synthetic-rows N]
 *                     [--synthetic-sessions N] [--max-items N] [--quick]
 */
import { parseArgs } from 'node:util';
import { RecError } from '@rec/core';
import { runAlibabaTrain, type TrainOptions } from './pipeline.js';

const HELP = `alibaba-train: ingest -> features/splits -> LSTM-DQN -> evaluation vs baselines -> results/

Options
  --data FILE           UserBehavior CSV or .csv.gz (default: ../shared/data/userbehavior-head when present,
                        otherwise a synthetic log is generated)
  --preset NAME         reader preset for --data: userBehavior (default), movielensRatings, diginetica
  --synthetic-rows N    rows of the generated log when no data is found (default 200000)
  --synthetic-sessions N  generate and use a synthetic log of at least N 30-minute sessions (even when the
                        real sample is present; e.g. 100000 for the paper's protocol at the paper's size)
  --max-items N         item vocabulary cap of the LSTM-DQN's Q-head: the N most frequent training items
                        (default 10000; other items are out of vocabulary and never recommended by it)
  --sessions N          training sessions sampled (the paper's 100000; default 100000 or all there are)
  --episodes N          training episodes (default 1000; --quick: 200)
  --model NAME          paper+items (default: the paper network, history item ids added to the state),
                        paper (the paper's 10x10 profile state only), variant (BiLSTM x3 + attention +
                        dueling, on the paper+items state)
  --backend LIST        tfjs backends to try in order (default tensorflow,webgpu,wasm,cpu; REC_BACKEND overrides)
  --wasm-threads N      threads for the wasm backend's matrix kernels (default REC_WASM_THREADS, else cores up to 4)
  --seed N              seed of every random choice (default 42)
  --out DIR             output directory (default ./results)
  --resume              resume training from the latest checkpoint in DIR/checkpoints
  --k N                 list length for the metrics (default 10)
  --quick               a small run for smoke tests (200 episodes, 100 bootstrap resamples)
  --no-progress         plain log lines instead of progress bars
  -h, --help            this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      preset: { type: 'string' },
      'synthetic-rows': { type: 'string' },
      'synthetic-sessions': { type: 'string' },
      'max-items': { type: 'string' },
      sessions: { type: 'string' },
      episodes: { type: 'string' },
      model: { type: 'string' },
      backend: { type: 'string' },
      'wasm-threads': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean' },
      k: { type: 'string' },
      quick: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} expects a positive integer, got "${v}"`);
    return n;
  };
  const model = values.model as TrainOptions['model'] | undefined;
  if (model && !['paper', 'paper+items', 'variant'].includes(model)) throw new Error(`--model expects paper, paper+items or variant, got "${model}"`);
  const opts: TrainOptions = {
    data: values.data,
    preset: values.preset as TrainOptions['preset'],
    syntheticRows: int('synthetic-rows', values['synthetic-rows']),
    syntheticSessions: int('synthetic-sessions', values['synthetic-sessions']),
    maxItems: int('max-items', values['max-items']),
    sessions: int('sessions', values.sessions),
    episodes: int('episodes', values.episodes) ?? (values.quick ? 200 : undefined),
    model,
    backend: values.backend,
    wasmThreads: int('wasm-threads', values['wasm-threads']),
    seed: values.seed === undefined ? undefined : Number(values.seed),
    out: values.out,
    resume: values.resume,
    k: int('k', values.k),
    bootstrap: values.quick ? 100 : undefined,
    progress: values['no-progress'] ? false : undefined,
  };
  await runAlibabaTrain(opts);
}

main().catch((e: unknown) => {
  if (RecError.isInstance(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  if (e instanceof Error && e.stack && process.env.DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(e instanceof Error && /^--/.test(e.message) ? 2 : 1);
});
