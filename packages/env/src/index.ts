// @rec/env: the environment contract, its checker and rollout loop, reference policies, and three vectorized
// simulators. The recording MockEnv lives in the `@rec/env/testing` entry point.
export * from './types.js';
export { checkEnv } from './check-env.js';
export type { CheckEnvOptions, CheckEnvReport } from './check-env.js';
export { rollout } from './rollout.js';
export type { RolloutOptions, RolloutResult, RolloutStep } from './rollout.js';
export { randomPolicy, popularityPolicy } from './policies.js';
export type { PopularityPolicyOptions } from './policies.js';
export { obsSize, actionSize } from './util.js';
export { CosineMatcher, TfjsCosineMatcher, createCosineMatcher, normaliseRows } from './match.js';
export type { CosineMatcherOptions, ItemMatcher, MatchMetric, TfjsCosineMatcherOptions } from './match.js';
export { SimdCosineMatcher, wasmSimdAvailable } from './match-wasm.js';
export type { SimdCosineMatcherOptions } from './match-wasm.js';
export {
  UserBeliefSim,
  UserBeliefEnv,
  runBeliefEpisode,
  acceptanceProbability,
  clusterCentres,
  computeUserClusterDistances,
  DEFAULT_BELIEF_SIM_CONFIG,
} from './belief-sim.js';
export type { BeliefSimData, BeliefSimConfig, UserBeliefEnvOptions, BeliefEpisodeOptions, BeliefEpisodeMetrics } from './belief-sim.js';
export { buildBeliefSimData, beliefSimDataFromLog, syntheticBeliefSimData } from './belief-data.js';
export type { BeliefSimInputs, BeliefSimFromLogOptions, SyntheticBeliefOptions } from './belief-data.js';
export {
  BehaviorSimEnv,
  behaviorSimDataFromLog,
  DEFAULT_BEHAVIOR_SIM_CONFIG,
  Response,
  RESPONSES,
  BEHAVIOR_OBS_FEATURES,
} from './behavior-sim.js';
export type { BehaviorSimData, BehaviorSimConfig, BehaviorSimOptions, BehaviorSimFromLogOptions, BehaviorEpisodeMetrics } from './behavior-sim.js';
export { LoggedReplayEnv } from './replay-env.js';
export type { LoggedReplayOptions } from './replay-env.js';
export { IvfCosineMatcher } from './ivf.js';
export type { IvfCosineMatcherOptions } from './ivf.js';
