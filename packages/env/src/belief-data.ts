/**
 * Inputs for the user-belief simulator: from item embeddings + cluster ids + an interaction log (what @rec/data
 * produces), or synthetic (clustered Gaussian embeddings) for tests and benchmarks.
 */
import { InvalidArgumentError, Rng, ShapeError, check } from '@rec/core';
import type { BeliefSimData } from './belief-sim.js';
import { clusterCentres } from './belief-sim.js';

export interface BeliefSimInputs {
  /** Item embeddings `[numItems * dim]` (e.g. from @rec/data). */
  itemEmbeddings: Float32Array;
  /** Cluster id per item `[numItems]` (e.g. k-means over the embeddings). */
  itemCluster: Int32Array;
  /** Embedding width. Default 64. */
  dim?: number;
  /** Number of clusters. Default: 1 + the largest cluster id. */
  numClusters?: number;
  /** Interactions with dense ids (the log's `user` and `item` columns). */
  user: Int32Array;
  item: Int32Array;
  numUsers: number;
  /** User embeddings `[numUsers * dim]`; default: the mean embedding of the items each user touched. */
  userEmbeddings?: Float32Array;
  /** Initial belief = initialScale x the user's share of interactions in the cluster. Default 0.001 (tiny). */
  initialScale?: number;
  /** Optimal beliefs: 'share' (the user's cluster shares in the log, default), 'uniform' (1/C), or explicit. */
  optimal?: 'share' | 'uniform' | Float32Array;
  /** Rescale item distances so the largest equals this (the acceptance formula's maxDistance); null: raw. Default 5. */
  distanceTarget?: number | null;
  userIds?: ArrayLike<number>;
}

/** Build the simulator's arrays from embeddings, clusters and a log. */
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
  if (input.user.length !== input.item.length) throw new ShapeError('user and item columns differ in length', { where: W, expected: `equal lengths`, got: [input.user.length, input.item.length] });

  // Item distance to its cluster centre, rescaled so the farthest item sits at distanceTarget.
  const centres = clusterCentres(input.itemEmbeddings, input.itemCluster, dim, C);
  const itemDistance = new Float32Array(nI);
  let maxD = 0;
  for (let i = 0; i < nI; i++) {
    const c = input.itemCluster[i];
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const d = input.itemEmbeddings[i * dim + j] - centres[c * dim + j];
      s += d * d;
    }
    itemDistance[i] = Math.sqrt(s);
    if (itemDistance[i] > maxD) maxD = itemDistance[i];
  }
  const target = input.distanceTarget === undefined ? 5 : input.distanceTarget;
  if (target !== null && maxD > 0) for (let i = 0; i < nI; i++) itemDistance[i] *= target / maxD;

  // Per-user cluster counts and mean item embedding.
  const counts = new Float64Array(nU * C);
  const total = new Float64Array(nU);
  const userEmb = input.userEmbeddings ?? new Float32Array(nU * dim);
  for (let r = 0; r < input.user.length; r++) {
    const u = input.user[r];
    const it = input.item[r];
    if (!(u >= 0 && u < nU && it >= 0 && it < nI)) {
      throw new InvalidArgumentError('interaction ids out of range', { where: `${W}(row ${r})`, expected: `user in [0, ${nU}), item in [0, ${nI})`, got: [u, it], hint: 'pass the dense ids of a reindexed log' });
    }
    counts[u * C + input.itemCluster[it]]++;
    total[u]++;
    if (!input.userEmbeddings) for (let j = 0; j < dim; j++) userEmb[u * dim + j] += input.itemEmbeddings[it * dim + j];
  }
  if (!input.userEmbeddings) {
    for (let u = 0; u < nU; u++) if (total[u] > 0) for (let j = 0; j < dim; j++) userEmb[u * dim + j] /= total[u];
  } else if (userEmb.length !== nU * dim) {
    throw new ShapeError('user embeddings have the wrong length', { where: `${W}(userEmbeddings)`, expected: `${nU * dim}`, got: userEmb.length });
  }
  const scale = input.initialScale ?? 0.001;
  const initialBeliefs = new Float32Array(nU * C);
  for (let u = 0; u < nU; u++) for (let c = 0; c < C; c++) initialBeliefs[u * C + c] = total[u] > 0 ? (scale * counts[u * C + c]) / total[u] : 0;
  let optimalBeliefs: Float32Array;
  if (input.optimal instanceof Float32Array) {
    optimalBeliefs = input.optimal;
  } else if (input.optimal === 'uniform') {
    optimalBeliefs = new Float32Array(C).fill(1 / C);
  } else {
    optimalBeliefs = new Float32Array(nU * C);
    for (let u = 0; u < nU; u++) for (let c = 0; c < C; c++) optimalBeliefs[u * C + c] = total[u] > 0 ? counts[u * C + c] / total[u] : 1 / C;
  }
  return { itemEmbeddings: input.itemEmbeddings, itemCluster: input.itemCluster, itemDistance, userEmbeddings: userEmb, initialBeliefs, optimalBeliefs, dim, numClusters: C, userIds: input.userIds };
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
