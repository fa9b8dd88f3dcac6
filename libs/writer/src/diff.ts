import { type AttributeChange, type AttributeValue } from '@idsync/contracts';
import { normalizeDn } from '@idsync/mapping';
import { attributeKey, type AttributeKnowledge, DEFAULT_ATTRIBUTES } from './attributes';

/** One change of an LDAP modify, as the writer sends it. `replace` with no values removes the attribute. */
export interface Modification {
  readonly op: 'add' | 'delete' | 'replace';
  readonly name: string;
  readonly values: readonly AttributeValue[];
}

export interface EntryAttribute {
  /** As the server spells it. */
  readonly name: string;
  readonly values: readonly AttributeValue[];
}

/** A destination entry as read: its DN and the attributes fetched, keyed by lower-case name. */
export interface CurrentEntry {
  readonly dn: string;
  readonly attributes: ReadonlyMap<string, EntryAttribute>;
}

/** Builds a CurrentEntry from an ldapts search entry (`{ dn, name: value | value[] }`). */
export function currentEntry(record: { readonly dn: string; readonly [name: string]: unknown }): CurrentEntry {
  const attributes = new Map<string, EntryAttribute>();
  for (const [name, raw] of Object.entries(record)) {
    if (name === 'dn') continue;
    const list = Array.isArray(raw) ? raw : [raw];
    const values = list.filter((v): v is AttributeValue => typeof v === 'string' || Buffer.isBuffer(v));
    if (values.length === 0) continue;
    const key = attributeKey(name);
    const previous = attributes.get(key);
    attributes.set(key, { name: previous?.name ?? name, values: [...(previous?.values ?? []), ...values] });
  }
  return { dn: record.dn, attributes };
}

export function entryValues(entry: CurrentEntry | null, name: string): readonly AttributeValue[] {
  return entry?.attributes.get(attributeKey(name))?.values ?? [];
}

export interface DiffOptions {
  readonly attributes?: AttributeKnowledge;
  /** Lower-case names of the entry's naming (RDN) attributes: a case-only difference there is never written. */
  readonly namingAttributes?: ReadonlySet<string>;
}

/**
 * How the writer compares values, as the directory would for the common syntaxes:
 * bytes byte-wise (a string and a Buffer compare by the string's UTF-8 bytes, which is how ldapts decoded it);
 * DN values as normalized DNs; other text case-insensitively (directory strings' caseIgnoreMatch).
 * Documented limit: a case-exact attribute (e.g. a caseExactMatch custom attribute) is compared ignoring case in
 * value-level sets; single-valued replaces still carry a case-only change (see `diff`).
 */
export function valueKey(name: string, value: AttributeValue, knowledge: AttributeKnowledge = DEFAULT_ATTRIBUTES): string {
  if (knowledge.isBinary(name)) return `b:${(Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')).toString('hex')}`;
  if (Buffer.isBuffer(value)) {
    // A text attribute sent as bytes: the same value as its UTF-8 text (ldapts decodes valid UTF-8 to a string).
    const text = utf8Text(value);
    if (text === null) return `b:${value.toString('hex')}`;
    value = text;
  }
  if (knowledge.isDnValued(name)) {
    try {
      return `d:${normalizeDn(value)}`;
    } catch {
      return `d?:${value.trim().toLowerCase()}`;
    }
  }
  return `s:${value.normalize('NFC').toLowerCase()}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function utf8Text(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Exact form: what a reader of the entry would see differ (case included). */
function exactKey(value: AttributeValue): string {
  return Buffer.isBuffer(value) ? `b:${value.toString('hex')}` : `s:${value}`;
}

function unique(name: string, values: readonly AttributeValue[], knowledge: AttributeKnowledge): AttributeValue[] {
  const seen = new Set<string>();
  const out: AttributeValue[] = [];
  for (const value of values) {
    const key = valueKey(name, value, knowledge);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(value);
  }
  return out;
}

/** Applies the request's changes to one attribute's current values, in order: the values it should end with. */
export function targetValues(name: string, current: readonly AttributeValue[], changes: readonly AttributeChange[], knowledge: AttributeKnowledge = DEFAULT_ATTRIBUTES): AttributeValue[] {
  let values = unique(name, current, knowledge);
  for (const change of changes) {
    if (change.op === 'replace') {
      values = unique(name, change.values, knowledge);
    } else if (change.op === 'add') {
      values = unique(name, [...values, ...change.values], knowledge);
    } else if (change.values.length === 0) {
      values = [];
    } else {
      const gone = new Set(change.values.map((v) => valueKey(name, v, knowledge)));
      values = values.filter((v) => !gone.has(valueKey(name, v, knowledge)));
    }
  }
  return values;
}

/** Groups changes by attribute (case-insensitively), keeping the request's order and first spelling. */
export function changesByAttribute(changes: readonly AttributeChange[]): Map<string, { name: string; changes: AttributeChange[] }> {
  const groups = new Map<string, { name: string; changes: AttributeChange[] }>();
  for (const change of changes) {
    const key = attributeKey(change.name);
    const group = groups.get(key);
    if (group) group.changes.push(change);
    else groups.set(key, { name: change.name, changes: [change] });
  }
  return groups;
}

/**
 * The minimal modifications that make `current` hold what the request's changes ask for: only the attributes the
 * request touches; value-level add/delete for value-level attributes (member, objectClass...), a replace with the
 * full set for the others; nothing at all when the entry already matches, which is what ends echo loops.
 *
 * A single-valued (or replaced) attribute equal ignoring case but not exactly (`smith` -> `Smith`) is replaced,
 * so case corrections propagate — except for DN values and naming attributes, where case is not significant.
 * Password attributes are write-only (servers never return them as written): their changes pass through as asked.
 */
export function diff(desired: readonly AttributeChange[], current: CurrentEntry | null, options: DiffOptions = {}): Modification[] {
  const knowledge = options.attributes ?? DEFAULT_ATTRIBUTES;
  const naming = options.namingAttributes ?? new Set<string>();
  const out: Modification[] = [];
  for (const [key, group] of changesByAttribute(desired)) {
    const { name } = group;
    if (knowledge.isPassword(name)) {
      for (const change of group.changes) out.push({ op: change.op, name, values: change.values });
      continue;
    }
    const have = unique(name, entryValues(current, name), knowledge);
    const want = targetValues(name, have, group.changes, knowledge);
    const haveKeys = new Set(have.map((v) => valueKey(name, v, knowledge)));
    const wantKeys = new Set(want.map((v) => valueKey(name, v, knowledge)));
    const adds = want.filter((v) => !haveKeys.has(valueKey(name, v, knowledge)));
    const deletes = have.filter((v) => !wantKeys.has(valueKey(name, v, knowledge)));

    if (adds.length === 0 && deletes.length === 0) {
      const text = [...have, ...want].every((v) => typeof v === 'string');
      const caseMatters = text && !knowledge.isDnValued(name) && !knowledge.isBinary(name) && !naming.has(key);
      const caseOnly = caseMatters && !sameExact(have, want);
      // A case-only change of a value-level attribute cannot be sent value by value (the server sees the same value).
      if (caseOnly && !knowledge.isValueLevel(name)) out.push({ op: 'replace', name, values: want });
      continue;
    }
    if (knowledge.isValueLevel(name)) {
      // Value by value even when all go: a replace would also drop values another writer added meanwhile.
      // Additions first: a class that requires the attribute (groupOfNames' member) never sees it empty.
      if (adds.length > 0) out.push({ op: 'add', name, values: adds });
      if (deletes.length > 0) out.push({ op: 'delete', name, values: deletes });
    } else {
      out.push({ op: 'replace', name, values: want });
    }
  }
  return out;
}

function sameExact(a: readonly AttributeValue[], b: readonly AttributeValue[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(exactKey));
  return b.every((v) => keys.has(exactKey(v)));
}
