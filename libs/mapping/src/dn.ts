/**
 * Distinguished names as values (RFC 4514): parse once, compare normalized, format with escaping.
 * Never build a DN by concatenating strings taken from event data; build a `Dn` and call `formatDn`.
 */

/** One `type=value` pair. */
export interface Ava {
  /** Attribute type as written (`CN`, `ou`, `2.5.4.3`); compare with `normalizeAttributeType`. */
  readonly type: string;
  /** The value, unescaped. For a `#`-hex value that is not a BER string: `#` followed by the hex text. */
  readonly value: string;
  /**
   * Set only for a `#`-hex value whose BER encoding is not a string type this parser decodes:
   * the BER bytes as lower-case hex. `formatDn` writes it back as `#hex`.
   */
  readonly ber?: string;
}

/** A relative DN: usually one pair, several for a multi-valued RDN (`cn=Jane+uid=jdoe`). */
export type Rdn = readonly Ava[];

/** RDNs from the entry's own (leftmost) to the one nearest the root. The root DSE is `[]`. */
export type Dn = readonly Rdn[];

/** A DN that cannot be parsed. Retrying cannot help: the text is what it is. */
export class InvalidDnError extends Error {
  readonly retriable = false as const;

  constructor(
    readonly dn: string,
    readonly problem: string,
    /** Index in `dn` where the problem was found. */
    readonly position: number,
  ) {
    super(`invalid DN '${dn}': ${problem} (at character ${position + 1})`);
    this.name = 'InvalidDnError';
  }
}

const SPACE = 0x20;
const HEX_DIGIT = /^[0-9A-Fa-f]$/;
const TYPE_START = /^[A-Za-z0-9]$/;
const DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const NUMERICOID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Characters that must never appear unescaped inside a string value. */
const FORBIDDEN_IN_VALUE = new Set(['"', ';', '<', '>']);
/** Characters that end a run of ordinary value characters. */
const STOP_IN_VALUE = new Set([',', '+', '\\', ...FORBIDDEN_IN_VALUE]);

/** `[A-Za-z0-9.-]` */
function isTypeChar(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || (code >= 0x30 && code <= 0x39) || code === 0x2e || code === 0x2d;
}

class DnScanner {
  private i = 0;

  constructor(private readonly text: string) {}

  parse(): Dn {
    const s = this.text;
    this.skipSpaces();
    if (this.i === s.length) return [];
    const rdns: Rdn[] = [];
    for (;;) {
      rdns.push(this.rdn());
      if (this.i === s.length) return rdns;
      const separator = s[this.i];
      if (separator !== ',') this.fail(`expected ',' or '+' after a value, found '${separator ?? ''}'`);
      this.i++;
      this.skipSpaces();
      if (this.i === s.length) this.fail('ends with a separator (empty RDN)');
    }
  }

  private rdn(): Rdn {
    const avas: Ava[] = [];
    for (;;) {
      this.skipSpaces();
      const type = this.attributeType();
      this.skipSpaces();
      if (this.text[this.i] !== '=') this.fail(`expected '=' after attribute type '${type}'`);
      this.i++;
      this.skipSpaces();
      avas.push(this.value(type));
      if (this.text[this.i] !== '+') return avas;
      this.i++;
      this.skipSpaces();
      if (this.i === this.text.length || this.text[this.i] === ',') this.fail("empty attribute after '+'");
    }
  }

  private attributeType(): string {
    const s = this.text;
    const start = this.i;
    const first = s[this.i];
    if (first === undefined || !TYPE_START.test(first)) {
      this.fail(first === undefined ? 'missing attribute type' : first === ',' ? 'empty RDN' : `attribute type cannot start with '${first}'`);
    }
    while (this.i < s.length && isTypeChar(s.charCodeAt(this.i))) this.i++;
    const type = s.slice(start, this.i);
    const bare = /^oid\./i.test(type) ? type.slice(4) : type;
    if (!DESCR.test(bare) && !NUMERICOID.test(bare)) this.fail(`'${type}' is not an attribute name or OID`, start);
    return bare;
  }

  private value(type: string): Ava {
    const c = this.text[this.i];
    if (c === '#') return this.hexValue(type);
    if (c === '"') return { type, value: this.quotedValue() };
    return { type, value: this.stringValue() };
  }

  /** `#` followed by the hex of a BER encoding. */
  private hexValue(type: string): Ava {
    const s = this.text;
    const start = ++this.i;
    while (this.i < s.length && HEX_DIGIT.test(s[this.i] ?? '')) this.i++;
    const hex = s.slice(start, this.i).toLowerCase();
    if (hex.length === 0 || hex.length % 2 !== 0) this.fail("'#' must be followed by an even number of hex digits", start);
    this.skipSpaces();
    if (this.i < s.length && s[this.i] !== ',' && s[this.i] !== '+') this.fail(`unexpected '${s[this.i] ?? ''}' after a '#' hex value`);
    const decoded = decodeBerString(Buffer.from(hex, 'hex'));
    return decoded === null ? { type, value: `#${hex}`, ber: hex } : { type, value: decoded };
  }

  /** RFC 2253 legacy form `"..."`: everything but `"` and `\` stands for itself. */
  private quotedValue(): string {
    const s = this.text;
    const open = this.i++;
    const out = new ValueBuilder();
    for (;;) {
      const c = s[this.i];
      if (c === undefined) this.fail('unterminated quoted value', open);
      if (c === '"') break;
      if (c === '\\') this.escape(out);
      else {
        out.significant(c); // inside quotes every character is significant, spaces included
        this.i++;
      }
    }
    this.i++;
    const value = this.finish(out, open);
    this.skipSpaces();
    if (this.i < s.length && s[this.i] !== ',' && s[this.i] !== '+') this.fail(`unexpected '${s[this.i] ?? ''}' after a quoted value`);
    return value;
  }

  private stringValue(): string {
    const s = this.text;
    const start = this.i;
    const out = new ValueBuilder();
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (c === ',' || c === '+') break;
      if (c === '\\') {
        this.escape(out);
        continue;
      }
      if (FORBIDDEN_IN_VALUE.has(c)) this.fail(`unescaped '${c}' in a value (write \\${c})`);
      // Take the whole run of ordinary characters at once.
      let end = this.i + 1;
      while (end < s.length && !STOP_IN_VALUE.has(s[end] as string)) end++;
      out.text(s.slice(this.i, end));
      this.i = end;
    }
    return this.finish(out, start);
  }

  /** `\` + two hex digits (one byte of UTF-8) or `\` + any other character (that character). */
  private escape(out: ValueBuilder): void {
    const s = this.text;
    const at = this.i;
    const first = s[at + 1];
    if (first === undefined) this.fail("'\\' at the end of the DN escapes nothing", at);
    if (HEX_DIGIT.test(first)) {
      const second = s[at + 2];
      if (second === undefined || !HEX_DIGIT.test(second)) this.fail(`'\\${first}' is not a two-digit hex escape`, at);
      out.byte(Number.parseInt(first + second, 16), at);
      this.i = at + 3;
      return;
    }
    out.significant(first);
    this.i = at + 2;
  }

  private finish(out: ValueBuilder, start: number): string {
    const value = out.result();
    if (value === null) this.fail('hex escapes are not valid UTF-8', out.badByteAt >= 0 ? out.badByteAt : start);
    return value;
  }

  private skipSpaces(): void {
    while (this.text.charCodeAt(this.i) === SPACE) this.i++;
  }

  private fail(problem: string, at: number = this.i): never {
    throw new InvalidDnError(this.text, problem, Math.min(at, Math.max(this.text.length - 1, 0)));
  }
}

/** Accumulates a value: literal text, escaped characters, and hex-escaped UTF-8 bytes. */
class ValueBuilder {
  private out = '';
  private bytes: number[] = [];
  private bytesAt = -1;
  /** Length of `out` up to its last significant character (unescaped trailing spaces are not). */
  private keep = 0;
  private invalid = false;
  badByteAt = -1;

  /** Unescaped text: its trailing spaces are insignificant unless something significant follows. */
  text(run: string): void {
    this.flush();
    this.out += run;
    let last = run.length - 1;
    while (last >= 0 && run.charCodeAt(last) === SPACE) last--;
    if (last >= 0) this.keep = this.out.length - (run.length - 1 - last);
  }

  significant(c: string): void {
    this.flush();
    this.out += c;
    this.keep = this.out.length;
  }

  byte(b: number, at: number): void {
    if (this.bytes.length === 0) this.bytesAt = at;
    this.bytes.push(b);
  }

  result(): string | null {
    this.flush();
    return this.invalid ? null : this.out.slice(0, this.keep);
  }

  private flush(): void {
    if (this.bytes.length === 0) return;
    try {
      this.out += utf8.decode(Uint8Array.from(this.bytes));
      this.keep = this.out.length;
    } catch {
      if (!this.invalid) this.badByteAt = this.bytesAt;
      this.invalid = true;
    }
    this.bytes = [];
  }
}

/** Decodes a BER string type (OCTET STRING, UTF8String, PrintableString, IA5String, T61String, BMPString); null otherwise. */
function decodeBerString(bytes: Buffer): string | null {
  const tag = bytes[0];
  let length = bytes[1];
  if (tag === undefined || length === undefined) return null;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || bytes.length < 2 + count) return null;
    length = 0;
    for (let k = 0; k < count; k++) length = length * 256 + (bytes[2 + k] ?? 0);
    offset = 2 + count;
  }
  if (offset + length !== bytes.length) return null;
  const content = bytes.subarray(offset);
  try {
    switch (tag) {
      case 0x04: // OCTET STRING
      case 0x0c: // UTF8String
        return utf8.decode(content);
      case 0x13: // PrintableString
      case 0x16: // IA5String
      case 0x14: // T61String (read as Latin-1)
        return content.toString('latin1');
      case 0x1e: // BMPString (UTF-16BE)
        if (content.length % 2 !== 0) return null;
        return Buffer.from(content).swap16().toString('utf16le');
      default:
        return null;
    }
  } catch {
    return null;
  }
}

/** Parses an RFC 4514 DN (whitespace around separators tolerated); throws InvalidDnError. */
export function parseDn(text: string): Dn {
  let dn = PARSED_DNS.get(text);
  if (dn === undefined) {
    dn = freezeDn(new DnScanner(text).parse());
    if (PARSED_DNS.size >= PARSED_DNS_LIMIT) PARSED_DNS.clear();
    PARSED_DNS.set(text, dn);
  }
  return dn;
}

/**
 * DNs parsed lately, frozen (shared by every caller): a writer parses a request's DN in its scope check, its
 * lookup and its plan. Cleared when full; a DN that does not parse is not kept.
 */
const PARSED_DNS = new Map<string, Dn>();
const PARSED_DNS_LIMIT = 4096;

function freezeDn(dn: Dn): Dn {
  for (const rdn of dn) {
    for (const ava of rdn) Object.freeze(ava);
    Object.freeze(rdn);
  }
  return Object.freeze(dn);
}

// eslint-disable-next-line no-control-regex -- control characters are among what a value's text form escapes
const NEEDS_ESCAPE = /[\\"+,;<>=\x00-\x1f\x7f]|^[ #]| $/;
const ESCAPE_ANYWHERE = new Set(['\\', '"', '+', ',', ';', '<', '>', '=']);

/**
 * Escapes a value for a DN string: `\ " + , ; < > =` anywhere, a leading space or `#`, a trailing space,
 * and control characters (as `\XX`). Non-ASCII characters stay as they are (a DN string is UTF-8).
 */
export function escapeDnValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  const last = value.length - 1;
  for (let k = 0; k <= last; k++) {
    const c = value[k] as string;
    const code = value.charCodeAt(k);
    if (ESCAPE_ANYWHERE.has(c)) out += `\\${c}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    else if ((k === 0 && (c === ' ' || c === '#')) || (k === last && c === ' ')) out += `\\${c}`;
    else out += c;
  }
  return out;
}

function formatAva(ava: Ava): string {
  return ava.ber === undefined ? `${ava.type}=${escapeDnValue(ava.value)}` : `${ava.type}=#${ava.ber}`;
}

export function formatRdn(rdn: Rdn): string {
  return rdn.map(formatAva).join('+');
}

/** The RFC 4514 string form, with types as written and values escaped. */
export function formatDn(dn: Dn): string {
  return dn.map(formatRdn).join(',');
}

/** Attribute types that appear in DNs, by OID, so `2.5.4.3=x` equals `cn=x`. */
const TYPE_BY_OID: Readonly<Record<string, string>> = {
  '2.5.4.3': 'cn',
  '2.5.4.4': 'sn',
  '2.5.4.5': 'serialnumber',
  '2.5.4.6': 'c',
  '2.5.4.7': 'l',
  '2.5.4.8': 'st',
  '2.5.4.9': 'street',
  '2.5.4.10': 'o',
  '2.5.4.11': 'ou',
  '2.5.4.12': 'title',
  '0.9.2342.19200300.100.1.1': 'uid',
  '0.9.2342.19200300.100.1.25': 'dc',
};

export function normalizeAttributeType(type: string): string {
  const lower = type.toLowerCase();
  return TYPE_BY_OID[lower] ?? lower;
}

/** Case-insensitive comparison form of a value (Unicode NFC, lower case). */
export function normalizeDnValue(value: string): string {
  return (ASCII.test(value) ? value : value.normalize('NFC')).toLowerCase();
}

// eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
const ASCII = /^[\x00-\x7f]*$/;

function normalizeAva(ava: Ava): string {
  const type = normalizeAttributeType(ava.type);
  return ava.ber === undefined ? `${type}=${escapeDnValue(normalizeDnValue(ava.value))}` : `${type}=#${ava.ber}`;
}

/** Comparison keys already computed: a scope's base DNs are compared with every request's DN. */
const NORMALIZED_RDNS = new WeakMap<Rdn, string>();

/** Comparison key of one RDN: types and values case-folded, pairs of a multi-valued RDN sorted. */
export function normalizeRdn(rdn: Rdn): string {
  let key = NORMALIZED_RDNS.get(rdn);
  if (key === undefined) {
    key = rdn.length === 1 ? normalizeAva(rdn[0] as Ava) : rdn.map(normalizeAva).sort().join('+');
    NORMALIZED_RDNS.set(rdn, key);
  }
  return key;
}

function toDn(dn: string | Dn): Dn {
  return typeof dn === 'string' ? parseDn(dn) : dn;
}

/**
 * Comparison form of a DN: types and values lower-cased, whitespace around separators gone, the pairs of a
 * multi-valued RDN in a fixed order. Two DNs name the same entry when their normalized forms are equal.
 */
export function normalizeDn(dn: string | Dn): string {
  return toDn(dn).map(normalizeRdn).join(',');
}

export function dnEquals(a: string | Dn, b: string | Dn): boolean {
  const left = toDn(a);
  const right = toDn(b);
  if (left.length !== right.length) return false;
  for (let k = 0; k < left.length; k++) {
    if (normalizeRdn(left[k] as Rdn) !== normalizeRdn(right[k] as Rdn)) return false;
  }
  return true;
}

/** True when `dn` is strictly below `base` (not `base` itself). */
export function isDescendantOf(dn: string | Dn, base: string | Dn): boolean {
  const entry = toDn(dn);
  const root = toDn(base);
  return entry.length > root.length && endsWith(entry, root);
}

/** True when `dn` is `base` or below it (subtree scope). */
export function isInSubtree(dn: string | Dn, base: string | Dn): boolean {
  const entry = toDn(dn);
  const root = toDn(base);
  return entry.length >= root.length && endsWith(entry, root);
}

function endsWith(entry: Dn, root: Dn): boolean {
  const offset = entry.length - root.length;
  for (let k = root.length - 1; k >= 0; k--) {
    if (normalizeRdn(entry[offset + k] as Rdn) !== normalizeRdn(root[k] as Rdn)) return false;
  }
  return true;
}

/** The DN of the entry's parent; null for the root DSE. */
export function parentDn(dn: string): string | null;
export function parentDn(dn: Dn): Dn | null;
export function parentDn(dn: string | Dn): string | Dn | null {
  const parsed = toDn(dn);
  if (parsed.length === 0) return null;
  const parent = parsed.slice(1);
  return typeof dn === 'string' ? formatDn(parent) : parent;
}

/**
 * Splits DN-like text at the commas that separate RDNs (not escaped, not quoted), without parsing the parts.
 * Used for DN patterns whose parts (`*`, `{1}`) are not RDNs. Parts keep their surrounding spaces.
 */
export function splitRdnTexts(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let k = 0; k < text.length; k++) {
    const c = text[k];
    if (c === '\\') k++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      parts.push(text.slice(start, k));
      start = k + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
