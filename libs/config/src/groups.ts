import { type KafkaConfig } from './schema';

/** The stages that consume with a Kafka consumer group (the detectors keep their position in a checkpoint instead). */
export const CONSUMER_SERVICES = ['mapper', 'ad-writer', 'ds-writer'] as const;
export type ConsumerService = (typeof CONSUMER_SERVICES)[number];

/**
 * The consumer group of a stage: `<kafka.clientId>-<service>`, so two deployments sharing one Kafka cluster (each
 * with its own clientId) never share a group. The services, `idsync status` and `idsync replay` all use this one
 * formula; a service's `groupId` option (tests) overrides it for that service only.
 */
export function serviceGroupId(config: { readonly kafka: Pick<KafkaConfig, 'clientId'> }, service: ConsumerService): string {
  return `${config.kafka.clientId}-${service}`;
}

/** The writer's wait topic for its operations topic. */
export function waitTopicOf(operationsTopic: string): string {
  return `${operationsTopic}.wait`;
}

/**
 * Where a writer says what it is about to change (write receipts), beside its operations topic: the detector of the
 * same directory reads it to know its own writer's changes (AD records no initiator).
 */
export function receiptsTopicOf(operationsTopic: string): string {
  return `${operationsTopic}.receipts`;
}

/** The prefix of the groups the ad-detector reads the ad-writer's receipts with (one per start, never committed). */
export function receiptsGroupPrefix(config: { readonly kafka: Pick<KafkaConfig, 'clientId'> }): string {
  return `${config.kafka.clientId}-ad-detector-receipts-`;
}

/**
 * Write receipts matter for seconds: kept an hour (a detector reads them all at each start, and one that was down
 * longer than that finds its writer's older changes without receipts: they are published, and end at the other side's
 * writer, which finds nothing to change unless that side changed since).
 */
export const RECEIPTS_RETENTION_MS = 3_600_000;

/** Where a writer holds deletes while its breaker is tripped: beside its operations topic, same partitions. */
export function heldTopicOf(operationsTopic: string): string {
  return `${operationsTopic}${HELD_SUFFIX}`;
}

const HELD_SUFFIX = '.held';

/**
 * The operations topic a held topic belongs to (null for any other topic). A discarded delete is re-driven there, to
 * be counted again like a new one: back on the held topic, the discard that covers it would discard it again.
 */
export function operationsTopicOfHeld(topic: string): string | null {
  return topic.endsWith(HELD_SUFFIX) ? topic.slice(0, -HELD_SUFFIX.length) : null;
}


/** The consumer group whose committed offset metadata holds a detector's position. */
export function detectorCheckpointGroup(detector: string, source: string): string {
  return `idsync.checkpoint.${detector}.${source}`;
}

/** A detector's transactional id: connecting with it fences an older instance still writing for the same source. */
export function detectorTransactionalId(detector: string, source: string): string {
  return `idsync.${detector}.${source}`;
}

/** The transactional id `idsync dlq redrive` writes with. */
export function redriveTransactionalId(deadLetterTopic: string): string {
  return `idsync.dlq-redrive.${deadLetterTopic}`;
}
