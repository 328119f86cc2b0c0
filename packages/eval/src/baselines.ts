/**
 * Non-learned baselines, each fitted on an `OfflineSplit`'s training rows and returned as a `Scorer`:
 * random, most-popular, recent-popular (exponentially time-decayed counts) and item-KNN from session co-occurrence.
 * The supervised GRU4Rec-style model is in gru4rec.ts.
 */
import { check, Rng } from '@rec/core';
import { sessionize, type InteractionLog } from '@rec/data';
import type { ItemsCsr } from './metrics.js';
import type { OfflineSplit } from './protocols.js';
import { TopK } from './topk.js';

/**
 * What any offline recommender implements to be evaluated: top-k item ids for evaluation units (indices into the
 * split's units, whose `context` the scorer may read), `Int32Array [units.length * k]` in rank order, -1 padded.
 * `exclude` (CSR aligned with `units`) lists items that must not appear.
 */
export interface Scorer {
  readonly name: string;
  scoreUsers(units: Int32Array, k: number, exclude?: ItemsCsr): Int32Array;
}

/** Rank a fixed score vector (shared by every unit) with per-unit exclusions. */
function staticScorer(name: string, scores: Float64Array): Scorer {
  return {
    name,
    scoreUsers(units, k, exclude) {
      const out = new Int32Array(units.length * k);
      const top = new TopK(scores.length, k);
      for (let i = 0; i < units.length; i++) {
        top.select(scores, out, i * k, 0, exclude?.items, exclude ? exclude.offsets[i] : 0, exclude ? exclude.offsets[i + 1] : 0);
      }
      return out;
    },
  };
}

/** Uniformly random distinct items (seeded), skipping excluded ones. */
export function randomScorer(numItems: number, seed = 0): Scorer {
  checkItems('randomScorer', numItems);
  const rng = new Rng(seed);
  return {
    name: 'random',
    scoreUsers(units, k, exclude) {
      const out = new Int32Array(units.length * k).fill(-1);
      const banned = new Set<number>();
      for (let i = 0; i < units.length; i++) {
        banned.clear();
        if (exclude) for (let j = exclude.offsets[i]; j < exclude.offsets[i + 1]; j++) banned.add(exclude.items[j]);
        const avail = numItems - banned.size;
        const want = Math.min(k, Math.max(0, avail));
        let w = 0;
        let tries = 0;
        const picked = new Set<number>();
        while (w < want && tries < 50 * k) {
          tries++;
          const it = rng.int(numItems);
          if (banned.has(it) || picked.has(it)) continue;
          picked.add(it);
          out[i * k + w++] = it;
        }
      }
      return out;
    },
  };
}

function checkItems(where: string, numItems: number): void {
  check(Number.isInteger(numItems) && numItems > 0, `${where}(numItems)`, 'a positive integer', numItems);
}

export interface PopularityOptions {
  /** Weight per behavior code (default all 1: every event counts once). */
  behaviorWeights?: ArrayLike<number>;
}

/** Item scores = (weighted) event counts over the training rows. */
export function mostPopularScorer(split: OfflineSplit, options: PopularityOptions = {}): Scorer {
  const scores = new Float64Array(split.numItems);
  const { log, trainRows } = split;
  for (let i = 0; i < trainRows.length; i++) {
    const r = trainRows[i];
    scores[log.item[r]] += options.behaviorWeights ? options.behaviorWeights[log.behavior[r]] : 1;
  }
  return staticScorer('most-popular', scores);
}

export interface RecentPopularOptions extends PopularityOptions {
  /** Half-life of an event's weight in seconds (default 1 day). */
  halfLifeSeconds?: number;
}

/** Item scores = sum over training events of 2^(-(trainEnd - t) / halfLife): popular lately. */
export function recentPopularScorer(split: OfflineSplit, options: RecentPopularOptions = {}): Scorer {
  const half = options.halfLifeSeconds ?? 86400;
  check(half > 0, 'recentPopularScorer(halfLifeSeconds)', 'a positive half-life', half);
  const scores = new Float64Array(split.numItems);
  const { log, trainRows } = split;
  const now = split.trainEndTime;
  for (let i = 0; i < trainRows.length; i++) {
    const r = trainRows[i];
    const w = options.behaviorWeights ? options.behaviorWeights[log.behavior[r]] : 1;
    scores[log.item[r]] += w * Math.pow(2, -(now - log.timestamp[r]) / half);
  }
  return staticScorer('recent-popular', scores);
}

export interface ItemKnnOptions {
  /** Neighbours kept per item (default 100). */
  neighbors?: number;
  /** Context items (most recent first) that vote (default 10). */
  lastN?: number;
  /** Session gap in seconds for co-occurrence (default 1800). */
  gapSeconds?: number;
  /** Weight of the j-th most recent context item = decay^j (default 0.8). */
  decay?: number;
  /** Items co-occur when at most this many positions apart in a session (default 5; bounds the cost of long sessions). */
  window?: number;
  /** Items not reached by any neighbour fall back to this small popularity prior (default true). */
  popularityFallback?: boolean;
}

/**
 * Item-KNN from session co-occurrence (the session-KNN family of Ludewig & Jannach 2018, item variant):
 * c_ij = number of times i and j occur within `window` positions of each other in a training session (both
 * directions), c_i = occurrences of i; sim(i, j) = c_ij / sqrt(c_i c_j) (a cosine-style normalisation). A unit's score for item j = sum over its last N context items i (decayed by recency) of sim(i, j).
 */
export function itemKnnScorer(split: OfflineSplit, options: ItemKnnOptions = {}): Scorer {
  const M = options.neighbors ?? 100;
  const lastN = options.lastN ?? 10;
  const decay = options.decay ?? 0.8;
  const N = split.numItems;
  const { log } = split;
  // Sessionize the training rows only.
  const sub = subLog(log, split.trainRows);
  const sessions = sessionize(sub, { gapSeconds: options.gapSeconds ?? 1800 });
  const itemCount = new Float64Array(N);
  const pair = new Map<number, number>();
  const W = options.window ?? 5;
  for (let s = 0; s < sessions.numSessions; s++) {
    const a0 = sessions.offsets[s];
    const b0 = sessions.offsets[s + 1];
    for (let a = a0; a < b0; a++) {
      const ia = sub.item[sessions.rows[a]];
      itemCount[ia]++;
      // pairs within `window` positions of each other, counted in both directions
      for (let b = a + 1; b < Math.min(b0, a + 1 + W); b++) {
        const ib = sub.item[sessions.rows[b]];
        if (ib === ia) continue;
        pair.set(ia * N + ib, (pair.get(ia * N + ib) ?? 0) + 1);
        pair.set(ib * N + ia, (pair.get(ib * N + ia) ?? 0) + 1);
      }
    }
  }
  // Neighbour lists per item, top-M by cosine.
  const lists: { j: number; s: number }[][] = Array.from({ length: N }, () => []);
  for (const [key, c] of pair) {
    const i = Math.floor(key / N);
    const j = key - i * N;
    lists[i].push({ j, s: c / Math.sqrt(itemCount[i] * itemCount[j]) });
  }
  const nbOffsets = new Int32Array(N + 1);
  for (let i = 0; i < N; i++) {
    lists[i].sort((x, y) => y.s - x.s || x.j - y.j);
    if (lists[i].length > M) lists[i].length = M;
    nbOffsets[i + 1] = nbOffsets[i] + lists[i].length;
  }
  const nbItem = new Int32Array(nbOffsets[N]);
  const nbSim = new Float64Array(nbOffsets[N]);
  for (let i = 0; i < N; i++) lists[i].forEach((e, t) => ((nbItem[nbOffsets[i] + t] = e.j), (nbSim[nbOffsets[i] + t] = e.s)));
  // Popularity prior far below any similarity, to fill lists deterministically.
  let maxCount = 1;
  for (let i = 0; i < N; i++) if (itemCount[i] > maxCount) maxCount = itemCount[i];
  const prior = new Float64Array(N);
  if (options.popularityFallback ?? true) for (let i = 0; i < N; i++) prior[i] = (1e-9 * itemCount[i]) / maxCount;
  const ctx = split.context;
  return {
    name: 'item-knn',
    scoreUsers(units, k, exclude) {
      const out = new Int32Array(units.length * k);
      const scores = new Float64Array(N);
      const top = new TopK(N, k);
      for (let i = 0; i < units.length; i++) {
        scores.set(prior);
        const u = units[i];
        const a = ctx.offsets[u];
        const b = ctx.offsets[u + 1];
        let w = 1;
        for (let j = b - 1, n = 0; j >= a && n < lastN; j--, n++) {
          const it = ctx.items[j];
          if (it >= 0 && it < N) for (let t = nbOffsets[it]; t < nbOffsets[it + 1]; t++) scores[nbItem[t]] += w * nbSim[t];
          w *= decay;
        }
        top.select(scores, out, i * k, 0, exclude?.items, exclude ? exclude.offsets[i] : 0, exclude ? exclude.offsets[i + 1] : 0);
      }
      return out;
    },
  };
}

/** A log restricted to some rows (copies the columns). */
export function subLog(log: InteractionLog, rows: Int32Array): InteractionLog {
  const sorted = Int32Array.from(rows).sort();
  return {
    numRows: sorted.length,
    user: Int32Array.from(sorted, (r) => log.user[r]),
    item: Int32Array.from(sorted, (r) => log.item[r]),
    category: Int32Array.from(sorted, (r) => log.category[r]),
    behavior: Uint8Array.from(sorted, (r) => log.behavior[r]),
    timestamp: Int32Array.from(sorted, (r) => log.timestamp[r]),
  };
}
