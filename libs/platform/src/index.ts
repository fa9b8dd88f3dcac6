export { configSecrets, runService, type ServiceContext } from './bootstrap';
export { HealthModule, HEALTH_PROBES, type HealthProbe } from './health';
export { createKafka, createProducer, ensureTopics } from './kafka';
export { DirectoryBindError, DirectoryUnavailableError, openLdapSession, readRootDse, tlsOptions, type LdapSession } from './ldap';
export { JsonLogger, LOG_LEVELS, type LogFields, type LogLevel } from './logger';
export { SecretRedactor } from './redact';
export { directoryProbe, kafkaProbe } from './probes';
export { ServiceModule, type StartupReport } from './lifecycle';
export { namedDirectory, writerCredentials } from './directories';
