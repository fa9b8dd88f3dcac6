import { canonicalGuid, type AttributeChange, type AttributeValue, type EntryChangeEvent } from '@idsync/contracts';
import { dnEquals, formatDn, parseDn, type Rdn } from '@idsync/mapping';
import { firstText, valuesOf, type RawEntry, type RawValue } from './raw-entry';
import { type Scope } from './scope';

/** Why an entry DirSync returned is not published. Counted by the I/O layer, never silently lost. */
export const SKIP_REASONS = ['no-object-guid', 'out-of-scope', 'object-class-excluded', 'object-class-unknown', 'no-change'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface Skip {
  readonly skip: SkipReason;
  readonly dn: string;
}

export function isSkip(result: EntryChangeEvent | Skip): result is Skip {
  return 'skip' in result;
}

export interface ParseContext {
  /** Directory name in the configuration (`ad`). */
  readonly directory: string;
  /** LDAP URL of the DC that answered. */
  readonly server: string;
  /** Digest of the cookie the page was requested with, and the entry's index in the page. */
  readonly cookieDigest: string;
  readonly index: number;
  readonly detectedAt: number;
  readonly scope: Scope;
  /**
   * objectClass learned by re-fetching the object by objectGUID, for entries DirSync sent without it (every
   * change but an add). Undefined when no re-fetch was made; an empty list when the object was not found.
   */
  readonly refetchedObjectClasses?: readonly string[] | undefined;
  /**
   * The DN the detector last saw for this objectGUID (its in-memory cache), or null when unknown. Makes a rename's
   * previousDn; DirSync itself never says where an object was before.
   */
  readonly knownDn: string | null;
}

/** Replication bookkeeping and attributes carried elsewhere in the event (objectGUID is the entryId, name the RDN). */
const NOISE = new Set(
  [
    'objectGUID',
    'parentGUID',
    'name',
    'instanceType',
    'objectClass',
    'distinguishedName',
    'uSNChanged',
    'uSNCreated',
    'whenChanged',
    'dSCorePropagationData',
    'replPropertyMetaData',
    'replUpToDateVector',
    'nTSecurityDescriptor',
    'isDeleted',
    'isRecycled',
    'lastKnownParent',
  ].map((n) => n.toLowerCase()),
);

/** Secrets (Samba lists them, empty, when a password changes): never on a topic. pwdLastSet stays. */
const SECRETS = new Set(
  [
    'unicodePwd',
    'dBCSPwd',
    'ntPwdHistory',
    'lmPwdHistory',
    'supplementalCredentials',
    'userPassword',
    'clearTextPassword',
    'msDS-ManagedPassword',
    'currentValue',
    'priorValue',
    'initialAuthIncoming',
    'initialAuthOutgoing',
    'trustAuthIncoming',
    'trustAuthOutgoing',
  ].map((n) => n.toLowerCase()),
);

/** With LDAP_DIRSYNC_INCREMENTAL_VALUES a linked attribute arrives as `member;range=1-1` (added) / `;range=0-0` (removed). */
function parseValueDelta(name: string): { base: string; op: 'add' | 'delete' } | null {
  const match = /^([^;]+);range=(0-0|1-1)$/i.exec(name);
  if (!match?.[1]) return null;
  return { base: match[1], op: match[2] === '1-1' ? 'add' : 'delete' };
}

/** Samba returns some DN values in extended form, `<GUID=...>;<SID=...>;CN=...`: keep the DN. */
export function stripExtendedDn(value: string): string {
  return value.replace(/^(?:<[A-Za-z]+=[^>]*>;)+/, '');
}

function cleanValue(value: RawValue): AttributeValue {
  return typeof value === 'string' && value.startsWith('<') ? stripExtendedDn(value) : value;
}

/** AD generalized time `20261125183947.0Z` to epoch milliseconds. */
export function parseGeneralizedTime(text: string): number | null {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d+))?Z$/.exec(text);
  if (!match) return null;
  const [, y, mo, d, h, mi, s, frac] = match;
  const millis = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis);
}

function isTombstone(entry: RawEntry): boolean {
  return firstText(entry, 'isDeleted')?.toUpperCase() === 'TRUE';
}

/**
 * The DN a deleted object had: its RDN without the `\0ADEL:<guid>` mangling AD adds, under the parent named by
 * lastKnownParent (`<GUID=...>;OU=Sales,...`). Falls back to the tombstone's own DN when AD gave no parent.
 */
export function lastKnownDn(entry: RawEntry): string {
  const tombstone = parseDn(entry.dn);
  const rdn = tombstone[0];
  const parent = firstText(entry, 'lastKnownParent');
  if (!rdn || parent === undefined) return entry.dn;
  const cleanRdn: Rdn = rdn.map((ava) => ({ type: ava.type, value: ava.value.replace(/\nDEL:[0-9a-f-]{36}$/i, '') }));
  return formatDn([cleanRdn, ...parseDn(stripExtendedDn(parent))]);
}

/** True when DirSync sent too little to know the object's class: the I/O layer re-fetches it by objectGUID. */
export function needsRefetch(entry: RawEntry): boolean {
  return (valuesOf(entry, 'objectClass')?.length ?? 0) === 0;
}

/** objectGUID as canonical text, or null when the entry has none (or not 16 bytes). */
export function entryGuid(entry: RawEntry): string | null {
  const value = valuesOf(entry, 'objectGUID')?.[0];
  if (value === undefined) return null;
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'binary');
  return bytes.length === 16 ? canonicalGuid(bytes) : null;
}

function attributeChanges(entry: RawEntry, mode: 'all-replace' | 'delta'): AttributeChange[] {
  const changes: AttributeChange[] = [];
  for (const [name, values] of Object.entries(entry.attributes)) {
    const delta = parseValueDelta(name);
    const base = (delta?.base ?? name).toLowerCase();
    if (NOISE.has(base) || SECRETS.has(base)) continue;
    const cleaned = values.map(cleanValue);
    if (mode === 'all-replace') {
      // A new object: Samba lists attributes it holds no value for (dBCSPwd: []); they carry nothing.
      if (cleaned.length > 0) changes.push({ name: delta?.base ?? name, op: 'replace', values: cleaned });
    } else if (delta) {
      if (cleaned.length > 0) changes.push({ name: delta.base, op: delta.op, values: cleaned });
    } else {
      // DirSync sends a changed non-linked attribute whole; no values means it was removed.
      changes.push({ name, op: 'replace', values: cleaned });
    }
  }
  return changes;
}

/**
 * One DirSync result entry to the event it means, or the reason it is not published.
 * - tombstone (isDeleted TRUE) → delete, dn = last known DN;
 * - objectClass present → add (DirSync sends a new object whole; one created and changed within a poll is one add);
 * - name/parentGUID present, or a DN other than the known one → rename (covers moves); previousDn is the known DN
 *   when it differs, else null (the detector never saw the object, or learned its new DN already);
 * - otherwise → modify, value deltas for linked attributes, replace for the rest (pwdLastSet alone = a password change).
 */
export function parseDirSyncEntry(entry: RawEntry, context: ParseContext): EntryChangeEvent | Skip {
  const guid = entryGuid(entry);
  if (!guid) return { skip: 'no-object-guid', dn: entry.dn };
  const sent = valuesOf(entry, 'objectClass')?.map(String) ?? [];
  const objectClasses = sent.length > 0 ? sent : [...(context.refetchedObjectClasses ?? [])];

  let op: EntryChangeEvent['op'];
  let dn = entry.dn;
  let previousDn: string | null = null;
  let attributes: AttributeChange[] = [];
  let changeTime: number | null = null;

  if (isTombstone(entry)) {
    op = 'delete';
    dn = lastKnownDn(entry);
  } else if (sent.length > 0) {
    op = 'add';
    attributes = withNamingAttributes(dn, attributeChanges(entry, 'all-replace'));
    const created = firstText(entry, 'whenCreated');
    changeTime = created === undefined ? null : parseGeneralizedTime(created);
  } else {
    attributes = attributeChanges(entry, 'delta');
    const movedByDn = context.knownDn !== null && !dnEquals(context.knownDn, entry.dn);
    // DirSync sends name and parentGUID for a rename or move only (an add has objectClass too).
    const renameHint = valuesOf(entry, 'name') !== undefined || valuesOf(entry, 'parentGUID') !== undefined;
    if (movedByDn || renameHint) {
      op = 'rename';
      previousDn = movedByDn ? context.knownDn : null;
    } else {
      op = 'modify';
      if (attributes.length === 0) return { skip: 'no-change', dn };
    }
  }

  // A rename from a DN the detector did not know (renamed while it was stopped, or from outside its subtrees) may be
  // a move out of scope: published wherever it lands; the writers act on it only when the entry is linked.
  const unknownMove = op === 'rename' && previousDn === null;
  const inScope = context.scope.includesDn(dn) || (previousDn !== null && context.scope.includesDn(previousDn)) || unknownMove;
  if (!inScope) return { skip: 'out-of-scope', dn };
  if (context.scope.filtersClasses) {
    if (objectClasses.length === 0) return { skip: 'object-class-unknown', dn };
    if (!context.scope.includesClasses(objectClasses)) return { skip: 'object-class-excluded', dn };
  }

  return {
    eventId: `${context.directory}:${context.cookieDigest}:${context.index}`,
    source: {
      system: 'active-directory',
      directory: context.directory,
      server: context.server,
      position: { kind: 'dirsync', cookieDigest: context.cookieDigest, index: context.index },
    },
    entryId: { kind: 'objectGUID', value: guid },
    op,
    dn,
    previousDn,
    objectClasses,
    attributes,
    // AD keeps no modifiersName: DirSync cannot say who made a change.
    initiator: null,
    changeTime,
    detectedAt: context.detectedAt,
    after: null,
    before: null,
  };
}

/**
 * DirSync leaves the naming attribute (cn, ou) out of some adds, notably of entries our own writer created; an add
 * must carry the whole entry, so the RDN's values are taken from the DN when missing.
 */
function withNamingAttributes(dn: string, attributes: AttributeChange[]): AttributeChange[] {
  const rdn = parseDn(dn)[0] ?? [];
  const missing = rdn.filter((ava) => !attributes.some((a) => a.name.toLowerCase() === ava.type.toLowerCase()));
  return missing.length === 0 ? attributes : [...attributes, ...missing.map((ava): AttributeChange => ({ name: ava.type, op: 'replace', values: [ava.value] }))];
}
