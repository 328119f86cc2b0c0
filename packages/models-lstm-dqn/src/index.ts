// @rec/models-lstm-dqn: LSTM-DQN recommender (Fan & Lin, IPEC 2022) and its stronger variant, on tfjs-core.
export { LstmDqn, resolveConfig, diffConfig, DEFAULT_CONFIG, EPSILON_PRESETS } from './lstm-dqn.js';
export type {
  LstmDqnConfig,
  LstmDqnOptions,
  LearnOptions,
  LearnResult,
  Recommendation,
  BatchRecommendation,
  FeedbackBatch,
} from './lstm-dqn.js';
export { paperNetwork, variantNetwork, validateNetwork, networkParamShapes, featureSize, qValues, stateFeatures, embeddingQuery } from './network.js';
export type { NetworkConfig, ForwardOptions } from './network.js';
export { runRecurrent, recurrentParamShapes, recurrentOutputSize, fromKerasLstm } from './rnn.js';
export type { CellType, RecurrentSpec, RecurrentOutput, RunOptions } from './rnn.js';
export { selfAttentionPool, attentionParamShapes } from './attention.js';
export { createVariables, readVariables, writeVariables, disposeVariables, countParameters } from './params.js';
export type { ParamShapes, ParamTensors, ParamVariables } from './params.js';
// Re-exported for code that imported them from here; they live in @rec/core (syncVariables is core's softUpdate).
export { Adam, clipByGlobalNorm, softUpdate as syncVariables } from '@rec/core';
export type { AdamOptions } from '@rec/core';
export { SimdForward, simdForwardAvailable } from './simd-forward.js';
export type { SimdForwardOptions } from './simd-forward.js';
export { StreamingTopK } from './topk.js';
export { ItemVocab, itemIdsToVocab } from './vocab.js';
export { CatalogueScorer } from './catalogue.js';
export type { CatalogueScorerOptions } from './catalogue.js';
export { saveModel, loadModel, loadLstmDqn, readModelState, MODEL_FORMAT, MODEL_FORMAT_VERSION } from './model-io.js';
export type { LoadModelOptions, LstmDqnServable, SaveModelOptions, SavedModelState, StateLayout, StateStats } from './model-io.js';
