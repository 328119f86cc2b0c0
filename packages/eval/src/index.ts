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
