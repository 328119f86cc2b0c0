/**
 * A/B test statistics (shared with @rec/serve). Arm A is control, arm B treatment; every difference is B - A and
 * every relative lift is B / A - 1.
 *
 * - `twoProportionTest`: pooled z-test for H0 pA = pB; the difference CI is the unpooled Wald interval; the lift CI
 *   uses the delta method on log(pB / pA) (se^2 = (1-pA)/(nA pA) + (1-pB)/(nB pB)), exponentiated, so it is
 *   asymmetric and never below -100%.
 * - `welchTest`: Welch t-test with Welch-Satterthwaite degrees of freedom; the lift CI uses the delta method on the
 *   ratio mB / mA (se^2 = r^2 (seA^2/mA^2 + seB^2/mB^2)) with normal quantiles, because means may be of any sign.
 * - `sampleRatioMismatch`: Pearson chi-square goodness of fit of arm counts against the planned split.
 * - `cuped`: CUPED variance reduction with one pre-period covariate (theta pooled over both arms).
 * - `MixtureSequentialTest` / `msprt`: the normal mixture SPRT (Johari, Pekelis, Walsh 2017, "Always valid inference");
 *   p-values stay valid however often you look.
 */
import { check, InvalidArgumentError } from '@rec/core';
import { normalSf, normalQuantile, tSf, tQuantile, chiSquareSf } from './stats.js';
import type { Estimate } from './metrics.js';

export interface ProportionArm {
  /** Successes (conversions, clicks). */
  successes: number;
  /** Trials (users, impressions). */
  trials: number;
}

export interface TwoProportionResult {
  pA: number;
  pB: number;
  /** pB - pA with the unpooled Wald interval. */
  diff: Estimate;
  /** pB / pA - 1 with the delta-method interval on the log ratio (NaN when pA or pB is 0). */
  lift: Estimate;
  z: number;
  /** Two-sided p-value of the pooled z-test. */
  pValue: number;
  level: number;
}

function checkArm(where: string, a: ProportionArm): void {
  check(
    a && Number.isFinite(a.successes) && Number.isFinite(a.trials) && a.trials > 0 && a.successes >= 0 && a.successes <= a.trials,
    where,
    '{ successes, trials } with 0 <= successes <= trials and trials > 0',
    a,
  );
}

/** Two-proportion z-test (pooled standard error for the test, unpooled for the interval). */
export function twoProportionTest(a: ProportionArm, b: ProportionArm, level = 0.95): TwoProportionResult {
  checkArm('twoProportionTest(a)', a);
  checkArm('twoProportionTest(b)', b);
  check(level > 0 && level < 1, 'twoProportionTest(level)', 'a level in (0, 1)', level);
  const pA = a.successes / a.trials;
  const pB = b.successes / b.trials;
  const p = (a.successes + b.successes) / (a.trials + b.trials);
  const sePooled = Math.sqrt(p * (1 - p) * (1 / a.trials + 1 / b.trials));
  const d = pB - pA;
  const z = sePooled > 0 ? d / sePooled : d === 0 ? 0 : Math.sign(d) * Infinity;
  const pValue = 2 * normalSf(Math.abs(z));
  const q = normalQuantile(1 - (1 - level) / 2);
  const se = Math.sqrt((pA * (1 - pA)) / a.trials + (pB * (1 - pB)) / b.trials);
  let lift: Estimate = { value: NaN, lo: NaN, hi: NaN };
  if (pA > 0 && pB > 0) {
    const logR = Math.log(pB / pA);
    const seLog = Math.sqrt((1 - pA) / (a.trials * pA) + (1 - pB) / (b.trials * pB));
    lift = { value: pB / pA - 1, lo: Math.exp(logR - q * seLog) - 1, hi: Math.exp(logR + q * seLog) - 1 };
  }
  return { pA, pB, diff: { value: d, lo: d - q * se, hi: d + q * se }, lift, z, pValue: Math.min(1, pValue), level };
}

/** Sufficient statistics of one arm of a continuous metric. */
export interface MeanArm {
  n: number;
  mean: number;
  /** Sample variance (n - 1 denominator). */
  variance: number;
}

/** Mean and sample variance of values (Welford). */
export function summarize(values: ArrayLike<number>): MeanArm {
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    n++;
    const d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  return { n, mean, variance: n > 1 ? m2 / (n - 1) : NaN };
}

export interface WelchResult {
  meanA: number;
  meanB: number;
  /** mB - mA with the Welch t interval. */
  diff: Estimate;
  /** mB / mA - 1 with a delta-method interval (normal quantiles). */
  lift: Estimate;
  t: number;
  df: number;
  pValue: number;
  level: number;
}

function toArm(where: string, x: MeanArm | ArrayLike<number>): MeanArm {
  const arm = 'mean' in (x as object) && 'variance' in (x as object) ? (x as MeanArm) : summarize(x as ArrayLike<number>);
  check(arm.n >= 2 && Number.isFinite(arm.variance), where, 'at least 2 observations with a finite variance', arm);
  return arm;
}

/** Welch's unequal-variance t-test from raw values or `{ n, mean, variance }` summaries. */
export function welchTest(a: MeanArm | ArrayLike<number>, b: MeanArm | ArrayLike<number>, level = 0.95): WelchResult {
  const A = toArm('welchTest(a)', a);
  const B = toArm('welchTest(b)', b);
  check(level > 0 && level < 1, 'welchTest(level)', 'a level in (0, 1)', level);
  const va = A.variance / A.n;
  const vb = B.variance / B.n;
  const se = Math.sqrt(va + vb);
  const d = B.mean - A.mean;
  const df = (va + vb) ** 2 / ((va * va) / (A.n - 1) + (vb * vb) / (B.n - 1));
  const t = se > 0 ? d / se : d === 0 ? 0 : Math.sign(d) * Infinity;
  const pValue = se > 0 ? 2 * tSf(Math.abs(t), df) : d === 0 ? 1 : 0;
  const qt = se > 0 ? tQuantile(1 - (1 - level) / 2, df) : 0;
  const qz = normalQuantile(1 - (1 - level) / 2);
  let lift: Estimate = { value: NaN, lo: NaN, hi: NaN };
  if (A.mean !== 0) {
    const r = B.mean / A.mean;
    // r^2 (seA^2/mA^2 + seB^2/mB^2) rewritten as seB^2/mA^2 + mB^2 seA^2/mA^4, which also holds when mB = 0.
    const seRatio = Math.sqrt(vb / (A.mean * A.mean) + (B.mean * B.mean * va) / A.mean ** 4);
    lift = { value: r - 1, lo: r - 1 - qz * seRatio, hi: r - 1 + qz * seRatio };
  }
  return {
    meanA: A.mean,
    meanB: B.mean,
    diff: { value: d, lo: d - qt * se, hi: d + qt * se },
    lift,
    t,
    df,
    pValue: Math.min(1, pValue),
    level,
  };
}

export interface SrmResult {
  chiSquare: number;
  df: number;
  pValue: number;
  expected: number[];
  /** True when pValue < threshold (default 0.001): the split is broken, do not trust the comparison. */
  mismatch: boolean;
  /** A human-readable warning when mismatch, else ''. */
  warning: string;
}

/**
 * Sample-ratio-mismatch check: Pearson chi-square of the observed arm counts against the planned ratios
 * (default equal). Warns at p < 0.001, the usual threshold (Kohavi et al., "Trustworthy Online Controlled Experiments").
 */
export function sampleRatioMismatch(counts: ArrayLike<number>, ratios?: ArrayLike<number>, threshold = 0.001): SrmResult {
  const k = counts.length;
  check(k >= 2, 'sampleRatioMismatch(counts)', 'counts for at least 2 arms', counts);
  const r = ratios ?? new Array<number>(k).fill(1);
  check(r.length === k, 'sampleRatioMismatch(ratios)', `${k} ratios, one per arm`, r.length);
  let total = 0;
  let rsum = 0;
  for (let i = 0; i < k; i++) {
    check(counts[i] >= 0 && Number.isFinite(counts[i]), 'sampleRatioMismatch(counts)', 'non-negative counts', counts[i]);
    check(r[i] > 0, 'sampleRatioMismatch(ratios)', 'positive ratios', r[i]);
    total += counts[i];
    rsum += r[i];
  }
  check(total > 0, 'sampleRatioMismatch(counts)', 'at least one unit', total);
  const expected: number[] = [];
  let chi = 0;
  for (let i = 0; i < k; i++) {
    const e = (total * r[i]) / rsum;
    expected.push(e);
    chi += (counts[i] - e) ** 2 / e;
  }
  const pValue = chiSquareSf(chi, k - 1);
  const mismatch = pValue < threshold;
  return {
    chiSquare: chi,
    df: k - 1,
    pValue,
    expected,
    mismatch,
    warning: mismatch
      ? `sample ratio mismatch: counts [${Array.from(counts).join(', ')}] vs expected [${expected
          .map((e) => e.toFixed(1))
          .join(', ')}] (chi2 = ${chi.toFixed(2)}, p = ${pValue.toExponential(2)} < ${threshold}); check assignment and logging before reading results`
      : '',
  };
}

export interface CupedResult {
  /** Regression coefficient of y on the covariate, pooled over both arms. */
  theta: number;
  /** Welch test on the adjusted metric y - theta (x - mean(x)). */
  adjusted: WelchResult;
  /** Welch test on the raw metric, for comparison. */
  raw: WelchResult;
  /** 1 - Var(adjusted) / Var(raw), pooled over arms (about corr(x, y)^2). */
  varianceReduction: number;
}

/**
 * CUPED (Deng, Xu, Kohavi, Walker 2013): adjust each unit's metric y by a pre-experiment covariate x,
 * y' = y - theta (x - mean x), theta = cov(x, y) / var(x) over both arms together (the covariate must not be
 * affected by treatment). The difference in means is unchanged in expectation; its variance shrinks by corr^2.
 * The test on y' ignores the one degree of freedom spent on theta (negligible at A/B sample sizes).
 */
export function cuped(
  a: { y: ArrayLike<number>; x: ArrayLike<number> },
  b: { y: ArrayLike<number>; x: ArrayLike<number> },
  level = 0.95,
): CupedResult {
  check(a.y.length === a.x.length && a.y.length >= 2, 'cuped(a)', 'y and x of the same length >= 2', [a.y.length, a.x.length]);
  check(b.y.length === b.x.length && b.y.length >= 2, 'cuped(b)', 'y and x of the same length >= 2', [b.y.length, b.x.length]);
  const n = a.y.length + b.y.length;
  let mx = 0;
  let my = 0;
  for (const arm of [a, b]) for (let i = 0; i < arm.y.length; i++) (mx += arm.x[i]), (my += arm.y[i]);
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (const arm of [a, b])
    for (let i = 0; i < arm.y.length; i++) {
      sxy += (arm.x[i] - mx) * (arm.y[i] - my);
      sxx += (arm.x[i] - mx) ** 2;
    }
  if (sxx === 0) {
    throw new InvalidArgumentError('covariate is constant', {
      where: 'cuped(x)',
      expected: 'a pre-period covariate that varies across units',
      got: mx,
      hint: 'Use a covariate such as the same metric measured before the experiment.',
    });
  }
  const theta = sxy / sxx;
  const adj = (arm: { y: ArrayLike<number>; x: ArrayLike<number> }) =>
    Float64Array.from({ length: arm.y.length }, (_, i) => arm.y[i] - theta * (arm.x[i] - mx));
  const ya = adj(a);
  const yb = adj(b);
  const raw = welchTest(a.y, b.y, level);
  const adjusted = welchTest(ya, yb, level);
  const pooledVar = (s1: MeanArm, s2: MeanArm) => ((s1.n - 1) * s1.variance + (s2.n - 1) * s2.variance) / (s1.n + s2.n - 2);
  const vRaw = pooledVar(summarize(a.y), summarize(b.y));
  const vAdj = pooledVar(summarize(ya), summarize(yb));
  return { theta, adjusted, raw, varianceReduction: 1 - vAdj / vRaw };
}

// ---------------------------------------------------------------------------------------------------------------
// Sequential testing: mixture SPRT with always-valid p-values and confidence sequences.

export interface MsprtInput {
  /** Estimated effect, e.g. mean(B) - mean(A). */
  estimate: number;
  /** Variance of the estimate, e.g. varA/nA + varB/nB. */
  variance: number;
  /** Null value of the effect (default 0). */
  theta0?: number;
  /** Variance tau^2 of the normal mixing distribution N(theta0, tau^2) over alternatives. */
  mixingVariance: number;
}

/**
 * The mixture likelihood ratio of H1: effect ~ N(theta0, tau^2) against H0: effect = theta0, for an estimate
 * distributed N(effect, s^2):
 *   Lambda = sqrt(s^2 / (s^2 + tau^2)) * exp( tau^2 (estimate - theta0)^2 / (2 s^2 (s^2 + tau^2)) ).
 * With s^2 = V/n this is Johari et al.'s eq. for the two-stream normal mSPRT. Lambda is a nonnegative martingale
 * under H0, so by Ville's inequality P(sup_n Lambda_n >= 1/alpha) <= alpha: 1/Lambda is an always-valid p-value.
 */
export function msprtLikelihoodRatio(input: MsprtInput): number {
  const { estimate, variance: s2, mixingVariance: tau2 } = input;
  const th0 = input.theta0 ?? 0;
  check(s2 > 0 && Number.isFinite(s2), 'msprtLikelihoodRatio(variance)', 'a positive finite variance', s2);
  check(tau2 > 0 && Number.isFinite(tau2), 'msprtLikelihoodRatio(mixingVariance)', 'a positive finite tau^2', tau2);
  const d = estimate - th0;
  return Math.sqrt(s2 / (s2 + tau2)) * Math.exp((tau2 * d * d) / (2 * s2 * (s2 + tau2)));
}

/**
 * Half-width of the always-valid confidence sequence at level 1 - alpha: the set of theta with
 * Lambda(theta) < 1/alpha, i.e. |estimate - theta| < sqrt( 2 s^2 (s^2 + tau^2) / tau^2 * (log(1/alpha) + 0.5 log((s^2 + tau^2) / s^2)) ).
 */
export function msprtHalfWidth(variance: number, mixingVariance: number, alpha: number): number {
  const s2 = variance;
  const tau2 = mixingVariance;
  return Math.sqrt(((2 * s2 * (s2 + tau2)) / tau2) * (Math.log(1 / alpha) + 0.5 * Math.log((s2 + tau2) / s2)));
}

export interface SequentialOptions {
  /** Significance level for the decision and the confidence sequence (default 0.05). */
  alpha?: number;
  /**
   * Mixing standard deviation tau on the effect scale (mean B - mean A). Choose it near the size of effect you hope
   * to detect: power is best for effects around tau; a tau far too large or too small only costs power, never
   * validity. Default: 0.1 x the pooled standard deviation of the metric at each look (a standardised effect of 0.1).
   */
  tau?: number;
  /** Null effect (default 0). */
  theta0?: number;
  /** Observations per arm before any p-value below 1 is reported (variance plug-in warm-up, default 20). */
  minSamples?: number;
}

export interface SequentialState {
  nA: number;
  nB: number;
  meanA: number;
  meanB: number;
  estimate: number;
  /** Always-valid p-value: min over looks of min(1, 1/Lambda). */
  pValue: number;
  /** Always-valid confidence sequence for mean B - mean A (intersected over looks). */
  ci: { lo: number; hi: number };
  likelihoodRatio: number;
  /** True once pValue < alpha; safe to stop. */
  significant: boolean;
  mixingVariance: number;
}

/** One look of a sequential test as a point for `abOverTimeSpec` (the interval is the confidence sequence). */
export function sequentialPoint(t: number | string, s: SequentialState): { t: number | string; estimate: number; lo: number; hi: number; pValue: number } {
  return { t, estimate: s.estimate, lo: s.ci.lo, hi: s.ci.hi, pValue: s.pValue };
}

/**
 * A two-arm mixture SPRT for a difference in means (or proportions: feed 0/1 values). Feed observations as they
 * arrive with `observe`; read `state()` after any of them. Variances are plugged in from the running sample
 * (Welford), as in Johari et al.'s implementation; the guarantee is exact for known variances and asymptotic here.
 */
export class MixtureSequentialTest {
  private n = [0, 0];
  private mean = [0, 0];
  private m2 = [0, 0];
  private pMin = 1;
  private lo = -Infinity;
  private hi = Infinity;
  private lastLambda = 1;
  private lastTau2 = NaN;
  readonly alpha: number;
  readonly tau?: number;
  readonly theta0: number;
  readonly minSamples: number;

  constructor(options: SequentialOptions = {}) {
    this.alpha = options.alpha ?? 0.05;
    this.tau = options.tau;
    this.theta0 = options.theta0 ?? 0;
    this.minSamples = options.minSamples ?? 20;
    check(this.alpha > 0 && this.alpha < 1, 'MixtureSequentialTest(alpha)', 'alpha in (0, 1)', this.alpha);
    if (this.tau !== undefined) check(this.tau > 0, 'MixtureSequentialTest(tau)', 'a positive mixing sd', this.tau);
  }

  /** Add observations for arm 0 (A, control) or 1 (B, treatment), then update the p-value and interval. */
  observe(arm: 0 | 1, values: ArrayLike<number> | number): SequentialState {
    check(arm === 0 || arm === 1, 'MixtureSequentialTest.observe(arm)', '0 (A) or 1 (B)', arm);
    const vs = typeof values === 'number' ? [values] : values;
    for (let i = 0; i < vs.length; i++) {
      const x = vs[i];
      this.n[arm]++;
      const d = x - this.mean[arm];
      this.mean[arm] += d / this.n[arm];
      this.m2[arm] += d * (x - this.mean[arm]);
    }
    this.look();
    return this.state();
  }

  private look(): void {
    const [nA, nB] = this.n;
    if (nA < Math.max(2, this.minSamples) || nB < Math.max(2, this.minSamples)) return;
    const vA = this.m2[0] / (nA - 1);
    const vB = this.m2[1] / (nB - 1);
    const s2 = vA / nA + vB / nB;
    if (!(s2 > 0)) return;
    const tau = this.tau ?? 0.1 * Math.sqrt((this.m2[0] + this.m2[1]) / (nA + nB - 2));
    const tau2 = tau * tau;
    if (!(tau2 > 0)) return;
    const est = this.mean[1] - this.mean[0];
    this.lastTau2 = tau2;
    this.lastLambda = msprtLikelihoodRatio({ estimate: est, variance: s2, mixingVariance: tau2, theta0: this.theta0 });
    this.pMin = Math.min(this.pMin, 1 / this.lastLambda);
    const h = msprtHalfWidth(s2, tau2, this.alpha);
    this.lo = Math.max(this.lo, est - h);
    this.hi = Math.min(this.hi, est + h);
  }

  state(): SequentialState {
    const est = this.mean[1] - this.mean[0];
    return {
      nA: this.n[0],
      nB: this.n[1],
      meanA: this.mean[0],
      meanB: this.mean[1],
      estimate: est,
      pValue: Math.min(1, this.pMin),
      ci: { lo: this.lo, hi: this.hi },
      likelihoodRatio: this.lastLambda,
      significant: this.pMin < this.alpha,
      mixingVariance: this.lastTau2,
    };
  }
}
