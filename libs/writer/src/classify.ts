import { type DirectoryKind } from '@idsync/config';
import { WriteError, type WriteOutcome } from './errors';

/**
 * The one place that decides what an LDAP result means for a write. Everything the writer sends is classified
 * here, by result code and by the step that got it (the same code means different things on an add and a delete).
 */

/** The kind of LDAP operation that failed. A modify is split by what it carries, since 16/20/32/19 depend on it. */
export const WRITE_STEPS = [
  'bind',
  'search',
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
export type WriteStep = (typeof WRITE_STEPS)[number];

export interface Classification {
  readonly outcome: WriteOutcome;
  /** Result code name and what it means here, for logs and dead-letter records. */
  readonly reason: string;
  readonly code: number | null;
  /** See WriteErrorDetails.bounded. */
  readonly bounded: boolean;
}

interface ResultCodeRule {
  readonly code: number;
  readonly name: string;
  readonly outcome: WriteOutcome;
  /** A retry that may never help: a few attempts, then dead-letter. */
  readonly bounded?: boolean;
  /** Steps where the code means something else. */
  readonly on?: Partial<Record<WriteStep, { readonly outcome: WriteOutcome; readonly bounded?: boolean; readonly why: string }>>;
  /** Active Directory's own meaning, when it differs. */
  readonly ad?: { readonly outcome: WriteOutcome; readonly why: string };
  readonly why: string;
}

const BOUNDED = true;

/** Result code -> outcome. Codes not listed are dead-lettered (the record is kept, can be re-driven). */
export const RESULT_CODE_RULES: readonly ResultCodeRule[] = [
  { code: 1, name: 'operationsError', outcome: 'retry', bounded: BOUNDED, why: 'server-side failure; may pass' },
  { code: 3, name: 'timeLimitExceeded', outcome: 'retry', why: 'server too slow now' },
  { code: 7, name: 'authMethodNotSupported', outcome: 'stop', why: 'the server refuses this kind of bind' },
  { code: 8, name: 'strongAuthRequired', outcome: 'stop', why: 'the server requires a signed or encrypted session: use LDAPS or StartTLS' },
  { code: 11, name: 'adminLimitExceeded', outcome: 'retry', bounded: BOUNDED, why: 'server limit reached' },
  { code: 13, name: 'confidentialityRequired', outcome: 'stop', why: 'the server requires an encrypted session: use LDAPS or StartTLS' },
  {
    code: 16,
    name: 'noSuchAttribute',
    outcome: 'retry',
    bounded: BOUNDED,
    why: 'the entry changed since it was read; re-read and compare again',
    on: { 'value-delete': { outcome: 'already-applied', why: 'the values are already gone' } },
  },
  { code: 17, name: 'undefinedAttributeType', outcome: 'dead-letter', why: 'the destination schema has no such attribute' },
  { code: 18, name: 'inappropriateMatching', outcome: 'dead-letter', why: 'no matching rule for that attribute' },
  {
    code: 19,
    name: 'constraintViolation',
    outcome: 'dead-letter',
    why: 'a value breaks a constraint of the destination',
    on: { 'member-add': { outcome: 'retry', bounded: BOUNDED, why: 'a member DN does not exist yet (AD answers 19 or 32); it may arrive' } },
  },
  {
    code: 20,
    name: 'attributeOrValueExists',
    outcome: 'retry',
    bounded: BOUNDED,
    why: 'the entry changed since it was read; re-read and compare again',
    on: {
      'value-add': { outcome: 'already-applied', why: 'the values are already there' },
      'member-add': { outcome: 'already-applied', why: 'the members are already there' },
    },
  },
  { code: 21, name: 'invalidAttributeSyntax', outcome: 'dead-letter', why: 'a value does not fit the attribute syntax' },
  {
    code: 32,
    name: 'noSuchObject',
    outcome: 'retry',
    bounded: BOUNDED,
    why: 'the entry or its parent does not exist (yet); it may arrive',
    on: {
      delete: { outcome: 'already-applied', why: 'the entry is already gone' },
      'member-add': { outcome: 'retry', bounded: BOUNDED, why: 'a member DN does not exist yet; it may arrive' },
    },
  },
  { code: 34, name: 'invalidDNSyntax', outcome: 'dead-letter', why: 'the DN is not valid for the destination' },
  { code: 48, name: 'inappropriateAuthentication', outcome: 'stop', why: 'the writer account cannot bind this way' },
  { code: 49, name: 'invalidCredentials', outcome: 'stop', why: "the writer account's DN or password is wrong" },
  { code: 50, name: 'insufficientAccessRights', outcome: 'stop', why: 'the writer account may not make this change: grant it the rights' },
  { code: 51, name: 'busy', outcome: 'retry', why: 'the server is busy' },
  { code: 52, name: 'unavailable', outcome: 'retry', why: 'the server is unavailable' },
  {
    code: 53,
    name: 'unwillingToPerform',
    outcome: 'retry',
    bounded: BOUNDED,
    why: 'the server refuses for now (read-only, backup, import)',
    ad: { outcome: 'dead-letter', why: 'AD refuses this change (password policy, protected or system object)' },
  },
  { code: 54, name: 'loopDetect', outcome: 'dead-letter', why: 'alias or referral loop' },
  { code: 64, name: 'namingViolation', outcome: 'dead-letter', why: 'the DN breaks the destination naming rules' },
  { code: 65, name: 'objectClassViolation', outcome: 'dead-letter', why: 'the entry lacks a required attribute or has one its classes do not allow' },
  {
    code: 66,
    name: 'notAllowedOnNonLeaf',
    outcome: 'dead-letter',
    why: 'the entry has children',
    on: { delete: { outcome: 'retry', bounded: BOUNDED, why: 'the entry still has children; their deletes may still be on their way' } },
  },
  { code: 67, name: 'notAllowedOnRDN', outcome: 'dead-letter', why: 'the change would alter the naming attribute; that needs a rename' },
  {
    code: 68,
    name: 'entryAlreadyExists',
    outcome: 'dead-letter',
    why: 'another entry already has that DN',
    on: {
      add: { outcome: 'already-applied', why: 'the entry already exists' },
      'modify-dn': { outcome: 'retry', bounded: BOUNDED, why: 'another entry holds the new DN; it may be moving away (a rename of its own on the way)' },
    },
  },
  { code: 69, name: 'objectClassModsProhibited', outcome: 'dead-letter', why: 'the destination does not allow changing the structural class' },
  { code: 71, name: 'affectsMultipleDSAs', outcome: 'dead-letter', why: 'the move crosses naming contexts' },
  { code: 80, name: 'other', outcome: 'retry', bounded: BOUNDED, why: 'unspecified server error' },
];

const RULES = new Map(RESULT_CODE_RULES.map((rule) => [rule.code, rule]));

/** Socket-level failures: the server or the network is down; retry until it comes back. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const NETWORK_MESSAGES = /Connection closed|Operation timed out|Socket connection not established|socket hang up|connect ETIMEDOUT|Connection timeout/i;

/** Classifies a result code met on a step. */
export function classifyResultCode(code: number, step: WriteStep, kind: DirectoryKind): Classification {
  const rule = RULES.get(code);
  if (rule === undefined) {
    return { outcome: 'dead-letter', reason: `LDAP result ${code} on ${step}: not a code the writer knows how to recover from`, code, bounded: false };
  }
  const special = rule.on?.[step];
  if (special !== undefined) {
    return { outcome: special.outcome, reason: `${rule.name} (${code}) on ${step}: ${special.why}`, code, bounded: special.bounded ?? false };
  }
  if (kind === 'active-directory' && rule.ad !== undefined) {
    return { outcome: rule.ad.outcome, reason: `${rule.name} (${code}) on ${step}: ${rule.ad.why}`, code, bounded: false };
  }
  return { outcome: rule.outcome, reason: `${rule.name} (${code}) on ${step}: ${rule.why}`, code, bounded: rule.bounded ?? false };
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Classifies anything a write threw: LDAP result codes through the table, socket failures as retry,
 * the writer's own errors as they say, and anything else (a bug) as dead-letter: never retried, the record kept.
 */
export function classifyError(error: unknown, step: WriteStep, kind: DirectoryKind): Classification {
  if (error instanceof WriteError) {
    return { outcome: error.outcome, reason: error.message, code: error.code, bounded: error.bounded };
  }
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'number') {
    const base = classifyResultCode(code, step, kind);
    // The server's own diagnostic text says which value or DN; it never holds password values.
    return message ? { ...base, reason: `${base.reason} — server said: ${message}` } : base;
  }
  const name = error instanceof Error ? error.name : '';
  // The connection layer's own failures: unreachable, connection lost, no answer in time. The server may come back.
  if (name === 'DirectoryUnavailableError' || name === 'LdapConnectionLostError' || name === 'LdapTimeoutError') {
    return { outcome: 'retry', reason: message, code: null, bounded: false };
  }
  if (name === 'DirectoryBindError') return { outcome: 'stop', reason: message, code: null, bounded: false };
  if ((typeof code === 'string' && NETWORK_CODES.has(code)) || NETWORK_MESSAGES.test(message)) {
    return { outcome: 'retry', reason: `network failure on ${step}: ${message}`, code: null, bounded: false };
  }
  return { outcome: 'dead-letter', reason: `internal error on ${step} (not retried): ${name || 'Error'}: ${message}`, code: null, bounded: false };
}
