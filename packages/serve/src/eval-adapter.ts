/**
 * `AbStats` backed by @rec/eval: `twoProportionTest` (pooled z-test, Wald difference CI, delta-method lift CI),
 * `sampleRatioMismatch` (Pearson chi-square) and the normal-mixture SPRT likelihood ratio (`msprtLikelihoodRatio`)
 * for the always-valid p-value. This file only maps shapes; the statistics live in @rec/eval.
 */
import { msprtLikelihoodRatio, sampleRatioMismatch, twoProportionTest } from '@rec/eval';
import type { AbStats, Proportion } from './ab.js';

/** Per-arm users before the sequential p-value can drop below 1 (variance plug-in warm-up, as in @rec/eval). */
const SEQUENTIAL_MIN_USERS = 20;

export const evalAbStats: AbStats = {
  source: '@rec/eval',
  compare(control, treatment, level) {
    const r = twoProportionTest(control, treatment, level);
    return {
      controlRate: r.pA,
      treatmentRate: r.pB,
      diff: r.diff,
      lift: Number.isFinite(r.lift.value) ? r.lift : null,
      z: r.z,
      pValue: r.pValue,
    };
  },
  sampleRatio(observed, expectedShares) {
    const r = sampleRatioMismatch(observed, expectedShares);
    return { chiSquare: r.chiSquare, pValue: r.pValue, mismatch: r.mismatch, warning: r.warning };
  },
  sequentialPValue(c: Proportion, t: Proportion) {
    if (c.trials < SEQUENTIAL_MIN_USERS || t.trials < SEQUENTIAL_MIN_USERS) return 1;
    const pA = c.successes / c.trials;
    const pB = t.successes / t.trials;
    // unpooled variance of pB - pA; mixing sd tau = 0.1 x the pooled Bernoulli sd (a standardised effect of 0.1),
    // the same default @rec/eval's MixtureSequentialTest uses
    const variance = (pA * (1 - pA)) / c.trials + (pB * (1 - pB)) / t.trials;
    const p = (c.successes + t.successes) / (c.trials + t.trials);
    const tau2 = 0.01 * p * (1 - p);
    if (!(variance > 0) || !(tau2 > 0)) return 1;
    return Math.min(1, 1 / msprtLikelihoodRatio({ estimate: pB - pA, variance, mixingVariance: tau2 }));
  },
};
