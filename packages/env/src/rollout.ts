/** A flat collect loop (Stable-Baselines3 / Tianshou style): run a policy in a vectorized env to the end of the episodes. */
import { check } from '@rec/core';
import type { Policy, RecEnv, StepResult } from './types.js';

export interface RolloutStep {
  t: number;
  obs: Float32Array;
  actions: Int32Array | Float32Array;
  result: StepResult;
  /** 1 where the user was still in its episode before this step (its reward counts). */
  active: Uint8Array;
}

export interface RolloutOptions {
  /** Users to reset with (length batchSize); omitted: the environment picks. */
  users?: Int32Array;
  /** Stop after this many steps even if some users are still going. Default 1,000. */
  maxSteps?: number;
  /** Called after every step (e.g. to push transitions into a ReplayBuffer). */
  onStep?: (step: RolloutStep) => void;
}

export interface RolloutResult {
  /** Steps taken (batch steps). */
  steps: number;
  /** Sum of rewards per user over its episode `[batch]`. */
  episodeReturn: Float32Array;
  /** Steps per user until done (or until maxSteps) `[batch]`. */
  episodeLength: Int32Array;
  /** Mean of `episodeReturn`. */
  meanReturn: number;
  /** Mean reward per user-step. */
  meanReward: number;
  /** Users whose episode finished. */
  finished: number;
  /** Per-step sums of every numeric info array over active users (e.g. `info.accepted` totals). */
  infoTotals: Record<string, number>;
  seconds: number;
  /** User-steps per second (batch x steps / seconds, including the policy). */
  userStepsPerSecond: number;
}

/** Run `policy` in `env` from `reset` until every user is done (or `maxSteps`). */
export function rollout(env: RecEnv, policy: Policy, options: RolloutOptions = {}): RolloutResult {
  const maxSteps = options.maxSteps ?? 1000;
  check(Number.isInteger(maxSteps) && maxSteps > 0, 'rollout(maxSteps)', 'a positive integer', maxSteps);
  const b = env.batchSize;
  const t0 = performance.now();
  let obs = env.reset(options.users);
  const ret = new Float32Array(b);
  const len = new Int32Array(b);
  const finished = new Uint8Array(b);
  const infoTotals: Record<string, number> = {};
  let steps = 0;
  let userSteps = 0;
  while (steps < maxSteps && finished.some((f) => f === 0)) {
    const actions = policy.act(obs, env);
    const result = env.step(actions);
    const active = new Uint8Array(b);
    for (let u = 0; u < b; u++) {
      if (finished[u]) continue;
      active[u] = 1;
      ret[u] += result.reward[u];
      len[u]++;
      userSteps++;
      if (result.done[u]) finished[u] = 1;
    }
    for (const [k, v] of Object.entries(result.info)) {
      const per = v.length / b;
      if (!Number.isInteger(per)) continue;
      let s = 0;
      for (let u = 0; u < b; u++) if (active[u]) for (let j = 0; j < per; j++) s += v[u * per + j];
      infoTotals[k] = (infoTotals[k] ?? 0) + s;
    }
    options.onStep?.({ t: steps, obs, actions, result, active });
    obs = result.obs;
    steps++;
  }
  const seconds = (performance.now() - t0) / 1000;
  let total = 0;
  for (let u = 0; u < b; u++) total += ret[u];
  let nf = 0;
  for (let u = 0; u < b; u++) nf += finished[u];
  return {
    steps,
    episodeReturn: ret,
    episodeLength: len,
    meanReturn: total / b,
    meanReward: userSteps > 0 ? total / userSteps : 0,
    finished: nf,
    infoTotals,
    seconds,
    userStepsPerSecond: seconds > 0 ? userSteps / seconds : Infinity,
  };
}
