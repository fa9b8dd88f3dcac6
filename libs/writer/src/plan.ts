import { type AttributeValue, type WriteOperation, type WriteRequest } from '@idsync/contracts';
import { type DirectoryKind } from '@idsync/config';
import { type Dn, dnEquals, formatDn, formatRdn, normalizeAttributeType, parentDn, parseDn } from '@idsync/mapping';
import { attributeKey, type AttributeKnowledge, DEFAULT_ATTRIBUTES } from './attributes';
import { changesByAttribute, type CurrentEntry, diff, entryValues, type Modification, targetValues } from './diff';
import { EntryNotFoundError, InvalidEntryError } from './errors';
import { alreadyInAd, enablesWithoutPassword } from './ad-values';
import { applyPolicies, bitsOnCreate, policiesOf } from './policies';

/** One LDAP operation of a plan. */
export type PlannedStep =
  | { readonly kind: 'add'; readonly dn: string; readonly attributes: readonly { readonly name: string; readonly values: readonly AttributeValue[] }[] }
  | { readonly kind: 'modify'; readonly dn: string; readonly changes: readonly Modification[] }
  | { readonly kind: 'delete'; readonly dn: string }
  /** `newSuperior` is set only when the parent changes (a move). */
  | { readonly kind: 'modify-dn'; readonly dn: string; readonly newDn: string; readonly newRdn: string; readonly newSuperior: string | null };

/** What applying a request takes. No steps: the destination already matches (`reason` says why). */
export interface WritePlan {
  readonly requestId: string;
  readonly op: WriteOperation;
  /** The destination entry the plan works on (null when it does not exist). */
  readonly target: string | null;
  readonly steps: readonly PlannedStep[];
  readonly reason: string | null;
}

export interface PlanOptions {
  readonly kind: DirectoryKind;
  readonly attributes?: AttributeKnowledge;
}

/** AD user accounts created without a password: NORMAL_ACCOUNT | ACCOUNTDISABLE | PASSWD_NOTREQD (AD's own default). */
export const AD_DISABLED_NO_PASSWORD = '546';
/** With a password in the create: NORMAL_ACCOUNT, enabled. */
export const AD_NORMAL_ACCOUNT = '512';
/** Global security group. */
export const AD_GLOBAL_SECURITY_GROUP = '-2147483646';

/** sAMAccountName: at most 20 characters for users (pre-Windows 2000 logon name), 256 for groups; none of these; no trailing dot. */
export const SAM_ACCOUNT_NAME_FORBIDDEN = '"/\\[]:;|=,+*?<>';
export const SAM_USER_MAX = 20;
export const SAM_GROUP_MAX = 256;

/**
 * An AD account this writer created without a password is left at 546 (disabled, password not required). When
 * its first password arrives (a modify setting unicodePwd, the request not stating userAccountControl itself), the
 * account is enabled (512) right after the password step, as a create with a password would have been. Any other
 * userAccountControl (e.g. 514, an account an administrator disabled) is left alone.
 */
export function enablesOnFirstPassword(request: WriteRequest, current: CurrentEntry): boolean {
  const setsUac = request.attributes.some((c) => attributeKey(c.name) === 'useraccountcontrol' && c.op !== 'delete');
  return !setsUac && firstPasswordOf(request, current);
}

/** The request sets the password of an account this writer created without one (546). */
function firstPasswordOf(request: WriteRequest, current: CurrentEntry): boolean {
  if (!request.attributes.some((c) => attributeKey(c.name) === 'unicodepwd' && c.op !== 'delete')) return false;
  const uac = entryValues(current, 'userAccountControl');
  return uac.length === 1 && String(uac[0]) === AD_DISABLED_NO_PASSWORD;
}

/** Null when valid, else why not. */
export function samAccountNameProblem(value: AttributeValue, isGroup: boolean): string | null {
  if (typeof value !== 'string') return 'is binary';
  if (value.length === 0) return 'is empty';
  const max = isGroup ? SAM_GROUP_MAX : SAM_USER_MAX;
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points, deliberately: the limit and the forbidden characters count characters, not UTF-16 units
  const chars = [...value];
  if (chars.length > max) return `is ${chars.length} characters long; AD allows at most ${max} for ${isGroup ? 'groups' : 'users'}`;
  const bad = [...new Set(chars.filter((c) => SAM_ACCOUNT_NAME_FORBIDDEN.includes(c) || c.charCodeAt(0) < 0x20))];
  if (bad.length > 0) return `contains ${bad.map((c) => (c.charCodeAt(0) < 0x20 ? `control character ${c.charCodeAt(0)}` : `'${c}'`)).join(', ')}, which AD does not allow`;
  if (value.endsWith('.')) return 'ends with a dot, which AD does not allow';
  return null;
}

function has(classes: ReadonlySet<string>, ...names: string[]): boolean {
  return names.some((name) => classes.has(name.toLowerCase()));
}

function classesOf(request: WriteRequest, current: CurrentEntry | null): Set<string> {
  const out = new Set<string>();
  for (const value of entryValues(current, 'objectClass')) if (typeof value === 'string') out.add(value.toLowerCase());
  for (const name of request.objectClasses) out.add(name.toLowerCase());
  return out;
}

function parse(request: WriteRequest, text: string, what: string): Dn {
  try {
    return parseDn(text);
  } catch (error) {
    throw new InvalidEntryError(`${what} '${text}' is not a valid DN: ${error instanceof Error ? error.message : String(error)}`, {
      requestId: request.requestId,
      dn: text,
    });
  }
}

function namingAttributes(dn: Dn): Set<string> {
  return new Set((dn[0] ?? []).map((ava) => normalizeAttributeType(ava.type)));
}

/** AD limits on the values the request would write. */
function validateForAd(request: WriteRequest, classes: ReadonlySet<string>, dn: string): void {
  const isGroup = has(classes, 'group');
  for (const change of request.attributes) {
    if (attributeKey(change.name) !== 'samaccountname' || change.op === 'delete') continue;
    for (const value of change.values) {
      const problem = samAccountNameProblem(value, isGroup);
      if (problem !== null) {
        throw new InvalidEntryError(`sAMAccountName '${String(value)}' ${problem} (request ${request.requestId}, entry ${dn})`, {
          requestId: request.requestId,
          dn,
        });
      }
    }
  }
}

/**
 * Decides what applying `request` takes, given the destination entry found for it (by DN or correlation; null when
 * none). Pure: the DirectoryWriter finds and reads the entry, then sends the steps. Throws InvalidEntryError
 * (dead-letter) for values the destination can never accept, EntryNotFoundError (bounded retry) for a modify or
 * rename whose entry is not there (yet).
 */
export function planWrite(request: WriteRequest, current: CurrentEntry | null, options: PlanOptions): WritePlan {
  const knowledge = options.attributes ?? DEFAULT_ATTRIBUTES;
  const dn = parse(request, request.dn, 'the destination DN');
  const classes = classesOf(request, current);
  if (options.kind === 'active-directory') validateForAd(request, classes, request.dn);
  const base = { requestId: request.requestId, op: request.op };
  const noOp = (target: string | null, reason: string): WritePlan => ({ ...base, target, steps: [], reason });
  const modifyOf = (entry: CurrentEntry, naming: Dn): PlannedStep[] => {
    // Found under another RDN (a request older than a rename, replayed; or an entry found by correlation): the
    // naming attribute belongs to the RDN, which only a rename changes (writing it would fail: notAllowedOnRDN).
    const otherRdn = !dnEquals(naming.slice(0, 1), dn.slice(0, 1));
    const names = namingAttributes(naming);
    const wanted = applyPolicies(request, entry);
    // An account created without a password (546) getting its first one, its disabled bit under a mask: the bits
    // apply to 512 once the password is set, never before (that would enable an account without a password).
    const uacPolicy = policiesOf(request).get('useraccountcontrol');
    const maskedFirstPassword = options.kind === 'active-directory' && uacPolicy?.bitMask != null && firstPasswordOf(request, entry);
    const requestedUac = request.attributes.find((c) => attributeKey(c.name) === 'useraccountcontrol')?.values;
    const kept = maskedFirstPassword ? wanted.filter((c) => attributeKey(c.name) !== 'useraccountcontrol') : wanted;
    const settled = options.kind === 'active-directory' ? kept.filter((c) => !alreadyInAd(c, entryValues(entry, c.name)) && !enablesWithoutPassword(c, entryValues(entry, c.name))) : kept;
    const attributes = otherRdn ? settled.filter((c) => !names.has(normalizeAttributeType(c.name))) : settled;
    const changes = diff(attributes, entry, { attributes: knowledge, namingAttributes: names });
    if (changes.length === 0) return [];
    const steps: PlannedStep[] = [{ kind: 'modify', dn: entry.dn, changes }];
    if (maskedFirstPassword) {
      const enabled = bitsOnCreate(uacPolicy, AD_NORMAL_ACCOUNT, requestedUac) ?? AD_NORMAL_ACCOUNT;
      steps.push({ kind: 'modify', dn: entry.dn, changes: [{ op: 'replace', name: 'userAccountControl', values: [enabled] }] });
    } else if (options.kind === 'active-directory' && enablesOnFirstPassword(request, entry)) {
      steps.push({ kind: 'modify', dn: entry.dn, changes: [{ op: 'replace', name: 'userAccountControl', values: [AD_NORMAL_ACCOUNT] }] });
    }
    return steps;
  };

  switch (request.op) {
    case 'upsert': {
      if (current === null) return { ...base, target: null, steps: createSteps({ ...request, attributes: applyPolicies(request, null) }, dn, options), reason: null };
      const steps = modifyOf(current, parse(request, current.dn, 'the entry DN'));
      return steps.length === 0 ? noOp(current.dn, 'the destination already matches') : { ...base, target: current.dn, steps, reason: null };
    }
    case 'modify': {
      if (current === null) throw new EntryNotFoundError(`no destination entry for ${request.dn} to modify (its create may not have arrived yet)`, { requestId: request.requestId, dn: request.dn });
      const steps = modifyOf(current, parse(request, current.dn, 'the entry DN'));
      return steps.length === 0 ? noOp(current.dn, 'the destination already matches') : { ...base, target: current.dn, steps, reason: null };
    }
    case 'delete':
      if (current === null) return noOp(null, 'the entry is not in the destination (already deleted)');
      return { ...base, target: current.dn, steps: [{ kind: 'delete', dn: current.dn }], reason: null };
    case 'rename': {
      // Records are keyed by the source entry, so the entry's create always came first: when neither DN nor the
      // correlation finds it, it was deleted here since (typically the late echo of a rename in two-way sync) or was
      // never synced. Waiting cannot help, and a rename cannot create: nothing to do (a resync repairs the latter).
      if (current === null) return noOp(null, `no destination entry at ${request.previousDn ?? '?'} or ${request.dn}: deleted since, or never synced`);
      const steps: PlannedStep[] = [];
      const from = parse(request, current.dn, 'the entry DN');
      if (!dnEquals(from, dn)) {
        const oldParent = parentDn(from);
        const newParent = parentDn(dn);
        const moved = oldParent === null || newParent === null || !dnEquals(oldParent, newParent);
        steps.push({
          kind: 'modify-dn',
          dn: current.dn,
          newDn: formatDn(dn),
          newRdn: formatRdn(dn[0] ?? []),
          newSuperior: moved && newParent !== null ? formatDn(newParent) : null,
        });
      }
      // The rename set the new naming attribute; compare the rest against the entry as it will be.
      const renamed: CurrentEntry = { dn: formatDn(dn), attributes: current.attributes };
      steps.push(...modifyOf(renamed, dn));
      return steps.length === 0 ? noOp(current.dn, 'the entry already has this DN and these values') : { ...base, target: current.dn, steps, reason: null };
    }
    case 'unlink':
      throw new InvalidEntryError(`planWrite cannot plan an unlink (request ${request.requestId}); use planUnlink`, { requestId: request.requestId });
  }
}

/**
 * An unlink: remove the DN in `previousDn` from the named member attributes of every entry holding it
 * (`holders`, read with those attributes). Entries that no longer hold it need nothing.
 */
export function planUnlink(request: WriteRequest, holders: readonly CurrentEntry[], options: PlanOptions): WritePlan {
  const knowledge = options.attributes ?? DEFAULT_ATTRIBUTES;
  const removed = request.previousDn ?? request.dn;
  const changes = request.attributes.map((change) => ({ name: change.name, op: 'delete' as const, values: [removed] }));
  const steps: PlannedStep[] = [];
  for (const holder of holders) {
    const modifications = diff(changes, holder, { attributes: knowledge });
    if (modifications.length > 0) steps.push({ kind: 'modify', dn: holder.dn, changes: modifications });
  }
  return {
    requestId: request.requestId,
    op: request.op,
    target: null,
    steps,
    reason: steps.length === 0 ? `no entry holds ${removed} any more` : null,
  };
}

/**
 * The steps of a create: the add with what the request asks for plus what the destination requires. An AD user
 * created with a password takes three steps, as AD wants it: the add, disabled (546) and without the password; the
 * password (unicodePwd replace: an administrator reset, checked against the password policy); then
 * userAccountControl 512 (or the request's own value). A password the policy refuses leaves a disabled account
 * and dead-letters the request with the server's reason, never an enabled account without a password.
 */
function createSteps(request: WriteRequest, dn: Dn, options: PlanOptions): PlannedStep[] {
  const knowledge = options.attributes ?? DEFAULT_ATTRIBUTES;
  const values = new Map<string, { name: string; values: AttributeValue[] }>();
  for (const [key, group] of changesByAttribute(request.attributes)) {
    const want = knowledge.isPassword(group.name) ? [...(group.changes.filter((c) => c.op !== 'delete').at(-1)?.values ?? [])] : targetValues(group.name, [], group.changes, knowledge);
    if (want.length > 0) values.set(key, { name: group.name, values: want });
  }
  const set = (name: string, list: AttributeValue[]): void => void values.set(attributeKey(name), { name, values: list });
  const get = (name: string): AttributeValue[] | undefined => values.get(attributeKey(name))?.values;
  const after: PlannedStep[] = [];

  const classes = new Set<string>(request.objectClasses.map((c) => c.toLowerCase()));
  for (const value of get('objectClass') ?? []) if (typeof value === 'string') classes.add(value.toLowerCase());
  if (classes.size === 0) {
    throw new InvalidEntryError(`cannot create ${request.dn}: the request names no object classes (set destinationObjectClasses on the sync class)`, {
      requestId: request.requestId,
      dn: request.dn,
    });
  }
  const objectClasses = [...new Set([...request.objectClasses, ...(get('objectClass') ?? []).filter((v) => typeof v === 'string')])];
  // Auxiliary classes the written attributes need (attribute policies).
  for (const policy of request.attributePolicies ?? []) {
    const aux = policy.auxiliaryClass;
    if (aux !== null && (get(policy.name)?.length ?? 0) > 0 && !classes.has(aux.toLowerCase())) {
      objectClasses.push(aux);
      classes.add(aux.toLowerCase());
    }
  }

  // The naming attribute's value must be in the entry.
  for (const ava of dn[0] ?? []) {
    const present = get(ava.type) ?? [];
    if (!present.some((v) => typeof v === 'string' && v.toLowerCase() === ava.value.toLowerCase())) set(ava.type, [...present, ava.value]);
  }
  const rdnValue = dn[0]?.[0]?.value ?? '';
  const fail = (reason: string): never => {
    throw new InvalidEntryError(`cannot create ${request.dn}: ${reason}`, { requestId: request.requestId, dn: request.dn });
  };

  if (options.kind === 'active-directory') {
    const isUser = has(classes, 'user', 'inetOrgPerson') && !has(classes, 'computer');
    const isGroup = has(classes, 'group');
    if (isUser) {
      if (!classes.has('user')) objectClasses.push('user');
      // AD requires a logon name; without one in the request, the RDN value (validated like any other).
      if (get('sAMAccountName') === undefined) set('sAMAccountName', [rdnValue]);
      const password = values.get(attributeKey('unicodePwd'));
      // A disabled bit under a mask: merged into what the writer would set (never clearing 546's without a password).
      const uacPolicy = policiesOf(request).get('useraccountcontrol');
      const masked = bitsOnCreate(uacPolicy, password === undefined ? AD_DISABLED_NO_PASSWORD : AD_NORMAL_ACCOUNT, get('userAccountControl'));
      if (masked !== null) set('userAccountControl', [password === undefined ? String(BigInt(masked) | 2n) : masked]);
      if (password !== undefined) {
        values.delete(attributeKey('unicodePwd'));
        const enabled = get('userAccountControl') ?? [AD_NORMAL_ACCOUNT];
        set('userAccountControl', [AD_DISABLED_NO_PASSWORD]);
        const target = formatDn(dn);
        after.push({ kind: 'modify', dn: target, changes: [{ op: 'replace', name: password.name, values: password.values }] });
        after.push({ kind: 'modify', dn: target, changes: [{ op: 'replace', name: 'userAccountControl', values: enabled }] });
      } else if (get('userAccountControl') === undefined) set('userAccountControl', [AD_DISABLED_NO_PASSWORD]);
    }
    if (isGroup) {
      if (get('sAMAccountName') === undefined) set('sAMAccountName', [rdnValue]);
      if (get('groupType') === undefined) set('groupType', [AD_GLOBAL_SECURITY_GROUP]);
    }
    if (isUser || isGroup) {
      for (const value of get('sAMAccountName') ?? []) {
        const problem = samAccountNameProblem(value, isGroup);
        if (problem !== null) fail(`sAMAccountName '${String(value)}' ${problem}`);
      }
    }
  } else if (has(classes, 'person', 'organizationalPerson', 'inetOrgPerson')) {
    // person requires cn and sn. cn: the RDN value when the request has none; sn: cn's value when missing
    // (AD accounts often have no sn; an inetOrgPerson cannot exist without one).
    if (get('cn') === undefined) set('cn', [rdnValue]);
    if (get('sn') === undefined) set('sn', [(get('cn') ?? [rdnValue])[0] ?? rdnValue]);
  } else if (has(classes, 'groupOfNames', 'groupOfUniqueNames') && get('cn') === undefined) {
    // No member is invented for an empty group: 389-ds allows groupOfNames without member; a server whose schema
    // requires it answers objectClassViolation (65), which dead-letters the request with that reason.
    set('cn', [rdnValue]);
  }
  set('objectClass', objectClasses);
  return [{ kind: 'add', dn: formatDn(dn), attributes: [...values.values()] }, ...after];
}
