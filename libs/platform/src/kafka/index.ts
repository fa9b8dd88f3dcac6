/**
 * All of the product's Kafka access, and the only place that imports the client library (kafkajs 2.2.4). Every other
 * package uses these, through @idsync/platform (tests/unit/kafka-boundary.spec.ts keeps it so):
 *
 * - `createKafka(config, clientId, logger?, patience?)` -> `KafkaClient` (client.ts): brokers, TLS, SASL, retries
 *   (`service` rides out a broker restart, `tool` answers within seconds), log lines through the JsonLogger.
 *   `KafkaClient.wrap(kafkajsClient)` for tests and benchmarks.
 * - `KafkaAdmin` (admin.ts, `client.admin()`): topics (list, create, `ensureTopics`), partition offsets (low/high,
 *   by time), a group's committed offsets with their metadata, setting them, describing, listing and deleting groups,
 *   the cluster, topics' `max.message.bytes`. Plain results; offsets are numbers, `null` where nothing is committed.
 * - `RecordProducer` (producer.ts, `client.producer()`): idempotent, acks all, Java-compatible partitioning,
 *   unbounded retries unless bounded; `send` one request, `sendBatch` split under the topics' record limits.
 * - `TransactionalProducer` / `KafkaTransaction` (`client.transactionalProducer({ transactionalId })`): `fence()`
 *   takes the id at once; a transaction sends records and commits a group's offsets (with metadata) atomically.
 * - Consuming: `runRecordLoop` (consumer-loop.ts: the stages' loop, with AtLeastOnceOutput / ExactlyOnceOutput from
 *   loop-output.ts), `readRanges` (topic-ranges.ts: counts or reads offset ranges, read_committed) and
 *   `TopicFollower` (topic-follower.ts: a whole topic from its beginning, then followed; the links view).
 * - Failures and sizes: `classifyKafkaFailure`, `isProducerFenced`, `isKafkaError` (errors.ts: the Kafka table);
 *   `RecordLimits`, `recordBytes`, `splitByBytes`, `topicRecordLimits`, `RecordTooLargeError` (record-size.ts).
 */
export { createKafka, KAFKA_LOG_LEVELS, KafkaClient, type KafkaLogLevel, type KafkaPatience } from './client';
export {
  type ClusterDescription,
  type CommittedOffset,
  ensureReceiptsTopic,
  ensureTopics,
  type GroupDescription,
  type GroupListing,
  type GroupMember,
  KafkaAdmin,
  type NewTopic,
  type PartitionOffset,
  type PartitionOffsets,
  type TopicCommittedOffsets,
} from './admin';
export {
  KafkaTransaction,
  type KafkaRecord,
  RecordProducer,
  type RecordProducerOptions,
  type SentBatch,
  type TopicRecords,
  type TransactionOffset,
  TransactionalProducer,
  type TransactionalProducerOptions,
} from './producer';
export {
  classifyFailure,
  deadLetter,
  DONE,
  FAILURE_ACTIONS,
  isMembershipLost,
  KafkaDeniedError,
  MEMBERSHIP_LOST_ERRORS,
  RecordLoopCrashedError,
  RecordLoopStalledError,
  RecordLoopStoppedError,
  retryUntilStarted,
  runRecordLoop,
  type BatchContext,
  type FailureAction,
  type LoopRecord,
  type RecordLoop,
  type RecordLoopFatalError,
  type RecordLoopOptions,
  type RecordOutcome,
} from './consumer-loop';
export {
  AtLeastOnceOutput,
  ExactlyOnceOutput,
  PartitionNotClaimedError,
  type ChunkOutput,
  type ExactlyOnceOptions,
  type LoopOutput,
  type OffsetCommitBy,
  type OutputMessages,
  type OutputMode,
} from './loop-output';
export {
  BROKER_SIZE_ERRORS,
  DEFAULT_MAX_RECORD_BYTES,
  isRecordTooLarge,
  recordBytes,
  RecordLimits,
  recordLimit,
  RecordTooLargeError,
  splitByBytes,
  topicRecordLimits,
  type SizedMessage,
} from './record-size';
export { classifyKafkaFailure, isKafkaError, isProducerFenced, type KafkaAction, type KafkaVerdict } from './errors';
export { type OffsetRange, rangeKey, type RangeRecord, type RangeResult, readRanges, type ReadRangesOptions } from './topic-ranges';
export { type FollowedBatch, type FollowedRecord, TopicFollower, type TopicFollowerOptions } from './topic-follower';
export { ConsumerLag, type PartitionLag } from './consumer-lag';
export { type PartitionBehind, ReadBarrier, type ReadBarrierOptions } from './read-barrier';
export { KafkaRecordLoopTransport, RecordErrorsUnchanged } from './record-loop-transport';
