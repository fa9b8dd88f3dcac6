export {
  ConfigError,
  CONFIG_PATH_VARIABLE,
  CONFIG_READERS,
  interpolate,
  loadConfig,
  parseConfig,
  parseConfigFor,
  referencedVariables,
  withheldVariable,
  type ConfigReader,
  type Environment,
  type LoadedConfig,
  type LoadOptions,
} from './loader';
export {
  configSchema,
  configuredTopics,
  directorySchema,
  kafkaAccount,
  PROGRAMS,
  type Program,
  DIRECTORY_KINDS,
  SERVICE_NAMES,
  type DirectoryConfig,
  type DirectoryKind,
  type KafkaConfig,
  type ServiceName,
  type TopicConfig,
  type TracingConfig,
  type ServicesConfig,
  type SyncConfig,
} from './schema';
export { runConfigCli, type CliOutput } from './cli';
export { CONSUMER_SERVICES, detectorCheckpointGroup, detectorTransactionalId, heldTopicOf, operationsTopicOfHeld, redriveTransactionalId, waitTopicOf, receiptsTopicOf, receiptsGroupPrefix, RECEIPTS_RETENTION_MS, serviceGroupId, type ConsumerService } from './groups';
export { kafkaAcls, type KafkaAcl, type KafkaAclOperation, type KafkaAclResource } from './kafka-acls';
