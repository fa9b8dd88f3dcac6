import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type KafkaConfig, receiptsTopicOf, type TopicConfig } from '@idsync/config';
import { currentSchema, FIXED_IDS, RegistryIds, schemaText, type SchemaSubject, useWireIds, versionOfText } from '@idsync/contracts';
import { backoffDelay } from './backoff';
import { type JsonLogger } from './logger';

/**
 * A Confluent-compatible schema registry (Confluent Schema Registry, Apicurio's ccompat API, Karapace): our schemas
 * registered under `<topic>-value` subjects, and the ids it gave them, which records then carry instead of the
 * repository's fixed ids (see @idsync/contracts wire-ids.ts).
 */
export interface SchemaRegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. https://registry:8081 or http://apicurio:8080/apis/ccompat/v7. */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM file of the CA that signed the registry's certificate (https). */
  readonly caFile?: string;
  /** Per request. Default 10 s. */
  readonly timeoutMs?: number;
}

/** What the registry answered, or that it did not answer; `retriable` when asking again later may help. */
export class SchemaRegistryError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    /** HTTP status, absent when there was no answer. */
    readonly status?: number,
    /** The registry's error_code (40401 subject not found, 40403 schema not found, 409 incompatible, 42201 invalid). */
    readonly errorCode?: number,
  ) {
    super(message);
    this.name = 'SchemaRegistryError';
  }
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class SchemaRegistryClient {
  private readonly base: URL;
  private readonly ca: Buffer | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: SchemaRegistryOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') throw new TypeError(`schema registry url '${options.url}' is not http(s)`);
    this.ca = options.caFile === undefined ? undefined : readFileSync(options.caFile);
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Registers `schema` under `subject` (an existing identical one keeps its id) and returns its id. */
  async register(subject: string, schema: string): Promise<number> {
    const answer = await this.call('POST', `subjects/${encodeURIComponent(subject)}/versions`, { schema });
    return idOf(answer, `registering under ${subject}`);
  }

  /** The id of `schema` under `subject`, or undefined when the subject does not hold it. */
  async lookup(subject: string, schema: string): Promise<number | undefined> {
    try {
      return idOf(await this.call('POST', `subjects/${encodeURIComponent(subject)}`, { schema }), `looking up in ${subject}`);
    } catch (error) {
      if (error instanceof SchemaRegistryError && (error.errorCode === 40401 || error.errorCode === 40403)) return undefined;
      throw error;
    }
  }

  /** The versions a subject holds; [] for a subject the registry does not know. */
  async versions(subject: string): Promise<number[]> {
    try {
      const answer = await this.call('GET', `subjects/${encodeURIComponent(subject)}/versions`);
      if (!Array.isArray(answer) || !answer.every((v) => Number.isInteger(v))) throw this.malformed(`the versions of ${subject}`, answer);
      return answer as number[];
    } catch (error) {
      if (error instanceof SchemaRegistryError && error.errorCode === 40401) return [];
      throw error;
    }
  }

  /** One version of a subject: its id and schema text. */
  async version(subject: string, version: number): Promise<{ id: number; schema: string }> {
    const answer = await this.call('GET', `subjects/${encodeURIComponent(subject)}/versions/${version}`);
    const schema = (answer as { schema?: unknown } | null)?.schema;
    if (typeof schema !== 'string') throw this.malformed(`${subject} version ${version}`, answer);
    return { id: idOf(answer, `${subject} version ${version}`), schema };
  }

  private malformed(what: string, answer: unknown): SchemaRegistryError {
    return new SchemaRegistryError(`schema registry ${this.options.url}: unexpected answer for ${what}: ${JSON.stringify(answer)?.slice(0, 200)}`, false);
  }

  private call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: CONTENT_TYPE };
    if (payload) Object.assign(headers, { 'content-type': CONTENT_TYPE, 'content-length': String(payload.length) });
    if (this.options.username !== undefined) {
      headers['authorization'] = `Basic ${Buffer.from(`${this.options.username}:${this.options.password ?? ''}`).toString('base64')}`;
    }
    const where = `schema registry ${this.options.url}`;
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { method, headers, timeout: this.timeoutMs, ...(this.ca ? { ca: this.ca } : {}) }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => reject(new SchemaRegistryError(`${where}: ${method} ${url.pathname}: ${error.message}`, true)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text.length === 0 ? null : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && parsed !== undefined) return resolve(parsed);
          const { error_code: errorCode, message } = (parsed ?? {}) as { error_code?: unknown; message?: unknown };
          const code = typeof errorCode === 'number' ? errorCode : undefined;
          const said = typeof message === 'string' ? message : text.slice(0, 200);
          // Overload and server faults pass; a refusal (auth, an incompatible or invalid schema) needs an operator.
          const retriable = status === 408 || status === 429 || status >= 500;
          reject(new SchemaRegistryError(`${where}: ${method} ${url.pathname} answered ${status}${code === undefined ? '' : ` (error ${code})`}: ${said}`, retriable, status, code));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (error) => reject(new SchemaRegistryError(`${where}: ${method} ${url.pathname}: ${describeNetworkError(error)}`, true)));
      req.end(payload);
    });
  }
}

/** Node's connection errors may have an empty message (an AggregateError over the addresses tried): name the code. */
function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (error.message && (code === undefined || error.message.includes(code))) return error.message;
  return [code, error.message].filter(Boolean).join(': ');
}

function idOf(answer: unknown, what: string): number {
  const id = (answer as { id?: unknown } | null)?.id;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new SchemaRegistryError(`schema registry: no schema id in the answer to ${what}: ${JSON.stringify(answer)?.slice(0, 200)}`, false);
  }
  return id;
}

/** A topic whose values are records of one of our subjects: its registry subject is `<topic>-value`. */
export interface TopicSchema {
  readonly topic: string;
  readonly subject: SchemaSubject;
}

export interface RegistryIdsReport {
  readonly ids: RegistryIds;
  /** Subjects where our current version was registered now or found registered. */
  readonly subjects: readonly { readonly subject: string; readonly id: number; readonly version: number }[];
  /** Versions a subject holds that are none of our schemas (another producer's, a newer release's). */
  readonly foreign: readonly { readonly subject: string; readonly version: number; readonly id: number }[];
}

/**
 * The ids our records carry with a registry: for each topic, our current schema registered under `<topic>-value`
 * (`register`: true; else it must be there already), and every version the subject holds that is one of ours, so that
 * records written with an older version still decode.
 */
export async function loadRegistryIds(client: SchemaRegistryClient, url: string, topics: readonly TopicSchema[], register: boolean): Promise<RegistryIdsReport> {
  const pairs: [number, ReturnType<typeof currentSchema>][] = [];
  const subjects: { subject: string; id: number; version: number }[] = [];
  const foreign: { subject: string; version: number; id: number }[] = [];
  for (const { topic, subject } of topics) {
    const name = `${topic}-value`;
    const current = currentSchema(subject);
    const text = schemaText(current);
    const id = register ? await client.register(name, text) : await client.lookup(name, text);
    if (id === undefined) {
      throw new SchemaRegistryError(
        `schema registry ${url}: subject ${name} does not hold ${subject} v${current.version}; register it, or let this service register it (kafka.schemaRegistry.autoRegister)`,
        false,
      );
    }
    pairs.push([id, current]);
    subjects.push({ subject: name, id, version: current.version });
    for (const version of await client.versions(name)) {
      const held = await client.version(name, version);
      const ours = versionOfText(subject, held.schema);
      if (ours) pairs.push([held.id, ours]);
      else foreign.push({ subject: name, version, id: held.id });
    }
  }
  return { ids: new RegistryIds(`the ids of schema registry ${url}`, pairs), subjects, foreign };
}

/** The topics whose values are our Avro records, each with its subject (wait and held topics copy operations; the ad-writer's receipts). */
export function schemaTopics(topics: KafkaConfig['topics']): TopicSchema[] {
  const rows: [TopicConfig | undefined, SchemaSubject][] = [
    [topics.adChanges, 'entry-change'],
    [topics.dsChanges, 'entry-change'],
    [topics.adOperations, 'write-request'],
    [topics.dsOperations, 'write-request'],
    [topics.deadLetter, 'dead-letter'],
    [topics.links, 'link'],
    [topics.adState, 'entry-state'],
    [topics.dsState, 'entry-state'],
  ];
  const receipts: TopicSchema = { topic: receiptsTopicOf(topics.adOperations.name), subject: 'write-receipt' };
  return [...rows.flatMap(([topic, subject]) => (topic === undefined ? [] : [{ topic: topic.name, subject }])), receipts];
}

/**
 * With kafka.schemaRegistry: loads the ids this process's records carry (loadRegistryIds) and uses them for every
 * encode and decode; a registry that does not answer is asked again with backoff (logged; `attempts` bounds it), a
 * refusal is thrown.
 * Without: the fixed ids. Called once at start, before any record.
 */
export async function useSchemaRegistry(
  kafka: KafkaConfig,
  logger: JsonLogger | undefined,
  options: { readonly attempts?: number; readonly sleep?: (ms: number) => Promise<void> } = {},
): Promise<RegistryIdsReport | undefined> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const registry = kafka.schemaRegistry;
  if (registry === undefined) {
    useWireIds(FIXED_IDS);
    return undefined;
  }
  const client = new SchemaRegistryClient(registry);
  for (let attempt = 1; ; attempt++) {
    try {
      const report = await loadRegistryIds(client, registry.url, schemaTopics(kafka.topics), registry.autoRegister);
      useWireIds(report.ids);
      logger?.event('info', 'schema-registry.ids', { url: registry.url, subjects: report.subjects, ...(report.foreign.length > 0 ? { foreign: report.foreign } : {}) });
      return report;
    } catch (error) {
      if (!(error instanceof SchemaRegistryError) || !error.retriable || attempt >= (options.attempts ?? Number.POSITIVE_INFINITY)) throw error;
      const delayMs = backoffDelay(attempt);
      logger?.event('warn', 'schema-registry.unavailable', { url: registry.url, attempt, retryInMs: delayMs, error: error.message });
      await sleep(delayMs);
    }
  }
}
