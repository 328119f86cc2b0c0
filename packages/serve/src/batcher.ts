/**
 * Micro-batching with a deadline. Requests that arrive in the same event-loop turn (or within `windowMs`) for the
 * same slot go to the model in one `recommendBatch` call (or one `recommend` each when the model has no batch
 * form). One timer per batch: when the model has not answered after `timeoutMs`, every request of that batch is
 * answered from the fallback (most-popular) and flagged; a late model answer is then dropped. A model error also
 * falls back. Note: a model that blocks the event loop synchronously cannot be pre-empted in-process; the deadline
 * then applies only once it yields (run such models in a worker to get a hard deadline).
 */
import type { ModelSlot } from './registry.js';
import type { Recommendation, RecommendRequest, Recommender } from './recommender.js';

export interface BatchedResult {
  rec: Recommendation;
  /** The model that answered (the fallback's name when `fallback`). */
  model: { name: string; version: string };
  fallback: false | 'timeout' | 'error';
  /** Wall time from batch start to model answer, ms (for timeouts: the deadline). */
  inferenceMs: number;
  batchSize: number;
}

interface Pending {
  req: RecommendRequest;
  resolve: (r: BatchedResult) => void;
}

export interface MicroBatcherOptions {
  /** Most requests in one model call. */
  maxBatch?: number;
  /** Extra wait to collect a batch, ms; 0 = the current event-loop turn only. */
  windowMs?: number;
  /** Deadline for the model, ms. */
  timeoutMs?: number;
  /** Called when a model call throws (for logging). */
  onError?: (err: unknown, slot: string) => void;
}

export class MicroBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  readonly maxBatch: number;
  readonly windowMs: number;
  timeoutMs: number;
  private readonly onError?: (err: unknown, slot: string) => void;

  constructor(
    private readonly slot: ModelSlot,
    private readonly fallback: Recommender,
    opts: MicroBatcherOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.windowMs = opts.windowMs ?? 0;
    this.timeoutMs = opts.timeoutMs ?? 50;
    this.onError = opts.onError;
  }

  submit(req: RecommendRequest): Promise<BatchedResult> {
    return new Promise((resolve) => {
      this.queue.push({ req, resolve });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        if (this.windowMs > 0) setTimeout(() => this.flush(), this.windowMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      void this.run(batch);
    }
  }

  private async fallbackAll(batch: Pending[], reason: 'timeout' | 'error', ms: number): Promise<void> {
    const model = { name: this.fallback.name, version: this.fallback.version };
    for (const p of batch) {
      let rec: Recommendation;
      try {
        rec = await this.fallback.recommend(p.req.state, p.req.k, p.req.exclude);
      } catch {
        rec = { items: new Int32Array(0), scores: new Float32Array(0) };
      }
      p.resolve({ rec, model, fallback: reason, inferenceMs: ms, batchSize: batch.length });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const t0 = performance.now();
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      void this.fallbackAll(batch, 'timeout', this.timeoutMs);
    }, this.timeoutMs);
    let model = { name: '', version: '' };
    try {
      const out = await this.slot.use(async (r) => {
        model = { name: r.name, version: r.version };
        const deadline = t0 + this.timeoutMs;
        if (r.recommendBatch) return r.recommendBatch(batch.map((p) => ({ ...p.req, deadline })));
        return Promise.all(batch.map((p) => r.recommend(p.req.state, p.req.k, p.req.exclude)));
      });
      if (settled) return;
      if (!Array.isArray(out) || out.length !== batch.length) throw new Error(`model returned ${Array.isArray(out) ? out.length : typeof out} results for ${batch.length} requests`);
      settled = true;
      clearTimeout(timer);
      const ms = performance.now() - t0;
      for (let i = 0; i < batch.length; i++) {
        const rec = out[i];
        // keep the contract at the boundary even if a model over-returns: truncate to k
        const k = batch[i].req.k;
        const r = rec.items.length > k ? { items: rec.items.subarray(0, k), scores: rec.scores.subarray(0, k) } : rec;
        batch[i].resolve({ rec: r, model, fallback: false, inferenceMs: ms, batchSize: batch.length });
      }
    } catch (e) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.onError?.(e, this.slot.name);
      await this.fallbackAll(batch, 'error', performance.now() - t0);
    }
  }
}
