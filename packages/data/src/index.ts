export * from './types.js';
export {
  userSequences,
  sessionize,
  sessionLengths,
  selectSessions,
  sampleSessions,
  filterSessions,
  filterSessionIndices,
  denseSize,
  checkLog,
  DEFAULT_SESSION_GAP_SECONDS,
  PAPER_SESSION_SAMPLE_SIZE,
} from './sessions.js';
export type { SessionizeOptions, SampleSessionsOptions, SessionFilter } from './sessions.js';
export { itemStats, categoryStats, rowsBefore } from './stats.js';
export type { EntityStats, EntityStatsOptions } from './stats.js';
export {
  userProfileAt,
  userProfileSteps,
  userProfileAllSteps,
  eventStateSteps,
  eventStateFeatures,
  userProfileForRows,
  userProfileFromEvents,
  eventStateForRows,
  USER_PROFILE_FEATURES,
  USER_PROFILE_DIM,
  EVENT_STATE_FEATURES,
  EVENT_STATE_DIM,
} from './features.js';
export type { UserProfileOptions, EventStateOptions } from './features.js';
// Ingest half: reader, presets, cleaning, cache, re-indexing, splits, Arrow interchange.
export { presets, USER_BEHAVIOR_WINDOW, REJECT_REASONS, validateLayout, isUserBehaviorLayout, parseDateUtcSeconds } from './csv.js';
export type { CsvLayout, BehaviorMapping, TimestampMapping, TimeWindow, DatasetPreset, PresetName, RejectReason, RejectedRow } from './csv.js';
export { readInteractions, readMovieLensGenres, isGzipFile } from './reader.js';
export type { ReadOptions, ReadReport, ReadResult } from './reader.js';
export { ingest, describeDataset, datasetStats, scanDuplicates, orderByUserTime } from './ingest.js';
export type { IngestOptions, IngestReport, IngestResult, DatasetStats, DuplicateScan } from './ingest.js';
export { reindex, rawLog, denseColumn, DenseIdMap } from './reindex.js';
export type { IdOrder, ReindexOptions } from './reindex.js';
export { cacheLocation, defaultCacheDir, readCache, writeCache, CACHE_FORMAT_VERSION } from './cache.js';
export type { CacheLocation } from './cache.js';
export { temporalSplit, leaveLastOut, randomUserSplit, subLog } from './split.js';
export type { RowSplit, TemporalSplit, UserSplit } from './split.js';
export { logToTable, tableToLog, writeArrowFile, readArrowFile, idMapsToTable, tableToIdMaps, LOG_COLUMNS } from './arrow.js';
export {
  generateSyntheticLog,
  syntheticUsers,
  syntheticUserBehaviorChunks,
  writeSyntheticUserBehavior,
  resolveSyntheticOptions,
  nextInStringOrder,
  USER_BEHAVIOR_FULL,
} from './synthetic.js';
export type { SyntheticOptions, ResolvedSyntheticOptions, SyntheticUserBlock, WriteSyntheticResult } from './synthetic.js';
export { logStatistics, compareLogStatistics, formatComparison, checkUserBehaviorOrder } from './synthetic-report.js';
export type { LogStatistics, StatisticComparison, OrderCheck } from './synthetic-report.js';
export { learnEmbeddings, userEmbeddingsFromItems, cosineSimilarity } from './embeddings.js';
export type { EmbeddingOptions, Embeddings } from './embeddings.js';
export { kMeans, itemClusters, userClusterAffinity } from './clusters.js';
export type { KMeansOptions, KMeansResult } from './clusters.js';
