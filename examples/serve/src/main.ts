/**
 * serve example CLI:
 *   node dist/main.js [--data CSV] [--episodes N] [--requests N] [--seconds N] [--seed N] [--backend LIST] [--out DIR]
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, RecError } from '@rec/core';
import { runServeExample } from './run.js';

const HELP = `serve example: LSTM-DQN vs most-popular, A/B tested through @rec/serve on loopback

Options
  --data CSV            UserBehavior CSV (default: $REC_DATA_DIR or ../shared/data userbehavior-head, else synthetic)
  --synthetic-rows N    rows of the generated log when no data is found (default 20000)
  --episodes N          LSTM-DQN training episodes in the behaviour simulator (default 300)
  --requests N          most recommendation requests (default 5000)
  --seconds N           traffic time budget (default 60)
  --rollout N           treatment share in percent (default 50)
  --backend LIST        tfjs backends to try (default wasm,cpu; REC_BACKEND overrides)
  --seed N              seed (default 42)
  --out DIR             output folder (default ./results-serve)
  -h, --help            this text
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      'synthetic-rows': { type: 'string' },
      episodes: { type: 'string' },
      requests: { type: 'string' },
      seconds: { type: 'string' },
      rollout: { type: 'string' },
      backend: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
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
    if (!Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`serve example: bad --${name}`, { where: `--${name}`, expected: 'a non-negative number', got: v, hint: 'see --help' });
    }
    return n;
  };
  await runServeExample({
    data: values.data,
    syntheticRows: num('synthetic-rows', values['synthetic-rows']),
    episodes: num('episodes', values.episodes),
    maxRequests: num('requests', values.requests),
    maxSeconds: num('seconds', values.seconds),
    rolloutPct: num('rollout', values.rollout),
    backend: values.backend,
    seed: num('seed', values.seed),
    out: values.out,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${RecError.isInstance(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
