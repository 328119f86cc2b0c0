/**
 * Service metrics, overall and per variant: requests, cache hits/misses/bypasses, fallbacks, errors, inference
 * time. Inference time goes to a Prometheus histogram (fixed buckets) and to a ring of the last `window` samples
 * from which `/metrics.json` reports average, p95 and p99 (exact over that window).
 */

const BUCKETS_MS = [0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000];

class Timing {
  private ring: Float64Array;
  private n = 0;
  private next = 0;
  count = 0;
  sum = 0;
  buckets = new Float64Array(BUCKETS_MS.length);

  constructor(window: number) {
    this.ring = new Float64Array(window);
  }

  add(ms: number): void {
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.ring.length;
    if (this.n < this.ring.length) this.n++;
    this.count++;
    this.sum += ms;
    for (let i = 0; i < BUCKETS_MS.length; i++) if (ms <= BUCKETS_MS[i]) this.buckets[i]++;
  }

  /** Nearest-rank quantile over the window: the ceil(q*n)-th smallest sample. */
  quantile(q: number): number | null {
    if (this.n === 0) return null;
    const s = this.ring.slice(0, this.n).sort();
    return s[Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1))];
  }

  summary(): { count: number; avgMs: number | null; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null } {
    return {
      count: this.count,
      avgMs: this.count === 0 ? null : this.sum / this.count,
      p50Ms: this.quantile(0.5),
      p95Ms: this.quantile(0.95),
      p99Ms: this.quantile(0.99),
    };
  }
}

export class VariantMetrics {
  requests = 0;
  cacheHits = 0;
  cacheMisses = 0;
  cacheBypass = 0;
  fallbacks = 0;
  timeouts = 0;
  modelErrors = 0;
  readonly inference: Timing;
  constructor(window: number) {
    this.inference = new Timing(window);
  }
}

export class Metrics {
  readonly startedAt = Date.now();
  /** HTTP responses by status class. */
  responses = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  interactions = 0;
  interactionLogFailures = 0;
  exposureLogFailures = 0;
  modelSwaps = 0;
  modelRefusals = 0;
  private variants = new Map<string, VariantMetrics>();
  readonly total: VariantMetrics;

  constructor(readonly window = 10_000) {
    this.total = new VariantMetrics(window);
  }

  variant(name: string): VariantMetrics {
    let v = this.variants.get(name);
    if (!v) {
      v = new VariantMetrics(this.window);
      this.variants.set(name, v);
    }
    return v;
  }

  /** Apply `fn` to the total and to the variant's counters. */
  both(variant: string, fn: (m: VariantMetrics) => void): void {
    fn(this.total);
    fn(this.variant(variant));
  }

  recordStatus(code: number): void {
    const k = code >= 500 ? '5xx' : code >= 400 ? '4xx' : code >= 300 ? '3xx' : '2xx';
    this.responses[k]++;
  }

  private static view(m: VariantMetrics) {
    const lookups = m.cacheHits + m.cacheMisses + m.cacheBypass;
    return {
      requests: m.requests,
      cacheHits: m.cacheHits,
      cacheMisses: m.cacheMisses,
      cacheBypass: m.cacheBypass,
      cacheHitRate: lookups === 0 ? null : m.cacheHits / lookups,
      fallbacks: m.fallbacks,
      timeouts: m.timeouts,
      modelErrors: m.modelErrors,
      inference: m.inference.summary(),
    };
  }

  toJSON(extra: Record<string, unknown> = {}) {
    const all = this.responses['2xx'] + this.responses['3xx'] + this.responses['4xx'] + this.responses['5xx'];
    return {
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      responses: { total: all, ...this.responses },
      errorRate: all === 0 ? 0 : this.responses['5xx'] / all,
      clientErrorRate: all === 0 ? 0 : this.responses['4xx'] / all,
      recommendations: Metrics.view(this.total),
      variants: Object.fromEntries([...this.variants].map(([k, v]) => [k, Metrics.view(v)])),
      interactions: this.interactions,
      interactionLogFailures: this.interactionLogFailures,
      exposureLogFailures: this.exposureLogFailures,
      modelSwaps: this.modelSwaps,
      modelRefusals: this.modelRefusals,
      ...extra,
    };
  }

  /** Prometheus text exposition format 0.0.4. */
  toPrometheus(gauges: Record<string, number> = {}): string {
    const out: string[] = [];
    const counter = (name: string, help: string, rows: [string, number][]) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
    };
    const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    const per = (f: (m: VariantMetrics) => number): [string, number][] =>
      [...this.variants].map(([k, m]) => [`{variant="${esc(k)}"}`, f(m)]);
    counter('rec_http_responses_total', 'HTTP responses by status class.', Object.entries(this.responses).map(([k, v]) => [`{code="${k}"}`, v]));
    counter('rec_recommendation_requests_total', 'Recommendation requests served.', per((m) => m.requests));
    counter('rec_cache_hits_total', 'Recommendation cache hits.', per((m) => m.cacheHits));
    counter('rec_cache_misses_total', 'Recommendation cache misses.', per((m) => m.cacheMisses));
    counter('rec_cache_bypass_total', 'Requests that bypassed an unavailable cache.', per((m) => m.cacheBypass));
    counter('rec_fallbacks_total', 'Responses answered by the popularity fallback.', per((m) => m.fallbacks));
    counter('rec_model_timeouts_total', 'Model calls past the deadline.', per((m) => m.timeouts));
    counter('rec_model_errors_total', 'Model calls that threw.', per((m) => m.modelErrors));
    counter('rec_interactions_total', 'Interactions accepted.', [['', this.interactions]]);
    counter('rec_event_log_failures_total', 'Event log lines that failed to write.', [
      ['{kind="interaction"}', this.interactionLogFailures],
      ['{kind="exposure"}', this.exposureLogFailures],
    ]);
    counter('rec_model_swaps_total', 'Model versions put in service.', [['', this.modelSwaps]]);
    counter('rec_model_refusals_total', 'Model versions refused by validation.', [['', this.modelRefusals]]);
    out.push('# HELP rec_inference_ms Model inference time per request (batch wall time), ms.', '# TYPE rec_inference_ms histogram');
    for (const [k, m] of this.variants) {
      const t = m.inference;
      BUCKETS_MS.forEach((b, i) => out.push(`rec_inference_ms_bucket{variant="${esc(k)}",le="${b}"} ${t.buckets[i]}`));
      out.push(`rec_inference_ms_bucket{variant="${esc(k)}",le="+Inf"} ${t.count}`);
      out.push(`rec_inference_ms_sum{variant="${esc(k)}"} ${t.sum}`, `rec_inference_ms_count{variant="${esc(k)}"} ${t.count}`);
    }
    for (const [name, v] of Object.entries(gauges)) out.push(`# TYPE ${name} gauge`, `${name} ${v}`);
    return out.join('\n') + '\n';
  }
}
