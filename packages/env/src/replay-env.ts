/**
 * Logged-session replay (the LSTM-DQN paper's environment). Each episode replays one real session: at step k the
 * user has just done the session's k-th event; the agent recommends one item (or a slate); the reward is 1 when a
 * recommended item is the user's actual next purchase (configurable: the next interaction of any kind, or any
 * purchase / interaction in the rest of the session), else 0. The episode ends at the session's last event.
 *
 * State `[historyLength, 10]`: the user's 10-d profile features (@rec/data `userProfileAllSteps`) at each of their
 * last N = 10 purchases (configurable: interactions) up to and including the current event, oldest first,
 * zero-padded at the front. History spans the user's whole log before the step (earlier sessions included), never
 * anything after it.
 *
 * For offline evaluators: `targets()` gives the ground-truth items of the current step per user, `info.target` the
 * first target of the step just taken, and `info.row` the log row of the event the state was at.
 */
import { Behavior, userProfileAllSteps, userSequences, USER_PROFILE_DIM, type InteractionLog, type Sessions, type UserSequences } from '@rec/data';
import { InvalidArgumentError, Rng, ShapeError, check } from '@rec/core';
import type { DiscreteActionSpace, RecEnv, StepResult } from './types.js';
import { checkActions, notReset } from './util.js';

export interface LoggedReplayOptions {
  /** The whole log, dense ids (an IndexedLog). History is read from all of it, up to each step's event. */
  log: InteractionLog & { numItems?: number };
  /** Sessions to replay (e.g. a train or test split from @rec/data's sessionize / filterSessions / sampleSessions). */
  sessions: Sessions;
  /** Sequences of `log` (reused when given). */
  sequences?: UserSequences;
  /** `userProfileAllSteps(log, sequences)` (reused when given), `[rows * 10]` aligned with `sequences.rows`. */
  profiles?: Float32Array;
  /**
   * Add the history events' item ids to the state: each of the H rows becomes `[10 profile features, itemId]`
   * (11 numbers; the id as a float, exact below 2^24; -1 on padding rows). The paper's state (default false) has no
   * item identity, so a Q-network on it can at best rank items by user-conditioned popularity.
   */
  itemHistory?: boolean;
  /** Users (sessions) per step. Default 64. */
  batchSize?: number;
  /** Items per recommendation. Default 1. */
  slateSize?: number;
  /** History rows in the state. Default 10. */
  historyLength?: number;
  /** Which past events make the state's rows: 'purchased' (default) or 'interacted'. */
  history?: 'purchased' | 'interacted';
  /** 'next' (default): the next matching event; 'rest-of-session': any matching event later in the session. */
  target?: 'next' | 'rest-of-session';
  /** Which events count as targets: 'buy' (default) or 'any'. */
  targetBehavior?: 'buy' | 'any';
  /** Expose items the user already bought (up to the step) through `excluded()`. Default false. */
  excludeBought?: boolean;
  /** How `reset()` without arguments picks sessions: 'random' (default, seeded) or 'sequential' (wraps around). */
  order?: 'random' | 'sequential';
  /** Sessions shorter than this are not replayed (need at least 2 events for one step). Default 2. */
  minSessionLength?: number;
  seed?: number;
}

/** The replay environment (see the module comment). `reset(sessionIds)` takes indices into `sessions`. */
export class LoggedReplayEnv implements RecEnv {
  readonly name = 'logged-replay';
  readonly observation: { shape: readonly number[] };
  readonly action: DiscreteActionSpace;
  readonly batchSize: number;
  /** Session indices that `reset()` picks from (length >= minSessionLength). */
  readonly eligibleSessions: Int32Array;
  readonly log: InteractionLog;
  readonly sessions: Sessions;
  readonly sequences: UserSequences;
  readonly profiles: Float32Array;
  private readonly H: number;
  /** Numbers per history row: 10 profile features, plus the item id with `itemHistory`. */
  private readonly F: number;
  readonly itemHistory: boolean;
  private readonly purchased: boolean;
  private readonly restOfSession: boolean;
  private readonly buyOnly: boolean;
  private readonly excludeBought: boolean;
  private readonly sequential: boolean;
  private rng: Rng;
  private cursor = 0;
  /** Position in `sequences.rows` of each log row. */
  private readonly posOfRow: Int32Array;
  /** Per sequence position: buys of the same user at positions <= it. */
  private readonly buysThrough: Int32Array;
  /** Per user, CSR of the positions of their buys. */
  private readonly buyStart: Int32Array;
  private readonly buyPos: Int32Array;
  /** Per sequence position: the next position of the same user with a buy (-1: none). */
  private readonly nextBuy: Int32Array;
  // Batch state: the session, its current step and end (exclusive) as session-relative indices.
  private sess: Int32Array | null = null;
  private readonly k: Int32Array;
  private readonly len: Int32Array;

  constructor(options: LoggedReplayOptions) {
    const W = 'LoggedReplayEnv';
    const { log, sessions } = options;
    this.batchSize = options.batchSize ?? 64;
    const slate = options.slateSize ?? 1;
    this.H = options.historyLength ?? 10;
    check(Number.isInteger(this.batchSize) && this.batchSize > 0, `${W}(batchSize)`, 'a positive integer', this.batchSize);
    check(Number.isInteger(this.H) && this.H > 0, `${W}(historyLength)`, 'a positive integer', this.H);
    check(options.history === undefined || options.history === 'purchased' || options.history === 'interacted', `${W}(history)`, "'purchased' or 'interacted'", options.history);
    check(options.target === undefined || options.target === 'next' || options.target === 'rest-of-session', `${W}(target)`, "'next' or 'rest-of-session'", options.target);
    check(options.targetBehavior === undefined || options.targetBehavior === 'buy' || options.targetBehavior === 'any', `${W}(targetBehavior)`, "'buy' or 'any'", options.targetBehavior);
    let nI = options.log.numItems ?? 0;
    for (let r = 0; r < log.numRows; r++) if (log.item[r] >= nI) nI = log.item[r] + 1;
    check(Number.isInteger(slate) && slate > 0 && slate <= nI, `${W}(slateSize)`, `an integer in [1, ${nI}]`, slate);
    this.log = log;
    this.sessions = sessions;
    this.purchased = (options.history ?? 'purchased') === 'purchased';
    this.restOfSession = options.target === 'rest-of-session';
    this.buyOnly = (options.targetBehavior ?? 'buy') === 'buy';
    this.excludeBought = options.excludeBought ?? false;
    this.sequential = options.order === 'sequential';
    this.rng = new Rng(options.seed ?? 0);
    this.itemHistory = options.itemHistory ?? false;
    this.F = USER_PROFILE_DIM + (this.itemHistory ? 1 : 0);
    this.observation = { shape: [this.H, this.F] };
    this.action = { type: 'discrete', numItems: nI, slateSize: slate };

    const seqs = options.sequences ?? userSequences(log);
    this.sequences = seqs;
    if (seqs.rows.length !== log.numRows) {
      throw new ShapeError('sequences do not cover the log', { where: `${W}(sequences)`, expected: `${log.numRows} rows (built from the same log)`, got: seqs.rows.length });
    }
    this.profiles = options.profiles ?? userProfileAllSteps(log, seqs);
    if (this.profiles.length !== seqs.rows.length * USER_PROFILE_DIM) {
      throw new ShapeError('profiles do not match the sequences', { where: `${W}(profiles)`, expected: `Float32Array [${seqs.rows.length} * ${USER_PROFILE_DIM}] from userProfileAllSteps(log, sequences)`, got: this.profiles.length });
    }
    const n = seqs.rows.length;
    this.posOfRow = new Int32Array(log.numRows);
    for (let j = 0; j < n; j++) this.posOfRow[seqs.rows[j]] = j;
    this.buysThrough = new Int32Array(n);
    this.nextBuy = new Int32Array(n).fill(-1);
    this.buyStart = new Int32Array(seqs.numUsers + 1);
    let nb = 0;
    for (let u = 0; u < seqs.numUsers; u++) {
      let c = 0;
      for (let j = seqs.offsets[u]; j < seqs.offsets[u + 1]; j++) {
        if (log.behavior[seqs.rows[j]] === Behavior.buy) c++;
        this.buysThrough[j] = c;
      }
      nb += c;
      this.buyStart[u + 1] = nb;
      let next = -1;
      for (let j = seqs.offsets[u + 1] - 1; j >= seqs.offsets[u]; j--) {
        this.nextBuy[j] = next;
        if (log.behavior[seqs.rows[j]] === Behavior.buy) next = j;
      }
    }
    this.buyPos = new Int32Array(nb);
    for (let u = 0, w = 0; u < seqs.numUsers; u++) {
      for (let j = seqs.offsets[u]; j < seqs.offsets[u + 1]; j++) if (log.behavior[seqs.rows[j]] === Behavior.buy) this.buyPos[w++] = j;
    }
    // Sessions: check that each is one user's consecutive, time-ordered run of events.
    const minLen = options.minSessionLength ?? 2;
    check(Number.isInteger(minLen) && minLen >= 2, `${W}(minSessionLength)`, 'an integer >= 2', minLen);
    const eligible: number[] = [];
    for (let s = 0; s < sessions.numSessions; s++) {
      const a = sessions.offsets[s];
      const b = sessions.offsets[s + 1];
      for (let p = a; p < b; p++) {
        const r = sessions.rows[p];
        if (!(r >= 0 && r < log.numRows) || log.user[r] !== sessions.user[s] || (p > a && this.posOfRow[r] !== this.posOfRow[sessions.rows[p - 1]] + 1)) {
          throw new InvalidArgumentError('session is not a consecutive run of its user\'s events', {
            where: `${W}(sessions) session ${s}, event ${p - a}`,
            expected: `rows of user ${sessions.user[s]}, consecutive in time order`,
            got: r,
            hint: 'build sessions with @rec/data sessionize (then filter/sample/select) from the same log',
          });
        }
      }
      if (b - a >= minLen) eligible.push(s);
    }
    if (eligible.length === 0) {
      throw new InvalidArgumentError('no session long enough to replay', { where: `${W}(sessions)`, expected: `sessions with at least ${minLen} events`, got: sessions.numSessions });
    }
    this.eligibleSessions = Int32Array.from(eligible);
    this.k = new Int32Array(this.batchSize);
    this.len = new Int32Array(this.batchSize);
  }

  seed(seed: number): void {
    this.rng = new Rng(seed);
    this.cursor = 0;
    this.sess = null;
  }

  /** Start one session per slot (`sessionIds` index `sessions`; omitted: picked by `order`). */
  reset(sessionIds?: Int32Array): Float32Array {
    const B = this.batchSize;
    let s: Int32Array;
    if (sessionIds) {
      if (!(sessionIds instanceof Int32Array) || sessionIds.length !== B) {
        throw new ShapeError('session ids have the wrong type or length', { where: 'LoggedReplayEnv.reset(sessionIds)', expected: `Int32Array of length batchSize ${B}`, got: sessionIds });
      }
      for (let i = 0; i < B; i++) {
        const id = sessionIds[i];
        const ok = id >= 0 && id < this.sessions.numSessions && this.sessions.offsets[id + 1] - this.sessions.offsets[id] >= 2;
        if (!ok) throw new InvalidArgumentError('session cannot be replayed', { where: `LoggedReplayEnv.reset(sessionIds[${i}])`, expected: `a session index in [0, ${this.sessions.numSessions}) with at least 2 events (see eligibleSessions)`, got: id });
      }
      s = sessionIds.slice();
    } else {
      s = new Int32Array(B);
      const E = this.eligibleSessions;
      if (this.sequential) {
        for (let i = 0; i < B; i++) s[i] = E[(this.cursor + i) % E.length];
        this.cursor = (this.cursor + B) % E.length;
      } else {
        const pick = B <= E.length ? this.rng.sampleWithoutReplacement(E.length, B) : new Int32Array(B).map(() => this.rng.int(E.length));
        for (let i = 0; i < B; i++) s[i] = E[pick[i]];
      }
    }
    this.sess = s;
    this.k.fill(0);
    for (let i = 0; i < B; i++) this.len[i] = this.sessions.offsets[s[i] + 1] - this.sessions.offsets[s[i]];
    return this.observe();
  }

  /** Session index of each slot of the current batch. */
  currentSessions(): Int32Array {
    return this.sess ? this.sess.slice() : new Int32Array(0);
  }

  /** Sequence position of slot i's current event. */
  private pos(i: number): number {
    const sess = this.sess as Int32Array;
    return this.posOfRow[this.sessions.rows[this.sessions.offsets[sess[i]] + this.k[i]]];
  }

  private observe(): Float32Array {
    const B = this.batchSize;
    const obs = new Float32Array(B * this.H * this.F);
    const sess = this.sess as Int32Array;
    for (let i = 0; i < B; i++) {
      const kk = Math.min(this.k[i], this.len[i] - 1);
      const p = this.posOfRow[this.sessions.rows[this.sessions.offsets[sess[i]] + kk]];
      this.writeObservation(obs, i, this.sessions.user[sess[i]], p);
    }
    return obs;
  }

  /**
   * Observations `[n, H, F]` of users at arbitrary points of their sequences: row i is the state as of the event at
   * sequence position `positions[i]` (an index into `sequences.rows`, inside user `users[i]`'s range), built exactly
   * as during replay; -1 means "before any event" (an all-padding state). Offline evaluators use this to score
   * held-out units with the state the agent was trained on.
   */
  observeAt(users: Int32Array, positions: Int32Array): Float32Array {
    check(users.length === positions.length, 'LoggedReplayEnv.observeAt', `positions of the same length as users (${users.length})`, positions.length);
    const seqs = this.sequences;
    const obs = new Float32Array(users.length * this.H * this.F);
    for (let i = 0; i < users.length; i++) {
      const u = users[i];
      const p = positions[i];
      if (!(u >= 0 && u < seqs.numUsers)) {
        throw new InvalidArgumentError('unknown user', { where: `LoggedReplayEnv.observeAt(users[${i}])`, expected: `a dense user id in [0, ${seqs.numUsers})`, got: u });
      }
      if (p !== -1 && !(p >= seqs.offsets[u] && p < seqs.offsets[u + 1])) {
        throw new InvalidArgumentError('position outside the user\'s sequence', {
          where: `LoggedReplayEnv.observeAt(positions[${i}])`,
          expected: `-1 or a position in [${seqs.offsets[u]}, ${seqs.offsets[u + 1]}) for user ${u}`,
          got: p,
        });
      }
      if (p >= 0) this.writeObservation(obs, i, u, p);
      else if (this.itemHistory) for (let h = 0; h < this.H; h++) obs[(i * this.H + h) * this.F + USER_PROFILE_DIM] = -1;
    }
    return obs;
  }

  /** Write slot i's state as of sequence position p of user u: profile rows of the last H history events, oldest first. */
  private writeObservation(obs: Float32Array, i: number, u: number, p: number): void {
    const H = this.H;
    const F = this.F;
    const D = USER_PROFILE_DIM;
    const o = i * H * F;
    // History positions, oldest first, right-aligned in the H rows (front rows are padding).
    let count: number;
    let at: (q: number) => number;
    if (this.purchased) {
      const nb = this.buysThrough[p];
      const first = Math.max(0, nb - H);
      const start = this.buyStart[u];
      count = nb - first;
      at = (q) => this.buyPos[start + first + q];
    } else {
      const lo = Math.max(this.sequences.offsets[u], p - H + 1);
      count = p - lo + 1;
      at = (q) => lo + q;
    }
    const pad = H - count;
    if (this.itemHistory) for (let h = 0; h < pad; h++) obs[o + h * F + D] = -1;
    for (let q = 0; q < count; q++) {
      const j = at(q);
      const row = o + (pad + q) * F;
      obs.set(this.profiles.subarray(j * D, (j + 1) * D), row);
      if (this.itemHistory) obs[row + D] = this.log.item[this.sequences.rows[j]];
    }
  }

  /** Is sequence position j a target event? */
  private isTarget(j: number): boolean {
    return !this.buyOnly || this.log.behavior[this.sequences.rows[j]] === Behavior.buy;
  }

  /** First target position after slot i's current event within its session, or -1. */
  private firstTarget(i: number, p: number, end: number): number {
    if (this.buyOnly) {
      const j = this.nextBuy[p];
      return j >= 0 && j < end ? j : -1;
    }
    return p + 1 < end ? p + 1 : -1;
  }

  /**
   * Ground truth for the current step, CSR over the batch: the next target item ('next') or every target item in
   * the rest of the session ('rest-of-session'); empty for users already done or with no target left.
   */
  targets(): { offsets: Int32Array; items: Int32Array } {
    if (!this.sess) notReset('LoggedReplayEnv.targets');
    const B = this.batchSize;
    const offsets = new Int32Array(B + 1);
    const items: number[] = [];
    for (let i = 0; i < B; i++) {
      if (this.k[i] < this.len[i] - 1) {
        const p = this.pos(i);
        const end = p + (this.len[i] - this.k[i]);
        if (this.restOfSession) {
          for (let j = p + 1; j < end; j++) if (this.isTarget(j)) items.push(this.log.item[this.sequences.rows[j]]);
        } else {
          const j = this.firstTarget(i, p, end);
          if (j >= 0) items.push(this.log.item[this.sequences.rows[j]]);
        }
      }
      offsets[i + 1] = items.length;
    }
    return { offsets, items: Int32Array.from(items) };
  }

  /** Items each user bought up to the current event (empty unless `excludeBought`). */
  excluded(): { offsets: Int32Array; items: Int32Array } {
    const B = this.batchSize;
    const offsets = new Int32Array(B + 1);
    if (!this.excludeBought || !this.sess) return { offsets, items: new Int32Array(0) };
    const items: number[] = [];
    for (let i = 0; i < B; i++) {
      const p = this.pos(i);
      const u = this.sessions.user[this.sess[i]];
      for (let q = 0; q < this.buysThrough[p]; q++) items.push(this.log.item[this.sequences.rows[this.buyPos[this.buyStart[u] + q]]]);
      offsets[i + 1] = items.length;
    }
    return { offsets, items: Int32Array.from(items) };
  }

  /**
   * Recommend `actions [batch * slateSize]`. Reward 1 when any slate item is a target. info: `hits [batch]`
   * (slate items that are targets), `slateHit [batch * slate]` (which ones), `target [batch]` (first target item, -1 if none), `row [batch]` (log row of the
   * state's event), `active [batch]`.
   */
  step(actions: Int32Array | Float32Array): StepResult {
    if (!this.sess) notReset('LoggedReplayEnv.step');
    const B = this.batchSize;
    const S = this.action.slateSize;
    checkActions(actions, 'discrete', B, S, 'LoggedReplayEnv.step(actions)', this.action.numItems);
    const reward = new Float32Array(B);
    const done = new Uint8Array(B);
    const active = new Uint8Array(B);
    const hits = new Int32Array(B);
    const slateHit = new Uint8Array(B * S);
    const target = new Int32Array(B).fill(-1);
    const row = new Int32Array(B).fill(-1);
    const rows = this.sequences.rows;
    for (let i = 0; i < B; i++) {
      if (this.k[i] >= this.len[i] - 1) {
        done[i] = 1;
        continue;
      }
      active[i] = 1;
      const p = this.pos(i);
      row[i] = rows[p];
      const end = p + (this.len[i] - this.k[i]);
      const first = this.firstTarget(i, p, end);
      if (first >= 0) target[i] = this.log.item[rows[first]];
      let h = 0;
      for (let s = 0; s < S; s++) {
        const a = actions[i * S + s];
        if (this.restOfSession) {
          for (let j = p + 1; j < end; j++) {
            if (this.log.item[rows[j]] === a && this.isTarget(j)) {
              h++;
              slateHit[i * S + s] = 1;
              break;
            }
          }
        } else if (first >= 0 && this.log.item[rows[first]] === a) {
          h++;
          slateHit[i * S + s] = 1;
        }
      }
      hits[i] = h;
      reward[i] = h > 0 ? 1 : 0;
      this.k[i]++;
      if (this.k[i] >= this.len[i] - 1) done[i] = 1;
    }
    return { obs: this.observe(), reward, done, info: { hits, slateHit, target, row, active } };
  }
}
