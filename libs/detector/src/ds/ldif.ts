import { type AttributeValue, type ValueOperation } from '@idsync/contracts';

/** One attribute line's worth of values, grouped; names as the server spelled them. */
export interface LdifAttribute {
  readonly name: string;
  readonly values: readonly AttributeValue[];
}

export interface LdifModification extends LdifAttribute {
  readonly op: ValueOperation;
}

export class MalformedLdifError extends Error {
  readonly retriable = false;
  constructor(reason: string, line?: number) {
    super(`malformed LDIF in changelog changes${line === undefined ? '' : ` (line ${line})`}: ${reason}`);
    this.name = 'MalformedLdifError';
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Base64 values decode to text when they are valid UTF-8, else stay bytes (jpegPhoto, certificates...). */
function decodeBase64(text: string, line: number): AttributeValue {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new MalformedLdifError('invalid base64 value', line);
  const bytes = Buffer.from(text, 'base64');
  try {
    return UTF8.decode(bytes);
  } catch {
    return bytes;
  }
}

interface LdifLine {
  /** Physical line number where the logical line starts (for error messages). */
  readonly number: number;
  readonly name: string;
  readonly value: AttributeValue;
  readonly separator: boolean;
}

/**
 * Splits LDIF text into logical lines: trailing NUL bytes (389-ds ends `changes` with one) removed, CRLF accepted,
 * continuation lines (starting with one space) joined, comments dropped, `attr: value` / `attr:: base64` parsed.
 */
export function ldifLines(input: string | Buffer): LdifLine[] {
  const text = (typeof input === 'string' ? input : input.toString('utf8')).replace(/\0+$/, '');
  const physical = text.split(/\r?\n/);
  const logical: { number: number; text: string }[] = [];
  physical.forEach((line, index) => {
    const last = logical.at(-1);
    if (line.startsWith(' ')) {
      if (!last) throw new MalformedLdifError('continuation line without a line to continue', index + 1);
      last.text += line.slice(1);
    } else logical.push({ number: index + 1, text: line });
  });
  const out: LdifLine[] = [];
  for (const { number, text: line } of logical) {
    if (line === '' || line.startsWith('#')) continue;
    if (line === '-') {
      out.push({ number, name: '-', value: '', separator: true });
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MalformedLdifError('a line without "name:"', number);
    const name = line.slice(0, colon);
    const rest = line.slice(colon + 1);
    let value: AttributeValue;
    if (rest.startsWith(':')) value = decodeBase64(rest.slice(1).trim(), number);
    else if (rest.startsWith('<')) throw new MalformedLdifError('URL values (attr:< ...) are not supported', number);
    else value = rest.startsWith(' ') ? rest.slice(1) : rest;
    out.push({ number, name, value, separator: false });
  }
  return out;
}

/** The content of an entry (an add record, or 389's copy of a deleted entry): values grouped by attribute, in order. */
export function parseLdifContent(input: string | Buffer): LdifAttribute[] {
  const byName = new Map<string, { name: string; values: AttributeValue[] }>();
  for (const line of ldifLines(input)) {
    if (line.separator) throw new MalformedLdifError('"-" inside entry content', line.number);
    const key = line.name.toLowerCase();
    const group = byName.get(key) ?? { name: line.name, values: [] };
    group.values.push(line.value);
    byName.set(key, group);
  }
  return [...byName.values()];
}

const MOD_OPS: Readonly<Record<string, ValueOperation>> = { add: 'add', delete: 'delete', replace: 'replace' };

/** A modify record's body: `add:|delete:|replace: attr`, its values, then `-`; the last `-` may be missing. */
export function parseLdifModifications(input: string | Buffer): LdifModification[] {
  const out: LdifModification[] = [];
  let current: { op: ValueOperation; name: string; values: AttributeValue[] } | null = null;
  for (const line of ldifLines(input)) {
    if (line.separator) {
      if (!current) throw new MalformedLdifError('"-" without a modification before it', line.number);
      out.push(current);
      current = null;
      continue;
    }
    if (!current) {
      const op = MOD_OPS[line.name.toLowerCase()];
      if (!op || typeof line.value !== 'string') throw new MalformedLdifError(`expected add:, delete: or replace:, found "${line.name}:"`, line.number);
      current = { op, name: line.value.trim(), values: [] };
      continue;
    }
    if (line.name.toLowerCase() !== current.name.toLowerCase()) {
      throw new MalformedLdifError(`value of "${line.name}" inside the ${current.op} of "${current.name}"`, line.number);
    }
    current.values.push(line.value);
  }
  if (current) out.push(current);
  return out;
}
