/**
 * A tiny deterministic RecEnv with a planted next-item structure, for tests where learning is provable.
 * Each user has a current item c; the true next item is perm[c] (a fixed random permutation). Reward is 1 when
 * the recommended item is perm[c]; the user then moves to perm[c] whatever was recommended (logged-replay style).
 * The observation is the last `seqLen` items, each as a fixed random `featureDim`-vector.
 * Random and most-popular policies both hit 1/numItems in expectation; the greedy optimum hits 1.
 */
import { Rng, type RngState } from '@rec/core';
import type { RecEnv, StepResult } from '@rec/env';

export interface PlantedEnvOptions {
  numItems: number;
  seqLen: number;
  featureDim: number;
  batchSize: number;
  episodeLength: number;
  seed: number;
  /** Put the rewarded item in `info.target`. */
  revealTarget?: boolean;
}

export class PlantedNextItemEnv implements RecEnv {
  readonly name = 'planted-next-item';
  readonly observation: { shape: readonly number[] };
  readonly action: { type: 'discrete'; numItems: number; slateSize: number };
  readonly batchSize: number;
  readonly perm: Int32Array;
  private readonly itemFeatures: Float32Array;
  private readonly history: Int32Array;
  private t = 0;
  private rng: Rng;

  constructor(readonly o: PlantedEnvOptions) {
    this.observation = { shape: [o.seqLen, o.featureDim] };
    this.action = { type: 'discrete', numItems: o.numItems, slateSize: 1 };
    this.batchSize = o.batchSize;
    const setup = new Rng(o.seed);
    this.perm = setup.shuffle(Int32Array.from({ length: o.numItems }, (_, i) => i));
    this.itemFeatures = new Float32Array(o.numItems * o.featureDim);
    for (let i = 0; i < this.itemFeatures.length; i++) this.itemFeatures[i] = setup.uniform(-1, 1);
    this.history = new Int32Array(o.batchSize * o.seqLen);
    this.rng = setup.split('users');
  }

  private observe(): Float32Array {
    const { seqLen, featureDim, batchSize } = this.o;
    const obs = new Float32Array(batchSize * seqLen * featureDim);
    for (let i = 0; i < batchSize * seqLen; i++) obs.set(this.itemFeatures.subarray(this.history[i] * featureDim, (this.history[i] + 1) * featureDim), i * featureDim);
    return obs;
  }

  reset(): Float32Array {
    for (let i = 0; i < this.history.length; i++) this.history[i] = this.rng.int(this.o.numItems);
    this.t = 0;
    return this.observe();
  }

  step(actions: Int32Array | Float32Array): StepResult {
    const { batchSize, seqLen } = this.o;
    const reward = new Float32Array(batchSize);
    const done = new Uint8Array(batchSize);
    const target = new Int32Array(batchSize);
    this.t++;
    for (let b = 0; b < batchSize; b++) {
      const cur = this.history[b * seqLen + seqLen - 1];
      const next = this.perm[cur];
      reward[b] = actions[b] === next ? 1 : 0;
      target[b] = next;
      this.history.copyWithin(b * seqLen, b * seqLen + 1, (b + 1) * seqLen);
      this.history[b * seqLen + seqLen - 1] = next;
      done[b] = this.t >= this.o.episodeLength ? 1 : 0;
    }
    // Like @rec/env's replay env, name the rewarded item (only the full-information update reads it).
    return { obs: this.observe(), reward, done, info: this.o.revealTarget ? { target } : {} };
  }

  getState(): { rng: RngState; t: number; history: number[] } {
    return { rng: this.rng.getState(), t: this.t, history: Array.from(this.history) };
  }

  setState(s: { rng: RngState; t: number; history: number[] }): void {
    this.rng.setState(s.rng);
    this.t = s.t;
    this.history.set(s.history);
  }
}
