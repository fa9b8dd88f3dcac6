/**
 * A search result entry as the core sees it: the DN and every attribute (names as the server spelled them, with
 * options such as `;range=1-1`) mapped to its values. Binary attributes (objectGUID, objectSid...) are Buffers.
 */
export interface RawEntry {
  readonly dn: string;
  readonly attributes: Readonly<Record<string, readonly RawValue[]>>;
}

export type RawValue = string | Buffer;

/** The attributes AD stores as bytes; requested as Buffers (ldapts matches these names case-sensitively). */
export const AD_BINARY_ATTRIBUTES = [
  'objectGUID',
  'objectSid',
  'parentGUID',
  'sIDHistory',
  'thumbnailPhoto',
  'jpegPhoto',
  'userCertificate',
  'mS-DS-ConsistencyGuid',
  'msExchMailboxGuid',
  'logonHours',
  'nTSecurityDescriptor',
  'replPropertyMetaData',
  'invocationId',
] as const;

/** ldapts' Entry shape: a single value is not wrapped in an array. */
export type LdaptsEntry = { dn: string } & Record<string, Buffer | Buffer[] | string[] | string>;

export function fromLdaptsEntry(entry: LdaptsEntry): RawEntry {
  const attributes: Record<string, RawValue[]> = {};
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn') continue;
    attributes[name] = Array.isArray(value) ? [...value] : [value];
  }
  return { dn: entry.dn, attributes };
}

/** Values of an attribute, looked up case-insensitively by its bare name (no options); undefined when absent. */
export function valuesOf(entry: RawEntry, name: string): readonly RawValue[] | undefined {
  const wanted = name.toLowerCase();
  for (const [key, values] of Object.entries(entry.attributes)) {
    if (key.toLowerCase() === wanted) return values;
  }
  return undefined;
}

export function firstText(entry: RawEntry, name: string): string | undefined {
  const value = valuesOf(entry, name)?.[0];
  return value === undefined ? undefined : Buffer.isBuffer(value) ? value.toString('utf8') : value;
}

/** JSON form used by the fixtures captured from Samba: binary values as `{ "base64": "..." }`. */
export interface RawEntryJson {
  readonly dn: string;
  readonly attributes: Record<string, (string | { base64: string })[]>;
}

export function rawEntryToJson(entry: RawEntry): RawEntryJson {
  const attributes: RawEntryJson['attributes'] = {};
  for (const [name, values] of Object.entries(entry.attributes)) {
    attributes[name] = values.map((v) => (Buffer.isBuffer(v) ? { base64: v.toString('base64') } : v));
  }
  return { dn: entry.dn, attributes };
}

export function rawEntryFromJson(json: RawEntryJson): RawEntry {
  const attributes: Record<string, RawValue[]> = {};
  for (const [name, values] of Object.entries(json.attributes)) {
    attributes[name] = values.map((v) => (typeof v === 'string' ? v : Buffer.from(v.base64, 'base64')));
  }
  return { dn: json.dn, attributes };
}
