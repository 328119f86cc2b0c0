/**
 * Append-only JSON-lines log of exposures, interactions and experiment changes: the service's durable record and
 * what rebuilds its state on restart (`replay`).
 *
 * Writes are group-committed: lines appended while a write is in flight go out together in the next write, so
 * one `write` (+ one `fdatasync`) serves many requests. Durability by `fsync` policy:
 * - `always` (default): `append` resolves only after the line's batch is written and fdatasync'ed; an
 *   acknowledged interaction (HTTP 202) survives a process crash and a power loss.
 * - `interval`: resolves after `write` (survives a process crash: the bytes are in the OS page cache);
 *   fdatasync every `intervalMs`, so a power loss can lose up to that window.
 * - `none`: resolves after `write`; the OS decides when to flush.
 * A crash can leave a torn last line; `replay` counts unparsable lines (with line numbers) and skips them.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { NotAvailableError } from '@rec/core';

export type FsyncPolicy = 'always' | 'interval' | 'none';

export interface EventLogOptions {
  fsync?: FsyncPolicy;
  /** fdatasync period for the `interval` policy, ms. */
  intervalMs?: number;
}

export interface ReplayReport {
  lines: number;
  events: number;
  badLines: number[];
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class EventLog {
  private buf: string[] = [];
  private waiters: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dirtySinceSync = false;
  private closed = false;
  /** Lines handed to `append`. */
  appended = 0;
  /** Lines written to the file. */
  written = 0;
  /** Lines whose write failed (their `append` promise rejected). */
  failed = 0;
  fsyncs = 0;

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    readonly fsyncPolicy: FsyncPolicy,
    intervalMs: number,
  ) {
    if (fsyncPolicy === 'interval') {
      this.timer = setInterval(() => void this.periodicSync(), intervalMs);
      this.timer.unref();
    }
  }

  static async open(path: string, opts: EventLogOptions = {}): Promise<EventLog> {
    await mkdir(dirname(path), { recursive: true });
    let fh: FileHandle;
    try {
      fh = await open(path, 'a');
    } catch (e) {
      throw new NotAvailableError('cannot open event log', { where: `EventLog.open(${path})`, expected: 'a writable file path', got: (e as NodeJS.ErrnoException).code ?? String(e) });
    }
    return new EventLog(path, fh, opts.fsync ?? 'always', opts.intervalMs ?? 1000);
  }

  /** Read every event of a log file in order (missing file = no events). Unparsable lines are reported, not fatal. */
  static async replay(path: string, onEvent: (e: Record<string, unknown>, line: number) => void): Promise<ReplayReport> {
    const report: ReplayReport = { lines: 0, events: 0, badLines: [] };
    let stream;
    try {
      stream = createReadStream(path, { encoding: 'utf8' });
      await new Promise<void>((res, rej) => {
        stream!.once('open', () => res());
        stream!.once('error', rej);
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return report;
      throw e;
    }
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    for await (const line of rl) {
      report.lines++;
      if (line.length === 0) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        report.badLines.push(report.lines);
        continue;
      }
      if (typeof v !== 'object' || v === null) {
        report.badLines.push(report.lines);
        continue;
      }
      report.events++;
      onEvent(v as Record<string, unknown>, report.lines);
    }
    return report;
  }

  /** Append one event; see the class comment for when the promise resolves. */
  append(event: object): Promise<void> {
    if (this.closed) return Promise.reject(new NotAvailableError('event log is closed', { where: `EventLog.append(${this.path})`, hint: 'the service is shutting down' }));
    const line = JSON.stringify(event) + '\n';
    this.appended++;
    return new Promise((resolve, reject) => {
      this.buf.push(line);
      this.waiters.push({ resolve, reject });
      if (!this.writing) this.writing = this.drain();
    });
  }

  private async drain(): Promise<void> {
    // let the current event-loop turn add its lines first
    await new Promise((r) => setImmediate(r));
    while (this.buf.length > 0) {
      const lines = this.buf;
      const waiters = this.waiters;
      this.buf = [];
      this.waiters = [];
      try {
        await this.fh.write(lines.join(''));
        if (this.fsyncPolicy === 'always') {
          await this.fh.datasync();
          this.fsyncs++;
        } else this.dirtySinceSync = true;
        this.written += lines.length;
        for (const w of waiters) w.resolve();
      } catch (e) {
        this.failed += lines.length;
        for (const w of waiters) w.reject(e);
      }
    }
    this.writing = null;
  }

  private async periodicSync(): Promise<void> {
    if (!this.dirtySinceSync || this.closed) return;
    this.dirtySinceSync = false;
    try {
      await this.fh.datasync();
      this.fsyncs++;
    } catch {
      this.dirtySinceSync = true;
    }
  }

  /** Wait until every appended line is written and synced to disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.fsyncPolicy !== 'always' && this.dirtySinceSync) {
      this.dirtySinceSync = false;
      await this.fh.datasync();
      this.fsyncs++;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.fh.close();
  }
}
