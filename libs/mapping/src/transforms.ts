/**
 * Value transforms: what an attribute mapping does to the values it copies, as a list of steps applied in order
 * (each takes every value of the attribute and gives the values of the next). Pure and total over valid input:
 * a value a step cannot read (`abc` for a bit test, a malformed time) is a TransformError that names the step and
 * the value's problem, never the value itself (it may be personal data).
 *
 * The vocabulary, as written in a mapping's `transforms` (one key per step):
 *   { bitTest: 2, set: "TRUE", clear: [] }      integer values: `set` when every bit of the mask is on, else `clear`
 *   { setBits: 2 } / { clearBits: 2 }           integer values with the mask's bits turned on / off
 *   { time: { from: filetime, to: generalizedTime } }   between filetime, generalizedTime, epochSeconds, epochMillis;
 *                                               AD's "never" (FILETIME 0 and 0x7FFFFFFFFFFFFFFF) is no value, and
 *                                               `never: "<value>"` is what no value becomes (AD's accountExpires)
 *   { case: lower } / { case: upper }
 *   { replace: { pattern: "^(.*)@old$", with: "$1@new", flags: "i" } }   regular expression, every match
 *   { map: { "512": enabled, "514": disabled }, default: keep }           table lookup; default `keep` (the value
 *                                               itself), `drop` (no value) or a value
 *   { join: ", " } / { split: "," }             several values into one / one into several (empty parts dropped)
 *   { first: true }                             the first value only
 */

/** The epoch of FILETIME (1601-01-01) in Unix milliseconds, and FILETIME ticks (100 ns) per millisecond. */
const FILETIME_EPOCH_MS = -11_644_473_600_000n;
const TICKS_PER_MS = 10_000n;
/** FILETIME values AD uses for "never" (accountExpires, lockoutTime cleared). */
const FILETIME_NEVER: ReadonlySet<bigint> = new Set([0n, 0x7fff_ffff_ffff_ffffn]);
const FILETIME_MAX = 0x7fff_ffff_ffff_ffffn;

export const TIME_FORMATS = ['filetime', 'generalizedTime', 'epochSeconds', 'epochMillis'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

export type TransformStep =
  | { readonly kind: 'bitTest'; readonly mask: bigint; readonly set: readonly string[]; readonly clear: readonly string[] }
  | { readonly kind: 'setBits' | 'clearBits'; readonly mask: bigint }
  | { readonly kind: 'time'; readonly from: TimeFormat; readonly to: TimeFormat; readonly never: string | null }
  | { readonly kind: 'case'; readonly to: 'lower' | 'upper' }
  | { readonly kind: 'replace'; readonly pattern: RegExp; readonly with: string }
  | { readonly kind: 'map'; readonly table: ReadonlyMap<string, string>; readonly otherwise: 'keep' | 'drop' | { readonly value: string } }
  | { readonly kind: 'join'; readonly separator: string }
  | { readonly kind: 'split'; readonly separator: string }
  | { readonly kind: 'first' };

/** A value a step could not read. Never retriable: the same value fails the same way. */
export class TransformError extends Error {
  readonly retriable = false;
  constructor(
    readonly step: TransformStep['kind'],
    readonly problem: string,
  ) {
    super(`transform ${step}: ${problem}`);
    this.name = 'TransformError';
  }
}

/** The values after every step, in order. */
export function applyTransforms(steps: readonly TransformStep[], values: readonly string[]): string[] {
  let current = [...values];
  for (const step of steps) current = applyStep(step, current);
  return current;
}

function applyStep(step: TransformStep, values: readonly string[]): string[] {
  switch (step.kind) {
    case 'bitTest':
      return values.flatMap((value) => ((integerOf(value, step.kind) & step.mask) === step.mask ? step.set : step.clear));
    case 'setBits':
      return values.map((value) => String(integerOf(value, step.kind) | step.mask));
    case 'clearBits':
      return values.map((value) => String(integerOf(value, step.kind) & ~step.mask));
    case 'time': {
      if (values.length === 0) return step.never === null ? [] : [step.never];
      return values.flatMap((value) => {
        const ms = readTime(value, step.from);
        return ms === null ? (step.never === null ? [] : [step.never]) : [writeTime(ms, step.to)];
      });
    }
    case 'case':
      return values.map((value) => (step.to === 'lower' ? value.toLowerCase() : value.toUpperCase()));
    case 'replace':
      return values.map((value) => value.replace(step.pattern, step.with));
    case 'map':
      return values.flatMap((value) => {
        const mapped = step.table.get(value);
        if (mapped !== undefined) return [mapped];
        if (step.otherwise === 'keep') return [value];
        if (step.otherwise === 'drop') return [];
        return [step.otherwise.value];
      });
    case 'join':
      return values.length === 0 ? [] : [values.join(step.separator)];
    case 'split':
      return values.flatMap((value) => value.split(step.separator).filter((part) => part.length > 0));
    case 'first':
      return values.slice(0, 1);
  }
}

const INTEGER = /^-?\d{1,20}$/;

function integerOf(value: string, step: TransformStep['kind']): bigint {
  const text = value.trim();
  if (!INTEGER.test(text)) throw new TransformError(step, `a value is not an integer (${describeShape(value)})`);
  return BigInt(text);
}

/** What a bad value looks like, without the value (it may be personal data). */
function describeShape(value: string): string {
  return `${value.length} characters`;
}

// ------------------------------------------------------------------ times

/** Unix milliseconds of a value in `format`; null for AD's "never". */
export function readTime(value: string, format: TimeFormat): bigint | null {
  const text = value.trim();
  switch (format) {
    case 'filetime': {
      const ticks = integerOf(text, 'time');
      if (FILETIME_NEVER.has(ticks)) return null;
      if (ticks < 0n || ticks > FILETIME_MAX) throw new TransformError('time', 'a FILETIME value is out of range');
      return FILETIME_EPOCH_MS + ticks / TICKS_PER_MS;
    }
    case 'epochSeconds':
      return integerOf(text, 'time') * 1000n;
    case 'epochMillis':
      return integerOf(text, 'time');
    case 'generalizedTime':
      return generalizedTimeMs(text);
  }
}

/** A time as `format` (generalized time in UTC, with milliseconds only when there are some). */
export function writeTime(ms: bigint, format: TimeFormat): string {
  switch (format) {
    case 'filetime': {
      const ticks = (ms - FILETIME_EPOCH_MS) * TICKS_PER_MS;
      if (ticks <= 0n || ticks >= FILETIME_MAX) throw new TransformError('time', 'the time is outside what FILETIME holds');
      return String(ticks);
    }
    case 'epochSeconds':
      return String(floorDiv(ms, 1000n));
    case 'epochMillis':
      return String(ms);
    case 'generalizedTime':
      return formatGeneralizedTime(ms);
  }
}

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d{1,9}))?(Z|[+-]\d{4})$/;
/** 0001-01-01 and 9999-12-31: what four-digit years hold. */
const MIN_MS = -62_135_596_800_000n;
const MAX_MS = 253_402_300_799_999n;

function generalizedTimeMs(text: string): bigint {
  const m = GENERALIZED_TIME.exec(text);
  if (!m) throw new TransformError('time', `a value is not a generalized time (${describeShape(text)})`);
  const [, y, mo, d, h, mi, s, fraction, zone] = m as unknown as [string, string, string, string, string, string | undefined, string | undefined, string | undefined, string];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi ?? '0');
  const second = Number(s ?? '0');
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new TransformError('time', 'a generalized time names no real moment');
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number((fraction ?? '0').padEnd(3, '0').slice(0, 3)));
  let ms = BigInt(date.getTime());
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1n : 1n;
    ms -= sign * (BigInt(zone.slice(1, 3)) * 60n + BigInt(zone.slice(3, 5))) * 60_000n;
  }
  return ms;
}

function formatGeneralizedTime(ms: bigint): string {
  if (ms < MIN_MS || ms > MAX_MS) throw new TransformError('time', 'the time is outside what a generalized time holds');
  const date = new Date(Number(ms));
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const whole = `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
  const millis = date.getUTCMilliseconds();
  return millis === 0 ? `${whole}Z` : `${whole}.${pad(millis, 3)}Z`;
}

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

// ------------------------------------------------------------------ bits at the destination

/**
 * The destination's integer with only the mask's bits taken from `wanted` (the others as they are): how a writer
 * sets userAccountControl's disabled bit without clobbering the rest. `current` null: the attribute has no value.
 */
export function mergeBits(current: string | null, mask: bigint, wanted: bigint): string {
  const base = current === null ? 0n : integerOf(current, 'setBits');
  return String((base & ~mask) | (wanted & mask));
}
