import { describe, expect, it } from 'vitest';
import { Rng } from '@rec/core';
import {
  twoProportionTest,
  welchTest,
  sampleRatioMismatch,
  cuped,
  msprtLikelihoodRatio,
  msprtHalfWidth,
  MixtureSequentialTest,
  summarize,
} from './ab.js';
import { normalSf, normalCdf, chiSquareSf, tSf, normalQuantile } from './stats.js';

// Reference values marked "scipy" were computed with scipy 1.17.1 (scipy.stats.norm/t/chi2, ttest_ind,
// chisquare) on this machine; the others are derived by hand in the comments.

describe('distribution tails', () => {
  it('match scipy far into the tails', () => {
    // scipy: norm.cdf(-6) = 9.865876450376946e-10; 2*norm.sf(8.5) = 1.89590696444065e-17
    expect(normalCdf(-6)).toBeCloseTo(9.865876450376946e-10, 20);
    expect(normalCdf(-6) / 9.865876450376946e-10).toBeCloseTo(1, 10);
    expect((2 * normalSf(8.5)) / 1.89590696444065e-17).toBeCloseTo(1, 8);
    // scipy: chi2.sf(60, 1) = 9.485737571073857e-15 (1 - cdf would lose most digits here)
    expect(chiSquareSf(60, 1) / 9.485737571073857e-15).toBeCloseTo(1, 8);
    // scipy: 2*t.sf(10, 3) = 0.0021283990584141503
    expect(2 * tSf(10, 3)).toBeCloseTo(0.0021283990584141503, 12);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 12);
  });
});

describe('two-proportion z-test', () => {
  // A: 200/1000, B: 250/1000.
  // pooled p = 450/2000 = 0.225; se0 = sqrt(0.225*0.775*(2/1000)) = sqrt(3.4875e-4) = 0.0186748
  // z = 0.05 / 0.0186748 = 2.677398 (scipy two-sided p = 0.007419649261025687)
  // unpooled se = sqrt(0.2*0.8/1000 + 0.25*0.75/1000) = sqrt(3.475e-4) = 0.0186414
  // diff CI = 0.05 -+ 1.959964*0.0186414 = [0.0134640, 0.0865360]
  // lift: log(1.25) = 0.2231436, se_log = sqrt(0.8/200 + 0.75/250) = sqrt(0.007) = 0.0836660
  // lift CI = exp(0.2231436 -+ 1.959964*0.0836660) - 1 = exp(0.2231436 -+ 0.1639824) - 1 = [0.060946, 0.472742]
  const r = twoProportionTest({ successes: 200, trials: 1000 }, { successes: 250, trials: 1000 });
  it('statistic, p-value and intervals', () => {
    expect(r.z).toBeCloseTo(2.677397763008329, 10);
    expect(r.pValue).toBeCloseTo(0.007419649261025687, 12);
    expect(r.diff.value).toBeCloseTo(0.05, 12);
    expect(r.diff.lo).toBeCloseTo(0.013464, 5);
    expect(r.diff.hi).toBeCloseTo(0.086536, 5);
    expect(r.lift.value).toBeCloseTo(0.25, 12);
    expect(r.lift.lo).toBeCloseTo(0.060946, 5);
    expect(r.lift.hi).toBeCloseTo(0.472742, 5);
  });
  it('keeps precision in the tail (z = 6)', () => {
    // choose counts giving z = 6 exactly is awkward; instead check p == 2*Phi(-|z|) at a large z:
    // A 1000/10000 vs B 1400/10000: pooled 0.12, se0 = sqrt(0.12*0.88*2e-4) = 0.00459565, z = 0.04/se0 = 8.70388
    const t = twoProportionTest({ successes: 1000, trials: 10000 }, { successes: 1400, trials: 10000 });
    expect(t.z).toBeCloseTo(0.04 / Math.sqrt(0.12 * 0.88 * 2e-4), 9);
    expect(t.pValue).toBeGreaterThan(0);
    expect(t.pValue / (2 * normalSf(t.z))).toBeCloseTo(1, 12);
    expect(t.pValue).toBeLessThan(1e-17);
    // z = 6 exactly through the helper: scipy 2*norm.sf(6) = 1.973175290075389e-09
    expect((2 * normalSf(6)) / 1.973175290075389e-9).toBeCloseTo(1, 10);
  });
  it('rejects impossible counts', () => {
    expect(() => twoProportionTest({ successes: 5, trials: 3 }, { successes: 1, trials: 3 })).toThrow(/twoProportionTest\(a\)/);
  });
});

describe('Welch t-test', () => {
  const a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
  const b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
  it('matches scipy ttest_ind(equal_var=False)', () => {
    // scipy (a vs b): t = -2.455356398286006, p = 0.021378001462866992, df = 24.988529290231416,
    // CI for mean(a) - mean(b) = [-3.984096267140929, -0.3492370661924069]. We report B - A, so signs flip.
    const r = welchTest(a, b);
    expect(r.t).toBeCloseTo(2.455356398286006, 10);
    expect(r.df).toBeCloseTo(24.988529290231416, 8);
    expect(r.pValue).toBeCloseTo(0.021378001462866992, 10);
    expect(r.diff.lo).toBeCloseTo(0.3492370661924069, 8);
    expect(r.diff.hi).toBeCloseTo(3.984096267140929, 8);
  });
  it('delta-method lift interval (hand-computed)', () => {
    // A: n=100, mean 10, var 4 -> seA^2 = 0.04; B: n=100, mean 11, var 9 -> seB^2 = 0.09
    // r = 1.1; se_r = 1.1*sqrt(0.04/100 + 0.09/121) = 1.1*sqrt(4e-4 + 7.43802e-4) = 1.1*0.0338201 = 0.0372021
    // lift CI = 0.1 -+ 1.959964*0.0372021 = [0.027085, 0.172915]
    const r = welchTest({ n: 100, mean: 10, variance: 4 }, { n: 100, mean: 11, variance: 9 });
    expect(r.lift.value).toBeCloseTo(0.1, 12);
    expect(r.lift.lo).toBeCloseTo(0.027085, 5);
    expect(r.lift.hi).toBeCloseTo(0.172915, 5);
  });
  it('summarize uses the n-1 variance', () => {
    // [2, 4, 4, 4, 5, 5, 7, 9]: mean 5, squared deviations sum 32 -> variance 32/7
    const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean).toBe(5);
    expect(s.variance).toBeCloseTo(32 / 7, 12);
  });
});

describe('sample ratio mismatch', () => {
  it('matches scipy chisquare and warns below 0.001', () => {
    // [5000, 5300] vs 50/50: expected 5150 each, chi2 = 2*150^2/5150 = 8.737864 (scipy p = 0.003116693839866867)
    const r = sampleRatioMismatch([5000, 5300]);
    expect(r.chiSquare).toBeCloseTo(8.737864077669903, 10);
    expect(r.pValue).toBeCloseTo(0.003116693839866867, 12);
    expect(r.mismatch).toBe(false);
    // three arms [3400, 3300, 3100], equal split: expected 3266.67, chi2 = 14.285714 (scipy p = 7.904903231199663e-4)
    const t = sampleRatioMismatch([3400, 3300, 3100]);
    expect(t.chiSquare).toBeCloseTo(14.285714285714286, 9);
    expect(t.pValue).toBeCloseTo(7.904903231199663e-4, 12);
    expect(t.mismatch).toBe(true);
    expect(t.warning).toMatch(/sample ratio mismatch/);
    // planned 90/10 split: [9000, 1000] is exactly on plan
    expect(sampleRatioMismatch([9000, 1000], [0.9, 0.1]).chiSquare).toBeCloseTo(0, 12);
  });
});

describe('CUPED', () => {
  it('hand-computed adjustment', () => {
    // pooled x = [1,2,3,1,2,3] (mean 2), y = [2,3,5,3,4,6]; sum (x-2) y = -2+5-3+6 = 6, sum (x-2)^2 = 4 -> theta = 1.5
    // adjusted A = [3.5, 3, 3.5], B = [4.5, 4, 4.5]: diff 1, var each 1/12 (raw var 7/3)
    // variance reduction = 1 - (1/12)/(7/3) = 27/28; adjusted se = sqrt(2 * (1/12)/3) = sqrt(1/18)
    // t = 1/sqrt(1/18) = 4.242641, df = 4 (scipy 2*t.sf(4.242641, 4) = 0.01323559956368269)
    const r = cuped({ y: [2, 3, 5], x: [1, 2, 3] }, { y: [3, 4, 6], x: [1, 2, 3] });
    expect(r.theta).toBeCloseTo(1.5, 12);
    expect(r.adjusted.diff.value).toBeCloseTo(1, 12);
    expect(r.varianceReduction).toBeCloseTo(27 / 28, 12);
    expect(r.adjusted.t).toBeCloseTo(Math.sqrt(18), 10);
    expect(r.adjusted.df).toBeCloseTo(4, 10);
    expect(r.adjusted.pValue).toBeCloseTo(0.01323559956368269, 10);
    // raw: scipy ttest_ind([3,4,6],[2,3,5], equal_var=False) -> t = 0.8017837, p = 0.4676048
    expect(r.raw.pValue).toBeCloseTo(0.46760475460939727, 10);
  });
  it('shrinks variance by about corr^2 on simulated data', () => {
    // y = x + noise with var(x) = 1, var(noise) = 1 -> corr^2 = 0.5
    const rng = new Rng(11);
    const mk = (n: number, shift: number) => {
      const x = new Float64Array(n);
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        x[i] = rng.normal();
        y[i] = x[i] + rng.normal() + shift;
      }
      return { x, y };
    };
    const r = cuped(mk(5000, 0), mk(5000, 0.05));
    expect(r.varianceReduction).toBeGreaterThan(0.45);
    expect(r.varianceReduction).toBeLessThan(0.55);
    expect(r.adjusted.diff.hi - r.adjusted.diff.lo).toBeLessThan(r.raw.diff.hi - r.raw.diff.lo);
  });
});

describe('mixture SPRT', () => {
  it('likelihood ratio and confidence-sequence width (hand-computed)', () => {
    // s^2 = 0.01, tau^2 = 0.04, estimate 0.3:
    // sqrt(0.01/0.05) = 0.4472136; exponent = 0.04*0.09/(2*0.01*0.05) = 3.6 -> Lambda = 0.4472136*e^3.6 = 16.367228
    expect(msprtLikelihoodRatio({ estimate: 0.3, variance: 0.01, mixingVariance: 0.04 })).toBeCloseTo(16.367228014507628, 9);
    // half-width at alpha 0.05: sqrt(2*0.01*0.05/0.04 * (ln 20 + 0.5 ln 5)) = sqrt(0.025*3.80035) = 0.3082390
    expect(msprtHalfWidth(0.01, 0.04, 0.05)).toBeCloseTo(0.3082389993889093, 10);
    // consistency: at theta = estimate +- half-width, Lambda(theta) = 1/alpha = 20
    const h = msprtHalfWidth(0.01, 0.04, 0.05);
    expect(msprtLikelihoodRatio({ estimate: 0.3, theta0: 0.3 - h, variance: 0.01, mixingVariance: 0.04 })).toBeCloseTo(20, 9);
  });

  it('keeps type-I error under continuous monitoring where naive peeking does not', () => {
    // 300 A/A experiments, Bernoulli(0.1) in both arms, 2,000 users per arm, a look after every 20 per arm.
    // mSPRT must reject in <= alpha (+ Monte-Carlo slack) of them; a z-test at every look rejects far more often.
    const rng = new Rng(2024);
    const runs = 300;
    let seqRejects = 0;
    let naiveRejects = 0;
    for (let r = 0; r < runs; r++) {
      const seq = new MixtureSequentialTest({ alpha: 0.05, tau: 0.03 });
      let sA = 0;
      let sB = 0;
      let naive = false;
      const batchA = new Float64Array(20);
      const batchB = new Float64Array(20);
      for (let look = 1; look <= 100; look++) {
        for (let i = 0; i < 20; i++) {
          batchA[i] = rng.next() < 0.1 ? 1 : 0;
          batchB[i] = rng.next() < 0.1 ? 1 : 0;
          sA += batchA[i];
          sB += batchB[i];
        }
        seq.observe(0, batchA);
        seq.observe(1, batchB);
        const n = look * 20;
        if (!naive && sA + sB > 0 && sA + sB < 2 * n) {
          naive = twoProportionTest({ successes: sA, trials: n }, { successes: sB, trials: n }).pValue < 0.05;
        }
      }
      if (seq.state().significant) seqRejects++;
      if (naive) naiveRejects++;
    }
    // binomial(300, 0.05) sd = 3.8: 0.05 + 3 sd = 26.3/300
    expect(seqRejects / runs).toBeLessThan(0.088);
    expect(naiveRejects / runs).toBeGreaterThan(0.12);
  });

  it('detects a real effect and its interval covers it', () => {
    const rng = new Rng(5);
    const seq = new MixtureSequentialTest({ alpha: 0.05, tau: 0.03 });
    for (let look = 0; look < 200; look++) {
      const a = Float64Array.from({ length: 50 }, () => (rng.next() < 0.1 ? 1 : 0));
      const b = Float64Array.from({ length: 50 }, () => (rng.next() < 0.13 ? 1 : 0));
      seq.observe(0, a);
      seq.observe(1, b);
    }
    const s = seq.state();
    expect(s.significant).toBe(true);
    expect(s.ci.lo).toBeLessThan(0.03);
    expect(s.ci.hi).toBeGreaterThan(0.03);
    expect(s.ci.lo).toBeGreaterThan(0);
  });
});
