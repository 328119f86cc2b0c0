/**
 * td3-beliefs CLI:
 *   node dist/main.js [--full] [--users N] [--episodes N] [--seed N] [--design-state] [--backend LIST] [--out DIR] [--data CSV]
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, RecError } from '@rec/core';
import { runTd3Beliefs } from './run.js';

const HELP = `td3-beliefs: TD3 in the user-belief simulator, on the design's schedule

Options
  --full                the design's size: 50,000 users, 10,000 items, batches of 4,000, 10 episodes,
                        warm-up 100,000 transitions, 100 updates per training phase, 512-512-256 networks
  --users N             users of the synthetic population (default 2000; --full 50000)
  --items N             items of the synthetic catalogue (default 2000; --full 10000)
  --episodes N          training episodes (default 6; --full 10)
  --rounds N            rounds per episode (default 20)
  --batch N             users per batch (default 500; --full 4000)
  --warmup N            transitions before the first update (default 4000; --full 100000)
  --updates N           updates per training phase, every 3 rounds (default 40; --full 100)
  --data CSV            build the simulator from a UserBehavior-format log (embeddings + 5 clusters)
                        instead of synthetic data
  --design-state        observe the design's 69-d state (beliefs + embedding) instead of the default 74-d
                        one that adds each cluster's gap to the optimal belief (see the README: in the
                        design's state a greedy policy gets stuck on clusters that reached their optimum)
  --backend LIST        tfjs backends to try in order (default wasm,cpu; REC_BACKEND overrides)
  --wasm-threads N      threads for the wasm backend's matrix kernels (default REC_WASM_THREADS, else cores up to 4)
  --seed N              seed (default 42)
  --out DIR             output folder (default ./results-td3)
  --no-eval             skip the final greedy-vs-random evaluation episodes
  -h, --help            this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean' },
      users: { type: 'string' },
      items: { type: 'string' },
      episodes: { type: 'string' },
      rounds: { type: 'string' },
      batch: { type: 'string' },
      warmup: { type: 'string' },
      updates: { type: 'string' },
      data: { type: 'string' },
      backend: { type: 'string' },
      'wasm-threads': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'no-eval': { type: 'boolean' },
      'design-state': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      throw new InvalidArgumentError(`td3-beliefs: bad --${name}`, { where: `--${name}`, expected: 'a non-negative integer', got: v, hint: 'see --help' });
    }
    return n;
  };
  await runTd3Beliefs({
    full: values.full,
    users: num('users', values.users),
    items: num('items', values.items),
    episodes: num('episodes', values.episodes),
    rounds: num('rounds', values.rounds),
    populationBatch: num('batch', values.batch),
    warmup: num('warmup', values.warmup),
    updatesPerTrain: num('updates', values.updates),
    seed: num('seed', values.seed),
    data: values.data,
    backend: values.backend,
    wasmThreads: num('wasm-threads', values['wasm-threads']),
    out: values.out,
    evaluate: !values['no-eval'],
    observeGap: !values['design-state'],
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${RecError.isInstance(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
