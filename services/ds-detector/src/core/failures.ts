/** What the detector loop does about a failure. */
export const FAILURE_ACTIONS = ['retry', 'stop'] as const;
export type FailureAction = (typeof FAILURE_ACTIONS)[number];

export interface FailureClass {
  readonly action: FailureAction;
  /** Short, stable label for metrics and logs. */
  readonly kind: string;
}

/** LDAP result codes (RFC 4511) and what they mean for a changelog reader, in one table. */
export const LDAP_RESULT_CODES: Readonly<Record<number, FailureClass>> = {
  3: { action: 'retry', kind: 'ldap-time-limit' },
  11: { action: 'retry', kind: 'ldap-admin-limit' },
  32: { action: 'stop', kind: 'ldap-no-changelog' },
  48: { action: 'stop', kind: 'ldap-inappropriate-auth' },
  49: { action: 'stop', kind: 'ldap-invalid-credentials' },
  50: { action: 'stop', kind: 'ldap-insufficient-access' },
  51: { action: 'retry', kind: 'ldap-busy' },
  52: { action: 'retry', kind: 'ldap-unavailable' },
  53: { action: 'retry', kind: 'ldap-unwilling' },
  80: { action: 'retry', kind: 'ldap-other' },
};

/** Node socket errors: the connection went away; reconnect (failover to the next URL) and retry. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'ECONNABORTED']);

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
 * producer reconnects and re-reads the checkpoint (kind `kafka-fenced`); errors that say whether a retry helps
 * (`retriable`) are believed; LDAP result codes go through the table; socket and timeout errors retry. Unknown errors
 * stop the detector: a loud stop beats a silent spin.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (!(error instanceof Error)) return { action: 'stop', kind: 'unknown' };
  if (error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError || error instanceof RangeError) {
    return { action: 'stop', kind: 'programming-error' };
  }
  const fields = error as Error & { code?: unknown; type?: unknown; retriable?: unknown };
  if (isProducerFenced(error)) return { action: 'retry', kind: 'kafka-fenced' };
  if (typeof fields.type === 'string' && KAFKA_FATAL.has(fields.type)) return { action: 'stop', kind: 'kafka-denied' };
  if (error.name.startsWith('KafkaJS')) return { action: fields.retriable === false ? 'stop' : 'retry', kind: 'kafka' };
  if (typeof fields.code === 'number') return LDAP_RESULT_CODES[fields.code] ?? { action: 'stop', kind: `ldap-${fields.code}` };
  if (typeof fields.code === 'string' && NETWORK_CODES.has(fields.code)) return { action: 'retry', kind: 'network' };
  if (typeof fields.retriable === 'boolean') return { action: fields.retriable ? 'retry' : 'stop', kind: error.name };
  if (/timeout|timed out|socket|connection (closed|reset|ended)|not connected|closed/i.test(error.message)) return { action: 'retry', kind: 'network' };
  return { action: 'stop', kind: 'unknown' };
}

/** Exponential backoff with a cap: 1st retry after `initialMs`, doubling, at most `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}
