/**
 * Run logger: progress bars on a terminal (cli-progress), plain lines when piped, metrics as JSON lines.
 * Metric names follow the CleanRL convention (`charts/episodic_return`, `losses/td_loss`, `charts/SPS`).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';

export interface RunLoggerOptions {
  /** Where JSON lines of metrics go (one object per `metrics()` call). */
  metricsPath?: string;
  /** Stream for human-readable output (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force progress bars on or off (default: on when the stream is a TTY and CI is not set). */
  progress?: boolean;
  /** Silence all human-readable output (metrics are still written). */
  quiet?: boolean;
}

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  increment(delta?: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export class RunLogger {
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly useBars: boolean;
  private readonly quiet: boolean;
  private metricsStream?: WriteStream;
  private activeBar?: cliProgress.SingleBar;
  private readonly start = Date.now();

  constructor(options: RunLoggerOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.quiet = options.quiet ?? false;
    const tty = !!(this.stream as { isTTY?: boolean }).isTTY && !process.env.CI;
    this.useBars = !this.quiet && (options.progress ?? tty);
    if (options.metricsPath) {
      mkdirSync(dirname(options.metricsPath), { recursive: true });
      this.metricsStream = createWriteStream(options.metricsPath, { flags: 'a' });
    }
  }

  get interactive(): boolean {
    return this.useBars;
  }

  /** A human-readable line (goes above an active progress bar on a terminal). */
  info(line: string): void {
    if (this.quiet) return;
    if (this.activeBar) {
      // cli-progress redraws on the next update; clearing the line keeps output tidy.
      this.stream.write(`\r\x1b[K${line}\n`);
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  warn(line: string): void {
    this.info(`warning: ${line}`);
  }

  /** Append one JSON line `{step, time, ...values}` to the metrics file. */
  metrics(step: number, values: Record<string, number | string | boolean | null>): void {
    if (!this.metricsStream) return;
    this.metricsStream.write(`${JSON.stringify({ step, time: (Date.now() - this.start) / 1000, ...values })}\n`);
  }

  /**
   * A progress bar of `total` units. On a terminal it redraws in place; when piped it prints a plain line
   * every `every` percent (default 10) so CI logs stay readable.
   */
  progress(label: string, total: number, every = 10): Progress {
    if (this.useBars) {
      const bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} {status}`,
          stream: this.stream as NodeJS.WritableStream,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { status: '' });
      this.activeBar = bar;
      const fmt = (p?: Record<string, string | number>) =>
        p ? { status: Object.entries(p).map(([k, v]) => `${k} ${typeof v === 'number' ? round(v) : v}`).join(' | ') } : undefined;
      return {
        update: (v, p) => bar.update(v, fmt(p)),
        increment: (d = 1, p) => bar.increment(d, fmt(p)),
        stop: () => {
          bar.stop();
          if (this.activeBar === bar) this.activeBar = undefined;
        },
      };
    }
    let value = 0;
    let lastPct = -Infinity;
    const t0 = Date.now();
    const report = (p?: Record<string, string | number>) => {
      const pct = total > 0 ? (100 * value) / total : 100;
      if (pct - lastPct >= every || value >= total) {
        lastPct = pct;
        const extra = p ? ` | ${Object.entries(p).map(([k, v]) => `${k} ${typeof v === 'number' ? round(v) : v}`).join(' | ')}` : '';
        this.info(`${label} ${value}/${total} (${pct.toFixed(0)}%, ${((Date.now() - t0) / 1000).toFixed(1)} s)${extra}`);
      }
    };
    return {
      update: (v, p) => {
        value = v;
        report(p);
      },
      increment: (d = 1, p) => {
        value += d;
        report(p);
      },
      stop: () => {},
    };
  }

  async close(): Promise<void> {
    this.activeBar?.stop();
    const s = this.metricsStream;
    this.metricsStream = undefined;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }
}

function round(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000 || Number.isInteger(v)) return v.toFixed(0);
  if (a >= 1) return v.toFixed(3);
  return v.toPrecision(3);
}
