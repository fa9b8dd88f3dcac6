import { type DirectoryConfig, ConfigError, CONFIG_PATH_VARIABLE, loadConfig, type SyncConfig } from '@idsync/config';
import {
  classifyKafkaFailure,
  createKafka,
  DirectoryBindError,
  DirectoryCredentialsWithheldError,
  DirectoryUnavailableError,
  type KafkaAdmin,
  type KafkaClient,
  openLdapSession,
  type LdapSession,
  SchemaRegistryError,
  useSchemaRegistry,
} from '@idsync/platform';
import { CliError, type CliIo, EXIT_CODES, UsageError } from './io';

/**
 * What a command works with: the validated configuration and, on first use, Kafka and the directories. Connections
 * are opened lazily so `--help` and wrong names never connect anywhere; `close()` releases whatever was opened.
 */
export class CommandContext {
  private kafkaClient: KafkaClient | undefined;
  private adminClient: KafkaAdmin | undefined;
  private readonly sessions: LdapSession[] = [];

  private constructor(
    readonly config: SyncConfig,
    readonly configFile: string,
    readonly io: CliIo,
  ) {}

  /**
   * Loads and validates the configuration; an invalid one stops the command before it connects anywhere. The CLI needs
   * the operation keys (resync and dlq redrive sign); a directory password is needed only by the commands that read
   * that directory, and its absence is reported when one does (ldap below).
   */
  static load(io: CliIo, file: string | undefined): CommandContext {
    const path = file ?? io.env[CONFIG_PATH_VARIABLE];
    if (!path) {
      throw new UsageError(`no configuration file: pass --config FILE or set ${CONFIG_PATH_VARIABLE}`, 'the same YAML file the services run with');
    }
    try {
      const { config, file: loaded } = loadConfig(io.env, path, { reader: 'cli' });
      return new CommandContext(config, loaded, io);
    } catch (error) {
      if (error instanceof ConfigError) throw new CliError(error.message, { exitCode: EXIT_CODES.usage, cause: error });
      throw error;
    }
  }

  /**
   * load, then the schema ids records carry (kafka.schemaRegistry: asked once; unset: the fixed ids), for commands that
   * read or write records.
   */
  static async open(io: CliIo, file: string | undefined): Promise<CommandContext> {
    const ctx = CommandContext.load(io, file);
    try {
      await useSchemaRegistry(ctx.config.kafka, undefined, { attempts: 1 });
    } catch (error) {
      const retriable = error instanceof SchemaRegistryError && error.retriable;
      throw new CliError(error instanceof Error ? error.message : String(error), { retriable, hint: 'check kafka.schemaRegistry in the configuration and that the registry is up', cause: error });
    }
    return ctx;
  }

  get kafka(): KafkaClient {
    if (!this.kafkaClient) {
      // kafkajs logs its retries to the console; the command reports failures itself.
      this.kafkaClient = createKafka(this.config.kafka, 'cli', undefined, 'tool');
      this.kafkaClient.setLogLevel(this.io.env['IDSYNC_CLI_DEBUG'] ? 'debug' : 'nothing');
    }
    return this.kafkaClient;
  }

  /** A connected admin client; an unreachable cluster is a CliError naming the brokers. */
  async admin(): Promise<KafkaAdmin> {
    if (this.adminClient) return this.adminClient;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (error) {
      throw kafkaUnreachable(this.config, error);
    }
    this.adminClient = admin;
    return admin;
  }

  /** The named directory's configuration, or a UsageError listing the ones that exist. */
  directory(name: string): DirectoryConfig {
    const dir = this.config.directories[name];
    if (!dir) throw new UsageError(`no directory '${name}' in ${this.configFile}`, `directories: ${Object.keys(this.config.directories).join(', ')}`);
    return dir;
  }

  /** A bound LDAP session to a configured directory (its configured account unless others are given). */
  async ldap(name: string, credentials?: { bindDn: string; bindPassword: string }): Promise<LdapSession> {
    const dir = this.directory(name);
    try {
      const session = await openLdapSession(name, dir, credentials ?? dir);
      this.sessions.push(session);
      return session;
    } catch (error) {
      if (error instanceof DirectoryUnavailableError) {
        throw new CliError(error.message, { retriable: true, hint: `check that ${dir.urls.join(', ')} is up and reachable from here`, cause: error });
      }
      if (error instanceof DirectoryCredentialsWithheldError) {
        throw new CliError(error.message, { hint: `run the command where ${error.variables} is set (k8s: a Job with the idsync-cli Secret, see k8s/ops/)`, cause: error });
      }
      if (error instanceof DirectoryBindError) {
        throw new CliError(error.message, { hint: `check the bind DN and password of directories.${name} in ${this.configFile}`, cause: error });
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.adminClient?.disconnect(), ...this.sessions.map((s) => s.client.unbind())]);
  }
}

/** Runs a Kafka call; a failure that is not already a CliError becomes "cannot reach Kafka" (retriable). */
export async function kafkaCall<T>(ctx: { readonly config: SyncConfig }, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw kafkaUnreachable(ctx.config, error);
  }
}

export function kafkaUnreachable(config: SyncConfig, error: unknown): CliError {
  if (classifyKafkaFailure(error)?.kind === 'kafka-denied') {
    return new CliError(`Kafka at ${config.kafka.brokers.join(', ')} refused this account: ${error instanceof Error ? error.message : String(error)}`, {
      hint: "check the account's password (kafka.sasl) and its ACLs (idsync kafka-acls)",
      cause: error,
    });
  }
  return new CliError(`cannot reach Kafka at ${config.kafka.brokers.join(', ')}: ${error instanceof Error ? error.message : String(error)}`, {
    retriable: true,
    hint: 'check kafka.brokers in the configuration and that the brokers are up',
    cause: error,
  });
}
