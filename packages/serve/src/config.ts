/**
 * Service configuration: defaults, a JSON config file, environment variables and CLI flags, in that order of
 * increasing precedence. Every field is checked at start-up with a message naming the field.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '@rec/core';
import type { AbStats, ExperimentConfig } from './ab.js';
import type { FsyncPolicy } from './event-log.js';
import type { Recommender } from './recommender.js';

export interface ServeConfig {
  /** Interface to listen on (loopback by default). */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Redis URL for the cache (`REC_REDIS_URL`); without one the embedded LRU is used. */
  redisUrl?: string;
  /** Cache time-to-live per user, seconds. */
  cacheTtlSeconds: number;
  /** Most users in the embedded cache. */
  cacheMaxUsers: number;
  /** Per-command Redis deadline, ms; past it the request bypasses the cache. */
  redisCommandTimeoutMs: number;
  /** k when the request gives none. */
  defaultK: number;
  /** Largest k accepted (at most 100). */
  maxK: number;
  /** Most ids in `exclude`. */
  maxExclude: number;
  /** Model deadline before the popularity fallback, ms. */
  timeoutMs: number;
  /** Most requests per model call. */
  maxBatch: number;
  /** Extra wait to fill a batch, ms (0: requests of the same event-loop turn). */
  batchWindowMs: number;
  /**
   * Where tfjs models (lstm-dqn, td3) run: `worker` (default) in a worker thread per model, so inference never
   * blocks the HTTP thread and the deadline can fire; `main` in the HTTP thread (no hard deadline).
   */
  modelThread: 'worker' | 'main';
  /** Modules the model worker imports before loading (to register custom loaders there). */
  workerImports: string[];
  /** tfjs backend preference for models (REC_BACKEND overrides). */
  backend: string[];
  /** Model slot name -> model directory. Slot `default` serves when no experiment runs. */
  models: Record<string, string>;
  /** Optional popularity model directory seeding the fallback (it also learns from interactions). */
  popularityDir?: string;
  /** Append-only event log (JSON lines). */
  logPath: string;
  /** fsync policy of the event log (see EventLog). */
  fsync: FsyncPolicy;
  /** Bearer token for /admin routes (`REC_ADMIN_TOKEN`); admin routes are off without one. */
  adminToken?: string;
  /** Experiments to create when the log does not already define them. */
  experiments: ExperimentConfig[];
  /** Interaction type counted as a conversion in experiment analysis. */
  conversionType: 'pv' | 'cart' | 'fav' | 'buy';
  /** Largest request body, bytes. */
  bodyLimitBytes: number;
  /**
   * Interactions kept per user (the models' view of the user; storage grows with the user). Whole-history state
   * layouts (the replay profile) are exact up to this many events per user and use the last ones beyond it.
   */
  maxRecent: number;
  /** fastify request logging. */
  logger: boolean;
  /** Programmatic only: recommenders per slot (take precedence over `models`). */
  recommenders?: Record<string, Recommender>;
  /** Programmatic only: A/B statistics (default: @rec/eval through its adapter, when it exports them). */
  stats?: AbStats | null;
}

export const DEFAULT_CONFIG: ServeConfig = {
  host: '127.0.0.1',
  port: 8080,
  cacheTtlSeconds: 3600,
  cacheMaxUsers: 100_000,
  redisCommandTimeoutMs: 50,
  defaultK: 10,
  maxK: 100,
  maxExclude: 500,
  timeoutMs: 50,
  maxBatch: 64,
  batchWindowMs: 0,
  modelThread: 'worker',
  workerImports: [],
  backend: ['wasm', 'cpu'],
  models: {},
  logPath: './rec-serve-data/events.jsonl',
  fsync: 'always',
  experiments: [],
  conversionType: 'buy',
  bodyLimitBytes: 16 * 1024,
  maxRecent: 1000,
  logger: false,
};

function bad(key: string, expected: string, got: unknown): never {
  throw new InvalidArgumentError('invalid configuration', { where: `config.${key}`, expected, got, hint: 'fix the config file, flag or environment variable' });
}

/** Merge partial configs over the defaults and check every field. */
export function resolveConfig(...parts: Partial<ServeConfig>[]): ServeConfig {
  const c: ServeConfig = { ...DEFAULT_CONFIG, models: {}, experiments: [], workerImports: [], backend: [...DEFAULT_CONFIG.backend] };
  for (const p of parts) {
    for (const [k, v] of Object.entries(p)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  }
  const int = (key: keyof ServeConfig, lo: number, hi: number) => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(key, `an integer in [${lo}, ${hi}]`, v);
  };
  int('port', 0, 65535);
  int('cacheTtlSeconds', 1, 365 * 24 * 3600);
  int('cacheMaxUsers', 1, 1e8);
  int('redisCommandTimeoutMs', 1, 60_000);
  int('maxK', 1, 100);
  int('defaultK', 1, c.maxK);
  int('maxExclude', 0, 10_000);
  int('timeoutMs', 1, 60_000);
  int('maxBatch', 1, 4096);
  int('batchWindowMs', 0, 1000);
  int('bodyLimitBytes', 256, 10 * 1024 * 1024);
  int('maxRecent', 1, 10_000);
  if (typeof c.host !== 'string' || c.host.length === 0) bad('host', 'a host name or address', c.host);
  if (c.modelThread !== 'worker' && c.modelThread !== 'main') bad('modelThread', "'worker' or 'main'", c.modelThread);
  if (!Array.isArray(c.workerImports)) bad('workerImports', 'an array of module specifiers', c.workerImports);
  if (!Array.isArray(c.backend) || c.backend.length === 0) bad('backend', 'a non-empty array of backend names (wasm, cpu, webgpu, tensorflow)', c.backend);
  if (!['always', 'interval', 'none'].includes(c.fsync)) bad('fsync', "'always', 'interval' or 'none'", c.fsync);
  if (!['pv', 'cart', 'fav', 'buy'].includes(c.conversionType)) bad('conversionType', 'pv, cart, fav or buy', c.conversionType);
  if (typeof c.models !== 'object' || c.models === null) bad('models', 'an object slot -> directory', c.models);
  if (!Array.isArray(c.experiments)) bad('experiments', 'an array', c.experiments);
  if (c.adminToken !== undefined && (typeof c.adminToken !== 'string' || c.adminToken.length < 16)) {
    bad('adminToken', 'a string of at least 16 characters', c.adminToken === undefined ? undefined : `${String(c.adminToken).length} chars`);
  }
  return c;
}

/** Read a JSON config file (fields as in ServeConfig). */
export function readConfigFile(path: string): Partial<ServeConfig> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidArgumentError('cannot read config file', { where: path, expected: 'a JSON object with ServeConfig fields', got: (e as Error).message });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'a JSON object', v);
  return v as Partial<ServeConfig>;
}

/** Settings from the environment: REC_REDIS_URL, REC_ADMIN_TOKEN, REC_PORT, REC_HOST. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<ServeConfig> {
  const out: Partial<ServeConfig> = {};
  if (env.REC_REDIS_URL) out.redisUrl = env.REC_REDIS_URL;
  if (env.REC_ADMIN_TOKEN) out.adminToken = env.REC_ADMIN_TOKEN;
  if (env.REC_PORT) out.port = Number(env.REC_PORT);
  if (env.REC_HOST) out.host = env.REC_HOST;
  return out;
}
