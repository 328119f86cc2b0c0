/**
 * A small continuous-action RecEnv for tests (not exported): each user has a fixed embedding e_u (part of the state)
 * and a hidden target direction t_u = normalise(0.6 e_u + 0.8 G e_u / sqrt(d)) for one fixed random matrix G, so the
 * "pre-trained list" action e_u is only partly aligned with t_u (cosine about 0.6) and the best action must be learnt.
 * Reward = cos(action, t_u). A belief-like scalar moves by `rate * (cos - 0.7)` per round (clamped to [0, 1]):
 * users only improve when recommended something better aligned than 0.7. State = [belief, e_u] (1 + d numbers).
 * `info.accepted [batch]` = cos > 0.7; `info.improved [batch]` = belief above its episode-start value.
 */
import { Rng } from '@rec/core';
import type { ContinuousActionSpace, RecEnv, StepResult } from '@rec/env';

export class TargetCosineEnv implements RecEnv {
  readonly name = 'target-cosine';
  readonly observation: { shape: readonly number[] };
  readonly action: ContinuousActionSpace;
  readonly embeddings: Float32Array;
  readonly targets: Float32Array;
  private readonly belief: Float32Array;
  private readonly startBelief: Float32Array;
  private rng: Rng;
  private round = 0;

  constructor(
    readonly batchSize: number,
    readonly dim: number,
    readonly episodeRounds: number,
    seed = 1,
    readonly rate = 0.05,
  ) {
    this.observation = { shape: [1 + dim] };
    this.action = { type: 'continuous', dim, low: -1, high: 1 };
    const world = new Rng(seed);
    const g = world.fillNormal(new Float32Array(dim * dim)) as Float32Array;
    this.embeddings = new Float32Array(batchSize * dim);
    this.targets = new Float32Array(batchSize * dim);
    for (let u = 0; u < batchSize; u++) {
      const e = this.embeddings.subarray(u * dim, (u + 1) * dim);
      world.fillNormal(e);
      normalise(e);
      const t = this.targets.subarray(u * dim, (u + 1) * dim);
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += g[i * dim + j] * e[j];
        t[i] = 0.6 * e[i] + (0.8 * s) / Math.sqrt(dim);
      }
      normalise(t);
    }
    this.belief = new Float32Array(batchSize);
    this.startBelief = new Float32Array(batchSize);
    this.rng = new Rng(seed + 1);
  }

  seed(seed: number): void {
    this.rng = new Rng(seed);
  }

  private observe(): Float32Array {
    const d = this.dim;
    const obs = new Float32Array(this.batchSize * (1 + d));
    for (let u = 0; u < this.batchSize; u++) {
      obs[u * (1 + d)] = this.belief[u];
      obs.set(this.embeddings.subarray(u * d, (u + 1) * d), u * (1 + d) + 1);
    }
    return obs;
  }

  reset(): Float32Array {
    for (let u = 0; u < this.batchSize; u++) this.belief[u] = this.startBelief[u] = this.rng.uniform(0.2, 0.4);
    this.round = 0;
    return this.observe();
  }

  step(actions: Int32Array | Float32Array): StepResult {
    const d = this.dim;
    const reward = new Float32Array(this.batchSize);
    const accepted = new Uint8Array(this.batchSize);
    const improved = new Uint8Array(this.batchSize);
    for (let u = 0; u < this.batchSize; u++) {
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < d; i++) {
        const a = actions[u * d + i];
        dot += a * this.targets[u * d + i];
        norm += a * a;
      }
      const cos = dot / Math.max(Math.sqrt(norm), 1e-8);
      reward[u] = cos;
      accepted[u] = cos > 0.7 ? 1 : 0;
      this.belief[u] = Math.min(1, Math.max(0, this.belief[u] + this.rate * (cos - 0.7)));
      improved[u] = this.belief[u] > this.startBelief[u] ? 1 : 0;
    }
    this.round++;
    const done = new Uint8Array(this.batchSize).fill(this.round >= this.episodeRounds ? 1 : 0);
    return { obs: this.observe(), reward, done, info: { accepted, improved } };
  }

  /** The "pre-trained list" policy of this world: recommend along the user's own embedding. */
  pretrainedAction(obs: Float32Array): Float32Array {
    const d = this.dim;
    const n = obs.length / (1 + d);
    const out = new Float32Array(n * d);
    for (let u = 0; u < n; u++) out.set(obs.subarray(u * (1 + d) + 1, (u + 1) * (1 + d)), u * d);
    return out;
  }
}

function normalise(v: Float32Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s) || 1;
  for (let i = 0; i < v.length; i++) v[i] /= n;
}
