import { classifyLdapFailure } from '@idsync/platform';

/** What the detector loop does about a failure. */
export const FAILURE_ACTIONS = ['retry', 'stop'] as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

export interface FailureClass {
  readonly action: FailureAction;
  /** Short, stable label for metrics and logs. */
  readonly kind: string;
  /** A retry of an unknown failure: retried a limited number of times in a row, then the detector stops. */
  readonly limited?: true;
}

/** Kafka errors after which no retry can succeed: the account may not use the transactional id or the topics. */
const KAFKA_FATAL = new Set(['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED']);

/**
 * Another producer took over the transactional id: a second instance, or `idsync set-startpoint` writing a new
 * position (or the broker expired the transaction). kafkajs 2.2.4 against Kafka 4 raises KafkaJSProtocolError type
 * INVALID_PRODUCER_EPOCH (47); PRODUCER_FENCED (90) is unknown to it and would come as KAFKAJS_UNKNOWN_ERROR_CODE.
 * The in-flight batch was aborted and the committed checkpoint is intact: reconnect and read it again.
 */
const KAFKA_FENCED = new Set(['ProducerFencedError', 'INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/** Whether `error` (or an error it wraps) says the producer was fenced. */
export function isProducerFenced(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    const { type } = e as Error & { type?: unknown };
    if (KAFKA_FENCED.has(e.name) || (typeof type === 'string' && KAFKA_FENCED.has(type))) return true;
    if (type === 'KAFKAJS_UNKNOWN_ERROR_CODE' && /\bcode 90$/.test(e.message)) return true;
  }
  return false;
}

/**
 * Classifies anything the loop caught. Programming errors (TypeError, RangeError...) are never retried; a fenced
 * producer reconnects and re-reads the checkpoint (kind `kafka-fenced`); Kafka errors by their type; everything
 * else through the product's one LDAP table (@idsync/platform classifyLdapFailure, operation `changelog`):
 * outages retry, refusals stop, and an unknown failure retries a limited number of times, then stops.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (!(error instanceof Error)) return { action: 'stop', kind: 'unknown' };
  if (error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError || error instanceof RangeError) {
    return { action: 'stop', kind: 'programming-error' };
  }
  const fields = error as Error & { type?: unknown; retriable?: unknown };
  if (isProducerFenced(error)) return { action: 'retry', kind: 'kafka-fenced' };
  if (typeof fields.type === 'string' && KAFKA_FATAL.has(fields.type)) return { action: 'stop', kind: 'kafka-denied' };
  if (error.name.startsWith('KafkaJS')) return { action: fields.retriable === false ? 'stop' : 'retry', kind: 'kafka' };
  const verdict = classifyLdapFailure(error, 'changelog', 'ldap');
  const kind = verdict.code === null ? verdict.kind : `ldap-${verdict.kind}`;
  if (verdict.action !== 'retry') return { action: 'stop', kind };
  return verdict.exhausted === undefined ? { action: 'retry', kind } : { action: 'retry', kind, limited: true };
}
