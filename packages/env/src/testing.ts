/**
 * `@rec/env/testing`: a recording mock environment for tests of agents, evaluators and services. It follows the
 * contract exactly (checkEnv passes), is fully seeded, and records every call for assertions.
 */
import { InvalidArgumentError, Rng, check } from '@rec/core';
import type { ActionSpace, RecEnv, StepResult } from './types.js';
import { checkActions, checkUsers, notReset } from './util.js';

export interface MockEnvOptions {
  /** Users per step. Default 4. */
  batchSize?: number;
  /** Per-user observation shape. Default [8]. */
  obsShape?: readonly number[];
  /** Action space. Default discrete, 20 items, slate 1. */
  action?: ActionSpace;
  /** Steps per episode. Default 5. */
  episodeLength?: number;
  /** Users the mock knows (`reset(users)` indices must be below this). Default 100. */
  numUsers?: number;
  /** Seed for observations and for the users `reset()` picks. Default 0. */
  seed?: number;
}

/** One recorded call. Arrays are copies, so later mutation by the caller does not change the record. */
export type MockCall =
  | { method: 'reset'; users: Int32Array }
  | { method: 'step'; t: number; actions: Int32Array | Float32Array; reward: Float32Array };

/**
 * A recording environment with a known optimum. Discrete: reward 1 for each slate item equal to the user's target
 * item `(7 * user + t) mod numItems`, which is also written into the first observation number (scaled by
 * 1/numItems), so a learner can find it. Continuous: reward `-mean((action - target)^2)` with target 0.5 in every
 * dimension. The other observation numbers are seeded noise.
 */
export class MockEnv implements RecEnv {
  readonly name = 'mock';
  readonly observation: { shape: readonly number[] };
  readonly action: ActionSpace;
  readonly batchSize: number;
  readonly episodeLength: number;
  readonly numUsers: number;
  /** Every reset/step call in order. */
  readonly calls: MockCall[] = [];
  private rng: Rng;
  private users: Int32Array | null = null;
  private t = 0;
  private readonly osz: number;

  constructor(options: MockEnvOptions = {}) {
    this.batchSize = options.batchSize ?? 4;
    this.observation = { shape: options.obsShape ?? [8] };
    this.action = options.action ?? { type: 'discrete', numItems: 20, slateSize: 1 };
    this.episodeLength = options.episodeLength ?? 5;
    this.numUsers = options.numUsers ?? 100;
    check(Number.isInteger(this.batchSize) && this.batchSize > 0, 'MockEnv(batchSize)', 'a positive integer', this.batchSize);
    check(Number.isInteger(this.episodeLength) && this.episodeLength > 0, 'MockEnv(episodeLength)', 'a positive integer', this.episodeLength);
    this.osz = this.observation.shape.reduce((p, d) => p * d, 1);
    this.rng = new Rng(options.seed ?? 0);
  }

  seed(seed: number): void {
    this.rng = new Rng(seed);
  }

  /** The target item of `user` at step `t` (discrete action spaces). */
  targetItem(user: number, t: number): number {
    if (this.action.type !== 'discrete') throw new InvalidArgumentError('no target item', { where: 'MockEnv.targetItem', expected: 'a discrete action space', got: this.action.type });
    return (7 * user + t) % this.action.numItems;
  }

  reset(users?: Int32Array): Float32Array {
    if (users) checkUsers(users, this.batchSize, this.numUsers, 'MockEnv.reset(users)');
    const u = users ? users.slice() : new Int32Array(this.batchSize).map(() => this.rng.int(this.numUsers));
    this.users = u;
    this.t = 0;
    this.calls.push({ method: 'reset', users: u.slice() });
    return this.observe();
  }

  step(actions: Int32Array | Float32Array): StepResult {
    if (!this.users) notReset('MockEnv.step');
    const a = this.action;
    const per = a.type === 'discrete' ? a.slateSize : a.dim;
    checkActions(actions, a.type, this.batchSize, per, 'MockEnv.step(actions)', a.type === 'discrete' ? a.numItems : 0);
    const reward = new Float32Array(this.batchSize);
    const done = new Uint8Array(this.batchSize);
    const active = new Uint8Array(this.batchSize);
    const over = this.t >= this.episodeLength;
    for (let u = 0; u < this.batchSize; u++) {
      done[u] = this.t + 1 >= this.episodeLength ? 1 : 0;
      if (over) continue; // frozen after done: no reward until reset
      active[u] = 1;
      if (a.type === 'discrete') {
        const target = this.targetItem(this.users[u], this.t);
        for (let j = 0; j < per; j++) if (actions[u * per + j] === target) reward[u] += 1;
      } else {
        let s = 0;
        for (let j = 0; j < per; j++) s += (actions[u * per + j] - 0.5) ** 2;
        reward[u] = -s / per;
      }
    }
    if (!over) this.t++;
    this.calls.push({ method: 'step', t: this.t, actions: actions.slice(), reward: reward.slice() });
    return { obs: this.observe(), reward, done, info: { active } };
  }

  private observe(): Float32Array {
    const obs = new Float32Array(this.batchSize * this.osz);
    const users = this.users as Int32Array;
    for (let u = 0; u < this.batchSize; u++) {
      const o = u * this.osz;
      obs[o] = this.action.type === 'discrete' ? this.targetItem(users[u], this.t) / this.action.numItems : 0.5;
      for (let j = 1; j < this.osz; j++) obs[o + j] = this.rng.normal();
    }
    return obs;
  }
}
