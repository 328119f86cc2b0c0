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
  sequentialPoint,
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
export { TopK, topKIndices } from './topk.js';
export { lstmDqnSessionSplit, leaveLastOutSplit, temporalSplit } from './protocols.js';
export type { OfflineSplit, SessionSplitOptions, LeaveLastOutOptions, TemporalSplitOptions } from './protocols.js';
export { randomScorer, mostPopularScorer, recentPopularScorer, itemKnnScorer } from './baselines.js';
export type { Scorer, PopularityOptions, RecentPopularOptions, ItemKnnOptions } from './baselines.js';
export { evaluatePolicy } from './evaluate.js';
export type { OfflineEvalOptions, OfflineEvalResult, OnlineEvalOptions, OnlineEvalResult, EvalResult } from './evaluate.js';
export { trainingPointsFromJsonl, trainingCurvesSpec, metricComparisonSpec, abOverTimeSpec, renderSvg, svgToPng, savePlot } from './plots.js';
export type { VegaLiteSpec, TrainingPoint, MetricPoint, AbPoint, PngOptions } from './plots.js';
export { REPORT_METRICS, offlineRows, markdownTable, offlineMarkdown, onlineMarkdown, writeOfflineReport } from './report.js';
export type { ReportMetric, MetricRow, OfflineReportOptions } from './report.js';
export { trainGru4Rec, GRU4REC_DEFAULTS } from './gru4rec.js';
export type { Gru4RecConfig, Gru4RecScorer } from './gru4rec.js';
export { fullRankingTopK, embeddingScorer } from './fullrank.js';
export type { FullRankingOptions } from './fullrank.js';
