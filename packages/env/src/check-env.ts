/**
 * `checkEnv`: validate a (custom) environment against the contract in `types.ts` and say what to fix, in the
 * spirit of Stable-Baselines3's env checker. It steps the environment, so pass a fresh instance you can re-seed.
 */
import { EnvContractError, RecError, Rng } from '@rec/core';
import type { RecEnv, StepResult } from './types.js';
import { firstNonFinite } from './util.js';

export interface CheckEnvOptions {
  /** Steps to run after `reset` (fewer when every user finishes first). Default 3. */
  steps?: number;
  /** Seed for the random actions the checker sends and for `env.seed`. Default 0. */
  seed?: number;
  /** Also check that re-seeding reproduces the same trajectory (needs `env.seed`). Default true. */
  determinism?: boolean;
  /** Also check that malformed actions are rejected with a RecError. Default true. */
  badActions?: boolean;
}

export interface CheckEnvReport {
  /** Steps taken in the main pass. */
  steps: number;
  /** Things that do not break the contract but probably should be fixed. */
  warnings: string[];
}

/** Actions the checker sends: random distinct items per user (discrete) or uniform in [low, high] (continuous). */
function randomActions(env: RecEnv, rng: Rng): Int32Array | Float32Array {
  const b = env.batchSize;
  if (env.action.type === 'discrete') {
    const { numItems, slateSize } = env.action;
    const out = new Int32Array(b * slateSize);
    for (let u = 0; u < b; u++) out.set(rng.sampleWithoutReplacement(numItems, slateSize), u * slateSize);
    return out;
  }
  const { dim, low, high } = env.action;
  const out = new Float32Array(b * dim);
  for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * rng.next();
  return out;
}

/**
 * Validate `env` against the contract. Throws EnvContractError listing every problem found (each with what was
 * expected, what was got, and what to do); returns warnings otherwise.
 */
export function checkEnv(env: RecEnv, options: CheckEnvOptions = {}): CheckEnvReport {
  const steps = options.steps ?? 3;
  const seed = options.seed ?? 0;
  const problems: string[] = [];
  const warnings: string[] = [];
  const label = `checkEnv(${typeof env?.name === 'string' ? env.name : '?'})`;
  const fail = (msg: string): void => void problems.push(msg);
  const finish = (): CheckEnvReport => {
    if (problems.length > 0) {
      throw new EnvContractError(`${problems.length} contract problem(s): ${problems.map((p, i) => `(${i + 1}) ${p}`).join(' ')}`, {
        where: label,
        hint: 'see RecEnv in @rec/env types.ts for the contract',
      });
    }
    return { steps: taken, warnings };
  };
  let taken = 0;

  // Static description.
  if (typeof env !== 'object' || env === null) {
    fail(`env must be an object implementing RecEnv; got ${String(env)}.`);
    return finish();
  }
  if (typeof env.name !== 'string' || env.name.length === 0) fail('`name` must be a non-empty string (used in logs and errors).');
  if (!Number.isInteger(env.batchSize) || env.batchSize <= 0) fail(`\`batchSize\` must be a positive integer; got ${String(env.batchSize)}.`);
  const shape = env.observation?.shape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    fail(`\`observation.shape\` must be a non-empty array of positive integers such as [69] or [10, 10]; got ${JSON.stringify(shape)}.`);
  }
  const a = env.action;
  if (a?.type === 'discrete') {
    if (!Number.isInteger(a.numItems) || a.numItems <= 0) fail(`\`action.numItems\` must be a positive integer; got ${String(a.numItems)}.`);
    if (!Number.isInteger(a.slateSize) || a.slateSize <= 0 || a.slateSize > a.numItems) {
      fail(`\`action.slateSize\` must be an integer in [1, numItems=${a.numItems}]; got ${String(a.slateSize)}.`);
    }
  } else if (a?.type === 'continuous') {
    if (!Number.isInteger(a.dim) || a.dim <= 0) fail(`\`action.dim\` must be a positive integer; got ${String(a.dim)}.`);
    if (!(Number.isFinite(a.low) && Number.isFinite(a.high) && a.low < a.high)) fail(`\`action.low\` < \`action.high\` must be finite; got [${a.low}, ${a.high}].`);
  } else {
    fail(`\`action.type\` must be 'discrete' or 'continuous'; got ${JSON.stringify((a as { type?: unknown } | undefined)?.type)}.`);
  }
  if (typeof env.reset !== 'function' || typeof env.step !== 'function') fail('`reset` and `step` must be methods.');
  if (problems.length > 0) return finish();

  const b = env.batchSize;
  let osz = 1;
  for (const d of shape) osz *= d;

  const checkObs = (obs: unknown, where: string): void => {
    if (!(obs instanceof Float32Array)) {
      fail(`${where} must return a Float32Array [batch, ...shape]; got ${obs?.constructor?.name ?? typeof obs}.`);
    } else if (obs.length !== b * osz) {
      fail(`${where} returned ${obs.length} numbers; expected batchSize ${b} x ${shape.join('x')} = ${b * osz}. Lay observations out row-major, one row per user.`);
    } else {
      const i = firstNonFinite(obs);
      if (i >= 0) fail(`${where} returned a non-finite observation value ${obs[i]} at index ${i} (user ${Math.floor(i / osz)}); replace NaN/Infinity (e.g. missing features) by 0.`);
    }
  };
  const checkResult = (r: StepResult, where: string): void => {
    if (typeof r !== 'object' || r === null) {
      fail(`${where} must return {obs, reward, done, info}; got ${String(r)}.`);
      return;
    }
    checkObs(r.obs, `${where}.obs`);
    if (!(r.reward instanceof Float32Array) || r.reward.length !== b) {
      fail(`${where}.reward must be a Float32Array of length batchSize ${b}; got ${r.reward?.constructor?.name}(${(r.reward as { length?: number })?.length}).`);
    } else if (firstNonFinite(r.reward) >= 0) {
      fail(`${where}.reward has a non-finite value at user ${firstNonFinite(r.reward)}.`);
    }
    if (!(r.done instanceof Uint8Array) || r.done.length !== b) {
      fail(`${where}.done must be a Uint8Array of length batchSize ${b}; got ${r.done?.constructor?.name}(${(r.done as { length?: number })?.length}).`);
    } else if (r.done.some((d) => d > 1)) {
      fail(`${where}.done must hold only 0 and 1.`);
    }
    if (typeof r.info !== 'object' || r.info === null) {
      fail(`${where}.info must be an object of typed arrays (use {} when there is nothing to report).`);
    } else {
      for (const [k, v] of Object.entries(r.info)) {
        if (!(v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array)) {
          fail(`${where}.info.${k} must be a Float32Array, Int32Array or Uint8Array (no per-user objects); got ${(v as object)?.constructor?.name ?? typeof v}.`);
        } else if (v.length % b !== 0) {
          warnings.push(`${where}.info.${k} has length ${v.length}, not a multiple of batchSize ${b}; consumers expect [batch, ...] rows.`);
        }
      }
    }
  };

  const run = (n: number, rng: Rng): { obs: Float32Array[]; rewards: Float32Array[] } => {
    const obs: Float32Array[] = [];
    const rewards: Float32Array[] = [];
    const o0 = env.reset();
    checkObs(o0, 'reset()');
    if (o0 instanceof Float32Array) obs.push(o0.slice());
    let alive = true;
    for (let t = 0; t < n && alive && problems.length === 0; t++) {
      const actions = randomActions(env, rng);
      let r: StepResult;
      try {
        r = env.step(actions);
      } catch (e) {
        fail(`step() threw on valid actions (${actions.constructor.name} of length ${actions.length}) at step ${t}: ${(e as Error).message}`);
        break;
      }
      checkResult(r, `step() #${t}`);
      if (problems.length > 0) break;
      obs.push(r.obs.slice());
      rewards.push(r.reward.slice());
      alive = r.done.some((d) => d === 0);
    }
    return { obs, rewards };
  };

  // Main pass.
  try {
    if (env.seed) env.seed(seed);
    const first = run(steps, new Rng(seed));
    taken = first.rewards.length;
    if (problems.length > 0) return finish();

    // Same seed, same trajectory.
    if ((options.determinism ?? true) && problems.length === 0) {
      if (!env.seed) {
        warnings.push('env has no seed(seed) method, so determinism could not be checked; add one that re-seeds its generator.');
      } else {
        env.seed(seed);
        const second = run(steps, new Rng(seed));
        const same =
          first.obs.length === second.obs.length &&
          first.obs.every((o, i) => o.length === second.obs[i].length && o.every((x, j) => Object.is(x, second.obs[i][j]))) &&
          first.rewards.every((r, i) => r.every((x, j) => Object.is(x, second.rewards[i][j])));
        if (!same) {
          fail('re-seeding with the same seed and sending the same actions gave a different trajectory; draw every random number from the seeded generator that seed() resets (never Math.random) and reset all state in reset().');
        }
      }
    }

    // Malformed actions must be rejected with a RecError, not silently accepted.
    if ((options.badActions ?? true) && problems.length === 0) {
      env.reset();
      const good = randomActions(env, new Rng(seed + 1));
      const tooShort = good.slice(0, Math.max(0, good.length - 1));
      const wrongType = env.action.type === 'discrete' ? new Float32Array(good.length) : new Int32Array(good.length);
      const outOfRange = env.action.type === 'discrete' ? new Int32Array(good.length).fill(env.action.numItems) : null;
      const bad: Array<[string, Int32Array | Float32Array]> = [
        [`actions one short (length ${tooShort.length})`, tooShort],
        [`actions of the wrong type (${wrongType.constructor.name})`, wrongType],
      ];
      if (outOfRange) bad.push([`out-of-range item ids (${env.action.type === 'discrete' ? env.action.numItems : ''})`, outOfRange]);
      for (const [what, acts] of bad) {
        env.reset();
        try {
          env.step(acts);
          fail(`step() accepted ${what}; validate actions at the boundary and throw a ShapeError / InvalidArgumentError from @rec/core.`);
        } catch (e) {
          if (!RecError.isInstance(e)) fail(`step() rejected ${what} with a ${(e as Error)?.constructor?.name ?? typeof e}, not a RecError; throw a RecError subclass from @rec/core saying where, what was expected and what was got.`);
        }
      }
      env.reset();
    }
  } catch (e) {
    fail(`the environment threw during checking: ${(e as Error).message}`);
  }
  return finish();
}
