/**
 * Range retrieval (MS-ADTS 3.1.1.3.1.3.3): Active Directory returns at most MaxValRange values of an attribute
 * (1,500 by default) per search result entry, named `member;range=0-1499`; the client asks for
 * `member;range=1500-*` and so on until a slice ends in `*`. This is the pure part: reading the option and
 * folding slices into the plain attribute. ./ranged-search.ts does the reads.
 *
 * Not to be confused with DirSync's incremental values (`member;range=1-1` added, `member;range=0-0` removed), which
 * are value deltas: the DirSync read never goes through here.
 */

export type EntryValue = string | Buffer;

/** A search result entry as ldapts returns it: a single value unwrapped, several as an array. */
export interface EntryRecord {
  dn: string;
  [name: string]: string | Buffer | string[] | Buffer[];
}

export interface ValueRange {
  /** The attribute description without its range option, as the server spelled it (`member`). */
  readonly attribute: string;
  readonly low: number;
  /** Index of the slice's last value; null for `*`: this slice ends the attribute's values. */
  readonly high: number | null;
}

/** The slices still to read for one attribute of an entry. */
export interface PendingRange {
  readonly attribute: string;
  /** Index of the first value not read yet. */
  readonly next: number;
}

export interface RangeProgress {
  /** The entry with every slice read so far folded into its plain attribute. */
  readonly entry: EntryRecord;
  readonly pending: readonly PendingRange[];
}

/** A server's answer that cannot continue a range retrieval: retrying the read may help (the entry was changing). */
export class RangeRetrievalError extends Error {
  readonly retriable = true;
  constructor(
    readonly dn: string,
    readonly attribute: string,
    problem: string,
  ) {
    super(`range retrieval of ${attribute} of ${dn}: ${problem}`);
    this.name = 'RangeRetrievalError';
  }
}

const RANGE_OPTION = /^range=(\d+)-(\d+|\*)$/i;

/** `member;range=0-1499` -> { attribute: 'member', low: 0, high: 1499 }; null when the description has no range option. */
export function parseValueRange(description: string): ValueRange | null {
  if (!description.includes(';')) return null;
  const [attribute, ...options] = description.split(';');
  const at = options.findIndex((option) => RANGE_OPTION.test(option));
  if (!attribute || at < 0) return null;
  const [, low, high] = RANGE_OPTION.exec(options[at] as string) as RegExpExecArray;
  const rest = options.filter((_, i) => i !== at);
  return { attribute: [attribute, ...rest].join(';'), low: Number(low), high: high === '*' ? null : Number(high) };
}

/** The description asking for an attribute's values from `low` to the end (Samba only honours a lower-case `range`). */
export function valueRangeRequest(attribute: string, low: number): string {
  return `${attribute};range=${low}-*`;
}

/** The attribute's name without any options: what ldapts' explicitBufferAttributes should match. */
export function baseAttributeName(description: string): string {
  const semicolon = description.indexOf(';');
  return semicolon < 0 ? description : description.slice(0, semicolon);
}

/** The entry's ranged attributes folded into plain ones, and the slices still to read. Entries without ranges are returned as they are. */
export function foldValueRanges(entry: EntryRecord): RangeProgress {
  if (!Object.keys(entry).some((name) => name !== 'dn' && parseValueRange(name) !== null)) return { entry, pending: [] };
  const out: EntryRecord = { dn: entry.dn };
  const slices: { range: ValueRange; values: EntryValue[] }[] = [];
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const range = parseValueRange(name);
    if (range === null) out[name] = value;
    // ldapts lists each requested description the server did not return, with no values: not a slice.
    else if (valuesOf(value).length > 0) slices.push({ range, values: valuesOf(value) });
  }
  const ends = new Map<string, PendingRange | null>();
  for (const { range, values } of slices) {
    append(out, range.attribute, values);
    const key = range.attribute.toLowerCase();
    const before = ends.get(key);
    if (before === null) continue;
    if (range.high === null) ends.set(key, null);
    else if (before === undefined || range.high + 1 > before.next) ends.set(key, { attribute: range.attribute, next: range.high + 1 });
  }
  return { entry: out, pending: [...ends.values()].filter((p): p is PendingRange => p !== null) };
}

/** Folds the answer to a request for the pending slices (one base read of the entry) into the entry. */
export function foldNextSlices(progress: RangeProgress, answer: EntryRecord): RangeProgress {
  const out: EntryRecord = { ...progress.entry };
  const pending: PendingRange[] = [];
  for (const wanted of progress.pending) {
    const slices = Object.entries(answer)
      .filter(([name]) => name !== 'dn')
      .map(([name, value]) => ({ range: parseValueRange(name), values: valuesOf(value), name }))
      .filter((s) => s.values.length > 0);
    const mine = slices.filter((s) => s.range !== null && sameName(s.range.attribute, wanted.attribute));
    if (mine.length === 0) {
      if (slices.some((s) => s.range === null && sameName(s.name, wanted.attribute))) {
        throw new RangeRetrievalError(progress.entry.dn, wanted.attribute, `asked for ${valueRangeRequest(wanted.attribute, wanted.next)}, the server answered the attribute without a range`);
      }
      // Nothing from `next` on: the attribute lost values since the first slice was read.
      continue;
    }
    const [slice, ...others] = mine as [(typeof mine)[number], ...typeof mine];
    const range = slice.range as ValueRange;
    if (others.length > 0) throw new RangeRetrievalError(progress.entry.dn, wanted.attribute, `the server answered ${mine.length} slices to one request`);
    if (range.low !== wanted.next) throw new RangeRetrievalError(progress.entry.dn, wanted.attribute, `asked for values from ${wanted.next}, the server answered ${slice.name}`);
    if (range.high !== null && range.high < range.low) throw new RangeRetrievalError(progress.entry.dn, wanted.attribute, `the server answered an empty range ${slice.name}`);
    append(out, wanted.attribute, slice.values);
    if (range.high !== null) pending.push({ attribute: wanted.attribute, next: range.high + 1 });
  }
  return { entry: out, pending };
}

function valuesOf(value: unknown): EntryValue[] {
  const list: unknown[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is EntryValue => typeof v === 'string' || Buffer.isBuffer(v));
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Adds values to the entry's attribute (found whatever its case: ldapts also lists the plain description that
 * was requested, with no values). As ldapts does for one attribute, values are all bytes once one of them is.
 */
function append(entry: EntryRecord, attribute: string, values: readonly EntryValue[]): void {
  const key = Object.keys(entry).find((name) => name !== 'dn' && sameName(name, attribute)) ?? attribute;
  const all = [...valuesOf(entry[key]), ...values];
  entry[key] = all.some((v) => Buffer.isBuffer(v)) ? all.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'))) : (all as string[]);
}
