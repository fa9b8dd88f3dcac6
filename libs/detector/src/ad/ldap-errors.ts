import { classifyLdapFailure, type LdapOperation } from '@idsync/platform';

/**
 * What to do about an LDAP failure, from the product's one table (@idsync/platform ldap-results.ts). `retry`: the
 * DC is busy, down or slow, try again after a backoff (the session is reopened, so another configured DC may
 * answer); `limited` when the failure is unknown: a few attempts in a row, then stop. `stop`: configuration or
 * permission; retrying cannot help. `cookie-rejected`: the DC refused the cookie we sent; never answered by a
 * silent full pass.
 */
export const LDAP_ERROR_ACTIONS = ['retry', 'stop', 'cookie-rejected'] as const;
export type LdapErrorAction = (typeof LDAP_ERROR_ACTIONS)[number];

export interface LdapErrorClass {
  readonly action: LdapErrorAction;
  readonly meaning: string;
  /** A retry of an unknown failure: limited attempts in a row, then the detector stops. */
  readonly limited?: true;
}

/** Classifies what ldapts (or the socket under it) threw while the detector did `operation` (default: the DirSync search). */
export function classifyLdapError(error: unknown, operation: LdapOperation = 'dirsync'): LdapErrorClass {
  const verdict = classifyLdapFailure(error, operation, 'active-directory');
  if (verdict.action === 'retry') return verdict.exhausted === undefined ? { action: 'retry', meaning: verdict.reason } : { action: 'retry', meaning: verdict.reason, limited: true };
  if (verdict.action === 'position-rejected') return { action: 'cookie-rejected', meaning: verdict.reason };
  return { action: 'stop', meaning: verdict.reason };
}
