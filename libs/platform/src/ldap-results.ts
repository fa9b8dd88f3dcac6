/**
 * The one table of what an LDAP result means, for every stage of the product (detectors reading changes, writers
 * applying them, the CLI). A result code means different things depending on the operation that got it (a 32 on a
 * delete is "already done", on a modify "not there yet", on a changelog read "no changelog"), so each row has a
 * default and per-operation exceptions; Active Directory's own meaning where it differs.
 */

/** The operations a stage performs, as far as their failures differ. */
/** Operations that write to one entry. A modify is split by what it carries, since 16/20/32/19 depend on it. */
export const LDAP_WRITE_OPERATIONS = [
  'add',
  'delete',
  'modify-dn',
  /** A modify that replaces attributes, or mixes operations. */
  'modify',
  /** A modify made only of value additions. */
  'value-add',
  /** A modify made only of value deletions. */
  'value-delete',
  /** A modify adding values to a member attribute (the member's own create may not have arrived yet). */
  'member-add',
] as const;

export const LDAP_OPERATIONS = [
  'bind',
  /** A read by a writer or a tool (base or subtree search). */
  'read',
  /** ds-detector: reading cn=changelog. */
  'changelog',
  /** ad-detector: a DirSync search with its cookie. */
  'dirsync',
  ...LDAP_WRITE_OPERATIONS,
] as const;
export type LdapOperation = (typeof LDAP_OPERATIONS)[number];

/**
 * - `retry`: retried with backoff. `exhausted` says what happens after the stage's retry budget: absent, never
 *   (an outage: retried until the server answers); `dead-letter`, the record is set aside (a dependency that may
 *   not come: a member, a parent); `stop`, the stage stops for an operator (an unknown failure: never dead-letter
 *   what may succeed later).
 * - `stop`: nothing can succeed until an operator acts (credentials, transport security, the account's rights for
 *   reading changes). The stage stops with its position uncommitted.
 * - `dead-letter`: this record can never be applied as it is (schema, syntax, an object-level refusal); it is set
 *   aside with its reason and the pipeline goes on.
 * - `done`: the server says the change is already there (a replay).
 * - `position-rejected`: the source refused the stored position (a DirSync cookie); never answered silently.
 */
export const LDAP_ACTIONS = ['retry', 'stop', 'dead-letter', 'done', 'position-rejected'] as const;
export type LdapAction = (typeof LDAP_ACTIONS)[number];
export type Exhausted = 'dead-letter' | 'stop';

interface Meaning {
  readonly action: LdapAction;
  readonly exhausted?: Exhausted;
  readonly why: string;
}

export interface LdapResultRule extends Meaning {
  readonly code: number;
  readonly name: string;
  /** Operations where the code means something else. */
  readonly on?: Partial<Record<LdapOperation, Meaning>>;
  /** Active Directory's own meaning (for operations without an entry in `on`). */
  readonly ad?: Meaning;
}

/** The source or destination kind, as far as result codes go. */
export type LdapServerKind = 'ldap' | 'active-directory';

export interface LdapVerdict {
  readonly action: LdapAction;
  readonly exhausted?: Exhausted;
  /** `<name> (<code>) on <operation>: <why>`, for logs and dead-letter records. */
  readonly reason: string;
  readonly code: number;
  readonly name: string;
}

const WAIT: Exhausted = 'dead-letter';
const UNKNOWN: Exhausted = 'stop';
/** The same meaning on every write to an entry (a refusal there is about that entry: AdminSDHolder, a delegated OU). */
const onEntryWrites = (meaning: Meaning): Partial<Record<LdapOperation, Meaning>> => Object.fromEntries(LDAP_WRITE_OPERATIONS.map((op) => [op, meaning]));

export const LDAP_RESULT_RULES: readonly LdapResultRule[] = [
  {
    code: 1,
    name: 'operationsError',
    action: 'retry',
    exhausted: UNKNOWN,
    why: 'server-side failure; may pass',
    on: { dirsync: { action: 'stop', why: 'the DC refused the DirSync request (Samba answers this to DirSync combined with paged results)' } },
  },
  {
    code: 2,
    name: 'protocolError',
    action: 'stop',
    why: 'the server could not parse the request',
    on: { dirsync: { action: 'position-rejected', why: 'the DC could not use the DirSync request or its cookie' } },
  },
  { code: 3, name: 'timeLimitExceeded', action: 'retry', why: 'the server is too slow now' },
  { code: 7, name: 'authMethodNotSupported', action: 'stop', why: 'the server refuses this kind of bind' },
  { code: 8, name: 'strongAuthRequired', action: 'stop', why: 'the server requires a signed or encrypted session: use LDAPS or StartTLS' },
  { code: 11, name: 'adminLimitExceeded', action: 'retry', exhausted: UNKNOWN, why: 'a server limit was reached' },
  {
    code: 12,
    name: 'unavailableCriticalExtension',
    action: 'stop',
    why: 'the server does not support a control the request needs',
    on: { dirsync: { action: 'position-rejected', why: 'the DC rejected the DirSync control or its cookie' } },
  },
  { code: 13, name: 'confidentialityRequired', action: 'stop', why: 'the server requires an encrypted session: use LDAPS or StartTLS' },
  {
    code: 16,
    name: 'noSuchAttribute',
    action: 'retry',
    exhausted: WAIT,
    why: 'the entry changed since it was read; read and compare again',
    on: { 'value-delete': { action: 'done', why: 'the values are already gone' } },
  },
  { code: 17, name: 'undefinedAttributeType', action: 'dead-letter', why: 'the destination schema has no such attribute' },
  { code: 18, name: 'inappropriateMatching', action: 'dead-letter', why: 'no matching rule for that attribute' },
  {
    code: 19,
    name: 'constraintViolation',
    action: 'dead-letter',
    why: 'a value breaks a constraint of the destination',
    on: { 'member-add': { action: 'retry', exhausted: WAIT, why: 'a member DN does not exist yet (AD answers 19 or 32); it may arrive' } },
  },
  {
    code: 20,
    name: 'attributeOrValueExists',
    action: 'retry',
    exhausted: WAIT,
    why: 'the entry changed since it was read; read and compare again',
    on: {
      'value-add': { action: 'done', why: 'the values are already there' },
      'member-add': { action: 'done', why: 'the members are already there' },
    },
  },
  { code: 21, name: 'invalidAttributeSyntax', action: 'dead-letter', why: 'a value does not fit the attribute syntax' },
  {
    code: 32,
    name: 'noSuchObject',
    action: 'retry',
    exhausted: WAIT,
    why: 'the entry or its parent does not exist (yet); it may arrive',
    on: {
      delete: { action: 'done', why: 'the entry is already gone' },
      'member-add': { action: 'retry', exhausted: WAIT, why: 'a member DN does not exist yet; it may arrive' },
      changelog: { action: 'stop', why: 'no cn=changelog: enable the Retro Changelog plugin (389-ds) or the changelog backend' },
      dirsync: { action: 'stop', why: 'DirSync must start at the naming-context root (directories.<name>.baseDn)' },
      bind: { action: 'stop', why: 'the bind DN does not exist' },
    },
  },
  {
    code: 34,
    name: 'invalidDNSyntax',
    action: 'dead-letter',
    why: 'the DN is not valid for the destination',
    on: {
      changelog: { action: 'stop', why: 'a configured DN is not valid' },
      dirsync: { action: 'stop', why: 'invalid DN syntax in baseDn' },
      bind: { action: 'stop', why: 'the bind DN is not a valid DN' },
    },
  },
  { code: 48, name: 'inappropriateAuthentication', action: 'stop', why: 'the account cannot bind this way' },
  { code: 49, name: 'invalidCredentials', action: 'stop', why: "the account's DN or password is wrong" },
  {
    code: 50,
    name: 'insufficientAccessRights',
    action: 'stop',
    why: 'the account may not do this: grant it the rights',
    on: {
      ...onEntryWrites({
        action: 'dead-letter',
        why: 'this entry refuses the writer (an AdminSDHolder-protected account, a delegated OU): set aside; writes that keep being refused stop the writer',
      }),
      dirsync: { action: 'stop', why: "the account needs 'Replicating Directory Changes' (or DirSync runs from another base than the naming context)" },
      changelog: { action: 'stop', why: 'the account may not read cn=changelog: grant it read access' },
    },
  },
  { code: 51, name: 'busy', action: 'retry', why: 'the server is busy' },
  { code: 52, name: 'unavailable', action: 'retry', why: 'the server is unavailable' },
  {
    code: 53,
    name: 'unwillingToPerform',
    action: 'retry',
    exhausted: UNKNOWN,
    why: 'the server refuses for now (read-only, backup, import)',
    on: { dirsync: { action: 'stop', why: 'the DC is unwilling to perform the DirSync request' } },
    ad: { action: 'dead-letter', why: 'AD refuses this change (password policy, a protected or system object)' },
  },
  { code: 54, name: 'loopDetect', action: 'dead-letter', why: 'alias or referral loop' },
  { code: 64, name: 'namingViolation', action: 'dead-letter', why: 'the DN breaks the destination naming rules' },
  { code: 65, name: 'objectClassViolation', action: 'dead-letter', why: 'the entry lacks a required attribute or has one its classes do not allow' },
  {
    code: 66,
    name: 'notAllowedOnNonLeaf',
    action: 'dead-letter',
    why: 'the entry has children',
    on: { delete: { action: 'retry', exhausted: WAIT, why: 'the entry still has children; their deletes may still be on their way' } },
  },
  { code: 67, name: 'notAllowedOnRDN', action: 'dead-letter', why: 'the change would alter the naming attribute; that needs a rename' },
  {
    code: 68,
    name: 'entryAlreadyExists',
    action: 'dead-letter',
    why: 'another entry already has that DN',
    on: {
      add: { action: 'done', why: 'the entry already exists' },
      'modify-dn': { action: 'retry', exhausted: WAIT, why: 'another entry holds the new DN; it may be moving away (a rename of its own on the way)' },
    },
  },
  { code: 69, name: 'objectClassModsProhibited', action: 'dead-letter', why: 'the destination does not allow changing the structural class' },
  { code: 71, name: 'affectsMultipleDSAs', action: 'dead-letter', why: 'the move crosses naming contexts' },
  { code: 80, name: 'other', action: 'retry', exhausted: UNKNOWN, why: 'unspecified server error' },
];

const RULES = new Map(LDAP_RESULT_RULES.map((rule) => [rule.code, rule]));

/** What `code` means on `operation` against a server of `kind`. Codes not in the table retry a while, then stop. */
export function classifyLdapResult(code: number, operation: LdapOperation, kind: LdapServerKind): LdapVerdict {
  const rule = RULES.get(code);
  if (rule === undefined) {
    return {
      action: 'retry',
      exhausted: UNKNOWN,
      code,
      name: `unknown-${code}`,
      reason: `LDAP result ${code} on ${operation}: a code this product does not know; retried, then the stage stops for an operator`,
    };
  }
  const meaning = rule.on?.[operation] ?? (kind === 'active-directory' ? rule.ad : undefined) ?? rule;
  return {
    action: meaning.action,
    ...(meaning.exhausted === undefined ? {} : { exhausted: meaning.exhausted }),
    code,
    name: rule.name,
    reason: `${rule.name} (${code}) on ${operation}: ${meaning.why}`,
  };
}

/** Socket-level failures: the server or the network is away; retried until it comes back. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const NETWORK_MESSAGES = /timeout|timed out|socket|connection (closed|reset|ended|lost)|not connected/i;
/** The connection layer's own errors (libs/platform ldap.ts, ldap-pool.ts): unreachable, lost, no answer in time. */
const CONNECTION_ERRORS = new Set(['DirectoryUnavailableError', 'LdapConnectionLostError', 'LdapTimeoutError']);
/** Errors of our own code: neither retried nor dead-lettered. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError']);

/** A metric label from a name: `insufficientAccessRights` -> `insufficient-access-rights`, `DirectoryBindError` -> `directory-bind`. */
function label(name: string): string {
  return name
    .replace(/Error$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

export interface FailureVerdict {
  readonly action: LdapAction;
  readonly exhausted?: Exhausted;
  readonly reason: string;
  /** LDAP result code, when the server answered with one. */
  readonly code: number | null;
  /** Short stable label for metrics, lower-case: the result name (`insufficient-access-rights`), `network`, `programming-error`, `unknown`. */
  readonly kind: string;
}

/**
 * Anything an LDAP call threw: result codes through the table; socket failures and the connection layer's
 * errors retried until the server answers; errors that say `retriable` believed; programming errors stop; anything
 * else (a TLS failure, a missing file) retried a while, then the stage stops — never dead-lettered, since it says
 * nothing about the record.
 */
export function classifyLdapFailure(error: unknown, operation: LdapOperation, kind: LdapServerKind): FailureVerdict {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; name?: unknown; retriable?: unknown; message?: unknown };
  const message = typeof fields.message === 'string' ? fields.message : String(error);
  const name = typeof fields.name === 'string' ? fields.name : '';
  if (PROGRAMMING_ERRORS.has(name)) return { action: 'stop', reason: `programming error on ${operation}: ${name}: ${message}`, code: null, kind: 'programming-error' };
  if (typeof fields.code === 'number' && typeof fields.retriable !== 'boolean') {
    const verdict = classifyLdapResult(fields.code, operation, kind);
    // The server's own diagnostic text says which value or DN; it never holds password values.
    const said = message ? ` — server said: ${message}` : '';
    return { action: verdict.action, ...(verdict.exhausted ? { exhausted: verdict.exhausted } : {}), reason: `${verdict.reason}${said}`, code: fields.code, kind: label(verdict.name) };
  }
  if (CONNECTION_ERRORS.has(name)) return { action: 'retry', reason: message, code: null, kind: 'network' };
  // Our own errors say whether a retry helps (a bind refused, a server unreachable), whatever code they carry.
  if (typeof fields.retriable === 'boolean') {
    const code = typeof fields.code === 'number' ? fields.code : null;
    return fields.retriable ? { action: 'retry', reason: message, code, kind: label(name) || 'retriable' } : { action: 'stop', reason: message, code, kind: label(name) || 'not-retriable' };
  }
  if ((typeof fields.code === 'string' && NETWORK_ERROR_CODES.has(fields.code)) || NETWORK_MESSAGES.test(message)) {
    return { action: 'retry', reason: `network failure on ${operation}: ${message}`, code: null, kind: 'network' };
  }
  return {
    action: 'retry',
    exhausted: UNKNOWN,
    reason: `unexpected failure on ${operation}: ${name || 'Error'}: ${message}; retried, then the stage stops for an operator`,
    code: null,
    kind: 'unknown',
  };
}
