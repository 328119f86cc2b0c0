/**
 * The data contracts every other package reads. Columns are typed arrays (no per-row objects); an Arrow table
 * wraps the same buffers zero-copy for interchange.
 */

/** Behavior codes in the UserBehavior log, in funnel order. */
export const BEHAVIORS = ['pv', 'cart', 'fav', 'buy'] as const;
export type BehaviorName = (typeof BEHAVIORS)[number];
export const Behavior = { pv: 0, cart: 1, fav: 2, buy: 3 } as const;
export type BehaviorCode = 0 | 1 | 2 | 3;

/**
 * An interaction log in columnar form. Ids are dense (0..n-1) after `reindex`, raw before.
 * Timestamps are Unix seconds (int32 holds dates to 2038; the UserBehavior log is 2017).
 */
export interface InteractionLog {
  numRows: number;
  user: Int32Array;
  item: Int32Array;
  category: Int32Array;
  behavior: Uint8Array;
  timestamp: Int32Array;
}

/** Dense id <-> raw id, both ways. `toRaw[dense]` is the raw id; `toDense` maps raw to dense (-1 when unknown). */
export interface IdMap {
  size: number;
  toRaw: Float64Array;
  toDense(raw: number): number;
}

/** A dense-indexed log with its three id maps. */
export interface IndexedLog extends InteractionLog {
  numUsers: number;
  numItems: number;
  numCategories: number;
  users: IdMap;
  items: IdMap;
  categories: IdMap;
}

/**
 * Per-user event sequences in CSR form: the events of user u are `rows[offsets[u] .. offsets[u+1])`, row indices
 * into the log's columns, sorted by (timestamp, original row order).
 */
export interface UserSequences {
  numUsers: number;
  offsets: Int32Array;
  rows: Int32Array;
}

/**
 * Sessions in CSR form: session s is `rows[offsets[s] .. offsets[s+1])` (time-sorted row indices) of user `user[s]`.
 * A new session starts when the gap to the previous event of the same user exceeds the threshold (default 30 min).
 */
export interface Sessions {
  numSessions: number;
  offsets: Int32Array;
  rows: Int32Array;
  user: Int32Array;
}
