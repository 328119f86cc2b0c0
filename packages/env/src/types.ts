/**
 * The environment contract both agents use. Vectorized: one `step` advances a batch of users with typed arrays
 * in and out, shaped `[batch, ...]` in row-major order. No per-user objects on the hot path.
 */

/** Discrete item actions: each user gets a slate of `slateSize` item ids in `[0, numItems)`. */
export interface DiscreteActionSpace {
  type: 'discrete';
  numItems: number;
  /** Items per user per step (1 for a single recommendation). */
  slateSize: number;
}

/** Continuous actions, e.g. a 64-d virtual item in [-1, 1] (the TD3 design). */
export interface ContinuousActionSpace {
  type: 'continuous';
  dim: number;
  low: number;
  high: number;
}

export type ActionSpace = DiscreteActionSpace | ContinuousActionSpace;

export interface ObservationSpace {
  /** Per-user observation shape, e.g. `[10, 10]` (sequence x features) or `[69]`. */
  shape: readonly number[];
}

/** What `step` returns; every array has `batchSize` rows. */
export interface StepResult {
  /** Next observations `[batch, ...observation.shape]`. */
  obs: Float32Array;
  /** Reward per user `[batch]`. */
  reward: Float32Array;
  /** 1 where the user's episode ended with this step `[batch]`; such a user must be `reset` before stepping again. */
  done: Uint8Array;
  /** Environment-specific extras as typed arrays (e.g. `accepted [batch, slate]`, `response [batch]`). */
  info: Record<string, Float32Array | Int32Array | Uint8Array>;
}

export interface RecEnv {
  readonly name: string;
  readonly observation: ObservationSpace;
  readonly action: ActionSpace;
  /** Number of users advanced by one `step`. */
  readonly batchSize: number;
  /**
   * Start episodes for a batch of users (`users` length = batchSize; omitted: the environment picks them with its
   * seeded generator). Returns observations `[batch, ...observation.shape]`.
   */
  reset(users?: Int32Array): Float32Array;
  /** Apply actions: `Int32Array [batch * slateSize]` (discrete) or `Float32Array [batch * dim]` (continuous). */
  step(actions: Int32Array | Float32Array): StepResult;
  /** Optional: items each user may not be recommended now (already bought), as CSR over the batch. */
  excluded?(): { offsets: Int32Array; items: Int32Array };
  /** Re-seed the environment's generator. */
  seed?(seed: number): void;
}

/** A policy in the environment's terms: observations in, actions out. */
export interface Policy {
  readonly name: string;
  act(obs: Float32Array, env: RecEnv): Int32Array | Float32Array;
}
