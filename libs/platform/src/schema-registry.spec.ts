import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { currentSchema, schemaById, schemaText, type SchemaVersion } from '@idsync/contracts';
import { FIXED_IDS, useWireIds, wireIds } from '@idsync/contracts';
import { type KafkaConfig } from '@idsync/config';
import { loadRegistryIds, SchemaRegistryClient, SchemaRegistryError, useSchemaRegistry } from './schema-registry';

/**
 * The Confluent-compatible API as Apicurio Registry 3.3.3 answered it on this machine (ccompat v7, in-memory storage):
 * ids are content ids (one schema registered under two subjects gets one id), errors carry error_code. This server
 * plays those answers back over real HTTP; the integration tests run the real registry.
 */
class RecordedRegistry {
  readonly requests: { method: string; path: string; body: unknown; authorization: string | undefined }[] = [];
  private readonly subjects = new Map<string, { id: number; schema: string }[]>();
  private readonly contents: string[] = [];
  private server: Server | undefined;
  /** Answer every request with this status and body instead (a registry in trouble). */
  failWith: { status: number; body: string } | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/apis/ccompat/v7`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** A schema some other producer registered. */
  preload(subject: string, schema: string): number {
    return this.register(subject, schema);
  }

  private register(subject: string, schema: string): number {
    let id = this.contents.indexOf(schema) + 1;
    if (id === 0) id = this.contents.push(schema);
    const versions = this.subjects.get(subject) ?? [];
    if (!versions.some((v) => v.id === id)) versions.push({ id, schema });
    this.subjects.set(subject, versions);
    return id;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text ? JSON.parse(text) : undefined;
    const path = (req.url ?? '').replace(/^\/apis\/ccompat\/v7/, '');
    this.requests.push({ method: req.method ?? '', path, body, authorization: req.headers.authorization });
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(typeof value === 'string' ? value : JSON.stringify(value));
    };
    if (this.failWith) return send(this.failWith.status, this.failWith.body);
    const schema = (body as { schema?: string } | undefined)?.schema ?? '';
    let match: RegExpMatchArray | null;
    if (req.method === 'POST' && (match = path.match(/^\/subjects\/([^/]+)\/versions$/))) {
      try {
        JSON.parse(schema);
      } catch {
        return send(422, { message: 'Failed to discover artifact type from content.', error_code: 42201 });
      }
      return send(200, { id: this.register(decodeURIComponent(match[1] ?? ''), schema) });
    }
    if (req.method === 'POST' && (match = path.match(/^\/subjects\/([^/]+)$/))) {
      const subject = decodeURIComponent(match[1] ?? '');
      const versions = this.subjects.get(subject);
      if (!versions) return send(404, { message: `Subject '${subject}' not found.`, error_code: 40401 });
      const index = versions.findIndex((v) => v.schema === schema);
      if (index < 0) return send(404, { message: `The given schema does not match any schema under the subject ${subject}`, error_code: 40403 });
      return send(200, { subject, version: index + 1, id: versions[index]?.id, schema });
    }
    if (req.method === 'GET' && (match = path.match(/^\/subjects\/([^/]+)\/versions$/))) {
      const subject = decodeURIComponent(match[1] ?? '');
      const versions = this.subjects.get(subject);
      if (!versions) return send(404, { message: `Subject '${subject}' not found.`, error_code: 40401 });
      return send(
        200,
        versions.map((_, index) => index + 1),
      );
    }
    if (req.method === 'GET' && (match = path.match(/^\/subjects\/([^/]+)\/versions\/(\d+)$/))) {
      const subject = decodeURIComponent(match[1] ?? '');
      const version = Number(match[2]);
      const held = this.subjects.get(subject)?.[version - 1];
      if (!held) return send(404, { message: `Version ${version} not found.`, error_code: 40402 });
      return send(200, { subject, version, id: held.id, schema: held.schema });
    }
    return send(404, { message: 'RESTEASY003210: Could not find resource for full path', error_code: 404 });
  }
}

describe('the schema registry client against recorded Confluent-compatible answers', () => {
  let registry: RecordedRegistry;
  let url: string;
  beforeEach(async () => {
    registry = new RecordedRegistry();
    url = await registry.start();
  });
  afterEach(() => registry.stop());

  it('registers our current schemas under <topic>-value and loads the ids, one id for one content across subjects', async () => {
    const client = new SchemaRegistryClient({ url, username: 'idsync', password: 'registry-secret' });
    const { ids, subjects, foreign } = await loadRegistryIds(
      client,
      url,
      [
        { topic: 'idsync.ad.changes', subject: 'entry-change' },
        { topic: 'idsync.ds.changes', subject: 'entry-change' },
        { topic: 'idsync.ds.operations', subject: 'write-request' },
      ],
      true,
    );
    expect(subjects).toEqual([
      { subject: 'idsync.ad.changes-value', id: 1, version: 2 },
      { subject: 'idsync.ds.changes-value', id: 1, version: 2 },
      { subject: 'idsync.ds.operations-value', id: 2, version: 2 },
    ]);
    expect(foreign).toEqual([]);
    expect(ids.toWire(currentSchema('entry-change'))).toBe(1);
    expect(ids.toWire(currentSchema('write-request'))).toBe(2);
    expect(ids.fromWire(2)).toEqual(currentSchema('write-request'));
    // What was registered is the .avsc text; every request carried the credentials.
    expect(registry.requests[0]).toEqual({
      method: 'POST',
      path: '/subjects/idsync.ad.changes-value/versions',
      body: { schema: schemaText(currentSchema('entry-change')) },
      authorization: `Basic ${Buffer.from('idsync:registry-secret').toString('base64')}`,
    });
  });

  it('older versions the subject holds decode too; versions that are not ours are reported, not used', async () => {
    const v1 = schemaById(1) as SchemaVersion;
    const older = registry.preload('idsync.ad.changes-value', schemaText(v1));
    const other = registry.preload('idsync.ad.changes-value', JSON.stringify({ type: 'record', name: 'Foreign', fields: [{ name: 'x', type: 'string' }] }));
    const { ids, foreign } = await loadRegistryIds(new SchemaRegistryClient({ url }), url, [{ topic: 'idsync.ad.changes', subject: 'entry-change' }], true);
    expect(ids.fromWire(older)).toEqual(v1);
    expect(ids.fromWire(other)).toBeUndefined();
    expect(foreign).toEqual([{ subject: 'idsync.ad.changes-value', version: 2, id: other }]);
    expect(ids.toWire(currentSchema('entry-change'))).toBe(3);
  });

  it('without auto-registration, a subject that lacks our schema stops the start with what to do', async () => {
    const client = new SchemaRegistryClient({ url });
    await expect(loadRegistryIds(client, url, [{ topic: 'idsync.links', subject: 'link' }], false)).rejects.toThrow(
      `schema registry ${url}: subject idsync.links-value does not hold link v1; register it, or let this service register it (kafka.schemaRegistry.autoRegister)`,
    );
    const id = registry.preload('idsync.links-value', schemaText(currentSchema('link')));
    const { ids } = await loadRegistryIds(client, url, [{ topic: 'idsync.links', subject: 'link' }], false);
    expect(ids.toWire(currentSchema('link'))).toBe(id);
  });

  it('errors say whether asking again helps: a refusal does not, a registry in trouble or away does', async () => {
    const client = new SchemaRegistryClient({ url, timeoutMs: 2_000 });
    const invalid = await client.register('bad', '{not avro').catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(SchemaRegistryError);
    expect(invalid).toMatchObject({ retriable: false, status: 422, errorCode: 42201, message: expect.stringContaining('answered 422 (error 42201): Failed to discover artifact type from content.') });
    registry.failWith = { status: 409, body: JSON.stringify({ message: 'Incompatible artifact: idsync.links-value [AVRO]', error_code: 409 }) };
    await expect(client.register('idsync.links-value', '{}')).rejects.toMatchObject({ retriable: false, status: 409, errorCode: 409 });
    registry.failWith = { status: 503, body: 'Service Unavailable' };
    await expect(client.versions('any')).rejects.toMatchObject({ retriable: true, status: 503 });
    await registry.stop();
    // A registry that went away: the connection it held is reset, a new one is refused.
    await expect(client.versions('any')).rejects.toMatchObject({ retriable: true, message: expect.stringContaining('GET /apis/ccompat/v7/subjects/any/versions') });
    await expect(new SchemaRegistryClient({ url }).versions('any')).rejects.toMatchObject({ retriable: true, message: expect.stringContaining('ECONNREFUSED') });
    registry = new RecordedRegistry(); // for afterEach
    await registry.start();
  });

  it("useSchemaRegistry: the registry's ids for every configured topic, asked again while it is away; none configured: the fixed ids", async () => {
    const topics = {
      adChanges: { name: 'a.changes' },
      dsChanges: { name: 'd.changes' },
      adOperations: { name: 'a.ops' },
      dsOperations: { name: 'd.ops' },
      deadLetter: { name: 'dlt' },
      checkpoints: { name: 'cp' },
      links: { name: 'links' },
      adState: { name: 'a.state' },
    };
    const kafka = { topics, schemaRegistry: { url, autoRegister: true } } as unknown as KafkaConfig;
    try {
      registry.failWith = { status: 503, body: 'starting' };
      const waits: number[] = [];
      const loading = useSchemaRegistry(kafka, undefined, {
        sleep: async (ms) => {
          waits.push(ms);
          if (waits.length === 2) registry.failWith = undefined;
        },
      });
      const report = await loading;
      expect(waits).toHaveLength(2);
      expect(report?.subjects.map((row) => row.subject)).toEqual([
        'a.changes-value',
        'd.changes-value',
        'a.ops-value',
        'd.ops-value',
        'dlt-value',
        'links-value',
        'a.state-value',
        'a.ops.receipts-value',
      ]);
      expect(wireIds()).toBe(report?.ids);
      expect(wireIds().toWire(currentSchema('entry-state'))).toBe(report?.subjects.at(-2)?.id);
      expect(wireIds().toWire(currentSchema('write-receipt'))).toBe(report?.subjects.at(-1)?.id);
      registry.failWith = { status: 503, body: 'down' };
      await expect(useSchemaRegistry(kafka, undefined, { attempts: 1 })).rejects.toMatchObject({ retriable: true, status: 503 });
      await useSchemaRegistry({ topics } as unknown as KafkaConfig, undefined);
      expect(wireIds()).toBe(FIXED_IDS);
    } finally {
      useWireIds(FIXED_IDS);
    }
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => new SchemaRegistryClient({ url: 'ftp://registry' })).toThrow("schema registry url 'ftp://registry' is not http(s)");
  });
});
