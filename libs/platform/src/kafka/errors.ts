import { isRecordTooLarge, RecordTooLargeError } from './record-size';

/**
 * What a stage does about a failure of its Kafka client: the product's one table for Kafka, as ldap-results.ts is
 * for LDAP. kafkajs marks errors it gave up on (retries exhausted, a connection refused many times) as not retriable;
 * for a stage that only produces and commits, that is still an outage a later attempt survives (a broker restarting,
 * a leader moving), so Kafka errors retry unless they say something a retry cannot change:
 *
 * | error (type, along the error's causes)                         | action      | kind             |
 * | -------------------------------------------------------------- | ----------- | ---------------- |
 * | INVALID_PRODUCER_EPOCH, PRODUCER_FENCED (code 90), fenced name | fenced      | kafka-fenced     |
 * | *_AUTHORIZATION_FAILED, SASL authentication failed               | stop        | kafka-denied     |
 * | MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, RecordTooLargeError   | dead-letter | kafka-too-large  |
 * | any other kafkajs error (KafkaJS*)                              | retry       | kafka            |
 *
 * `fenced`: another producer took over the transactional id (a second instance, `idsync set-startpoint`, a new owner
 * of a partition); the batch in flight was aborted, the committed position is intact: reconnect and read it again.
 */
export type KafkaAction = 'retry' | 'fenced' | 'stop' | 'dead-letter';

export interface KafkaVerdict {
  readonly action: KafkaAction;
  readonly kind: 'kafka' | 'kafka-fenced' | 'kafka-denied' | 'kafka-too-large';
}

const FENCED = new Set(['ProducerFencedError', 'INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
const DENIED = new Set(['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED']);

/** The Kafka verdict on `error`, or undefined when it is not an error of the Kafka client. */
export function classifyKafkaFailure(error: unknown): KafkaVerdict | undefined {
  if (!isKafkaError(error)) return undefined;
  if (isProducerFenced(error)) return { action: 'fenced', kind: 'kafka-fenced' };
  if (causes(error).some((e) => e.name === 'KafkaJSSASLAuthenticationError' || (typeof e.type === 'string' && DENIED.has(e.type)))) return { action: 'stop', kind: 'kafka-denied' };
  if (isRecordTooLarge(error)) return { action: 'dead-letter', kind: 'kafka-too-large' };
  return { action: 'retry', kind: 'kafka' };
}

/**
 * Whether `error` says another producer took over the transactional id. kafkajs 2.2.4 against Kafka 4 raises
 * KafkaJSProtocolError type INVALID_PRODUCER_EPOCH (47); PRODUCER_FENCED (90) is unknown to it and comes as
 * KAFKAJS_UNKNOWN_ERROR_CODE.
 */
export function isProducerFenced(error: unknown): boolean {
  return causes(error).some((e) => FENCED.has(e.name ?? '') || (typeof e.type === 'string' && FENCED.has(e.type)) || (e.type === 'KAFKAJS_UNKNOWN_ERROR_CODE' && /\bcode 90$/.test(e.message ?? '')));
}

/** A kafkajs error (KafkaJSError and below, by name: not always the same class instance), or our RecordTooLargeError. */
export function isKafkaError(error: unknown): boolean {
  return error instanceof RecordTooLargeError || causes(error).some((e) => (e.name ?? '').startsWith('KafkaJS'));
}

interface ErrorFields {
  readonly name?: string;
  readonly message?: string;
  readonly type?: unknown;
}

/** The error and what it wraps (cause, kafkajs' originalError, an aggregate's errors), a few levels deep. */
function causes(error: unknown): ErrorFields[] {
  const found: ErrorFields[] = [];
  const visit = (current: unknown, depth: number): void => {
    if (typeof current !== 'object' || current === null || depth >= 6) return;
    found.push(current);
    if ('errors' in current && Array.isArray(current.errors)) for (const inner of current.errors.slice(0, 20)) visit(inner, depth + 1);
    visit('cause' in current && current.cause !== undefined ? current.cause : 'originalError' in current ? current.originalError : undefined, depth + 1);
  };
  visit(error, 0);
  return found;
}
