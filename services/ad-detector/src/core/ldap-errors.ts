/**
 * What to do about an LDAP failure, in one table. `retry`: the DC is busy, down or slow, try again after a backoff
 * (the session is reopened, so another configured DC may answer). `stop`: configuration or permission; retrying
 * cannot help. `cookie-rejected`: the DC refused the cookie we sent; never answered by a silent full pass.
 */
export const LDAP_ERROR_ACTIONS = ['retry', 'stop', 'cookie-rejected'] as const;
export type LdapErrorAction = (typeof LDAP_ERROR_ACTIONS)[number];

export interface LdapErrorClass {
  readonly action: LdapErrorAction;
  readonly meaning: string;
}

/** LDAP result codes (RFC 4511 + AD). Codes not listed stop the detector: an unknown failure is not retried blindly. */
export const LDAP_RESULT_CODES: Readonly<Record<number, LdapErrorClass>> = {
  1: { action: 'stop', meaning: 'operations error (Samba answers this to DirSync combined with paged results)' },
  2: { action: 'cookie-rejected', meaning: 'protocol error: the DC could not use the DirSync request or its cookie' },
  3: { action: 'retry', meaning: 'time limit exceeded' },
  8: { action: 'stop', meaning: 'strong authentication required: use LDAPS or StartTLS' },
  11: { action: 'retry', meaning: 'administrative limit exceeded' },
  12: { action: 'cookie-rejected', meaning: 'unavailable critical extension: the DC rejected the DirSync control or its cookie' },
  13: { action: 'stop', meaning: 'confidentiality required: use LDAPS or StartTLS' },
  32: { action: 'stop', meaning: 'no such object: DirSync must start at the naming-context root (directories.<name>.baseDn)' },
  34: { action: 'stop', meaning: 'invalid DN syntax in baseDn' },
  49: { action: 'stop', meaning: 'invalid credentials' },
  50: { action: 'stop', meaning: "insufficient access: the account needs 'Replicating Directory Changes' (or DirSync from another base than the naming context)" },
  51: { action: 'retry', meaning: 'the DC is busy' },
  52: { action: 'retry', meaning: 'the DC is unavailable' },
  53: { action: 'stop', meaning: 'the DC is unwilling to perform the request' },
  80: { action: 'retry', meaning: 'other (server-side failure)' },
};

/** Errors of our own code: never retried. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError']);

/**
 * Classifies what ldapts (or the socket under it) threw. A numeric `code` is an LDAP result code; a string code
 * (ECONNRESET, ETIMEDOUT...) or an ldapts timeout/closed-connection error is a transport problem and retried.
 * An error that carries `retriable` (our own, openLdapSession's) says for itself.
 */
export function classifyLdapError(error: unknown): LdapErrorClass {
  if (typeof error === 'object' && error !== null) {
    const { code, retriable, name } = error as { code?: unknown; retriable?: unknown; name?: unknown };
    if (typeof retriable === 'boolean') return { action: retriable ? 'retry' : 'stop', meaning: retriable ? 'transient failure' : 'permanent failure' };
    if (typeof code === 'number') return LDAP_RESULT_CODES[code] ?? { action: 'stop', meaning: `unexpected LDAP result code ${code}` };
    if (typeof name === 'string' && PROGRAMMING_ERRORS.has(name)) return { action: 'stop', meaning: 'programming error' };
    if (typeof code === 'string') return { action: 'retry', meaning: `network failure ${code}` };
    if (error instanceof Error) return { action: 'retry', meaning: 'connection lost or timed out' };
  }
  return { action: 'stop', meaning: 'unrecognized failure' };
}
