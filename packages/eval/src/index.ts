// @rec/eval: ranking and business metrics, baselines, off-policy estimates, A/B statistics and plots.
export {
  RANKING_METRICS,
  rankingMetricsPerUser,
  summarizeRanking,
  rankingMetrics,
  harmonicF1,
  bootstrapMeans,
  quantileSorted,
  catalogCoverage,
  intraListDiversity,
  novelty,
  nanMean,
  csrFromArrays,
  validateCsr,
} from './metrics.js';
export type { ItemsCsr, RankingMetricName, PerUserRanking, Estimate, BootstrapOptions, RankingSummary } from './metrics.js';
export { normalCdf, normalSf, normalQuantile, tCdf, tSf, tQuantile, chiSquareCdf, chiSquareSf } from './stats.js';
export {
  twoProportionTest,
  welchTest,
  summarize,
  sampleRatioMismatch,
  cuped,
  msprtLikelihoodRatio,
  msprtHalfWidth,
  MixtureSequentialTest,
} from './ab.js';
export type {
  ProportionArm,
  TwoProportionResult,
  MeanArm,
  WelchResult,
  SrmResult,
  CupedResult,
  MsprtInput,
  SequentialOptions,
  SequentialState,
} from './ab.js';
export { ips, snips, doublyRobust, directMethod, tabularRewardModel, crossFitDoublyRobust } from './ope.js';
export type { LoggedBandit, OpeOptions, OpeEstimate } from './ope.js';
