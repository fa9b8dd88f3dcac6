import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { Side } from './directories';
import { eventually, Pipeline } from './pipeline';

/**
 * One change, followed through the stages by its trace: the five services with tracing on (OTLP/HTTP to a collector
 * this test runs) and debug logs. A user created in AD arrives in 389-ds; the ds-writer's sync log line names its trace,
 * and the same trace id is in the ad-detector's and the mapper's log lines for it, and in one span of each stage,
 * each the child of the one before.
 */

const config = stackConfig();
const s = uniqueSuffix();
const adOu = `OU=trace${s},OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsOu = `ou=trace${s},ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;

interface ExportedSpan {
  readonly service: string;
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
}

let pipeline: Pipeline | undefined;
let collector: Server | undefined;
const spans: ExportedSpan[] = [];
let ad: Side;
let ds: Side;
const scenario = new Scenario(180_000);
const step = scenario.step;

/** OTLP/HTTP JSON: resourceSpans[].resource.attributes (service.name), scopeSpans[].spans[] (ids as hex). */
function collect(body: string): void {
  const request = JSON.parse(body) as {
    resourceSpans?: {
      resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
      scopeSpans?: { spans?: { name: string; traceId: string; spanId: string; parentSpanId?: string }[] }[];
    }[];
  };
  for (const resource of request.resourceSpans ?? []) {
    const service = resource.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
    for (const scope of resource.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) spans.push({ service, name: span.name, traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? '' });
    }
  }
}

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        collect(Buffer.concat(chunks).toString('utf8'));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => collector?.listen(0, '127.0.0.1', resolve));
  const { port } = collector.address() as AddressInfo;
  pipeline = await Pipeline.start(s, 90_000, { settings: { logLevel: 'debug', tracing: { exporter: 'otlp', endpoint: `http://127.0.0.1:${port}/v1/traces` } } });
}, 180_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed) process.stderr.write(`tracing ${s}:\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  collector?.close();
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 120_000);

describe(`a change's trace through the stages (run ${s})`, () => {
  step('one trace id in the logs of the ad-detector, the mapper and the ds-writer, and in a span of each, parent to child', async () => {
    await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `trace${s}` });
    const cn = `Trace User${s}`;
    await ad.add(`CN=${cn},${adOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: `trace${s}`, sn: `T${s}` });
    const dsDn = `cn=${cn},${dsOu}`;
    await eventually(
      'the user in 389-ds',
      () => ds.read(dsDn),
      (entry) => entry !== null,
      30_000,
    );

    const running = pipeline as Pipeline;
    const lines = (name: string): Record<string, unknown>[] =>
      (running.logs().find((log) => log.name === name)?.text ?? '')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const written = await eventually(
      'the sync log line of the create',
      async () => lines('ds-writer').find((l) => l['event'] === 'sync.write' && String(l['dn']).toLowerCase() === dsDn.toLowerCase() && l['outcome'] === 'applied'),
      (l) => l !== undefined,
      10_000,
    );
    const traceId = String(written?.['traceId']);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const eventId = String(written?.['sourceEventId']);

    const detected = lines('ad-detector').find((l) => l['msg'] === 'ad-detector.published' && l['traceId'] === traceId);
    expect(detected).toMatchObject({ eventId, op: 'add' });
    expect(lines('mapper').find((l) => l['msg'] === 'mapper.mapped' && l['traceId'] === traceId)).toMatchObject({ eventId });

    // The spans, exported within a second or two of their end.
    const trace = await eventually(
      'a span of each stage exported',
      async () => spans.filter((span) => span.traceId === traceId),
      (found) => ['ad-detector', 'mapper', 'ds-writer'].every((service) => found.some((span) => span.service === service)),
      15_000,
      500,
    );
    const of = (service: string): ExportedSpan => trace.find((span) => span.service === service) as ExportedSpan;
    expect(of('ad-detector')).toMatchObject({ name: 'detect', parentSpanId: '' });
    expect(of('mapper')).toMatchObject({ name: 'map', parentSpanId: of('ad-detector').spanId });
    expect(of('ds-writer')).toMatchObject({ name: 'write', parentSpanId: of('mapper').spanId });
  });
});
