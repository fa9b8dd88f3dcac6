import { readFileSync } from 'node:fs';
import { Kafka, logLevel as KafkaJsLogLevel, type KafkaConfig as KafkaJsConfig, type SASLOptions } from 'kafkajs';
import { kafkaAccount, type KafkaConfig, type Program } from '@idsync/config';
import { type JsonLogger } from '../logger';
import { KafkaAdmin } from './admin';
import { RecordProducer, type RecordProducerOptions, TransactionalProducer, type TransactionalProducerOptions } from './producer';
import { patchKafkaJsRequestQueue } from './request-queue';

// Before any connection exists: kafkajs' connections otherwise run a 1 ms timer loop for good (request-queue.ts).
patchKafkaJsRequestQueue();

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaJsLogLevel.ERROR]: 'error',
  [KafkaJsLogLevel.WARN]: 'warn',
  [KafkaJsLogLevel.INFO]: 'info',
  [KafkaJsLogLevel.DEBUG]: 'debug',
};

/** How long a client waits out a broker away: `service` rides out a restart (about a minute); `tool` answers within seconds. */
export type KafkaPatience = 'service' | 'tool';

/** What the Kafka client itself logs (its retries, rebalances): `nothing` silences it (the CLI reports failures itself). */
export const KAFKA_LOG_LEVELS = ['nothing', 'error', 'warn', 'info', 'debug'] as const;
export type KafkaLogLevel = (typeof KAFKA_LOG_LEVELS)[number];

const KAFKAJS_LEVELS: Record<KafkaLogLevel, KafkaJsLogLevel> = {
  nothing: KafkaJsLogLevel.NOTHING,
  error: KafkaJsLogLevel.ERROR,
  warn: KafkaJsLogLevel.WARN,
  info: KafkaJsLogLevel.INFO,
  debug: KafkaJsLogLevel.DEBUG,
};

/** The kafkajs client under each KafkaClient: reachable inside this folder only (not exported by the package). */
const CLIENTS = new WeakMap<KafkaClient, Kafka>();

/** How much one fetch of a consumer may bring (kafka.fetchMaxBytes, kafka.fetchMaxBytesPerPartition). */
export interface FetchLimits {
  readonly maxBytes: number;
  readonly maxBytesPerPartition: number;
}
const FETCH_LIMITS = new WeakMap<KafkaClient, FetchLimits>();

/** A group member's session (kafka.consumerSessionTimeoutMs) and the heartbeat period that keeps it. */
export interface GroupSession {
  readonly sessionTimeout: number;
  readonly heartbeatInterval: number;
}
const GROUP_SESSIONS = new WeakMap<KafkaClient, GroupSession>();

/** kafkajs' heartbeat period, kept unless the session is shorter than three of them. */
const HEARTBEAT_INTERVAL_MS = 3_000;

/** The session of `sessionTimeoutMs`, with a heartbeat every third of it at most (Kafka's advice). */
export function groupSession(sessionTimeoutMs: number): GroupSession {
  return { sessionTimeout: sessionTimeoutMs, heartbeatInterval: Math.min(HEARTBEAT_INTERVAL_MS, Math.floor(sessionTimeoutMs / 3)) };
}

/**
 * The product's Kafka client: one per process and client id. It hands out what the stages use — an admin
 * (KafkaAdmin), producers (RecordProducer, TransactionalProducer) — and is what runRecordLoop, readRanges and
 * TopicFollower consume with. Nothing is connected until one of those connects.
 */
export class KafkaClient {
  private constructor(
    readonly clientId: string,
    readonly patience: KafkaPatience,
  ) {}

  /** A client over an existing kafkajs client (tests, benchmarks); product code uses createKafka. */
  static wrap(kafka: Kafka, options: { readonly clientId?: string; readonly patience?: KafkaPatience; readonly fetch?: FetchLimits; readonly session?: GroupSession } = {}): KafkaClient {
    const client = new KafkaClient(options.clientId ?? 'idsync', options.patience ?? 'service');
    CLIENTS.set(client, kafka);
    if (options.fetch !== undefined) FETCH_LIMITS.set(client, options.fetch);
    if (options.session !== undefined) GROUP_SESSIONS.set(client, options.session);
    return client;
  }

  /** An admin client, not connected yet. */
  admin(): KafkaAdmin {
    return new KafkaAdmin(kafkajsOf(this).admin());
  }

  /**
   * Idempotent producer, acks from all replicas, Java-compatible partitioning (same key, same partition as Java
   * clients). Retries are unbounded unless bounded here (idempotence needs them): a send waits out a Kafka outage.
   */
  producer(options: RecordProducerOptions = {}): RecordProducer {
    return new RecordProducer(kafkajsOf(this), options);
  }

  /** A producer with a transactional id (see TransactionalProducer): idempotent, acks all, as `producer`. */
  transactionalProducer(options: TransactionalProducerOptions): TransactionalProducer {
    return new TransactionalProducer(kafkajsOf(this), options);
  }

  /** Sets what the client logs from now on (every producer, consumer and admin of this client). */
  setLogLevel(level: KafkaLogLevel): void {
    kafkajsOf(this).logger().setLogLevel(KAFKAJS_LEVELS[level]);
  }
}

/** Inside this folder: the kafkajs client of a KafkaClient. */
export function kafkajsOf(client: KafkaClient): Kafka {
  const kafka = CLIENTS.get(client);
  if (kafka === undefined) throw new TypeError('not a KafkaClient made by createKafka or KafkaClient.wrap');
  return kafka;
}

/** Inside this folder: the fetch limits every consumer of `client` is made with (none: kafkajs' defaults). */
export function fetchLimitsOf(client: KafkaClient): Partial<FetchLimits> {
  return FETCH_LIMITS.get(client) ?? {};
}

/** The group session a client's consumers keep (kafkajs' defaults when none was configured). */
export function groupSessionOf(client: KafkaClient): Partial<GroupSession> {
  return GROUP_SESSIONS.get(client) ?? {};
}

/**
 * The client `program` connects with (brokers, TLS, its SASL account; client id `<kafka.clientId>-<program>`); its own
 * log lines go through `logger` (warnings and above).
 */
export function createKafka(config: KafkaConfig, program: Program, logger?: JsonLogger, patience: KafkaPatience = 'service'): KafkaClient {
  const clientId = `${config.clientId}-${program}`;
  if (!patchKafkaJsRequestQueue()) logger?.event('warn', 'kafka.request-queue.unpatched', { detail: "this kafkajs is not 2.2.4: its connections' idle timer is left as it is (request-queue.ts)" });
  const options: KafkaJsConfig = {
    clientId,
    brokers: config.brokers,
    connectionTimeout: patience === 'tool' ? 3_000 : 5_000,
    retry: patience === 'tool' ? { retries: 2, initialRetryTime: 200 } : { retries: 8, initialRetryTime: 200 },
    logLevel: KafkaJsLogLevel.WARN,
    ...(logger
      ? {
          logCreator:
            () =>
            ({ level, log }) => {
              const { message, ...fields } = log;
              logger.event(LEVELS[level] ?? 'info', `kafka: ${message}`, fields);
            },
        }
      : {}),
  };
  if (config.ssl) {
    options.ssl = {
      rejectUnauthorized: config.ssl.rejectUnauthorized,
      ...(config.ssl.caFile ? { ca: [readFileSync(config.ssl.caFile, 'utf8')] } : {}),
    };
  }
  const account = kafkaAccount(config, program);
  if (account) options.sasl = account as SASLOptions;
  return KafkaClient.wrap(new Kafka(options), {
    clientId,
    patience,
    fetch: { maxBytes: config.fetchMaxBytes, maxBytesPerPartition: config.fetchMaxBytesPerPartition },
    session: groupSession(config.consumerSessionTimeoutMs),
  });
}
