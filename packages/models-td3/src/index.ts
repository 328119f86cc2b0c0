// @rec/models-td3: TD3 recommender acting in item-embedding space, on tfjs-core.
export { Td3Agent, createTd3, loadTd3, loadTd3Serving, resolveTd3Config, TD3_DEFAULTS, TD3_FORMAT_VERSION } from './td3.js';
export type { Td3Config, Td3SaveOptions, Td3ServingData, TransitionBatch, UpdateResult } from './td3.js';
export { learnTd3, evaluatePolicy, evaluateAny, evaluateAgent, episodeSeed } from './train.js';
export type { LearnOptions, EpisodeStats } from './train.js';
export { ItemMatcher } from './matching.js';
export type { ItemMatcherOptions, MergedLists } from './matching.js';
export { Mlp, dropoutMask } from './mlp.js';
export type { MlpOptions } from './mlp.js';
export { BatchNorm } from './batch-norm.js';
export type { BatchNormOptions } from './batch-norm.js';
// Re-exported for code that imported them from here; they live in @rec/core.
export { Adam, clipByGlobalNorm } from '@rec/core';
export type { AdamOptions } from '@rec/core';
