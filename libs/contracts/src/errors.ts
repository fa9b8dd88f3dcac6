import { type SchemaSubject } from './schemas';

/** Why a record cannot be decoded; none of these improves with a retry. */
export const UNDECODABLE_REASONS = ['empty', 'magic-byte', 'unknown-schema-id', 'wrong-subject', 'truncated', 'malformed'] as const;
export type UndecodableReason = (typeof UNDECODABLE_REASONS)[number];

/** A record that no retry will ever decode: the consumer dead-letters it and moves on. */
export class UndecodableRecordError extends Error {
  readonly retriable = false;

  constructor(
    readonly subject: SchemaSubject,
    readonly reason: UndecodableReason,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`undecodable ${subject} record (${reason}): ${detail}`, options);
    this.name = 'UndecodableRecordError';
  }
}

/** A value that does not fit its schema: a bug in the producer, so retrying cannot help. */
export class UnencodableRecordError extends Error {
  readonly retriable = false;

  constructor(
    readonly subject: SchemaSubject,
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`cannot encode ${subject} record: ${problems.join('; ')}`, options);
    this.name = 'UnencodableRecordError';
  }
}
