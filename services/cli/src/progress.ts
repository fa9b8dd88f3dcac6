import { type CliIo } from './io';
import { formatCount, formatDuration } from './format';

export interface ProgressOptions {
  readonly label: string;
  /** Unknown totals show a count and a rate, no bar and no ETA. */
  readonly total?: number;
  readonly unit?: string;
  /** Non-terminal output: one line every this many ms (default 5 s). */
  readonly lineEveryMs?: number;
}

/**
 * A progress line on stderr: bar, count, rate and ETA. Redrawn in place on a terminal (at most ~10 times a second);
 * elsewhere (CI, logs) a plain line every few seconds, so a long run shows it is alive without flooding the log.
 */
export class Progress {
  private done = 0;
  private readonly startedAt: number;
  private lastDrawAt = 0;
  private total: number | undefined;

  constructor(
    private readonly io: CliIo,
    private readonly options: ProgressOptions,
  ) {
    this.startedAt = io.now();
    this.lastDrawAt = this.startedAt;
    this.total = options.total;
  }

  get count(): number {
    return this.done;
  }

  setTotal(total: number): void {
    this.total = total;
  }

  /** Starts from an earlier run's count (a resumed resync); the rate counts only this run's work. */
  advance(by = 1): void {
    this.done += by;
    const now = this.io.now();
    const every = this.io.isTty ? 100 : (this.options.lineEveryMs ?? 5_000);
    if (now - this.lastDrawAt >= every) {
      this.lastDrawAt = now;
      this.draw(now, false);
    }
  }

  /** The final line; returns the elapsed time and rate for the command's summary. */
  finish(): { elapsedMs: number; rate: number } {
    const now = this.io.now();
    this.draw(now, true);
    const elapsedMs = Math.max(1, now - this.startedAt);
    return { elapsedMs, rate: (this.done * 1_000) / elapsedMs };
  }

  line(now: number): string {
    const elapsed = Math.max(1, now - this.startedAt);
    const rate = (this.done * 1_000) / elapsed;
    const unit = this.options.unit ?? 'entries';
    const parts = [this.options.label];
    if (this.total !== undefined && this.total > 0) {
      const fraction = Math.min(1, this.done / this.total);
      const width = 24;
      const filled = Math.round(fraction * width);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`, `${formatCount(this.done)}/${formatCount(this.total)} ${unit}`, `${Math.floor(fraction * 100)}%`);
    } else {
      parts.push(`${formatCount(this.done)} ${unit}`);
    }
    parts.push(`${formatCount(Math.round(rate))}/s`);
    if (this.total !== undefined && this.total > this.done && rate > 0) parts.push(`ETA ${formatDuration(((this.total - this.done) / rate) * 1_000)}`);
    else parts.push(`elapsed ${formatDuration(elapsed)}`);
    return parts.join('  ');
  }

  private draw(now: number, final: boolean): void {
    const text = this.line(now);
    if (this.io.isTty) this.io.err(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    else this.io.err(`${text}\n`);
  }
}
