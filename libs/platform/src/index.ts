export {
  CONFIG,
  configSecrets,
  EXIT_STATUS,
  KAFKA,
  runService,
  SERVICE,
  startupDecision,
  type ServiceIdentity,
  type ServiceProgram,
  type ServiceStartOptions,
  type StartupDecision,
} from './bootstrap';
export { HealthModule, HealthProbeError, HEALTH_PROBES, LIVENESS_PROBES, type HealthProbe } from './health';
// Kafka: the one place kafkajs is used (see kafka/index.ts).
export * from './kafka/index';
export {
  DirectoryBindError,
  DirectoryCredentialsWithheldError,
  DirectoryUnavailableError,
  LdapConnectionLostError,
  ldapObserver,
  type LdapObserver,
  type LdapOperationName,
  ldapResultLabel,
  openLdapSession,
  readRootDse,
  tlsOptions,
  type LdapSession,
} from './ldap';
export { searchAllValues, searchAllValuesPaginated } from './ranged-search';
export { foldNextSlices, foldValueRanges, parseValueRange, RangeRetrievalError, type RangeProgress, type ValueRange } from './range-retrieval';
export { LdapPool, LdapTimeoutError, type LdapPoolOptions, type LdapPoolStatus } from './ldap-pool';
export { JsonLogger, LOG_LEVELS, type LogFields, type LogLevel } from './logger';
export { SecretRedactor } from './redact';
export { eventTraceContext, eventTraceId, formatTraceparent, parseTraceparent, stageSpanId, type TraceContext, TRACEPARENT_HEADER } from './trace-context';
export { type SpanParent, type StageSpan, Tracing } from './tracing';
export { cachedProbe, type CachedProbeOptions, DEFAULT_PROBE_INTERVAL_MS } from './cached-probe';
export { directoryProbe, kafkaProbe } from './probes';
export { exitOnFatal, ServiceModule, type ServiceModuleOptions, type ServiceParts, type StartupReport } from './lifecycle';
export { namedDirectory, writerCredentials } from './directories';
export { ChangePublisher, CheckpointTooLargeError, fetchStoredCheckpoint, type ChangePublisherOptions, type StoredCheckpoint } from './change-publisher';
export { Counter, Gauge, Histogram, LATENCY_BUCKETS, METRIC_STAGES, MetricNameError, Metrics, MetricsModule, type MetricsOptions, OPERATION_BUCKETS } from './metrics';
export {
  consumerLoopProbes,
  DEFAULT_LOOP_JUDGE,
  handlerStalled,
  judgeLoop,
  LOOP_STATES,
  loopDetails,
  TERMINAL_LOOP_STATES,
  type ConsumerLoopProbeOptions,
  type LoopAssignment,
  type LoopJudgeOptions,
  type LoopState,
  type LoopStatus,
  type LoopVerdict,
} from './loop-health';
export { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from './backoff';
export { loadRegistryIds, SchemaRegistryClient, SchemaRegistryError, schemaTopics, useSchemaRegistry, type RegistryIdsReport, type SchemaRegistryOptions, type TopicSchema } from './schema-registry';
export {
  classifyLdapFailure,
  classifyLdapResult,
  type Exhausted,
  type FailureVerdict,
  LDAP_ACTIONS,
  LDAP_OPERATIONS,
  LDAP_RESULT_RULES,
  LDAP_WRITE_OPERATIONS,
  type LdapAction,
  type LdapOperation,
  type LdapResultRule,
  type LdapServerKind,
  type LdapVerdict,
  NETWORK_ERROR_CODES,
} from './ldap-results';
export { type MemoryReading, type MemoryWatchOptions, readMemory, releaseMemory, watchMemory } from './memory';
