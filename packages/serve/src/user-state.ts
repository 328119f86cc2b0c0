/**
 * Users' activity in this process: the last `maxRecent` interactions per user in typed arrays that grow as needed
 * (doubling, up to `maxRecent`), the least recently active user evicted past `maxUsers`. `seq` counts a user's
 * interactions; it is part of the cache field so a list computed before an interaction can never be served after
 * it (even if the write races the invalidation). Rebuilt from the interaction log on restart (see `EventLog.replay`).
 *
 * The kept events are all a model sees of a user. Layouts that summarise the whole history (the replay profile:
 * rates, category diversity, account age) are exact while a user has at most `maxRecent` events, and computed over
 * the last `maxRecent` only beyond that (default 1,000: every user of the UserBehavior samples fits).
 */
import { InvalidArgumentError } from '@rec/core';
import { emptyUserState, type UserState } from './recommender.js';

interface Entry {
  items: Int32Array;
  types: Uint8Array;
  times: Float64Array;
  /** Number of valid entries (<= capacity). */
  n: number;
  seq: number;
}

export class UserStateStore {
  private map = new Map<string, Entry>();
  constructor(
    readonly maxRecent = 1000,
    readonly maxUsers = 200_000,
  ) {
    if (!(Number.isInteger(maxRecent) && maxRecent > 0)) throw new InvalidArgumentError('bad history length', { where: 'UserStateStore(maxRecent)', expected: 'a positive integer', got: maxRecent });
    if (!(Number.isInteger(maxUsers) && maxUsers > 0)) throw new InvalidArgumentError('bad user count', { where: 'UserStateStore(maxUsers)', expected: 'a positive integer', got: maxUsers });
  }

  get size(): number {
    return this.map.size;
  }

  /** Append one interaction (shifting out the oldest past `maxRecent`). */
  record(userId: string, item: number, behavior: number, time: number): number {
    let e = this.map.get(userId);
    if (e) this.map.delete(userId);
    else {
      const cap = Math.min(this.maxRecent, 16);
      e = { items: new Int32Array(cap), types: new Uint8Array(cap), times: new Float64Array(cap), n: 0, seq: 0 };
    }
    if (e.n === e.items.length && e.n < this.maxRecent) {
      const cap = Math.min(this.maxRecent, e.n * 2);
      const items = new Int32Array(cap);
      const types = new Uint8Array(cap);
      const times = new Float64Array(cap);
      items.set(e.items);
      types.set(e.types);
      times.set(e.times);
      Object.assign(e, { items, types, times });
    }
    if (e.n === this.maxRecent) {
      e.items.copyWithin(0, 1);
      e.types.copyWithin(0, 1);
      e.times.copyWithin(0, 1);
      e.n--;
    }
    e.items[e.n] = item;
    e.types[e.n] = behavior;
    e.times[e.n] = time;
    e.n++;
    e.seq++;
    this.map.set(userId, e);
    while (this.map.size > this.maxUsers) this.map.delete(this.map.keys().next().value as string);
    return e.seq;
  }

  seq(userId: string): number {
    return this.map.get(userId)?.seq ?? 0;
  }

  /** A copy of the user's recent state (copies: a model call may outlive the next interaction). */
  get(userId: string): UserState {
    const e = this.map.get(userId);
    if (!e) return emptyUserState(userId);
    return { userId, recentItems: e.items.slice(0, e.n), recentTypes: e.types.slice(0, e.n), recentTimes: e.times.slice(0, e.n) };
  }
}
