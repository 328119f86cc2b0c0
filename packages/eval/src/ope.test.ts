import { describe, expect, it } from 'vitest';
import { Rng } from '@rec/core';
import { ips, snips, doublyRobust, directMethod, crossFitDoublyRobust, tabularRewardModel, type LoggedBandit } from './ope.js';

describe('OPE estimators (hand-computed)', () => {
  // 4 rows, 2 actions. actions [0,1,0,1], rewards [1,0,1,0], logging propensities [0.5,0.5,0.25,0.75]
  // target pi(.|x): rows 0,1 -> [1, 0]; rows 2,3 -> [0.5, 0.5]; so pi(a_i|x_i) = [1, 0, 0.5, 0.5]
  // w = [2, 0, 2, 2/3]
  // IPS   = (2*1 + 0 + 2*1 + 0)/4 = 1
  // SNIPS = 4 / (2 + 0 + 2 + 2/3) = 4 / (14/3) = 6/7
  // DR with q = 0.5 everywhere: DM part 0.5 per row; terms = 0.5 + w (r - 0.5) = [1.5, 0.5, 1.5, 1/6], mean = 11/12
  const log: LoggedBandit = {
    context: Int32Array.from([0, 0, 1, 1]),
    action: Int32Array.from([0, 1, 0, 1]),
    reward: Float64Array.from([1, 0, 1, 0]),
    propensity: Float64Array.from([0.5, 0.5, 0.25, 0.75]),
  };
  const pi = Float64Array.from([1, 0, 1, 0, 0.5, 0.5, 0.5, 0.5]);
  const piLogged = Float64Array.from([1, 0, 0.5, 0.5]);
  const q = new Float64Array(8).fill(0.5);

  it('IPS, SNIPS, DR, DM', () => {
    const a = ips(log, piLogged);
    expect(a.value).toBeCloseTo(1, 12);
    // terms [2, 0, 2, 0], sample sd = sqrt(((1)^2*4)/3) = sqrt(4/3); se = sqrt(4/3)/2 = 0.57735
    expect(a.se).toBeCloseTo(Math.sqrt(4 / 3) / 2, 12);
    // ESS = (sum w)^2 / sum w^2 = (14/3)^2 / (4 + 4 + 4/9) = (196/9)/(76/9) = 196/76
    expect(a.ess).toBeCloseTo(196 / 76, 12);
    expect(snips(log, piLogged).value).toBeCloseTo(6 / 7, 12);
    expect(doublyRobust(log, pi, q, 2).value).toBeCloseTo(11 / 12, 12);
    expect(directMethod(pi, q, 2).value).toBeCloseTo(0.5, 12);
  });

  it('tabular reward model shrinks toward the action mean', () => {
    // context 0, action 0: one reward 1; action 0 mean over the log = (1 + 1)/2 = 1 -> (1 + 1*1)/(1 + 1) = 1
    // context 0, action 1: one reward 0; action 1 mean = 0 -> 0
    // with prior 1 and context 1 action 1: (0 + 0)/(1 + 1) = 0
    const m = tabularRewardModel(log, 2, 2);
    expect(m[0]).toBeCloseTo(1, 12);
    expect(m[1]).toBeCloseTo(0, 12);
  });

  it('rejects zero propensities', () => {
    const bad = { ...log, propensity: Float64Array.from([0.5, 0, 0.25, 0.75]) };
    expect(() => ips(bad, piLogged)).toThrow(/propensity\[1\]/);
  });
});

/**
 * A small contextual-bandit simulator with a known value: 6 contexts (uniform), 5 actions, Bernoulli rewards with
 * probability table r(c, a). Logging policy: softmax of noisy scores (every action has propensity > 0.03); target
 * policy: a different fixed stochastic policy. True value V = (1/6) sum_c sum_a pi(a|c) r(c, a).
 */
function makeWorld(seed: number) {
  const rng = new Rng(seed);
  const C = 6;
  const A = 5;
  const r = new Float64Array(C * A);
  const mu = new Float64Array(C * A);
  const pi = new Float64Array(C * A);
  for (let c = 0; c < C; c++) {
    let zm = 0;
    let zp = 0;
    for (let a = 0; a < A; a++) {
      r[c * A + a] = 0.05 + 0.6 * rng.next();
      mu[c * A + a] = Math.exp(rng.normal() * 0.5);
      pi[c * A + a] = Math.exp(4 * r[c * A + a] + rng.normal() * 0.3); // the target leans toward good actions
      zm += mu[c * A + a];
      zp += pi[c * A + a];
    }
    for (let a = 0; a < A; a++) {
      mu[c * A + a] /= zm;
      pi[c * A + a] /= zp;
    }
  }
  let truth = 0;
  for (let c = 0; c < C; c++) for (let a = 0; a < A; a++) truth += (pi[c * A + a] * r[c * A + a]) / C;
  return { C, A, r, mu, pi, truth };
}

function simulateLog(world: ReturnType<typeof makeWorld>, n: number, rng: Rng) {
  const { C, A, r, mu, pi } = world;
  const log: LoggedBandit = {
    context: new Int32Array(n),
    action: new Int32Array(n),
    reward: new Float64Array(n),
    propensity: new Float64Array(n),
  };
  const targetProbs = new Float64Array(n * A);
  const piLogged = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.int(C);
    let u = rng.next();
    let a = 0;
    while (a < A - 1 && u >= mu[c * A + a]) u -= mu[c * A + a++];
    log.context![i] = c;
    log.action[i] = a;
    log.propensity[i] = mu[c * A + a];
    log.reward[i] = rng.next() < r[c * A + a] ? 1 : 0;
    targetProbs.set(pi.subarray(c * A, c * A + A), i * A);
    piLogged[i] = pi[c * A + a];
  }
  return { log, targetProbs, piLogged };
}

describe('OPE on a simulator with a known value', () => {
  it('95% intervals of IPS, SNIPS and cross-fitted DR cover the true value in ~95% of replications', () => {
    const world = makeWorld(7);
    const rng = new Rng(99);
    const reps = 200;
    const cover = { ips: 0, snips: 0, dr: 0 };
    const width = { ips: 0, snips: 0, dr: 0 };
    let loggingValue = 0;
    for (let rep = 0; rep < reps; rep++) {
      const { log, targetProbs, piLogged } = simulateLog(world, 2000, rng);
      const e = {
        ips: ips(log, piLogged),
        snips: snips(log, piLogged),
        dr: crossFitDoublyRobust(log, targetProbs, world.C, world.A, { seed: rep }),
      };
      for (const k of ['ips', 'snips', 'dr'] as const) {
        if (e[k].lo <= world.truth && world.truth <= e[k].hi) cover[k]++;
        width[k] += (e[k].hi - e[k].lo) / reps;
      }
      let s = 0;
      for (let i = 0; i < log.reward.length; i++) s += log.reward[i];
      loggingValue += s / log.reward.length / reps;
    }
    console.log(`OPE coverage over ${reps} reps: ips ${cover.ips / reps}, snips ${cover.snips / reps}, dr ${cover.dr / reps}; mean widths ips ${width.ips.toFixed(4)}, snips ${width.snips.toFixed(4)}, dr ${width.dr.toFixed(4)}; truth ${world.truth.toFixed(4)} vs logging ${loggingValue.toFixed(4)}`);
    // binomial(200, 0.95) sd = 3.1 rows: require >= 0.95 - 3 sd = 0.90
    for (const k of ['ips', 'snips', 'dr'] as const) expect(cover[k] / reps).toBeGreaterThanOrEqual(0.9);
    // DR with a decent reward model is tighter than IPS
    expect(width.dr).toBeLessThan(width.ips);
    // the target policy is genuinely different from (better than) the logging policy, so this is not trivial
    expect(world.truth - loggingValue).toBeGreaterThan(0.05);
  });

  it('seeded bootstrap intervals are reproducible and close to the analytic one', () => {
    const world = makeWorld(3);
    const { log, piLogged } = simulateLog(world, 3000, new Rng(1));
    const a = ips(log, piLogged, { bootstrap: 300, seed: 4 });
    const b = ips(log, piLogged, { bootstrap: 300, seed: 4 });
    const c = ips(log, piLogged);
    expect(a.lo).toBe(b.lo);
    expect(a.hi - a.lo).toBeGreaterThan(0.8 * (c.hi - c.lo));
    expect(a.hi - a.lo).toBeLessThan(1.2 * (c.hi - c.lo));
  });
});
