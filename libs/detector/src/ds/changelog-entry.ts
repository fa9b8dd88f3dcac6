import { type AttributeChange, type AttributeValue, canonicalUuid, type ChangeOperation, type EntryChangeEvent, type EntryId } from '@idsync/contracts';
import { formatDn, InvalidDnError, normalizeAttributeType, normalizeDnValue, parentDn, parseDn, type Dn } from '@idsync/mapping';
import { ChangeNumber } from './change-number';
import { isPasswordAttribute, isSecretAttribute, PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { MalformedLdifError, parseLdifContent, parseLdifModifications, type LdifAttribute } from './ldif';
import { CLEAR_PASSWORD_ATTRIBUTE, ClearPassword, type DecryptChangelogPassword, ENCRYPTED_PASSWORD_ATTRIBUTE, NO_PASSWORD, type PasswordFacts, type PasswordSealer } from './passwords';

/** A cn=changelog entry as ldapts returns it: attribute names as the server spells them, values text or bytes. */
export type RawChangelogEntry = Readonly<Record<string, string | Buffer | readonly (string | Buffer)[] | undefined>>;

/** The draft-good-changelog change types, and the event operation each becomes. */
const CHANGE_TYPES = { add: 'add', modify: 'modify', delete: 'delete', modrdn: 'rename', moddn: 'rename' } as const satisfies Record<string, ChangeOperation>;
export type ChangeType = keyof typeof CHANGE_TYPES;

/**
 * Attributes the server maintains itself; 389-ds copies them into `changes` (an add carries them all, every modify
 * replaces modifiersName and modifyTimestamp). They say nothing a subscriber can sync, so events leave them out.
 * entryUUID is the event's identity, not an attribute. Compared lower-case.
 */
export const OPERATIONAL_ATTRIBUTES: ReadonlySet<string> = new Set([
  'creatorsname',
  'modifiersname',
  'createtimestamp',
  'modifytimestamp',
  'entryid',
  'parentid',
  'entryuuid',
  'nsuniqueid',
  'dsentrydn',
  'entrydn',
  'numsubordinates',
  'passwordgraceusertime',
  'passwordexpirationtime',
  'passwordhistory',
  'passwordretrycount',
  'retrycountresettime',
  'passwordallowchangetime',
  'passwordexpwarned',
  'pwdupdatetime',
]);

export { CLEAR_PASSWORD_ATTRIBUTE } from './passwords';

export class MalformedChangelogEntryError extends Error {
  readonly retriable = false;
  constructor(
    readonly changeNumber: string | null,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`changelog entry ${changeNumber ?? '(no change number)'} cannot be read: ${reason}`, options);
    this.name = 'MalformedChangelogEntryError';
  }
}

/** What one changelog entry says, before the I/O layer fills in what the server left out. */
export interface ChangelogRecord {
  readonly changeNumber: ChangeNumber;
  readonly changeType: ChangeType;
  readonly op: ChangeOperation;
  /** DN after the change (for delete: the deleted entry's DN). */
  readonly dn: string;
  /** For modrdn: the DN before (targetDn); else null. */
  readonly previousDn: string | null;
  /** From targetUniqueId (lower-case, hyphenated); null when the server did not record it (then re-fetch by DN). */
  readonly entryUuid: string | null;
  /** From an add's (or a deleted entry's) objectClass values; null when the entry must be read to know them. */
  readonly objectClasses: readonly string[] | null;
  readonly attributes: readonly AttributeChange[];
  readonly initiator: string | null;
  readonly changeTime: number | null;
  /** How many clear-text password values were left out of `attributes` (never the values). */
  readonly passwordValuesExcluded: number;
  /** The clear password (wrapped, shows as ***), hash-only and undecryptable facts; sealed by toEntryChangeEvent. */
  readonly password: PasswordFacts;
  /**
   * A delete: the deleted entry as 389-ds recorded it (nsslapd-log-deleted: on), operational and password attributes
   * left out; null otherwise, or when the server did not record it.
   */
  readonly lastState: readonly AttributeChange[] | null;
}

export interface ReadOptions {
  /** PingDirectory's ds-changelog-encrypted-password decryption; without it such values are counted undecryptable. */
  readonly decryptPassword?: DecryptChangelogPassword;
}

/** Where the change came from and when it was read; `detectedAt` is the only clock, passed in by the I/O layer. */
export interface ChangeContext {
  readonly directory: string;
  readonly server: string;
  readonly detectedAt: number;
}

/** Facts the I/O layer read from the entry itself, when the changelog did not carry them. */
export interface ResolvedEntry {
  readonly entryUuid?: string | null;
  readonly objectClasses?: readonly string[] | null;
}

export class EntryIdUnknownError extends Error {
  readonly retriable = false;
  constructor(
    readonly changeNumber: ChangeNumber,
    readonly dn: string,
  ) {
    super(`change ${changeNumber.format()} has no targetUniqueId and the entry could not be read to learn its entryUUID (deleted since?)`);
    this.name = 'EntryIdUnknownError';
  }
}

/** Case-insensitive attribute lookup (389-ds lower-cases some names, ldapts keeps the server's spelling). */
function pick(entry: RawChangelogEntry, name: string): (string | Buffer)[] {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? [...(value as (string | Buffer)[])] : [value as string | Buffer];
  }
  return [];
}

function text(entry: RawChangelogEntry, name: string): string | null {
  const [value] = pick(entry, name);
  if (value === undefined) return null;
  return (Buffer.isBuffer(value) ? value.toString('utf8') : value).replace(/\0+$/, '');
}

/** entryUUID text to the canonical lower-case hyphenated form; throws on anything else. */
export const normalizeEntryUuid = canonicalUuid;

const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:[.,](\d{1,9}))?(Z|[+-]\d{4})$/;

/** LDAP generalized time (`20261125183926Z`, with optional fraction or offset) to epoch milliseconds. */
export function parseGeneralizedTime(value: string): number {
  const m = GENERALIZED_TIME.exec(value.trim());
  if (!m) throw new RangeError(`not a generalized time: ${JSON.stringify(value.slice(0, 40))}`);
  const [, y, mo, d, h, mi, s, fraction, zone] = m as unknown as [string, string, string, string, string, string, string | undefined, string | undefined, string];
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  if (fraction) ms += Math.round(Number(`0.${fraction}`) * 1000);
  if (zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return ms;
}

function isTrue(value: string | null): boolean {
  return value !== null && value.trim().toUpperCase() === 'TRUE';
}

function changesOf(entry: RawChangelogEntry): string | Buffer | null {
  const [value] = pick(entry, 'changes');
  return value ?? null;
}

interface Stripped {
  readonly kept: AttributeChange[];
  readonly passwords: number;
  /** The newest clear value (389-ds), wrapped at once. */
  readonly clear: ClearPassword | null;
  readonly userPasswordChanged: boolean;
}

const NOTHING_STRIPPED: Stripped = { kept: [], passwords: 0, clear: null, userPasswordChanged: false };

/** Drops operational attributes and the clear-text password (counting its values, keeping the newest, wrapped). */
function strip(changes: readonly AttributeChange[]): Stripped {
  let passwords = 0;
  let clear: ClearPassword | null = null;
  let userPasswordChanged = false;
  const kept: AttributeChange[] = [];
  for (const change of changes) {
    const name = change.name.toLowerCase();
    if (name === CLEAR_PASSWORD_ATTRIBUTE) {
      passwords += Math.max(1, change.values.length);
      const newest = change.op === 'delete' ? undefined : change.values.at(-1);
      if (newest !== undefined) clear = new ClearPassword(Buffer.isBuffer(newest) ? newest : Buffer.from(newest, 'utf8'));
      continue;
    }
    if (name === 'userpassword' && change.op !== 'delete') userPasswordChanged = true;
    if (!OPERATIONAL_ATTRIBUTES.has(name)) kept.push(change);
  }
  return { kept, passwords, clear, userPasswordChanged };
}

/** The password facts of a change: 389-ds's clear value, else PingDirectory's decrypted one, else hash-only. */
function passwordFacts(entry: RawChangelogEntry, stripped: Stripped, options: ReadOptions): PasswordFacts {
  let clear = stripped.clear;
  let undecryptable = 0;
  const encrypted = pick(entry, ENCRYPTED_PASSWORD_ATTRIBUTE);
  if (clear === null && encrypted.length > 0) {
    const newest = encrypted.at(-1) as string | Buffer;
    const bytes = Buffer.isBuffer(newest) ? newest : Buffer.from(newest, 'base64');
    if (options.decryptPassword === undefined) undecryptable = encrypted.length;
    else {
      try {
        clear = new ClearPassword(options.decryptPassword(bytes));
      } catch {
        // The hook's error may describe the value: it is not kept.
        undecryptable = encrypted.length;
      }
    }
  }
  const hashOnly = clear === null && undecryptable === 0 && stripped.userPasswordChanged;
  if (clear === null && undecryptable === 0 && !hashOnly) return NO_PASSWORD;
  return { clear, hashOnly, undecryptable };
}

function asReplace(attributes: readonly LdifAttribute[]): AttributeChange[] {
  return attributes.map((a) => ({ name: a.name, op: 'replace', values: a.values }));
}

function textValues(values: readonly AttributeValue[]): string[] {
  return values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
}

function objectClassesOf(attributes: readonly LdifAttribute[]): string[] | null {
  const found = attributes.find((a) => a.name.toLowerCase() === 'objectclass');
  return found ? textValues(found.values) : null;
}

/** The DN after a modrdn: newRdn under newSuperior, or under the old parent. Built with the DN parser, never by concatenation. */
export function dnAfterModRdn(targetDn: string, newRdn: string, newSuperior: string | null): string {
  const rdn = parseDn(newRdn);
  if (rdn.length !== 1) throw new InvalidDnError(newRdn, 'newRdn must be exactly one RDN', 0);
  const parent: Dn = newSuperior !== null ? parseDn(newSuperior) : (parentDn(parseDn(targetDn)) ?? []);
  return formatDn([...rdn, ...parent]);
}

/**
 * A rename changes naming attribute values (uid=a -> uid=b): the new RDN's values are added, and with deleteOldRdn the
 * old ones removed. 389-ds does not list these in `changes`; subscribers mapping `uid` need them. A move that keeps
 * its RDN changes no value.
 */
export function rdnValueChanges(targetDn: string, newRdn: string, deleteOldRdn: boolean): AttributeChange[] {
  const oldAvas = parseDn(targetDn)[0] ?? [];
  const newAvas = parseDn(newRdn)[0] ?? [];
  const key = (ava: { type: string; value: string }): string => `${normalizeAttributeType(ava.type)}=${normalizeDnValue(ava.value)}`;
  const oldKeys = new Set(oldAvas.map(key));
  const newKeys = new Set(newAvas.map(key));
  const out: AttributeChange[] = [];
  if (deleteOldRdn) {
    for (const ava of oldAvas) if (!newKeys.has(key(ava))) out.push({ name: ava.type, op: 'delete', values: [ava.value] });
  }
  for (const ava of newAvas) if (!oldKeys.has(key(ava))) out.push({ name: ava.type, op: 'add', values: [ava.value] });
  return out;
}

/** Reads one cn=changelog entry (pure). Throws MalformedChangelogEntryError when it cannot be understood. */
export function readChangelogRecord(entry: RawChangelogEntry, options: ReadOptions = {}): ChangelogRecord {
  const numberText = text(entry, 'changeNumber');
  const fail = (reason: string, cause?: unknown): never => {
    throw new MalformedChangelogEntryError(numberText, reason, cause === undefined ? undefined : { cause });
  };
  try {
    if (numberText === null) return fail('no changeNumber');
    const changeNumber = ChangeNumber.parse(numberText);
    const typeText = (text(entry, 'changeType') ?? '').trim().toLowerCase();
    if (!Object.hasOwn(CHANGE_TYPES, typeText)) return fail(`unknown changeType ${JSON.stringify(typeText.slice(0, 20))}`);
    const changeType = typeText as ChangeType;
    const targetDn = text(entry, 'targetDn');
    if (!targetDn) return fail('no targetDn');
    parseDn(targetDn);
    const uuidText = text(entry, 'targetUniqueId');
    const entryUuid = uuidText ? normalizeEntryUuid(uuidText) : null;
    const timeText = text(entry, 'changeTime');
    const changeTime = timeText ? parseGeneralizedTime(timeText) : null;
    const initiatorText = text(entry, 'changeInitiatorsName');
    const changes = changesOf(entry);

    let dn = targetDn;
    let previousDn: string | null = null;
    let objectClasses: string[] | null = null;
    let attributes: AttributeChange[] = [];
    let passwords = 0;
    let stripped: Stripped = NOTHING_STRIPPED;
    let initiator = initiatorText;
    let lastState: AttributeChange[] | null = null;
    switch (changeType) {
      case 'add': {
        if (changes === null) return fail('an add without changes');
        const content = parseLdifContent(changes);
        objectClasses = objectClassesOf(content);
        stripped = strip(asReplace(content));
        ({ kept: attributes, passwords } = stripped);
        break;
      }
      case 'modify': {
        if (changes === null) return fail('a modify without changes');
        stripped = strip(parseLdifModifications(changes));
        ({ kept: attributes, passwords } = stripped);
        break;
      }
      case 'modrdn':
      case 'moddn': {
        const newRdn = text(entry, 'newRdn');
        if (!newRdn) return fail('a modrdn without newRdn');
        dn = dnAfterModRdn(targetDn, newRdn, text(entry, 'newSuperior'));
        previousDn = targetDn;
        stripped = changes !== null ? strip(parseLdifModifications(changes)) : NOTHING_STRIPPED;
        attributes = [...rdnValueChanges(targetDn, newRdn, isTrue(text(entry, 'deleteOldRdn'))), ...stripped.kept];
        passwords = stripped.passwords;
        break;
      }
      case 'delete': {
        // With nsslapd-log-deleted: on, 389-ds keeps the deleted entry's content: its object classes are known.
        if (changes !== null) {
          const content = parseLdifContent(changes);
          objectClasses = objectClassesOf(content);
          lastState = strip(asReplace(content)).kept.filter((attribute) => !isSecretAttribute(attribute.name) && !isPasswordAttribute(attribute.name));
        }
        // 389-ds copies the entry's modifiersName, i.e. the last modifier, not the deleter: it must not be trusted.
        initiator = null;
        break;
      }
    }
    const password = changeType === 'delete' ? NO_PASSWORD : passwordFacts(entry, stripped, options);
    return {
      changeNumber,
      changeType,
      op: CHANGE_TYPES[changeType],
      dn,
      previousDn,
      entryUuid,
      objectClasses,
      attributes,
      initiator,
      changeTime,
      passwordValuesExcluded: passwords,
      password,
      lastState,
    };
  } catch (error) {
    if (error instanceof MalformedChangelogEntryError) throw error;
    if (error instanceof MalformedLdifError || error instanceof InvalidDnError || error instanceof RangeError || (error as Error).name === 'InvalidChangeNumberError') {
      return fail((error as Error).message, error);
    }
    throw error;
  }
}

/**
 * The event for a record, with what the I/O layer resolved; throws EntryIdUnknownError without an entryUUID.
 * With a sealer, a clear password becomes the `idsyncPassword` pseudo-attribute (one sealed value, replace),
 * bound to the entry's entryUUID; without one it stays out of the event (counted in passwordValuesExcluded).
 */
export function toEntryChangeEvent(record: ChangelogRecord, context: ChangeContext, resolved: ResolvedEntry = {}, seal?: PasswordSealer): EntryChangeEvent {
  const uuid = record.entryUuid ?? (resolved.entryUuid ? normalizeEntryUuid(resolved.entryUuid) : null);
  if (uuid === null) throw new EntryIdUnknownError(record.changeNumber, record.dn);
  const entryId: EntryId = { kind: 'entryUUID', value: uuid };
  const clear = record.password.clear;
  const attributes: readonly AttributeChange[] =
    seal !== undefined && clear !== null ? [...record.attributes, { name: PASSWORD_PSEUDO_ATTRIBUTE, op: 'replace', values: [seal(clear.reveal(), entryId)] }] : record.attributes;
  const changeNumber = record.changeNumber.format();
  return {
    eventId: `${context.directory}:${changeNumber}`,
    source: { system: 'ldap', directory: context.directory, server: context.server, position: { kind: 'change-number', changeNumber } },
    entryId,
    op: record.op,
    dn: record.dn,
    previousDn: record.previousDn,
    objectClasses: record.objectClasses ?? resolved.objectClasses ?? [],
    attributes,
    initiator: record.initiator,
    changeTime: record.changeTime,
    detectedAt: context.detectedAt,
    after: null,
    before: null,
  };
}

/** One step for entries that carry everything (targetUniqueId, and objectClass for adds and deletes). */
export function parseChangelogEntry(
  entry: RawChangelogEntry,
  context: ChangeContext,
  resolved: ResolvedEntry = {},
  passwords: { readonly seal?: PasswordSealer; readonly decryptPassword?: DecryptChangelogPassword } = {},
): EntryChangeEvent {
  return toEntryChangeEvent(readChangelogRecord(entry, passwords), context, resolved, passwords.seal);
}
