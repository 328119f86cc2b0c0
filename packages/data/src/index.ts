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
  USER_PROFILE_FEATURES,
  USER_PROFILE_DIM,
  EVENT_STATE_FEATURES,
  EVENT_STATE_DIM,
} from './features.js';
export type { UserProfileOptions, EventStateOptions } from './features.js';
