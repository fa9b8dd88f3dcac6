/**
 * A small LDAP filter parser (RFC 4515) and an evaluator against what an event knows about its entry.
 *
 * Supported: `&`, `|`, `!`, equality, presence (`attr=*`), substrings, `>=`, `<=`, approximate (`~=`, evaluated as
 * equality), the absolute true/false filters `(&)` and `(|)` (RFC 4526), and the Active Directory bit-wise extensible
 * matches `attr:1.2.840.113556.1.4.803:=n` (all bits set) and `...804:=n` (any bit set). Values are escaped as
 * `\XX` hex (RFC 4515: `\2a` `*`, `\28` `(`, `\29` `)`, `\5c` `\`, `\00` NUL; hex sequences are UTF-8).
 * A filter without enclosing parentheses (`objectClass=user`) is accepted as one item.
 *
 * Evaluation is three-valued (RFC 4511 section 4.5.1.7): TRUE, FALSE or UNDEFINED. An event may tell only part of
 * its entry (a v1 modify carries what changed; an after-image covers the detector's attribute set), so an attribute
 * whose values the entry does not give evaluates to UNDEFINED: the filter cannot be decided from the event. `!` keeps UNDEFINED, `&` is FALSE if any part is FALSE,
 * `|` is TRUE if any part is TRUE, and UNDEFINED otherwise when a part is. Only TRUE selects.
 * Attribute names and string values compare case-insensitively; binary values compare byte for byte.
 */
import { type AttributeValue } from '@idsync/contracts';
import { ATTRIBUTE_NAME } from './template';

export const FilterResult = { True: 'TRUE', False: 'FALSE', Undefined: 'UNDEFINED' } as const;
export type FilterResult = (typeof FilterResult)[keyof typeof FilterResult];

/** An assertion value, decoded once: raw bytes for binary attributes, case-folded text for string ones. */
export interface AssertionValue {
  readonly bytes: Buffer;
  /** UTF-8 text of `bytes`, lower-cased. */
  readonly folded: string;
}

interface AttributeItem {
  /** As written. */
  readonly attribute: string;
  /** Lower-case, for look-ups. */
  readonly key: string;
}

export const AD_MATCHING_RULES = {
  '1.2.840.113556.1.4.803': 'bit-and',
  '1.2.840.113556.1.4.804': 'bit-or',
} as const;

export type Filter =
  | { readonly type: 'and'; readonly filters: readonly Filter[] }
  | { readonly type: 'or'; readonly filters: readonly Filter[] }
  | { readonly type: 'not'; readonly filter: Filter }
  | (AttributeItem & { readonly type: 'present' })
  | (AttributeItem & { readonly type: 'equality' | 'approx' | 'greaterOrEqual' | 'lessOrEqual'; readonly value: AssertionValue })
  | (AttributeItem & {
      readonly type: 'substrings';
      readonly initial: string | null;
      readonly any: readonly string[];
      readonly final: string | null;
    })
  | (AttributeItem & { readonly type: 'bitwise'; readonly rule: 'bit-and' | 'bit-or'; readonly value: bigint });

/** A filter that does not parse. Found at configuration time, so never retriable. */
export class InvalidFilterError extends Error {
  readonly retriable = false as const;

  constructor(
    readonly filter: string,
    readonly problem: string,
    readonly position: number,
  ) {
    super(`invalid LDAP filter '${filter}': ${problem} (at character ${position + 1})`);
    this.name = 'InvalidFilterError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const HEX = /^[0-9A-Fa-f]{2}$/;
const INTEGER = /^-?[0-9]+$/;

class FilterScanner {
  private i = 0;

  constructor(private readonly text: string) {}

  parse(): Filter {
    this.skipSpaces();
    const filter = this.text[this.i] === '(' ? this.filter() : this.item(this.text.trimEnd().length);
    this.skipSpaces();
    if (this.i < this.text.length) this.fail(`unexpected '${this.text[this.i] ?? ''}' after the filter`);
    return filter;
  }

  private filter(): Filter {
    if (this.text[this.i] !== '(') this.fail("expected '('");
    this.i++;
    const c = this.text[this.i];
    let filter: Filter;
    if (c === '&' || c === '|') {
      this.i++;
      const filters: Filter[] = [];
      for (;;) {
        this.skipSpaces();
        if (this.text[this.i] !== '(') break;
        filters.push(this.filter());
      }
      filter = { type: c === '&' ? 'and' : 'or', filters };
    } else if (c === '!') {
      this.i++;
      this.skipSpaces();
      filter = { type: 'not', filter: this.filter() };
      this.skipSpaces();
    } else {
      const close = this.findClose();
      filter = this.item(close);
    }
    if (this.text[this.i] !== ')') this.fail(this.i >= this.text.length ? "missing ')'" : `expected ')', found '${this.text[this.i] ?? ''}'`);
    this.i++;
    return filter;
  }

  /** Index of the ')' ending the current item (values cannot hold an unescaped parenthesis). */
  private findClose(): number {
    for (let k = this.i; k < this.text.length; k++) {
      const c = this.text[k];
      if (c === ')') return k;
      if (c === '(') this.fail("unescaped '(' in a value (write \\28)", k);
    }
    return this.fail("missing ')'", this.text.length);
  }

  /** `attr op value` from the current position up to `end` (exclusive). */
  private item(end: number): Filter {
    const s = this.text;
    const start = this.i;
    let k = start;
    while (k < end && !'=~<>:'.includes(s[k] ?? '')) k++;
    const attribute = s.slice(start, k);
    if (attribute === '') this.fail('missing attribute name', start);
    if (!ATTRIBUTE_NAME.test(attribute)) this.fail(`'${attribute}' is not an attribute name`, start);
    const key = attribute.toLowerCase();
    const op = k < end ? s[k] : undefined;
    let valueStart: number;
    let type: 'equality' | 'approx' | 'greaterOrEqual' | 'lessOrEqual';
    if (op === '=') {
      type = 'equality';
      valueStart = k + 1;
    } else if ((op === '~' || op === '>' || op === '<') && s[k + 1] === '=') {
      type = op === '~' ? 'approx' : op === '>' ? 'greaterOrEqual' : 'lessOrEqual';
      valueStart = k + 2;
    } else if (op === ':') {
      const assign = s.indexOf(':=', k);
      if (assign < 0 || assign >= end) this.fail("extensible match needs ':='", k);
      const rule = s.slice(k + 1, assign);
      const known = AD_MATCHING_RULES[rule as keyof typeof AD_MATCHING_RULES];
      if (!known) {
        this.fail(`extensible match '${rule}' is not supported (only ${Object.keys(AD_MATCHING_RULES).join(' and ')}, without :dn)`, k);
      }
      const raw = this.value(assign + 2, end, false) as Buffer;
      this.i = end;
      const text = raw.toString('utf8');
      if (!INTEGER.test(text)) this.fail(`bit-wise match needs an integer, not '${text}'`, assign + 2);
      return { type: 'bitwise', attribute, key, rule: known, value: BigInt(text) };
    } else {
      return this.fail(op === undefined ? 'missing operator' : `expected '=', '~=', '>=' or '<=' after '${attribute}'`, k);
    }
    this.i = end;
    if (type === 'equality') {
      if (end - valueStart === 1 && s[valueStart] === '*') return { type: 'present', attribute, key };
      const pieces = this.value(valueStart, end, true);
      if (Array.isArray(pieces)) {
        const folded = pieces.map((piece) => utf8.decode(piece).toLowerCase());
        const initial = folded[0] ?? '';
        const final = folded[folded.length - 1] ?? '';
        return {
          type: 'substrings',
          attribute,
          key,
          initial: initial === '' ? null : initial,
          any: folded.slice(1, -1).filter((piece) => piece !== ''),
          final: final === '' ? null : final,
        };
      }
      return { type, attribute, key, value: assertion(pieces) };
    }
    return { type, attribute, key, value: assertion(this.value(valueStart, end, false) as Buffer) };
  }

  /**
   * Decodes the value in [from, to). With `substrings`, an unescaped '*' splits it, and the pieces come back
   * as an array (only when at least one '*' was there).
   */
  private value(from: number, to: number, substrings: boolean): Buffer | Buffer[] {
    const s = this.text;
    const pieces: Buffer[] = [];
    let bytes: number[] = [];
    let split = false;
    for (let k = from; k < to; k++) {
      const c = s[k] as string;
      if (c === '\\') {
        const hex = s.slice(k + 1, k + 3);
        if (k + 3 > to || !HEX.test(hex)) this.fail(`'\\' must be followed by two hex digits (\\2a, \\28, \\29, \\5c, \\00)`, k);
        bytes.push(Number.parseInt(hex, 16));
        k += 2;
      } else if (c === '*') {
        if (!substrings) this.fail("unescaped '*' in a value (write \\2a)", k);
        split = true;
        pieces.push(Buffer.from(bytes));
        bytes = [];
      } else if (c === '(' || c === ')') {
        this.fail(`unescaped '${c}' in a value (write ${c === '(' ? '\\28' : '\\29'})`, k);
      } else {
        const code = s.codePointAt(k) as number;
        if (code < 0x80) bytes.push(code);
        else {
          const char = String.fromCodePoint(code);
          for (const b of Buffer.from(char, 'utf8')) bytes.push(b);
          k += char.length - 1;
        }
      }
    }
    if (split) {
      pieces.push(Buffer.from(bytes));
      return pieces;
    }
    return Buffer.from(bytes);
  }

  private skipSpaces(): void {
    while (this.text[this.i] === ' ') this.i++;
  }

  private fail(problem: string, at: number = this.i): never {
    throw new InvalidFilterError(this.text, problem, Math.min(at, Math.max(this.text.length - 1, 0)));
  }
}

function assertion(bytes: Buffer): AssertionValue {
  return { bytes, folded: utf8.decode(bytes).toLowerCase() };
}

export function parseFilter(text: string): Filter {
  return new FilterScanner(text).parse();
}

/** Lower-case names of every attribute a filter reads. */
export function filterAttributes(filter: Filter, into: Set<string> = new Set()): Set<string> {
  switch (filter.type) {
    case 'and':
    case 'or':
      for (const part of filter.filters) filterAttributes(part, into);
      break;
    case 'not':
      filterAttributes(filter.filter, into);
      break;
    default:
      into.add(filter.key);
  }
  return into;
}

/**
 * What the evaluator may ask of an entry: the values of an attribute by lower-case name, `[]` when the entry is
 * known not to have it, undefined when the event does not say (then the item is UNDEFINED).
 */
export interface FilterEntry {
  values(key: string): readonly AttributeValue[] | undefined;
}

export function evaluateFilter(filter: Filter, entry: FilterEntry): FilterResult {
  switch (filter.type) {
    case 'and': {
      let result: FilterResult = FilterResult.True;
      for (const part of filter.filters) {
        const value = evaluateFilter(part, entry);
        if (value === FilterResult.False) return FilterResult.False;
        if (value === FilterResult.Undefined) result = FilterResult.Undefined;
      }
      return result;
    }
    case 'or': {
      let result: FilterResult = FilterResult.False;
      for (const part of filter.filters) {
        const value = evaluateFilter(part, entry);
        if (value === FilterResult.True) return FilterResult.True;
        if (value === FilterResult.Undefined) result = FilterResult.Undefined;
      }
      return result;
    }
    case 'not': {
      const value = evaluateFilter(filter.filter, entry);
      return value === FilterResult.True ? FilterResult.False : value === FilterResult.False ? FilterResult.True : value;
    }
    default: {
      const values = entry.values(filter.key);
      if (values === undefined) return FilterResult.Undefined;
      if (filter.type === 'present') return values.length > 0 ? FilterResult.True : FilterResult.False;
      let result: FilterResult = FilterResult.False;
      for (const value of values) {
        const one = matchValue(filter, value);
        if (one === FilterResult.True) return one;
        if (one === FilterResult.Undefined) result = one;
      }
      return result;
    }
  }
}

/** True only when the filter evaluates to TRUE. */
export function matchesFilter(filter: Filter, entry: FilterEntry): boolean {
  return evaluateFilter(filter, entry) === FilterResult.True;
}

function matchValue(filter: Exclude<Filter, { type: 'and' | 'or' | 'not' | 'present' }>, value: AttributeValue): FilterResult {
  switch (filter.type) {
    case 'equality':
    case 'approx':
      return bool(typeof value === 'string' ? value.toLowerCase() === filter.value.folded : value.equals(filter.value.bytes));
    case 'greaterOrEqual':
    case 'lessOrEqual': {
      const order = compare(value, filter.value);
      if (order === null) return FilterResult.Undefined;
      return bool(filter.type === 'greaterOrEqual' ? order >= 0 : order <= 0);
    }
    case 'substrings': {
      if (typeof value !== 'string') return FilterResult.False;
      const text = value.toLowerCase();
      let at = 0;
      if (filter.initial !== null) {
        if (!text.startsWith(filter.initial)) return FilterResult.False;
        at = filter.initial.length;
      }
      for (const piece of filter.any) {
        const found = text.indexOf(piece, at);
        if (found < 0) return FilterResult.False;
        at = found + piece.length;
      }
      if (filter.final !== null) return bool(text.length - filter.final.length >= at && text.endsWith(filter.final));
      return FilterResult.True;
    }
    case 'bitwise': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (!INTEGER.test(text)) return FilterResult.Undefined;
      const bits = BigInt.asUintN(64, BigInt(text)) & BigInt.asUintN(64, filter.value);
      return bool(filter.rule === 'bit-and' ? bits === BigInt.asUintN(64, filter.value) : bits !== 0n);
    }
  }
}

/** Integers compare as numbers (AD stores large counters as decimal text); other strings case-folded. */
function compare(value: AttributeValue, assertionValue: AssertionValue): number | null {
  if (typeof value !== 'string') return Buffer.compare(value, assertionValue.bytes);
  if (INTEGER.test(value) && INTEGER.test(assertionValue.folded)) {
    const a = BigInt(value);
    const b = BigInt(assertionValue.folded);
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const a = value.toLowerCase();
  const b = assertionValue.folded;
  return a < b ? -1 : a > b ? 1 : 0;
}

function bool(value: boolean): FilterResult {
  return value ? FilterResult.True : FilterResult.False;
}
