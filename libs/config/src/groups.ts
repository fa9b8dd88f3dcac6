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
