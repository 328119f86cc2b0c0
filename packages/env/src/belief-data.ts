/**
 * Inputs for the user-belief simulator: from item embeddings + cluster ids + an interaction log (what @rec/data
 * produces), or synthetic (clustered Gaussian embeddings) for tests and benchmarks.
 */
import { InvalidArgumentError, Rng, ShapeError, check } from '@rec/core';
import {
  itemClusters,
  learnEmbeddings,
  userClusterAffinity,
  userEmbeddingsFromItems,
  type EmbeddingOptions,
  type Embeddings,
  type IndexedLog,
  type InteractionLog,
} from '@rec/data';
import type { BeliefSimData } from './belief-sim.js';
import { clusterCentres } from './belief-sim.js';

export interface BeliefSimInputs {
  /** Item embeddings `[numItems * dim]` (@rec/data `learnEmbeddings(log).items`). */
  itemEmbeddings: Float32Array;
  /** Cluster id per item `[numItems]` (@rec/data `itemClusters(...).assignment`). */
  itemCluster: Int32Array;
  /** Distance of each item to its cluster centre (`itemClusters(...).distance`); computed when omitted. */
  itemDistance?: Float32Array;
  /** Embedding width. Default 64. */
  dim?: number;
  /** Number of clusters. Default: 1 + the largest cluster id. */
  numClusters?: number;
  /** The interaction log (dense ids) the initial and optimal beliefs come from. */
  log: InteractionLog;
  /** Rows of `log` to use (a training split). Default: all. */
  rows?: Int32Array;
  numUsers: number;
  /** User embeddings `[numUsers * dim]`; default: @rec/data `userEmbeddingsFromItems` (mean item embedding). */
  userEmbeddings?: Float32Array;
  /** Initial belief = initialScale x the user's share of events in the cluster. Default 0.001 (tiny). */
  initialScale?: number;
  /** Optimal beliefs: 'share' (the user's cluster shares in the log, default; uniform without history), 'uniform', or explicit. */
  optimal?: 'share' | 'uniform' | Float32Array;
  /** Rescale item distances so the largest equals this (the acceptance formula's maxDistance); null: raw. Default 5. */
  distanceTarget?: number | null;
  userIds?: ArrayLike<number>;
}

/**
 * Build the simulator's arrays from embeddings, clusters and a log. Cluster shares come from @rec/data's
 * `userClusterAffinity`, user embeddings from `userEmbeddingsFromItems`.
 */
export function buildBeliefSimData(input: BeliefSimInputs): BeliefSimData {
  const W = 'buildBeliefSimData';
  const dim = input.dim ?? 64;
  const nI = input.itemEmbeddings.length / dim;
  check(Number.isInteger(nI) && nI > 0, `${W}(itemEmbeddings)`, `Float32Array [numItems * ${dim}]`, input.itemEmbeddings.length);
  if (input.itemCluster.length !== nI) throw new ShapeError('one cluster id per item expected', { where: `${W}(itemCluster)`, expected: `length ${nI}`, got: input.itemCluster.length });
  let maxC = -1;
  for (let i = 0; i < nI; i++) {
    if (input.itemCluster[i] < 0) throw new InvalidArgumentError('negative cluster id', { where: `${W}(itemCluster[${i}])`, expected: '>= 0', got: input.itemCluster[i] });
    if (input.itemCluster[i] > maxC) maxC = input.itemCluster[i];
  }
  const C = input.numClusters ?? maxC + 1;
  const nU = input.numUsers;
  check(Number.isInteger(nU) && nU > 0, `${W}(numUsers)`, 'a positive integer', nU);

  // Item distance to its cluster centre, rescaled so the farthest item sits at distanceTarget.
  let itemDistance: Float32Array;
  if (input.itemDistance) {
    if (input.itemDistance.length !== nI) throw new ShapeError('one distance per item expected', { where: `${W}(itemDistance)`, expected: `length ${nI}`, got: input.itemDistance.length });
    itemDistance = input.itemDistance.slice();
  } else {
    const centres = clusterCentres(input.itemEmbeddings, input.itemCluster, dim, C);
    itemDistance = new Float32Array(nI);
    for (let i = 0; i < nI; i++) {
      const c = input.itemCluster[i];
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const d = input.itemEmbeddings[i * dim + j] - centres[c * dim + j];
        s += d * d;
      }
      itemDistance[i] = Math.sqrt(s);
    }
  }
  let maxD = 0;
  for (let i = 0; i < nI; i++) if (itemDistance[i] > maxD) maxD = itemDistance[i];
  const target = input.distanceTarget === undefined ? 5 : input.distanceTarget;
  if (target !== null && maxD > 0) for (let i = 0; i < nI; i++) itemDistance[i] *= target / maxD;

  const share = userClusterAffinity(input.log, input.itemCluster, C, { numUsers: nU, rows: input.rows });
  const userEmb = input.userEmbeddings ?? userEmbeddingsFromItems(input.log, input.itemEmbeddings, dim, { numUsers: nU, rows: input.rows });
  if (userEmb.length !== nU * dim) throw new ShapeError('user embeddings have the wrong length', { where: `${W}(userEmbeddings)`, expected: `${nU * dim}`, got: userEmb.length });
  const scale = input.initialScale ?? 0.001;
  const initialBeliefs = new Float32Array(nU * C);
  for (let i = 0; i < nU * C; i++) initialBeliefs[i] = scale * share[i];
  let optimalBeliefs: Float32Array;
  if (input.optimal instanceof Float32Array) {
    optimalBeliefs = input.optimal;
  } else if (input.optimal === 'uniform') {
    optimalBeliefs = new Float32Array(C).fill(1 / C);
  } else {
    optimalBeliefs = share.slice();
    for (let u = 0; u < nU; u++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += share[u * C + c];
      if (s === 0) for (let c = 0; c < C; c++) optimalBeliefs[u * C + c] = 1 / C;
    }
  }
  return { itemEmbeddings: input.itemEmbeddings, itemCluster: input.itemCluster, itemDistance, userEmbeddings: userEmb, initialBeliefs, optimalBeliefs, dim, numClusters: C, userIds: input.userIds };
}

export interface BeliefSimFromLogOptions {
  /** Clusters. Default 5. */
  k?: number;
  /** Embedding width. Default 64. */
  dim?: number;
  /** Rows to learn from (a training split). Default: all. */
  rows?: Int32Array;
  /** Reuse embeddings already learned with @rec/data `learnEmbeddings`. */
  embeddings?: Embeddings;
  /** Options for `learnEmbeddings` when it runs here (needs a tfjs backend: the application picks it). */
  embeddingOptions?: EmbeddingOptions;
  seed?: number;
}

/**
 * Everything from a dense-id log with @rec/data: item2vec embeddings (`learnEmbeddings`), k-means item clusters
 * (`itemClusters`, with each item's distance to its centre), then `buildBeliefSimData`. Raw user ids come from an
 * IndexedLog's user map when present.
 */
export function beliefSimDataFromLog(log: InteractionLog & Partial<Pick<IndexedLog, 'numUsers' | 'numItems' | 'users'>>, options: BeliefSimFromLogOptions = {}): BeliefSimData {
  const dim = options.dim ?? 64;
  const seed = options.seed ?? 0;
  const emb = options.embeddings ?? learnEmbeddings(log, { dim, seed, rows: options.rows, numItems: log.numItems, numUsers: log.numUsers, ...options.embeddingOptions });
  const clusters = itemClusters(emb.items, emb.dim, { k: options.k ?? 5, seed });
  return buildBeliefSimData({
    itemEmbeddings: emb.items,
    itemCluster: clusters.assignment,
    itemDistance: clusters.distance,
    numClusters: clusters.k,
    dim: emb.dim,
    log,
    rows: options.rows,
    numUsers: emb.numUsers,
    userEmbeddings: emb.users,
    userIds: log.users ? Array.from(log.users.toRaw) : undefined,
  });
}

export interface SyntheticBeliefOptions {
  numUsers?: number;
  numItems?: number;
  dim?: number;
  numClusters?: number;
  seed?: number;
}

/**
 * A synthetic population: cluster centres ~ N(0, I); item = centre + s * N(0, I) with s uniform in [0.05, 0.6]
 * (so distances to the centre spread over roughly 0.4..4.8 at dim 64); each user sits near a favourite cluster's
 * centre; initial beliefs uniform in [0, 0.001); optimal beliefs Dirichlet(1). Also returns an item popularity
 * (Zipf over a random order) for the popularity policy.
 */
export function syntheticBeliefSimData(options: SyntheticBeliefOptions = {}): BeliefSimData & { itemPopularity: Float32Array } {
  const nU = options.numUsers ?? 1000;
  const nI = options.numItems ?? 2000;
  const dim = options.dim ?? 64;
  const C = options.numClusters ?? 5;
  const rng = new Rng(options.seed ?? 0);
  const centres = rng.fillNormal(new Float32Array(C * dim)) as Float32Array;
  const itemEmbeddings = new Float32Array(nI * dim);
  const itemCluster = new Int32Array(nI);
  const itemDistance = new Float32Array(nI);
  for (let i = 0; i < nI; i++) {
    const c = rng.int(C);
    itemCluster[i] = c;
    const s = rng.uniform(0.05, 0.6);
    let d2 = 0;
    for (let j = 0; j < dim; j++) {
      const z = s * rng.normal();
      itemEmbeddings[i * dim + j] = centres[c * dim + j] + z;
      d2 += z * z;
    }
    itemDistance[i] = Math.sqrt(d2);
  }
  const userEmbeddings = new Float32Array(nU * dim);
  const initialBeliefs = new Float32Array(nU * C);
  const optimalBeliefs = new Float32Array(nU * C);
  for (let u = 0; u < nU; u++) {
    const f = rng.int(C);
    for (let j = 0; j < dim; j++) userEmbeddings[u * dim + j] = centres[f * dim + j] + 0.5 * rng.normal();
    let s = 0;
    for (let c = 0; c < C; c++) {
      initialBeliefs[u * C + c] = rng.uniform(0, 0.001);
      optimalBeliefs[u * C + c] = rng.exponential(); // Gamma(1) draws normalised = Dirichlet(1)
      s += optimalBeliefs[u * C + c];
    }
    for (let c = 0; c < C; c++) optimalBeliefs[u * C + c] /= s;
  }
  const order = rng.shuffle(Int32Array.from({ length: nI }, (_, i) => i));
  const itemPopularity = new Float32Array(nI);
  for (let r = 0; r < nI; r++) itemPopularity[order[r]] = 1 / (r + 1);
  return { itemEmbeddings, itemCluster, itemDistance, userEmbeddings, initialBeliefs, optimalBeliefs, dim, numClusters: C, itemPopularity };
}
