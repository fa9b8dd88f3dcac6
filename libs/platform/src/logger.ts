import { type LoggerService } from '@nestjs/common';
import { type SecretRedactor } from './redact';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Readonly<Record<string, unknown>>;

/** One JSON object per line on stdout; every line passes through the redactor. */
export class JsonLogger implements LoggerService {
  private readonly threshold: number;

  constructor(
    private readonly service: string,
    level: LogLevel,
    private readonly redactor: SecretRedactor,
    private readonly write: (line: string) => void = stdoutLines(),
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  log(message: unknown, ...context: unknown[]): void {
    this.emit('info', message, context);
  }
  warn(message: unknown, ...context: unknown[]): void {
    this.emit('warn', message, context);
  }
  error(message: unknown, ...context: unknown[]): void {
    this.emit('error', message, context);
  }
  debug(message: unknown, ...context: unknown[]): void {
    this.emit('debug', message, context);
  }
  verbose(message: unknown, ...context: unknown[]): void {
    this.emit('debug', message, context);
  }

  /** Whether lines of `level` are written (to skip building per-change debug lines). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.threshold;
  }

  /** Structured event: `logger.event('info', 'detector.batch', { count: 12 })`. */
  event(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (LOG_LEVELS.indexOf(level) < this.threshold) return;
    this.line(level, msg, fields);
  }

  /**
   * A line of a record stream (the sync log), written whatever the log level, at level info: `{ts, level, msg,
   * ...record}`. The record comes serialized (`{...}`, as it is also sent to the audit topic) and names its service.
   */
  recordJson(msg: string, record: string): void {
    const head = `{"ts":"${new Date().toISOString()}","level":"info","msg":${JSON.stringify(msg)}`;
    this.write(`${this.redactor.redact(record.length > 2 ? `${head},${record.slice(1)}` : `${head}}`)}\n`);
  }

  private line(level: LogLevel, msg: string, fields: LogFields): void {
    const line = JSON.stringify({ ts: new Date().toISOString(), level, service: this.service, msg, ...fields }, jsonReplacer);
    this.write(`${this.redactor.redact(line)}\n`);
  }

  private emit(level: LogLevel, message: unknown, context: unknown[]): void {
    // Nest passes (message, context) or (message, stack, context) for errors.
    const scope = typeof context.at(-1) === 'string' ? (context.at(-1) as string) : undefined;
    const stack = level === 'error' && typeof context[0] === 'string' && context.length > 1 ? context[0] : undefined;
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    this.event(level, text, { ...(scope ? { scope } : {}), ...(stack ? { stack } : {}) });
  }
}

/**
 * Stdout, written once per turn of the event loop: a writer logs a line per request, and every write to a file or a
 * pipe is a system call. Lines still pending when the process exits are written then (writes to files and pipes are
 * synchronous); only a crash of the runtime itself loses them, at most one turn's worth.
 */
export function stdoutLines(stream: { write(text: string): unknown } = process.stdout): (line: string) => void {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    stream.write(text);
  };
  flushOnExit(flush);
  return (line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

const pendingAtExit: (() => void)[] = [];
function flushOnExit(flush: () => void): void {
  if (pendingAtExit.push(flush) === 1) process.on('exit', () => pendingAtExit.forEach((f) => f()));
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  return value;
}
