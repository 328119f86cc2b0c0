/**
 * The one contract every model behind the service follows, and the built-in most-popular recommender that is
 * always loaded (it is the fallback when a model times out or fails).
 *
 * Item ids here are the service's external (raw) ids; a model adapter maps them to its own dense vocabulary.
 */
import { InvalidArgumentError, ModelFormatError } from '@rec/core';

/** A user's recent activity, oldest first, as typed arrays (what a sequential model reads). */
export interface UserState {
  userId: string;
  /** Raw item ids, oldest first. */
  recentItems: Int32Array;
  /** Behavior codes (0 pv, 1 cart, 2 fav, 3 buy), aligned with `recentItems`. */
  recentTypes: Uint8Array;
  /** Unix seconds, aligned with `recentItems`. */
  recentTimes: Float64Array;
}

/** Top-k items, best first, with the model's scores (higher is better). */
export interface Recommendation {
  items: Int32Array;
  scores: Float32Array;
}

export interface RecommendRequest {
  state: UserState;
  k: number;
  /** Raw item ids that must not be returned. */
  exclude: Int32Array;
  /** The caller's deadline (performance.now() ms); a model may skip a request past it (its answer is not used). */
  deadline?: number;
}

export interface ValidationReport {
  ok: boolean;
  /** Why it failed (empty when ok). */
  problems: string[];
}

export interface Recommender {
  /** Model family, e.g. `popularity`, `lstm-dqn`, `td3`. */
  readonly name: string;
  /** Version label (directory name, checksum or config version). */
  readonly version: string;
  recommend(state: UserState, k: number, exclude: Int32Array): Promise<Recommendation> | Recommendation;
  /** Many users in one model call (the micro-batcher uses it when present). Results in request order. */
  recommendBatch?(requests: RecommendRequest[]): Promise<Recommendation[]> | Recommendation[];
  /** Self-check run before the model is put in service; a failing report refuses the model. */
  validate(): Promise<ValidationReport> | ValidationReport;
  /** Free tensors or handles; called once the model is out of service and idle. */
  dispose?(): void | Promise<void>;
}

export function emptyUserState(userId: string): UserState {
  return { userId, recentItems: new Int32Array(0), recentTypes: new Uint8Array(0), recentTimes: new Float64Array(0) };
}

/**
 * Checks one recommendation against the request: length at most k, no duplicate or excluded items, finite scores
 * in non-increasing order. Returns the problems found (empty when fine). Used by `validateRecommender`.
 */
export function checkRecommendation(rec: Recommendation, k: number, exclude: Int32Array): string[] {
  const problems: string[] = [];
  if (!(rec?.items instanceof Int32Array) || !(rec?.scores instanceof Float32Array)) {
    return ['result is not {items: Int32Array, scores: Float32Array}'];
  }
  if (rec.items.length !== rec.scores.length) problems.push(`items (${rec.items.length}) and scores (${rec.scores.length}) differ in length`);
  if (rec.items.length > k) problems.push(`returned ${rec.items.length} items for k=${k}`);
  const seen = new Set<number>();
  const ex = new Set(exclude);
  for (let i = 0; i < rec.items.length; i++) {
    const it = rec.items[i];
    if (seen.has(it)) problems.push(`item ${it} appears twice`);
    seen.add(it);
    if (ex.has(it)) problems.push(`excluded item ${it} was returned`);
    if (!Number.isFinite(rec.scores[i])) problems.push(`score ${i} is ${rec.scores[i]}`);
    if (i > 0 && rec.scores[i] > rec.scores[i - 1]) problems.push(`scores not sorted best first at position ${i}`);
  }
  return problems.slice(0, 5);
}

/**
 * Generic validation any recommender can reuse: runs a cold user and a user with history through `recommend`
 * (and `recommendBatch` when present) and checks the outputs with `checkRecommendation`.
 */
export async function validateRecommender(r: Recommender, probeItems: ArrayLike<number>): Promise<ValidationReport> {
  const problems: string[] = [];
  const hist = Int32Array.from(Array.from(probeItems).slice(0, 5));
  const warm: UserState = {
    userId: '__validate__',
    recentItems: hist,
    recentTypes: new Uint8Array(hist.length),
    recentTimes: new Float64Array(hist.length).fill(1_700_000_000),
  };
  const cold = emptyUserState('__validate_cold__');
  const exclude = hist.length > 0 ? Int32Array.of(hist[0]) : new Int32Array(0);
  try {
    for (const s of [cold, warm]) {
      const rec = await r.recommend(s, 10, exclude);
      problems.push(...checkRecommendation(rec, 10, exclude).map((p) => `recommend(${s.userId}): ${p}`));
      if (rec?.items?.length === 0) problems.push(`recommend(${s.userId}) returned no items`);
    }
    if (r.recommendBatch) {
      const out = await r.recommendBatch([
        { state: cold, k: 3, exclude },
        { state: warm, k: 7, exclude },
      ]);
      if (!Array.isArray(out) || out.length !== 2) problems.push('recommendBatch did not return one result per request');
      else {
        problems.push(...checkRecommendation(out[0], 3, exclude).map((p) => `recommendBatch[0]: ${p}`));
        problems.push(...checkRecommendation(out[1], 7, exclude).map((p) => `recommendBatch[1]: ${p}`));
      }
    }
  } catch (e) {
    problems.push(`threw: ${(e as Error).message}`);
  }
  return { ok: problems.length === 0, problems };
}

/**
 * Most-popular items, weighted by behavior (pv 1, cart 3, fav 2, buy 5 by default). `observe` updates counts
 * online; the sorted order is rebuilt lazily, at most once per `resortMs`, so the hot path stays O(k).
 */
export class PopularityRecommender implements Recommender {
  readonly name = 'popularity';
  readonly version: string;
  private counts = new Map<number, number>();
  private sortedItems = new Int32Array(0);
  private sortedScores = new Float32Array(0);
  private dirty = true;
  private lastSort = 0;
  private readonly resortMs: number;
  readonly behaviorWeights: readonly number[];

  constructor(opts: { version?: string; resortMs?: number; behaviorWeights?: number[] } = {}) {
    this.version = opts.version ?? 'builtin';
    this.resortMs = opts.resortMs ?? 1000;
    this.behaviorWeights = opts.behaviorWeights ?? [1, 3, 2, 5];
  }

  /** Build from parallel arrays of raw item ids and counts (e.g. `popularity.json` in a model directory). */
  static fromCounts(items: ArrayLike<number>, counts: ArrayLike<number>, version = 'counts'): PopularityRecommender {
    if (items.length !== counts.length) {
      throw new InvalidArgumentError('length mismatch', {
        where: 'PopularityRecommender.fromCounts',
        expected: 'items and counts of the same length',
        got: `${items.length} items, ${counts.length} counts`,
      });
    }
    const p = new PopularityRecommender({ version });
    for (let i = 0; i < items.length; i++) p.add(items[i], counts[i]);
    return p;
  }

  add(item: number, weight: number): void {
    this.counts.set(item, (this.counts.get(item) ?? 0) + weight);
    this.dirty = true;
  }

  /** Count one interaction (behavior code 0..3). */
  observe(item: number, behavior: number): void {
    this.add(item, this.behaviorWeights[behavior] ?? 1);
  }

  get numItems(): number {
    return this.counts.size;
  }

  private ensureSorted(): void {
    const now = Date.now();
    if (!this.dirty || (now - this.lastSort < this.resortMs && this.sortedItems.length > 0)) return;
    const entries = [...this.counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    this.sortedItems = Int32Array.from(entries, (e) => e[0]);
    this.sortedScores = Float32Array.from(entries, (e) => e[1]);
    this.dirty = false;
    this.lastSort = now;
  }

  /** Top-k popular items not in `exclude`. */
  topK(k: number, exclude: Int32Array): Recommendation {
    this.ensureSorted();
    const items = new Int32Array(Math.min(k, this.sortedItems.length));
    const scores = new Float32Array(items.length);
    const ex = exclude.length > 8 ? new Set(exclude) : null;
    let n = 0;
    for (let i = 0; i < this.sortedItems.length && n < items.length; i++) {
      const it = this.sortedItems[i];
      if (ex ? ex.has(it) : exclude.includes(it)) continue;
      items[n] = it;
      scores[n] = this.sortedScores[i];
      n++;
    }
    return { items: items.subarray(0, n), scores: scores.subarray(0, n) };
  }

  recommend(_state: UserState, k: number, exclude: Int32Array): Recommendation {
    return this.topK(k, exclude);
  }

  recommendBatch(requests: RecommendRequest[]): Recommendation[] {
    return requests.map((r) => this.topK(r.k, r.exclude));
  }

  validate(): ValidationReport {
    if (this.counts.size === 0) return { ok: false, problems: ['no item counts: the popularity table is empty'] };
    for (const [item, c] of this.counts) {
      if (!Number.isInteger(item) || !Number.isFinite(c)) {
        return { ok: false, problems: [`bad entry item=${item} count=${c}`] };
      }
    }
    return { ok: true, problems: [] };
  }
}

/** Throws ModelFormatError with the validation problems (used by loaders that want to fail early). */
export function assertValid(report: ValidationReport, where: string): void {
  if (!report.ok) {
    throw new ModelFormatError('model failed validation', {
      where,
      expected: 'a model whose validate() passes',
      got: report.problems.join('; '),
      hint: 'the previous model keeps serving; fix the model directory and retry',
    });
  }
}
