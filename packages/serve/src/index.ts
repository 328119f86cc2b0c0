// @rec/serve: Recommendation HTTP service: cache, time-outs with fallback, A/B testing, metrics.
export const PACKAGE_NAME = '@rec/serve';
export { createServer } from './server.js';
export type { RecService } from './server.js';
export { resolveConfig, readConfigFile, configFromEnv, DEFAULT_CONFIG } from './config.js';
export type { ServeConfig } from './config.js';
export { PopularityRecommender, validateRecommender, checkRecommendation, emptyUserState, assertValid } from './recommender.js';
export type { Recommender, Recommendation, RecommendRequest, UserState, ValidationReport } from './recommender.js';
export { registerModelLoader, registeredModelTypes, loadRecommender, readModelConfig, modelTypeOf, ModelSlot } from './registry.js';
export type { ModelLoader, SwapResult } from './registry.js';
export {
  registerBuiltinModelLoaders,
  lstmDqnLoader,
  lstmDqnRecommender,
  behaviorSimEncoder,
  eventStateEncoder,
  ensureServeBackend,
  td3Recommender,
  td3Loader,
  replayProfileEncoder,
  parseReplayProfileLayout,
  encoderFromSavedState,
} from './model-adapters.js';
export type {
  StateEncoder,
  ItemFeatureStats,
  LstmDqnLike,
  LstmDqnLoaderOptions,
  Td3Like,
  ItemMatcherLike,
  Td3RecommenderOptions,
  ReplayProfileLayout,
  SavedStateLike,
} from './model-adapters.js';
export { MicroBatcher } from './batcher.js';
export type { BatchedResult, MicroBatcherOptions } from './batcher.js';
export { MemoryCache, RedisCache } from './cache.js';
export type { RecCache, CacheLookup, MemoryCacheOptions, RedisCacheOptions } from './cache.js';
export { EventLog } from './event-log.js';
export type { FsyncPolicy, EventLogOptions, ReplayReport } from './event-log.js';
export { Metrics } from './metrics.js';
export { bucketOf, assignVariant, checkExperimentConfig, Experiment, NUM_BUCKETS } from './ab.js';
export type { ExperimentConfig, Variant, AbStats, Proportion, ArmCounts, Interval } from './ab.js';
export { evalAbStats } from './eval-adapter.js';
export { UserStateStore } from './user-state.js';
export { WorkerRecommender } from './worker-recommender.js';
export type { WorkerData } from './worker-recommender.js';
