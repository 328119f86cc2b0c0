/**
 * The HTTP service: fastify routes with JSON schemas (which also generate the OpenAPI document at
 * `/openapi.json`), wired to the cache, micro-batcher, model slots, experiments and event log.
 */
import { timingSafeEqual } from 'node:crypto';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { RecError, InvalidArgumentError } from '@rec/core';
import { Experiment, checkExperimentConfig, type AbStats, type ExperimentConfig } from './ab.js';
import { MicroBatcher, type BatchedResult } from './batcher.js';
import { MemoryCache, RedisCache, type RecCache } from './cache.js';
import { resolveConfig, type ServeConfig } from './config.js';
import { evalAbStats } from './eval-adapter.js';
import { EventLog } from './event-log.js';
import { Metrics } from './metrics.js';
import { ModelSlot, loadRecommender, modelTypeOf, readModelConfig } from './registry.js';
import { WorkerRecommender } from './worker-recommender.js';
import { PopularityRecommender, type Recommender } from './recommender.js';
import { UserStateStore } from './user-state.js';
import { ensureServeBackend, registerBuiltinModelLoaders } from './model-adapters.js';

const BEHAVIOR_CODE: Record<string, number> = { pv: 0, cart: 1, fav: 2, buy: 3 };
const USER_ID = '^[A-Za-z0-9_.:@-]{1,64}$';
const USER_ID_RE = new RegExp(USER_ID);
const MAX_ITEM_ID = 2147483647;

export interface RecService {
  app: FastifyInstance;
  config: ServeConfig;
  metrics: Metrics;
  cache: RecCache;
  log: EventLog;
  slots: Map<string, ModelSlot>;
  popularity: PopularityRecommender;
  experiments: Map<string, Experiment>;
  users: UserStateStore;
  /** Replay report of the event log read at start-up. */
  replay: { lines: number; events: number; badLines: number[] };
  /** Model versions from the log that could not be restored at start-up. */
  restoreProblems: string[];
  /** Listen on config.host:config.port; returns the base URL. */
  listen(): Promise<string>;
  /** Graceful shutdown: stop accepting, finish in-flight requests, flush and close the log, close Redis. */
  close(): Promise<void>;
}

interface RecsQuery {
  k?: number;
  exclude?: string;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly code = 'REC_HTTP',
  ) {
    super(message);
  }
}

function parseExclude(s: string | undefined, max: number): Int32Array {
  if (s === undefined || s === '') return new Int32Array(0);
  const parts = s.split(',');
  if (parts.length > max) throw new HttpError(400, `querystring/exclude: expected at most ${max} item ids; got ${parts.length}`);
  const out = new Int32Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const v = Number(parts[i]);
    if (!/^\d{1,10}$/.test(parts[i]) || v > MAX_ITEM_ID) {
      throw new HttpError(400, `querystring/exclude: expected comma-separated item ids (integers 0..${MAX_ITEM_ID}); got ${JSON.stringify(parts[i].slice(0, 20))} at position ${i}`);
    }
    out[i] = v;
  }
  return out;
}

function bearerOk(header: string | undefined, token: string): boolean {
  if (!header || !header.startsWith('Bearer ')) return false;
  const a = Buffer.from(header.slice(7));
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Build the service (routes, cache, models, log replay) without listening. */
export async function createServer(partial: Partial<ServeConfig> = {}): Promise<RecService> {
  const config = resolveConfig(partial);
  registerBuiltinModelLoaders();
  const metrics = new Metrics();
  const users = new UserStateStore(config.maxRecent);
  const experiments = new Map<string, Experiment>();

  // ---- models ----
  const TFJS_TYPES = new Set(['lstm-dqn', 'rec-lstm-dqn', 'td3', 'rec-td3']);
  /** Load a model directory: tfjs models in a worker thread (config.modelThread), others here. */
  const loadModelDir = async (dir: string): Promise<Recommender> => {
    if (config.modelThread === 'worker') {
      const type = modelTypeOf(await readModelConfig(dir));
      if (type !== undefined && TFJS_TYPES.has(type)) return WorkerRecommender.spawn({ dir, imports: config.workerImports, backend: config.backend, maxBatch: config.maxBatch });
    }
    if (config.modelThread === 'main') await ensureServeBackend(config.backend);
    return loadRecommender(dir);
  };
  let popularity = new PopularityRecommender({ version: 'online' });
  if (config.popularityDir) {
    const r = await loadRecommender(config.popularityDir);
    if (!(r instanceof PopularityRecommender)) {
      throw new InvalidArgumentError('not a popularity model', { where: 'config.popularityDir', expected: 'a directory with {"modelType":"popularity"}', got: r.name });
    }
    popularity = r;
  }
  const slots = new Map<string, ModelSlot>();
  for (const [slot, dir] of Object.entries(config.models)) {
    const r = await loadModelDir(dir);
    const s = new ModelSlot(slot, popularity);
    const res = await s.swap(r, dir);
    if (!res.ok) {
      throw new InvalidArgumentError('model failed validation', { where: `config.models.${slot} (${dir})`, expected: 'a model that passes validate()', got: res.refused?.problems.join('; ') });
    }
    slots.set(slot, s);
  }
  for (const [slot, r] of Object.entries(config.recommenders ?? {})) {
    const s = new ModelSlot(slot, popularity);
    const res = await s.swap(r);
    if (!res.ok) throw new InvalidArgumentError('recommender failed validation', { where: `config.recommenders.${slot}`, expected: 'validate() ok', got: res.refused?.problems.join('; ') });
    slots.set(slot, s);
  }
  if (!slots.has('default')) slots.set('default', new ModelSlot('default', popularity));
  if (!slots.has('popularity')) slots.set('popularity', new ModelSlot('popularity', popularity));

  const batchers = new Map<string, MicroBatcher>();
  const batcherFor = (slot: ModelSlot) => {
    let b = batchers.get(slot.name);
    if (!b) {
      b = new MicroBatcher(slot, popularity, { maxBatch: config.maxBatch, windowMs: config.batchWindowMs, timeoutMs: config.timeoutMs, onError: (e, s) => app.log.error({ err: e, slot: s }, 'model call failed') });
      batchers.set(slot.name, b);
    }
    return b;
  };

  // ---- event log: replay, then open for appends ----
  const swappedDirs = new Map<string, string>();
  const replay = await EventLog.replay(config.logPath, (e) => {
    if (e.t === 'interaction' && typeof e.user === 'string' && typeof e.item === 'number' && typeof e.type === 'string') {
      const code = BEHAVIOR_CODE[e.type] ?? 0;
      users.record(e.user, e.item, code, typeof e.timestamp === 'number' ? e.timestamp : Number(e.ts) / 1000);
      popularity.observe(e.item, code);
      for (const x of experiments.values()) x.recordInteraction(e.user, e.type, config.conversionType);
    } else if (e.t === 'exposure' && typeof e.exp === 'string' && typeof e.user === 'string') {
      experiments.get(e.exp)?.recordExposure(e.user, e.variant === 'treatment' ? 'treatment' : 'control', Number(e.ts), Number(e.rollout));
    } else if (e.t === 'model' && typeof e.slot === 'string' && typeof e.dir === 'string') {
      swappedDirs.set(e.slot, e.dir);
    } else if (e.t === 'experiment' && typeof e.config === 'object' && e.config !== null) {
      const c = e.config as ExperimentConfig;
      const x = experiments.get(c.id);
      if (x) x.update(c, Number(e.ts));
      else experiments.set(c.id, new Experiment(c, Number(e.ts)));
    }
  });
  const log = await EventLog.open(config.logPath, { fsync: config.fsync });
  // model versions swapped in through the admin API before a restart are put back (a refused one is reported)
  const restoreProblems: string[] = [];
  for (const [slot, dir] of swappedDirs) {
    const s = slots.get(slot) ?? new ModelSlot(slot, popularity);
    const res = await s.swapFromDir(dir, loadModelDir);
    if (res.ok) slots.set(slot, s);
    else restoreProblems.push(`slot ${slot} (${dir}): ${res.refused?.problems.join('; ')}`);
  }

  const putExperiment = async (c: ExperimentConfig): Promise<Experiment> => {
    checkExperimentConfig(c, `experiment ${c.id}`);
    for (const s of [c.control, c.treatment]) {
      if (!slots.has(s)) throw new HttpError(400, `experiment ${c.id}: model slot ${JSON.stringify(s)} does not exist; load it first (POST /admin/models/${s}) or use one of ${[...slots.keys()].join(', ')}`);
    }
    const prev = experiments.get(c.id);
    if (prev && (prev.config.key ?? prev.config.id) !== (c.key ?? c.id)) {
      throw new HttpError(400, `experiment ${c.id}: the hash key cannot change (it would reassign every user); create a new experiment instead`);
    }
    const ts = Date.now();
    if (c.status === 'running') {
      for (const other of experiments.values()) {
        if (other.config.id !== c.id && other.config.status === 'running') {
          const stopped = { ...other.config, status: 'stopped' as const };
          await log.append({ t: 'experiment', ts, config: stopped });
          other.update(stopped, ts);
        }
      }
    }
    await log.append({ t: 'experiment', ts, config: c });
    if (prev) prev.update(c, ts);
    else experiments.set(c.id, new Experiment(c, ts));
    return experiments.get(c.id)!;
  };
  for (const c of config.experiments) if (!experiments.has(c.id)) await putExperiment(c);

  const stats: AbStats | null = config.stats !== undefined ? config.stats : evalAbStats;

  // ---- cache ----
  const cache: RecCache = config.redisUrl
    ? new RedisCache({ url: config.redisUrl, ttlSeconds: config.cacheTtlSeconds, commandTimeoutMs: config.redisCommandTimeoutMs })
    : new MemoryCache({ ttlSeconds: config.cacheTtlSeconds, maxUsers: config.cacheMaxUsers });
  if (cache instanceof RedisCache) await cache.waitReady(2000);

  // ---- HTTP ----
  const app = Fastify({
    logger: config.logger,
    bodyLimit: config.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: '@rec/serve', description: 'Recommendation service: cache, micro-batching with fallback, A/B testing, metrics.', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.removeContentTypeParser('text/plain');
  let shuttingDown = false;
  // responses finishing during shutdown close their keep-alive connection, so close() does not wait out the
  // keep-alive timeout of clients that were mid-request when it began
  app.addHook('onSend', async (_req, reply) => {
    if (shuttingDown) void reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (_req, reply) => {
    metrics.recordStatus(reply.statusCode);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown; validationContext?: string }, req, reply) => {
    let status = err.statusCode ?? 500;
    let message = err.message;
    let code = err.code ?? 'REC_INTERNAL';
    if (err.validation) {
      status = 400;
      code = 'REC_VALIDATION';
      message = `${req.method} ${req.routeOptions.url}: ${err.message}`;
    } else if (err instanceof HttpError) {
      status = err.statusCode;
    } else if (RecError.isInstance(err)) {
      status = err.code === 'REC_INVALID_ARGUMENT' ? 400 : 500;
    } else if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      message = `${req.method} ${req.url}: the body is not valid JSON (${err.message}); send a JSON object with Content-Type: application/json`;
    } else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      message = `${req.method} ${req.url}: body larger than the limit of ${config.bodyLimitBytes} bytes`;
    } else if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      message = `${req.method} ${req.url}: unsupported Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')}; send application/json`;
    }
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      if (!RecError.isInstance(err) && !(err instanceof HttpError)) message = 'internal error (logged)';
    }
    void reply.code(status).send({ statusCode: status, error: code, message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ statusCode: 404, error: 'REC_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  const errorSchema = {
    type: 'object',
    properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
  };

  const runningExperiment = (): Experiment | undefined => {
    for (const x of experiments.values()) if (x.config.status === 'running') return x;
    return undefined;
  };

  app.get<{ Params: { userId: string }; Querystring: RecsQuery }>(
    '/recommendations/:userId',
    {
      schema: {
        summary: 'Top-k recommendations for a user',
        params: { type: 'object', required: ['userId'], properties: { userId: { type: 'string', pattern: USER_ID } } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            k: { type: 'integer', minimum: 1, maximum: config.maxK, default: config.defaultK },
            exclude: { type: 'string', maxLength: config.maxExclude * 11, description: 'comma-separated item ids' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              user_id: { type: 'string' },
              items: { type: 'array', items: { type: 'object', properties: { item_id: { type: 'integer' }, score: { type: 'number' } } } },
              model: { type: 'string' },
              version: { type: 'string' },
              variant: { type: 'string' },
              experiment: { type: ['string', 'null'] },
              cached: { type: 'boolean' },
              fallback: { type: ['boolean', 'string'], description: "false, or why the popularity fallback answered: 'timeout' or 'error'" },
            },
          },
          400: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const userId = req.params.userId;
      const k = req.query.k ?? config.defaultK;
      const excludeStr = req.query.exclude ?? '';
      const exclude = parseExclude(excludeStr, config.maxExclude);
      const exp = runningExperiment();
      let variant = 'default';
      let slotName = 'default';
      let armVariant: 'control' | 'treatment' | null = null;
      if (exp) {
        armVariant = exp.assign(userId).variant;
        slotName = armVariant === 'treatment' ? exp.config.treatment : exp.config.control;
        variant = `${exp.config.id}:${armVariant}`;
      }
      const slot = slots.get(slotName) ?? slots.get('default')!;
      const model = slot.recommender;
      metrics.both(variant, (m) => m.requests++);
      const field = `${slot.name}@${model.version}|${users.seq(userId)}|${k}|${excludeStr}`;
      const lookup = await cache.get(userId, field);
      let body: { items: { item_id: number; score: number }[]; model: string; version: string; fallback: false | string };
      let cached = false;
      if (lookup.status === 'hit') {
        metrics.both(variant, (m) => m.cacheHits++);
        if (!exp) {
          // hot path: splice the stored JSON object into the response without parsing or re-serializing it
          const v = lookup.value;
          return reply
            .type('application/json; charset=utf-8')
            .send(`{"user_id":${JSON.stringify(userId)},${v.slice(1, -1)},"variant":"default","experiment":null,"cached":true}`);
        }
        body = JSON.parse(lookup.value);
        cached = true;
      } else {
        metrics.both(variant, (m) => (lookup.status === 'miss' ? m.cacheMisses++ : m.cacheBypass++));
        const res: BatchedResult = await batcherFor(slot).submit({ state: users.get(userId), k, exclude });
        const items = new Array(res.rec.items.length);
        for (let i = 0; i < items.length; i++) items[i] = { item_id: res.rec.items[i], score: res.rec.scores[i] };
        body = { items, model: res.model.name, version: res.model.version, fallback: res.fallback };
        metrics.both(variant, (m) => {
          m.inference.add(res.inferenceMs);
          if (res.fallback) m.fallbacks++;
          if (res.fallback === 'timeout') m.timeouts++;
          if (res.fallback === 'error') m.modelErrors++;
        });
        // degraded answers are not cached: the next request should get the model again
        if (!res.fallback) void cache.set(userId, field, JSON.stringify(body));
      }
      if (exp && armVariant) {
        const ts = Date.now();
        exp.recordExposure(userId, armVariant, ts, exp.config.rolloutPct);
        log
          .append({ t: 'exposure', ts, exp: exp.config.id, user: userId, variant: armVariant, rollout: exp.config.rolloutPct, model: body.model, version: body.version, fallback: body.fallback, items: body.items.map((x) => x.item_id) })
          .catch(() => metrics.exposureLogFailures++);
      }
      return { user_id: userId, ...body, variant, experiment: exp?.config.id ?? null, cached };
    },
  );

  app.post<{ Body: { user_id: string | number; item_id: number; interaction_type: string; timestamp?: number } }>(
    '/interaction',
    {
      schema: {
        summary: "Record an interaction; updates the user's recent state and invalidates their cached lists",
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['user_id', 'item_id', 'interaction_type'],
          properties: {
            user_id: { anyOf: [{ type: 'string', pattern: USER_ID }, { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }] },
            item_id: { type: 'integer', minimum: 0, maximum: MAX_ITEM_ID },
            interaction_type: { type: 'string', enum: ['pv', 'cart', 'fav', 'buy'] },
            timestamp: { type: 'number', minimum: 0, maximum: 1e11, description: 'Unix seconds; default now' },
          },
        },
        response: { 202: { type: 'object', properties: { accepted: { type: 'boolean' }, user_id: { type: 'string' }, seq: { type: 'integer' } } }, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const userId = String(b.user_id);
      if (!USER_ID_RE.test(userId)) throw new HttpError(400, `body/user_id: expected 1-64 chars [A-Za-z0-9_.:@-]; got ${JSON.stringify(userId.slice(0, 40))}`);
      const ts = Date.now();
      const timestamp = b.timestamp ?? ts / 1000;
      try {
        await log.append({ t: 'interaction', ts, user: userId, item: b.item_id, type: b.interaction_type, timestamp });
      } catch (e) {
        metrics.interactionLogFailures++;
        req.log.error({ err: e }, 'interaction log write failed');
        throw new HttpError(503, 'the interaction could not be logged durably; retry later', 'REC_LOG_UNAVAILABLE');
      }
      const code = BEHAVIOR_CODE[b.interaction_type];
      const seq = users.record(userId, b.item_id, code, timestamp);
      popularity.observe(b.item_id, code);
      for (const x of experiments.values()) x.recordInteraction(userId, b.interaction_type, config.conversionType);
      metrics.interactions++;
      await cache.invalidate(userId);
      return reply.code(202).send({ accepted: true, user_id: userId, seq });
    },
  );

  const extraMetrics = () => ({
    cache: { kind: cache.kind, ready: cache.ready(), pendingInvalidations: cache instanceof RedisCache ? cache.pendingInvalidations : 0 },
    eventLog: { path: log.path, fsync: log.fsyncPolicy, appended: log.appended, written: log.written, failed: log.failed },
    models: Object.fromEntries(
      [...slots].map(([k, s]) => [k, { ...s.describe(), ...(s.recommender instanceof WorkerRecommender ? { worker: s.recommender.stats() } : {}) }]),
    ),
    users: users.size,
  });

  app.get('/metrics', { schema: { summary: 'Prometheus text metrics', produces: ['text/plain'] } }, async (_req, reply) => {
    const text = metrics.toPrometheus({
      rec_cache_ready: cache.ready() ? 1 : 0,
      rec_event_log_lines_written: log.written,
      rec_users_tracked: users.size,
    });
    return reply.type('text/plain; version=0.0.4').send(text);
  });
  app.get('/metrics.json', { schema: { summary: 'Metrics as JSON' } }, async () => metrics.toJSON(extraMetrics()));

  app.get('/health', { schema: { summary: 'Liveness' } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { summary: 'Readiness: models validated and Redis reachable when configured' } }, async (_req, reply) => {
    const checks = {
      models: [...slots.values()].every((s) => s.recommender !== undefined),
      cache: config.redisUrl ? cache.ready() : true,
      eventLog: log.failed === 0 || log.written > 0,
    };
    const ready = checks.models && checks.cache && checks.eventLog;
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });

  app.get<{ Params: { id: string } }>(
    '/experiments/:id',
    { schema: { summary: 'A/B analysis of an experiment', params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } } } } },
    async (req) => {
      const x = experiments.get(req.params.id);
      if (!x) throw new HttpError(404, `experiment ${JSON.stringify(req.params.id)} does not exist; known: ${[...experiments.keys()].join(', ') || '(none)'}`, 'REC_NOT_FOUND');
      return x.analyze(stats, { conversionType: config.conversionType });
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // ---- admin (only with a token) ----
  if (config.adminToken) {
    const token = config.adminToken;
    await app.register(async (admin) => {
      admin.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        if (!bearerOk(req.headers.authorization, token)) {
          return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'REC_UNAUTHORIZED', message: 'admin routes need Authorization: Bearer <adminToken>' });
        }
      });
      admin.get('/admin/models', { schema: { summary: 'Model slots in service', security: [{ bearer: [] }] } }, async () =>
        Object.fromEntries([...slots].map(([k, s]) => [k, { ...s.describe(), dir: s.dir ?? null, loadedAt: new Date(s.loadedAt).toISOString() }])),
      );
      admin.post<{ Params: { slot: string }; Body: { dir: string } }>(
        '/admin/models/:slot',
        {
          schema: {
            summary: 'Load a model directory into a slot (hot swap); refused if it fails validation',
            security: [{ bearer: [] }],
            params: { type: 'object', properties: { slot: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } } },
            body: { type: 'object', additionalProperties: false, required: ['dir'], properties: { dir: { type: 'string', minLength: 1, maxLength: 4096 } } },
          },
        },
        async (req, reply) => {
          const { slot } = req.params;
          let s = slots.get(slot);
          const fresh = !s;
          if (!s) s = new ModelSlot(slot, popularity);
          const res = await s.swapFromDir(req.body.dir, loadModelDir);
          if (!res.ok) {
            metrics.modelRefusals++;
            return reply.code(422).send({ statusCode: 422, error: 'REC_MODEL_REFUSED', message: `model at ${req.body.dir} refused: ${res.refused?.problems.join('; ')}; slot ${slot} keeps serving ${res.serving.name}@${res.serving.version}`, ...res });
          }
          if (fresh) slots.set(slot, s);
          metrics.modelSwaps++;
          await log.append({ t: 'model', ts: Date.now(), slot, dir: resolve(req.body.dir) });
          return res;
        },
      );
      admin.put<{ Params: { id: string }; Body: Partial<ExperimentConfig> }>(
        '/admin/experiments/:id',
        {
          schema: {
            summary: 'Create or change an experiment (rollout, status, variants)',
            security: [{ bearer: [] }],
            params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } } },
            body: {
              type: 'object',
              additionalProperties: false,
              properties: {
                key: { type: 'string', minLength: 1, maxLength: 128 },
                control: { type: 'string', minLength: 1, maxLength: 64 },
                treatment: { type: 'string', minLength: 1, maxLength: 64 },
                rolloutPct: { type: 'number', minimum: 0, maximum: 100 },
                status: { type: 'string', enum: ['running', 'stopped'] },
              },
            },
          },
        },
        async (req) => {
          const prev = experiments.get(req.params.id)?.config;
          const merged = { status: 'running', rolloutPct: 0, ...(prev ?? {}), ...req.body, id: req.params.id } as ExperimentConfig;
          if (merged.control === undefined || merged.treatment === undefined) {
            throw new HttpError(400, `experiment ${req.params.id}: a new experiment needs control and treatment slot names`);
          }
          const x = await putExperiment(merged);
          return { config: x.config, history: x.history };
        },
      );
    });
  }

  let closing: Promise<void> | null = null;
  const service: RecService = {
    app,
    config,
    metrics,
    cache,
    log,
    slots,
    popularity,
    experiments,
    users,
    replay,
    restoreProblems,
    async listen() {
      return app.listen({ host: config.host, port: config.port });
    },
    close() {
      if (!closing) {
        closing = (async () => {
          shuttingDown = true;
          await app.close();
          await log.close();
          await cache.close();
          for (const s of slots.values()) {
            if (s.recommender !== popularity) await s.recommender.dispose?.();
          }
        })();
      }
      return closing;
    },
  };
  return service;
}

export { readModelConfig };
export type { Recommender };
