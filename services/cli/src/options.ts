import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionSpec;

export const GLOBAL_HELP = `Options every command takes:
  -c, --config FILE   the services' configuration (default: $IDSYNC_CONFIG)
      --json          machine-readable output on stdout
  -h, --help          this help`;

/**
 * Parses a command's arguments; an unknown option or a missing value is a UsageError naming it and the command.
 * Returns the values and the positional arguments.
 */
export function parseCommandArgs<const T extends OptionSpec>(
  command: string,
  argv: readonly string[],
  options: T,
): { values: ReturnType<typeof parseArgs<{ options: T & typeof GLOBAL_OPTIONS; allowPositionals: true; strict: true }>>['values']; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: parsed.values as never, positionals: parsed.positionals };
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error);
    throw new UsageError(`idsync ${command}: ${message}`, `see idsync ${command} --help`);
  }
}

/** A whole number option (offsets, thresholds, counts), or a UsageError naming the option. */
export function integerOption(command: string, name: string, text: string | undefined, min = 0): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`idsync ${command}: --${name} must be a whole number of at least ${min}, not '${text}'`);
  }
  return Number(text);
}

/**
 * A point in time: ISO 8601 (2026-11-25T10:00:00Z), epoch milliseconds, or a duration ago (30s, 15m, 2h, 7d).
 * Returns epoch milliseconds.
 */
export function timeOption(command: string, name: string, text: string, now: number): number {
  const trimmed = text.trim();
  const ago = /^(\d+)\s*(ms|s|m|h|d)$/.exec(trimmed);
  if (ago) {
    const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(ago[1]) * unit;
  }
  if (/^\d{12,}$/.test(trimmed)) return Number(trimmed);
  const parsed = Date.parse(trimmed);
  if (Number.isNaN(parsed) || !/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    throw new UsageError(`idsync ${command}: --${name} '${text}' is not a time`, 'give an ISO 8601 time (2026-11-25T10:00:00Z), epoch milliseconds, or a duration ago (90s, 15m, 2h, 7d)');
  }
  if (parsed > now) throw new UsageError(`idsync ${command}: --${name} ${new Date(parsed).toISOString()} is in the future`);
  return parsed;
}
