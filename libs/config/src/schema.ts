import { z } from 'zod';
import { afterImageAttributes, compilePipe, ConflictingAfterImageError, pipesSchema } from '@idsync/mapping';
import { secretsSchema } from '@idsync/secrets';

/** Names of the five services; each reads its own block under `services`. */
export const SERVICE_NAMES = ['ad-detector', 'ds-detector', 'mapper', 'ad-writer', 'ds-writer'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Every program that connects to Kafka: the services, the password agent and the idsync CLI. */
export const PROGRAMS = [...SERVICE_NAMES, 'password-agent', 'cli'] as const;
export type Program = (typeof PROGRAMS)[number];

export const DIRECTORY_KINDS = ['active-directory', 'ldap'] as const;
export type DirectoryKind = (typeof DIRECTORY_KINDS)[number];

const nonEmpty = z.string().min(1, 'must not be empty');

const ldapUrl = z
  .string()
  .regex(/^ldaps?:\/\/[^/\s]+$/i, 'must be an LDAP URL such as ldaps://dc1.example.com:636 (no path)');

const topicSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a valid Kafka topic name ([A-Za-z0-9._-], at most 249)'),
    partitions: z.number().int().min(1).max(10_000).default(6),
    replicationFactor: z.number().int().min(1).max(32).default(1),
  })
  .strict();

const tlsSchema = z
  .object({
    /** PEM file with the CA certificates trusted for this directory. */
    caFile: nonEmpty.optional(),
    /** Only for lab setups: accept any server certificate. */
    rejectUnauthorized: z.boolean().default(true),
    /** Name checked in the server certificate when it differs from the URL host. */
    serverName: z
      .string()
      .optional()
      .transform((name) => name || undefined),
  })
  .strict();

export const directorySchema = z
  .object({
    kind: z.enum(DIRECTORY_KINDS),
    /** Tried in order; the next one is used when a server is unreachable. */
    urls: z.array(ldapUrl).min(1, 'needs at least one LDAP URL'),
    bindDn: nonEmpty,
    bindPassword: nonEmpty,
    baseDn: nonEmpty,
    /** Upgrade ldap:// connections with StartTLS. */
    startTls: z.boolean().default(false),
    /** Allow ldap:// without StartTLS (lab use only; passwords would cross the network in clear). */
    allowInsecure: z.boolean().default(false),
    tls: tlsSchema.default({ rejectUnauthorized: true, serverName: undefined }),
    connectTimeoutMs: z.number().int().positive().default(5_000),
    operationTimeoutMs: z.number().int().positive().default(30_000),
  })
  .strict()
  .superRefine((dir, ctx) => {
    dir.urls.forEach((url, index) => {
      const plain = url.toLowerCase().startsWith('ldap://');
      if (plain && !dir.startTls && !dir.allowInsecure) {
        ctx.addIssue({
          code: 'custom',
          path: ['urls', index],
          message: 'is plain ldap:// without StartTLS; use ldaps://, set startTls: true, or set allowInsecure: true for a lab',
        });
      }
      if (!plain && dir.startTls) {
        ctx.addIssue({ code: 'custom', path: ['startTls'], message: 'cannot be combined with an ldaps:// URL' });
      }
    });
  });
export type DirectoryConfig = z.infer<typeof directorySchema>;

const kafkaSchema = z
  .object({
    brokers: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')).min(1, 'needs at least one broker'),
    clientId: z.string().regex(/^[A-Za-z0-9._-]+$/).default('idsync'),
    /**
     * Largest record (key, value, headers) a stage writes. A topic whose max.message.bytes is smaller wins (read at
     * start). A record over the limit is dead-lettered with a reference instead of being retried forever.
     */
    maxRecordBytes: z.number().int().min(16_384).max(100_000_000).default(1_000_000),
    /**
     * Largest answer to one fetch of a consumer (kafkajs maxBytes, 10 MiB by default there), and per partition
     * (maxBytesPerPartition, 1 MiB there). A fetch's records keep its whole answer in memory until the last of them is
     * handled, so these bound what a stage holds while it catches up (the mapper reads twelve partitions). A record
     * larger than the limit still comes, alone.
     */
    fetchMaxBytes: z.number().int().min(65_536).max(100_000_000).default(2_097_152),
    fetchMaxBytesPerPartition: z.number().int().min(16_384).max(100_000_000).default(524_288),
    /**
     * How long the group waits for a consumer's heartbeat before its partitions go to the others (kafkajs'
     * sessionTimeout): a killed replica's partitions stay unread this long. Heartbeats go every third of it, at most
     * every 3 s. The broker's group.min/max.session.timeout.ms (6 s – 30 min by default) must allow it.
     */
    consumerSessionTimeoutMs: z.number().int().min(6_000).max(1_800_000).default(30_000),
    ssl: z
      .object({ caFile: nonEmpty.optional(), rejectUnauthorized: z.boolean().default(true) })
      .strict()
      .optional(),
    /**
     * SASL: one account for every program (`username`, `password`), or one per program (`principals`), so that
     * Kafka's ACLs give each only what it does (idsync kafka-acls) and each is given only its own password.
     */
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: nonEmpty.optional(),
        password: nonEmpty.optional(),
        principals: z.partialRecord(z.enum(PROGRAMS), z.object({ username: nonEmpty, password: nonEmpty }).strict()).optional(),
      })
      .strict()
      .superRefine((sasl, ctx) => {
        const shared = sasl.username !== undefined || sasl.password !== undefined;
        if (shared && sasl.principals !== undefined) {
          ctx.addIssue({ code: 'custom', message: 'set either username and password (one account for every program) or principals (one per program), not both' });
        } else if (!shared && sasl.principals === undefined) {
          ctx.addIssue({ code: 'custom', message: 'needs username and password, or principals (one account per program)' });
        } else if (shared && (sasl.username === undefined || sasl.password === undefined)) {
          ctx.addIssue({ code: 'custom', path: [sasl.username === undefined ? 'username' : 'password'], message: 'is required with the other one' });
        }
        const owners = new Map<string, string>();
        for (const [program, principal] of Object.entries(sasl.principals ?? {})) {
          const other = owners.get(principal.username);
          if (other) ctx.addIssue({ code: 'custom', path: ['principals', program, 'username'], message: `${principal.username} is already ${other}'s: each program needs its own account` });
          owners.set(principal.username, program);
        }
      })
      .optional(),
    /**
     * A Confluent-compatible schema registry (Confluent Schema Registry, Apicurio Registry's /apis/ccompat/v7,
     * Karapace): records then carry the ids it gave our schemas, registered under `<topic>-value` subjects, instead of
     * the repository's fixed ids. Read at every program's start. Unset: the fixed ids, no registry.
     */
    schemaRegistry: z
      .object({
        url: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL'),
        username: nonEmpty.optional(),
        password: nonEmpty.optional(),
        /** PEM file of the CA that signed the registry's certificate. */
        caFile: nonEmpty.optional(),
        /** Register our current schemas at start (default). Off: they must be registered already (a locked-down registry). */
        autoRegister: z.boolean().default(true),
      })
      .strict()
      .refine((registry) => (registry.username === undefined) === (registry.password === undefined), { error: 'username and password go together' })
      .optional(),
    topics: z
      .object({
        adChanges: topicSchema,
        dsChanges: topicSchema,
        adOperations: topicSchema,
        dsOperations: topicSchema,
        deadLetter: topicSchema,
        /** Compacted; the detectors' positions (DirSync cookie, change number), written in the same transaction as the events. */
        checkpoints: topicSchema,
        /**
         * Compacted; the links between synchronized entries (source id -> destination id) the writers record and act
         * on. Every writer reads all of it; other systems may read it as the identity graph (libs/contracts).
         */
        links: topicSchema,
        /**
         * Compacted; per source, the latest after-image of every entry its detector read, keyed by entry id, and a
         * tombstone for a deleted one (libs/contracts, entry-state). Subscribers bootstrap from it. Unset: none.
         */
        adState: topicSchema.optional(),
        dsState: topicSchema.optional(),
        /**
         * The sync log as records (JSON, keyed by the source entry id, so an entry's history is in order on one
         * partition): one per write request a writer settled, as its stdout line. `idsync log --entry` reads it.
         * Unset: the sync log goes to stdout only.
         */
        audit: topicSchema.optional(),
      })
      .strict(),
  })
  .strict();
export type KafkaConfig = z.infer<typeof kafkaSchema>;
export type TopicConfig = z.infer<typeof topicSchema>;

/** Every configured topic (the optional ones only when set). */
export function configuredTopics(topics: KafkaConfig['topics']): TopicConfig[] {
  return Object.values(topics).filter((topic): topic is TopicConfig => topic !== undefined);
}

const port = z.number().int().min(1).max(65_535);

const detectorServiceSchema = z
  .object({
    httpPort: port,
    source: nonEmpty,
    pollIntervalMs: z.number().int().min(50).default(1_000),
    /** Changes read per poll (changelog entries) or per DirSync page (maxBytes is separate). */
    batchSize: z.number().int().min(1).max(10_000).default(500),
    /** Only entries under these DNs are published (default: the directory's baseDn). */
    includeBaseDns: z.array(nonEmpty).default([]),
    /** Only entries with one of these object classes are published (default: all). */
    includeObjectClasses: z.array(nonEmpty).default([]),
    /** Changes made by these accounts (the writers' bind DNs) are counted and not published again. */
    ignoreInitiators: z.array(nonEmpty).default([]),
    /**
     * The entry after each change, read by id and published with the event (`after`) and on the state topic. The
     * attributes read are what the pipes from this directory need, plus `include` (what subscribers want), minus
     * `exclude`; never a password or secret. `enabled: false` publishes value-level changes only (v1 behaviour):
     * classes and templates then see only what changed.
     */
    afterImage: z
      .object({
        enabled: z.boolean().default(true),
        include: z.array(nonEmpty).default([]),
        exclude: z.array(nonEmpty).default([]),
      })
      .strict()
      .default({ enabled: true, include: [], exclude: [] }),
  })
  .strict();
const adDetectorServiceSchema = detectorServiceSchema
  .extend({
    /**
     * While changes stream in, the largest share of the time the DirSync searches may take (0 < share <= 1): after a
     * page that emptied the DC's queue, the next search waits accordingly (at most pollIntervalMs). Samba evaluates
     * each search over its whole database; 1 polls back to back.
     */
    streamingPollShare: z.number().gt(0).max(1).default(0.25),
    /**
     * AD records no initiator: the ad-writer's changes are recognized by the receipts it publishes before each change
     * (on `<adOperations>.receipts`) and not published again (the state topic still gets the entry). `settleMs`: how
     * long after its receipt a change may still land (longer than the ad-writer's LDAP timeout). Off: every change is
     * published, and the ds-writer ends an echo by finding nothing to change (or undoes a change made in between).
     */
    ownWrites: z
      .object({
        enabled: z.boolean().default(true),
        settleMs: z.number().int().min(1_000).max(3_600_000).default(120_000),
      })
      .strict()
      .default({ enabled: true, settleMs: 120_000 }),
  })
  .strict();
const writerServiceSchema = z
  .object({
    httpPort: port,
    destination: nonEmpty,
    /** The writer's own account (the one the other side's detector ignores); defaults to the directory's. */
    bindDn: nonEmpty.optional(),
    bindPassword: nonEmpty.optional(),
    dryRun: z.boolean().default(false),
    /** The sync log on stdout: one JSON line (`"event":"sync.write"`) per write request settled. */
    syncLog: z.boolean().default(true),
    /**
     * ad-writer: before each change of an existing entry, publish a write receipt (`<adOperations>.receipts`) that
     * tells the ad-detector the change is its own (AD records no initiator). Off only where no ad-detector reads the
     * domain (sync one way, into AD). The ds-writer has none: the changelog records who made a change.
     */
    writeReceipts: z.boolean().default(true),
    /** LDAP connections used side by side (a server gives one connection a few threads: 389-ds 5 by default). */
    connections: z.number().int().min(1).max(64).default(8),
    /** Entries written side by side within one partition's batch (each entry's own requests stay in order). */
    concurrency: z.number().int().min(1).max(256).default(8),
    /**
     * How long a request whose member or parent is not there yet is tried again, off the hot path, on the writer's
     * wait topic (`<operations topic>.wait`) before it is dead-lettered. 0: a few tries in line, then dead-lettered.
     */
    dependencyWaitMs: z.number().int().min(0).max(7 * 86_400_000).default(900_000),
    /**
     * The delete circuit breaker: more than `maxDeletes` deletes within `windowMs` hold every further delete on the
     * writer's held topic (`<operations topic>.held`) until `idsync deletes approve|discard`; other requests go on.
     * `maxDeletes`: a count, or a share of the entries the writer's pipes hold (its links), e.g. "5%".
     */
    deleteBreaker: z
      .object({
        maxDeletes: z.union([z.number().int().min(1), z.string().regex(/^\d+(\.\d+)?%$/, 'must be a count or a percentage such as "5%"')]),
        windowMs: z.number().int().min(1_000).max(7 * 86_400_000).default(60_000),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((w) => (w.bindDn === undefined) === (w.bindPassword === undefined), {
    error: 'bindDn and bindPassword go together',
    path: ['bindPassword'],
  });
const mapperServiceSchema = z.object({ httpPort: port }).strict();

/** The password agent beside a Samba AD DC (services/password-agent/README.md). */
const passwordAgentServiceSchema = z
  .object({
    httpPort: port,
    source: nonEmpty,
    smbConf: nonEmpty,
    ldapiUrl: z.string().regex(/^ldapi:\/\//, 'must be an ldapi:// URL (the privileged socket, private/ldap_priv/ldapi)'),
    stateDir: nonEmpty,
    pollIntervalMs: z.number().int().min(100).default(1_000),
    initialSync: z.boolean().default(false),
    filter: z.string().optional(),
    sambaTool: z.string().default('samba-tool'),
  })
  .strict();

const servicesSchema = z
  .object({
    'ad-detector': adDetectorServiceSchema,
    'ds-detector': detectorServiceSchema,
    mapper: mapperServiceSchema,
    'ad-writer': writerServiceSchema,
    'ds-writer': writerServiceSchema,
    'password-agent': passwordAgentServiceSchema.optional(),
  })
  .strict();
export type ServicesConfig = z.infer<typeof servicesSchema>;

/**
 * OpenTelemetry tracing: a span per stage and change, exported over OTLP/HTTP (or printed: console). Off by default:
 * the trace context still travels on the records (traceparent) and every log line of a change carries its trace id.
 */
const tracingSchema = z
  .object({
    exporter: z.enum(['none', 'otlp', 'console']).default('none'),
    /** The collector's OTLP/HTTP traces endpoint. */
    endpoint: z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL').default('http://127.0.0.1:4318/v1/traces'),
    /** Share of new traces (changes) recorded; the other stages follow the detector's decision. */
    sampleRatio: z.number().min(0).max(1).default(1),
  })
  .strict();
export type TracingConfig = z.infer<typeof tracingSchema>;

export const configSchema = z
  .object({
    kafka: kafkaSchema,
    directories: z.record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'directory names are lower-case words'), directorySchema),
    services: servicesSchema,
    /** Sync pipes (source -> destination); AD->DS and DS->AD may both run. See libs/mapping/README.md. */
    pipes: pipesSchema.default([]),
    /** Password keys (AES-256-GCM) for the components that read or write passwords; the mapper needs none. */
    secrets: secretsSchema.optional(),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    tracing: tracingSchema.default({ exporter: 'none', endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 1 }),
    /** Where the services' health endpoints listen (0.0.0.0 in a pod). */
    http: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        /** How often /health really checks Kafka and the directories (one bind per interval, whatever the request rate). */
        probeIntervalMs: z.number().int().min(1_000).max(600_000).default(15_000),
      })
      .strict()
      .default({ host: '127.0.0.1', probeIntervalMs: 15_000 }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const expectKind = (service: ServiceName, key: 'source' | 'destination', kind: DirectoryKind): void => {
      const block = config.services[service] as Record<string, unknown>;
      const name = block[key] as string;
      const dir = config.directories[name];
      if (!dir) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', service, key],
          message: `names directory '${name}', which is not defined under directories (defined: ${Object.keys(config.directories).join(', ') || 'none'})`,
        });
      } else if (dir.kind !== kind) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', service, key],
          message: `names directory '${name}' of kind ${dir.kind}; ${service} needs kind ${kind}`,
        });
      }
    };
    expectKind('ad-detector', 'source', 'active-directory');
    expectKind('ad-writer', 'destination', 'active-directory');
    expectKind('ds-detector', 'source', 'ldap');
    expectKind('ds-writer', 'destination', 'ldap');
    config.pipes.forEach((pipe, index) => {
      for (const key of ['source', 'destination'] as const) {
        if (!config.directories[pipe[key]]) {
          ctx.addIssue({
            code: 'custom',
            path: ['pipes', index, key],
            message: `names directory '${pipe[key]}', which is not defined under directories (defined: ${Object.keys(config.directories).join(', ') || 'none'})`,
          });
        }
      }
    });
    for (const detector of ['ad-detector', 'ds-detector'] as const) {
      const block = config.services[detector];
      try {
        afterImageAttributes(block.source, config.pipes.map(compilePipe), block.afterImage);
      } catch (error) {
        if (!(error instanceof ConflictingAfterImageError)) throw error;
        ctx.addIssue({ code: 'custom', path: ['services', detector, 'afterImage', 'exclude'], message: error.message.replace(/^afterImage\.exclude /, '') });
      }
    }
    const principals = config.kafka.sasl?.principals;
    if (principals) {
      const programs: Program[] = [...SERVICE_NAMES, ...(config.services['password-agent'] ? (['password-agent'] as const) : []), 'cli'];
      for (const program of programs) {
        if (!principals[program]) ctx.addIssue({ code: 'custom', path: ['kafka', 'sasl', 'principals', program], message: `is missing: every program that connects to Kafka needs its own account (${programs.join(', ')})` });
      }
    }
    const ports = new Map<number, string>();
    for (const name of SERVICE_NAMES) {
      const used = config.services[name].httpPort;
      const other = ports.get(used);
      if (other) {
        ctx.addIssue({ code: 'custom', path: ['services', name, 'httpPort'], message: `${used} is already used by ${other}` });
      }
      ports.set(used, name);
    }
  });

export type SyncConfig = z.infer<typeof configSchema>;

/** The SASL account `program` connects to Kafka with: its own under `principals`, else the shared one; none without SASL. */
export function kafkaAccount(kafka: KafkaConfig, program: Program): { mechanism: NonNullable<KafkaConfig['sasl']>['mechanism']; username: string; password: string } | undefined {
  const sasl = kafka.sasl;
  if (!sasl) return undefined;
  const own = sasl.principals?.[program];
  if (own) return { mechanism: sasl.mechanism, username: own.username, password: own.password };
  if (sasl.username !== undefined && sasl.password !== undefined) return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
  throw new Error(`kafka.sasl.principals has no account for ${program}`);
}
