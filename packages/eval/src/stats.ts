/**
 * Distribution functions with accurate tails, from @stdlib (which matches reference p-values to ~1e-11).
 * Upper tails are computed directly (symmetry for normal/t, the upper regularised incomplete gamma for
 * chi-square), never as `1 - cdf`, so a z of 8 still gives a meaningful p-value.
 */
import normalCdfStd from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantileStd from '@stdlib/stats-base-dists-normal-quantile';
import tCdfStd from '@stdlib/stats-base-dists-t-cdf';
import tQuantileStd from '@stdlib/stats-base-dists-t-quantile';
import chisquareCdfStd from '@stdlib/stats-base-dists-chisquare-cdf';
import gammainc from '@stdlib/math-base-special-gammainc';

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  return normalCdfStd(z, 0, 1);
}
/** Standard normal upper tail P(Z > z). */
export function normalSf(z: number): number {
  return normalCdfStd(-z, 0, 1);
}
/** Standard normal quantile. */
export function normalQuantile(p: number): number {
  return normalQuantileStd(p, 0, 1);
}
/** Student t CDF with `df` degrees of freedom. */
export function tCdf(t: number, df: number): number {
  return tCdfStd(t, df);
}
/** Student t upper tail. */
export function tSf(t: number, df: number): number {
  return tCdfStd(-t, df);
}
export function tQuantile(p: number, df: number): number {
  return tQuantileStd(p, df);
}
export function chiSquareCdf(x: number, df: number): number {
  return chisquareCdfStd(x, df);
}
/** Chi-square upper tail P(X > x) = Q(df/2, x/2), computed without cancellation. */
export function chiSquareSf(x: number, df: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, df / 2, true, true);
}
