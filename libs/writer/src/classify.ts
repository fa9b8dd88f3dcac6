import { type DirectoryKind } from '@idsync/config';
import { classifyLdapFailure, classifyLdapResult, type Exhausted, LDAP_WRITE_OPERATIONS, type LdapAction, type LdapOperation } from '@idsync/platform';
import { WriteError, type WriteOutcome } from './errors';

/**
 * What an LDAP result means for a write: the product's one table (@idsync/platform ldap-results.ts) seen through
 * the writer's outcomes. Everything the writer sends is classified here, by result code and by the step that got
 * it (the same code means different things on an add and a delete).
 */

/** The kind of LDAP operation that failed: a bind, a read (`search`), or one of the table's writes to an entry. */
export const WRITE_STEPS = ['bind', 'search', ...LDAP_WRITE_OPERATIONS] as const;
export type WriteStep = (typeof WRITE_STEPS)[number];

export interface Classification {
  readonly outcome: WriteOutcome;
  /** Result code name and what it means here, for logs and dead-letter records. */
  readonly reason: string;
  readonly code: number | null;
  /** See WriteErrorDetails.bounded. */
  readonly bounded: boolean;
  /** What a bounded retry ends in: the record dead-lettered (a dependency that never came) or the writer stopped. */
  readonly exhausted?: Exhausted;
}

/** The product-wide table's name for the operation behind a write step. */
const operationOf = (step: WriteStep): LdapOperation => (step === 'search' ? 'read' : step);

function fromVerdict(action: LdapAction, exhausted: Exhausted | undefined, reason: string, code: number | null): Classification {
  const outcome: WriteOutcome = action === 'done' ? 'already-applied' : action === 'position-rejected' ? 'stop' : action;
  return { outcome, reason, code, bounded: exhausted !== undefined, ...(exhausted === undefined ? {} : { exhausted }) };
}

/** Classifies a result code met on a step (the product's one table: @idsync/platform ldap-results.ts). */
export function classifyResultCode(code: number, step: WriteStep, kind: DirectoryKind): Classification {
  const verdict = classifyLdapResult(code, operationOf(step), kind);
  return fromVerdict(verdict.action, verdict.exhausted, verdict.reason, code);
}

/**
 * Classifies anything a write threw: the writer's own errors as they say, the rest through the product's table
 * (classifyLdapFailure): result codes by step, socket failures retried, programming errors stop, anything else
 * (a TLS failure, a missing file) retried a while, then the writer stops — never dead-lettered.
 */
export function classifyError(error: unknown, step: WriteStep, kind: DirectoryKind): Classification {
  if (error instanceof WriteError) {
    return { outcome: error.outcome, reason: error.message, code: error.code, bounded: error.bounded, ...(error.exhausted === undefined ? {} : { exhausted: error.exhausted }) };
  }
  if (error instanceof Error && error.name === 'DirectoryBindError') return { outcome: 'stop', reason: error.message, code: null, bounded: false };
  const verdict = classifyLdapFailure(error, operationOf(step), kind);
  return fromVerdict(verdict.action, verdict.exhausted, verdict.reason, verdict.code);
}
