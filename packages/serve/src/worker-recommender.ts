/**
 * A Recommender whose model runs in a worker thread (see model-worker.ts). One batch is in flight at a time;
 * batches that arrive meanwhile are merged into the next call (adaptive batching under load), and requests whose
 * deadline has already passed (the caller has answered them from the fallback) are dropped instead of computed,
 * so an overloaded model does not build an ever-growing backlog.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ModelFormatError, NotAvailableError } from '@rec/core';
import { validateRecommender, type Recommendation, type RecommendRequest, type Recommender, type ValidationReport } from './recommender.js';

export interface WorkerData {
  dir: string;
  /** Most requests per worker call when batches queue up (default 64). */
  maxBatch?: number;
  /** Modules imported in the worker before loading (to register custom loaders). */
  imports?: string[];
  backend?: string | readonly string[];
}

export interface WorkerBatchMessage {
  type: 'batch';
  id: number;
  userIds: string[];
  k: Int32Array;
  histOffsets: Int32Array;
  histItems: Int32Array;
  histTypes: Uint8Array;
  histTimes: Float64Array;
  exOffsets: Int32Array;
  exItems: Int32Array;
}

export type WorkerReply =
  | { type: 'ready'; name: string; version: string; report: ValidationReport; probeItems: number[] }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; offsets: Int32Array; items: Int32Array; scores: Float32Array }
  | { type: 'error'; id: number; message: string }
  | { type: 'disposed' };

type DeadlineRequest = RecommendRequest;

interface Waiting {
  reqs: DeadlineRequest[];
  resolve: (r: Recommendation[]) => void;
  reject: (e: unknown) => void;
}

const EMPTY: Recommendation = { items: new Int32Array(0), scores: new Float32Array(0) };

/** The worker script: beside this module when built (dist/), else the package's built dist/ (running from src/). */
function workerScript(): URL {
  const here = new URL('./model-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../dist/model-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new NotAvailableError('model worker script not found', {
    where: 'WorkerRecommender',
    expected: 'dist/model-worker.js',
    got: fileURLToPath(here),
    hint: 'build @rec/serve (pnpm --filter @rec/serve build) or set modelThread: "main"',
  });
}

export class WorkerRecommender implements Recommender {
  name = '';
  version = '';
  private worker: Worker;
  private nextId = 1;
  private inFlight: { id: number; parts: { w: Waiting; keep: number[] }[] } | null = null;
  private waiting: Waiting[] = [];
  private report: ValidationReport = { ok: false, problems: ['not loaded'] };
  private probeItems: number[] = [];
  private dead: Error | null = null;
  private maxBatch = 64;
  /** Requests dropped because their deadline had passed before the worker got to them. */
  skippedExpired = 0;
  /** Model calls made and requests computed (a call carries several requests). */
  calls = 0;
  computed = 0;
  /** Round-trip time of the last 1,000 model calls, ms (includes the thread hop; not capped at any deadline). */
  private callMs: number[] = [];
  private maxCallMs = 0;
  private sentAt = 0;

  private constructor(worker: Worker) {
    this.worker = worker;
  }

  /** Start a worker, load `dir` there and wait until it is ready (or failed). */
  static async spawn(data: WorkerData, startTimeoutMs = 120_000): Promise<WorkerRecommender> {
    const w = new Worker(workerScript(), { workerData: data });
    const r = new WorkerRecommender(w);
    r.maxBatch = data.maxBatch ?? 64;
    await new Promise<void>((resolve, reject) => {
      w.once('exit', (code) => {
        clearTimeout(timer);
        reject(new ModelFormatError('model worker exited while loading', { where: data.dir, expected: 'a ready message', got: `exit code ${code}` }));
      });
      const timer = setTimeout(() => reject(new NotAvailableError('model worker did not start', { where: `WorkerRecommender(${data.dir})`, expected: `ready within ${startTimeoutMs} ms`, got: 'no answer' })), startTimeoutMs);
      w.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      w.once('message', (m: WorkerReply) => {
        clearTimeout(timer);
        if (m.type === 'ready') {
          r.name = m.name;
          r.version = m.version;
          r.report = m.report;
          r.probeItems = m.probeItems;
          resolve();
        } else if (m.type === 'failed') {
          reject(new ModelFormatError('model failed to load in the worker', { where: data.dir, expected: 'a loadable model directory', got: m.message }));
        } else reject(new Error(`unexpected first message ${m.type}`));
      });
    })
      .catch(async (e) => {
        await w.terminate();
        throw e;
      });
    w.on('message', (m: WorkerReply) => r.onMessage(m));
    w.on('error', (e) => r.fail(e));
    w.on('exit', (code) => r.fail(new Error(`model worker exited with code ${code}`)));
    // an idle worker does not keep the process alive; one with a batch in flight does (see pump/onMessage)
    w.unref();
    return r;
  }

  private fail(e: Error): void {
    this.dead ??= e;
    const parts = this.inFlight?.parts ?? [];
    this.inFlight = null;
    for (const p of parts) p.w.reject(e);
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  private onMessage(m: WorkerReply): void {
    if ((m.type !== 'result' && m.type !== 'error') || !this.inFlight || m.id !== this.inFlight.id) return;
    const parts = this.inFlight.parts;
    this.inFlight = null;
    this.worker.unref();
    const ms = performance.now() - this.sentAt;
    this.callMs.push(ms);
    if (ms > this.maxCallMs) this.maxCallMs = ms;
    if (this.callMs.length > 1000) this.callMs.shift();
    if (m.type === 'error') {
      for (const p of parts) p.w.reject(new Error(`model worker: ${m.message}`));
    } else {
      let row = 0;
      for (const p of parts) {
        const out: Recommendation[] = p.w.reqs.map(() => EMPTY);
        for (const i of p.keep) {
          const a = m.offsets[row];
          const b = m.offsets[row + 1];
          out[i] = { items: m.items.subarray(a, b), scores: m.scores.subarray(a, b) };
          row++;
        }
        p.w.resolve(out);
      }
    }
    this.pump();
  }

  private pump(): void {
    if (this.inFlight || this.waiting.length === 0) return;
    const now = performance.now();
    // drop what is past its deadline, then take the newest groups up to maxBatch requests (newest first: under
    // overload they are the ones that can still make their deadline); older groups wait for the next call
    const live: { w: Waiting; keep: number[] }[] = [];
    for (const w of this.waiting.splice(0)) {
      const keep: number[] = [];
      w.reqs.forEach((r, i) => {
        if (r.deadline !== undefined && r.deadline < now) this.skippedExpired++;
        else keep.push(i);
      });
      if (keep.length === 0) w.resolve(w.reqs.map(() => EMPTY));
      else live.push({ w, keep });
    }
    const parts: { w: Waiting; keep: number[] }[] = [];
    let total = 0;
    for (let g = live.length - 1; g >= 0; g--) {
      if (parts.length > 0 && total + live[g].keep.length > this.maxBatch) {
        this.waiting.unshift(live[g].w);
        continue;
      }
      parts.unshift(live[g]);
      total += live[g].keep.length;
    }
    const reqs: DeadlineRequest[] = [];
    for (const p of parts) for (const i of p.keep) reqs.push(p.w.reqs[i]);
    if (reqs.length === 0) return;
    const n = reqs.length;
    const histOffsets = new Int32Array(n + 1);
    const exOffsets = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) {
      histOffsets[i + 1] = histOffsets[i] + reqs[i].state.recentItems.length;
      exOffsets[i + 1] = exOffsets[i] + reqs[i].exclude.length;
    }
    const msg: WorkerBatchMessage = {
      type: 'batch',
      id: this.nextId++,
      userIds: reqs.map((r) => r.state.userId),
      k: Int32Array.from(reqs, (r) => r.k),
      histOffsets,
      histItems: new Int32Array(histOffsets[n]),
      histTypes: new Uint8Array(histOffsets[n]),
      histTimes: new Float64Array(histOffsets[n]),
      exOffsets,
      exItems: new Int32Array(exOffsets[n]),
    };
    for (let i = 0; i < n; i++) {
      const s = reqs[i].state;
      msg.histItems.set(s.recentItems, histOffsets[i]);
      msg.histTypes.set(s.recentTypes, histOffsets[i]);
      msg.histTimes.set(s.recentTimes, histOffsets[i]);
      msg.exItems.set(reqs[i].exclude, exOffsets[i]);
    }
    this.inFlight = { id: msg.id, parts };
    this.worker.ref();
    this.sentAt = performance.now();
    this.calls++;
    this.computed += n;
    const transfer = [msg.k, histOffsets, msg.histItems, msg.histTypes, msg.histTimes, exOffsets, msg.exItems].map((a) => a.buffer as ArrayBuffer);
    this.worker.postMessage(msg, transfer);
  }

  recommendBatch(requests: DeadlineRequest[]): Promise<Recommendation[]> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.waiting.push({ reqs: requests, resolve, reject });
      this.pump();
    });
  }

  async recommend(state: RecommendRequest['state'], k: number, exclude: Int32Array): Promise<Recommendation> {
    return (await this.recommendBatch([{ state, k, exclude }]))[0];
  }

  /** The worker's own validation of the model, then a round trip through the thread boundary. */
  async validate(): Promise<ValidationReport> {
    if (!this.report.ok) return this.report;
    return validateRecommender(this, this.probeItems);
  }

  /** Worker counters, call-time percentiles (nearest rank) over the last 1,000 calls, and the slowest call since start. */
  stats(): { calls: number; computed: number; skippedExpired: number; meanBatch: number | null; callP50Ms: number | null; callP95Ms: number | null; callMaxMs: number | null } {
    const s = [...this.callMs].sort((a, b) => a - b);
    const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : null);
    return { calls: this.calls, computed: this.computed, skippedExpired: this.skippedExpired, meanBatch: this.calls ? this.computed / this.calls : null, callP50Ms: q(0.5), callP95Ms: q(0.95), callMaxMs: this.calls ? this.maxCallMs : null };
  }

  async dispose(): Promise<void> {
    if (this.dead) return;
    this.dead = new Error('disposed');
    await this.worker.terminate();
  }
}
