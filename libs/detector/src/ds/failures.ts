import { classifyKafkaFailure, classifyLdapFailure, isProducerFenced } from '@idsync/platform';

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

/** Re-exported from the product's Kafka table (@idsync/platform, kafka/errors.ts). */
export { isProducerFenced };

/**
 * Classifies anything the loop caught. Programming errors (TypeError, RangeError...) are never retried; a fenced
 * producer reconnects and re-reads the checkpoint (kind `kafka-fenced`); Kafka errors by the product's Kafka table
 * (an outage retries, even when kafkajs gave up on it; a refusal stops); everything
 * else through the product's one LDAP table (@idsync/platform classifyLdapFailure, operation `changelog`):
 * outages retry, refusals stop, and an unknown failure retries a limited number of times, then stops.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (!(error instanceof Error)) return { action: 'stop', kind: 'unknown' };
  if (error instanceof TypeError || error instanceof ReferenceError || error instanceof SyntaxError || error instanceof RangeError) {
    return { action: 'stop', kind: 'programming-error' };
  }
  // Kafka through the product's Kafka table: an outage retries however kafkajs marked it; refusals stop.
  const kafka = classifyKafkaFailure(error);
  if (kafka) return { action: kafka.action === 'fenced' || kafka.action === 'retry' ? 'retry' : 'stop', kind: kafka.kind };
  const verdict = classifyLdapFailure(error, 'changelog', 'ldap');
  const kind = verdict.code === null ? verdict.kind : `ldap-${verdict.kind}`;
  if (verdict.action !== 'retry') return { action: 'stop', kind };
  return verdict.exhausted === undefined ? { action: 'retry', kind } : { action: 'retry', kind, limited: true };
}
