#!/usr/bin/env node
/**
 * rec-serve: start the recommendation service from a config file and/or flags; prints where it listens.
 *
 *   rec-serve --config serve.json
 *   rec-serve --port 8080 --model default=./models/lstm-v3 --redis redis://127.0.0.1:6379 --log ./data/events.jsonl
 *
 * Precedence: defaults < config file < environment (REC_REDIS_URL, REC_ADMIN_TOKEN, REC_PORT, REC_HOST) < flags.
 * The admin token is read from the config file or REC_ADMIN_TOKEN only (never a flag: it would show in `ps`).
 * SIGINT/SIGTERM shut down gracefully (in-flight requests finish, the event log is flushed).
 */
import { parseArgs } from 'node:util';
import { RecError } from '@rec/core';
import { configFromEnv, readConfigFile, type ServeConfig } from './config.js';
import { createServer } from './server.js';

const HELP = `rec-serve [options]
  --config <file>        JSON config (fields of ServeConfig)
  --host <addr>          listen address (default 127.0.0.1)
  --port <n>             port (default 8080; 0 = any free port)
  --redis <url>          Redis cache (default: embedded LRU)
  --model <slot=dir>     model directory for a slot (repeatable); slot "default" serves without an experiment
  --popularity <dir>     popularity model directory seeding the fallback
  --log <path>           event log (JSON lines), default ./rec-serve-data/events.jsonl
  --fsync <policy>       always | interval | none (default always)
  --timeout-ms <n>       model deadline before the popularity fallback (default 50)
  --verbose              request logging
  --help`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      redis: { type: 'string' },
      model: { type: 'string', multiple: true },
      popularity: { type: 'string' },
      log: { type: 'string' },
      fsync: { type: 'string' },
      'timeout-ms': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const file = values.config ? readConfigFile(values.config) : {};
  const flags: Partial<ServeConfig> = {};
  if (values.host) flags.host = values.host;
  if (values.port !== undefined) flags.port = Number(values.port);
  if (values.redis) flags.redisUrl = values.redis;
  if (values.popularity) flags.popularityDir = values.popularity;
  if (values.log) flags.logPath = values.log;
  if (values.fsync) flags.fsync = values.fsync as ServeConfig['fsync'];
  if (values['timeout-ms'] !== undefined) flags.timeoutMs = Number(values['timeout-ms']);
  if (values.verbose) flags.logger = true;
  if (values.model) {
    const models: Record<string, string> = { ...(file.models ?? {}) };
    for (const m of values.model) {
      const eq = m.indexOf('=');
      if (eq <= 0) throw new Error(`--model expects slot=dir; got ${JSON.stringify(m)}`);
      models[m.slice(0, eq)] = m.slice(eq + 1);
    }
    flags.models = models;
  }
  const svc = await createServer({ ...file, ...configFromEnv(), ...flags });
  const url = await svc.listen();
  const models = [...svc.slots].map(([k, s]) => `${k}=${s.describe().name}@${s.describe().version}`).join(', ');
  console.log(`rec-serve listening on ${url} (cache: ${svc.cache.kind}, models: ${models}, log: ${svc.log.path}, fsync: ${svc.log.fsyncPolicy}, admin: ${svc.config.adminToken ? 'on' : 'off'})`);
  if (svc.replay.events > 0 || svc.replay.badLines.length > 0) {
    console.log(`replayed ${svc.replay.events} events from the log${svc.replay.badLines.length ? `; ${svc.replay.badLines.length} unreadable lines skipped (lines ${svc.replay.badLines.slice(0, 10).join(', ')})` : ''}`);
  }
  for (const p of svc.restoreProblems) console.warn(`could not restore ${p}`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`rec-serve: ${sig}, shutting down (finishing in-flight requests, flushing the log)`);
    svc.close().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e) => {
  console.error(RecError.isInstance(e) ? `rec-serve: ${e.message}` : e);
  process.exit(1);
});
