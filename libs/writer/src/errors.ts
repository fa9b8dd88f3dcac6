/** What the writer does with a request that did not simply succeed. */
export const WRITE_OUTCOMES = ['retry', 'stop', 'dead-letter', 'already-applied'] as const;
export type WriteOutcome = (typeof WRITE_OUTCOMES)[number];

export interface WriteErrorDetails {
  /** The request being applied (its id names it in the dead-letter record and in logs). */
  readonly requestId?: string | undefined;
  /** The destination entry concerned. */
  readonly dn?: string | undefined;
  /** LDAP result code, when the server answered with one. */
  readonly code?: number | null | undefined;
  /**
   * A retry that may never succeed (a member that may arrive, a parent that may be created): retried a few
   * times, then dead-lettered. Unbounded retries are for outages (busy, unavailable, network).
   */
  readonly bounded?: boolean | undefined;
  /** What a bounded retry ends in once used up: dead-letter (default; a dependency that never came) or stop. */
  readonly exhausted?: 'dead-letter' | 'stop' | undefined;
}

/**
 * A write that did not succeed, with what to do about it. `retriable` is true only for `retry`;
 * `stop` means no record can succeed until an operator acts (credentials, access rights).
 */
export class WriteError extends Error {
  readonly retriable: boolean;
  readonly requestId: string | undefined;
  readonly dn: string | undefined;
  readonly code: number | null;
  readonly bounded: boolean;
  readonly exhausted: 'dead-letter' | 'stop' | undefined;

  constructor(
    readonly outcome: WriteOutcome,
    message: string,
    details: WriteErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WriteError';
    this.retriable = outcome === 'retry';
    this.requestId = details.requestId;
    this.dn = details.dn;
    this.code = details.code ?? null;
    this.bounded = details.bounded ?? false;
    this.exhausted = details.exhausted;
  }
}

/** The request asks for a value or an entry the destination can never accept (AD limits, missing classes). */
export class InvalidEntryError extends WriteError {
  constructor(reason: string, details: WriteErrorDetails = {}) {
    super('dead-letter', reason, details);
    this.name = 'InvalidEntryError';
  }
}

/** A correlation list matched more than one destination entry: writing to either could be wrong. */
export class AmbiguousCorrelationError extends WriteError {
  constructor(
    readonly attributes: readonly string[],
    readonly matches: readonly string[],
    details: WriteErrorDetails = {},
  ) {
    super('dead-letter', `ambiguous correlation: [${attributes.join(', ')}] matches ${matches.length} entries (${matches.join('; ')})`, details);
    this.name = 'AmbiguousCorrelationError';
  }
}

/** The entry a modify or rename needs is not in the destination (yet): its create may still be on its way. */
export class EntryNotFoundError extends WriteError {
  constructor(reason: string, details: WriteErrorDetails = {}) {
    super('retry', reason, { ...details, bounded: true });
    this.name = 'EntryNotFoundError';
  }
}
