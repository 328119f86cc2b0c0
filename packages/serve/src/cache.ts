/**
 * Recommendation cache, keyed per user so one interaction invalidates every cached list of that user at once:
 * a user owns one entry (a Redis hash `prefix + userId`, or a Map in memory) whose fields are
 * `slot@version|k|exclude` and whose values are the serialized responses. TTL applies to the user's entry.
 *
 * Redis failures never fail a request: an operation that errors or times out answers `bypass` (counted by the
 * caller) and the request goes to the model. Invalidations that could not reach Redis are remembered and replayed
 * when the connection is back, before the cache is read again, so a user never gets lists cached before an
 * interaction Redis did not hear about.
 */
import { Redis } from 'ioredis';

export type CacheLookup = { status: 'hit'; value: string } | { status: 'miss' } | { status: 'bypass' };

export interface RecCache {
  readonly kind: 'redis' | 'memory';
  get(userId: string, field: string): Promise<CacheLookup>;
  /** Returns false when the write was bypassed (Redis unavailable). */
  set(userId: string, field: string, value: string): Promise<boolean>;
  invalidate(userId: string): Promise<boolean>;
  /** True when the cache can be used now (memory: always). */
  ready(): boolean;
  close(): Promise<void>;
}

export interface MemoryCacheOptions {
  ttlSeconds?: number;
  /** Most users held; the least recently used is evicted. */
  maxUsers?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** Embedded LRU + TTL cache. */
export class MemoryCache implements RecCache {
  readonly kind = 'memory' as const;
  private map = new Map<string, { expires: number; fields: Map<string, string> }>();
  private readonly ttlMs: number;
  private readonly maxUsers: number;
  private readonly now: () => number;

  constructor(opts: MemoryCacheOptions = {}) {
    this.ttlMs = (opts.ttlSeconds ?? 3600) * 1000;
    this.maxUsers = opts.maxUsers ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  async get(userId: string, field: string): Promise<CacheLookup> {
    const e = this.map.get(userId);
    if (!e) return { status: 'miss' };
    if (e.expires <= this.now()) {
      this.map.delete(userId);
      return { status: 'miss' };
    }
    const v = e.fields.get(field);
    if (v === undefined) return { status: 'miss' };
    // refresh recency: Map iteration order is insertion order, so re-insert to mark as most recently used
    this.map.delete(userId);
    this.map.set(userId, e);
    return { status: 'hit', value: v };
  }

  async set(userId: string, field: string, value: string): Promise<boolean> {
    let e = this.map.get(userId);
    const now = this.now();
    if (!e || e.expires <= now) {
      e = { expires: now + this.ttlMs, fields: new Map() };
    } else this.map.delete(userId);
    e.fields.set(field, value);
    this.map.set(userId, e);
    while (this.map.size > this.maxUsers) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
    return true;
  }

  async invalidate(userId: string): Promise<boolean> {
    this.map.delete(userId);
    return true;
  }

  ready(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.map.clear();
  }
}

export interface RedisCacheOptions {
  url: string;
  ttlSeconds?: number;
  keyPrefix?: string;
  /** Per-command deadline, ms: past it the request bypasses the cache. */
  commandTimeoutMs?: number;
  /** Most pending invalidations remembered while Redis is away; past it the whole prefix is dropped on reconnect. */
  maxPendingInvalidations?: number;
  onStatus?: (status: string) => void;
}

export class RedisCache implements RecCache {
  readonly kind = 'redis' as const;
  readonly client: Redis;
  private readonly ttlMs: number;
  private readonly prefix: string;
  private pending = new Set<string>();
  private pendingOverflow = false;
  private replaying: Promise<void> | null = null;
  private readonly maxPending: number;
  private usable = false;
  private closed = false;

  constructor(opts: RedisCacheOptions) {
    this.ttlMs = (opts.ttlSeconds ?? 3600) * 1000;
    this.prefix = opts.keyPrefix ?? 'rec:u:';
    this.maxPending = opts.maxPendingInvalidations ?? 100_000;
    this.client = new Redis(opts.url, {
      // fail fast while disconnected instead of queueing: a request must not wait for Redis
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 50,
      connectTimeout: 1000,
      lazyConnect: false,
      retryStrategy: (times) => Math.min(50 * times, 1000),
    });
    this.client.on('ready', () => {
      opts.onStatus?.('ready');
      this.kickReplay(true);
    });
    for (const ev of ['close', 'reconnecting', 'end'] as const) {
      this.client.on(ev, () => {
        this.usable = false;
        opts.onStatus?.(ev);
      });
    }
    // errors are reported through status and bypass counts; without a listener ioredis would log each one
    this.client.on('error', () => undefined);
  }

  /** Wait for the first connection (or give up after `ms`). */
  async waitReady(ms = 2000): Promise<boolean> {
    const t0 = Date.now();
    while (!this.usable && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 10));
    return this.usable;
  }

  /** Replay pending invalidations (on reconnect, or when Redis answered again after timeouts). */
  private kickReplay(force = false): void {
    if (this.replaying || this.closed || this.client.status !== 'ready') return;
    if (!force && this.pending.size === 0 && !this.pendingOverflow) return;
    this.replaying = this.replayInvalidations().finally(() => {
      this.replaying = null;
    });
  }

  private async replayInvalidations(): Promise<void> {
    try {
      if (this.pendingOverflow) {
        let cursor = '0';
        do {
          const [next, keys] = await this.client.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await this.client.del(...keys);
          cursor = next;
        } while (cursor !== '0');
        this.pendingOverflow = false;
        this.pending.clear();
      }
      while (this.pending.size > 0) {
        const users = [...this.pending].slice(0, 1000);
        await this.client.del(...users.map((u) => this.prefix + u));
        for (const u of users) this.pending.delete(u);
      }
    } catch {
      // what is still pending stays pending: those users bypass the cache and the next get retries the replay
    } finally {
      this.usable = this.client.status === 'ready';
    }
  }

  ready(): boolean {
    return this.usable && this.client.status === 'ready';
  }

  /** Pending invalidations not yet replayed (for metrics and tests). */
  get pendingInvalidations(): number {
    return this.pendingOverflow ? -1 : this.pending.size;
  }

  async get(userId: string, field: string): Promise<CacheLookup> {
    if (!this.ready()) return { status: 'bypass' };
    if (this.pendingOverflow || (this.pending.size > 0 && this.pending.has(userId))) {
      // an invalidation of this user has not reached Redis yet (it timed out): do not trust the entry
      this.kickReplay();
      return { status: 'bypass' };
    }
    try {
      const v = await this.client.hget(this.prefix + userId, field);
      return v === null ? { status: 'miss' } : { status: 'hit', value: v };
    } catch {
      return { status: 'bypass' };
    }
  }

  async set(userId: string, field: string, value: string): Promise<boolean> {
    if (!this.ready() || this.pendingOverflow || this.pending.has(userId)) return false;
    try {
      const key = this.prefix + userId;
      const res = await this.client.pipeline().hset(key, field, value).pexpire(key, this.ttlMs, 'NX').exec();
      return !!res && res.every(([err]) => !err);
    } catch {
      return false;
    }
  }

  async invalidate(userId: string): Promise<boolean> {
    if (this.ready()) {
      try {
        await this.client.del(this.prefix + userId);
        return true;
      } catch {
        // fall through: remember it
      }
    }
    if (this.pending.size >= this.maxPending) this.pendingOverflow = true;
    else this.pending.add(userId);
    return false;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.client.status === 'ready') await this.client.quit();
      else this.client.disconnect();
    } catch {
      this.client.disconnect();
    }
  }
}
