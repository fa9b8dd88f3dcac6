import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { encodeWriteRequest, type WriteRequest } from '@idsync/contracts';
import { type BatchContext, classifyFailure, JsonLogger, KafkaRecordLoopTransport, type LoopRecord, Metrics, type OutputMessages, SecretRedactor } from '@idsync/platform';
import { type ApplyResult } from './directory-writer';
import { WriteError } from './errors';
import { readWait } from './dependency-wait';
import { createWriteHandler, WriterStoppedError } from './write-handler';
import { WRITE_REQUESTS, WRITER_TRANSPORT, WriterController } from './writer-controller';
import { WriterService } from './writer-service';

const WAIT_TOPIC = 'idsync.ds.operations.wait';

const request = (n: number): WriteRequest => ({
  requestId: `e${n}/ad-to-ds/0`,
  pipe: 'ad-to-ds',
  sourceEventId: `e${n}`,
  sourceEntryId: { kind: 'objectGUID', value: '6c1f1e4a-9b0e-4d3c-8a55-1f2e3d4c5b6a' },
  op: 'upsert',
  dn: `uid=u${n},ou=People,dc=example,dc=com`,
  previousDn: null,
  objectClasses: ['top', 'inetOrgPerson'],
  attributes: [],
  correlation: [],
  changeTime: null,
  detectedAt: 0,
});
/** Keyed by offset: one entry per record (a parked entry holds its later requests). */
const record = (value: Buffer | null, offset: number): LoopRecord => ({ topic: 'idsync.ds.operations', partition: 0, offset: String(offset), key: Buffer.from(`entry-${offset}`), value });
const applied: ApplyResult = {
  outcome: 'applied',
  plan: { requestId: 'x', op: 'upsert', target: null, steps: [], reason: null },
  foundBy: 'dn',
  alreadyApplied: [],
  createdParents: [],
  link: 'none',
  destinationId: '7145e626-b475-4e2a-a8c8-8b33d773cbcc',
};

/** What the writer's apply does next (each test sets it). */
let apply: (r: WriteRequest) => Promise<ApplyResult> = async () => applied;

/** WriterService as the controller sees it: the writer's real handler (write-handler.ts) over a scripted directory. */
const writer: Pick<WriterService, 'handleBatch'> = {
  handleBatch: createWriteHandler({
    service: 'ds-writer',
    writer: { apply: (r) => apply(r), isDryRun: false },
    metrics: new Metrics(),
    logger: new JsonLogger('ds-writer', 'error', new SecretRedactor([]), () => undefined),
    boundedRetry: { sleep: async () => undefined },
    waits: { topic: WAIT_TOPIC, maxWaitMs: 600_000 },
    syncLog: { stdout: false },
  }),
};

@Module({ controllers: [WriterController], providers: [WRITER_TRANSPORT, { provide: WriterService, useValue: writer }] })
class WriterTransportModule {}

describe('WriterController on KafkaRecordLoopTransport', () => {
  const sent: OutputMessages[] = [];
  const progress = jest.fn();
  const context: BatchContext = { progress, signal: new AbortController().signal, output: { send: async (batch) => void sent.push(...batch), limit: () => 1_000_000 } };
  let transport: KafkaRecordLoopTransport;
  let close: () => Promise<void>;
  beforeAll(async () => {
    // As runService does: the transport is the module's own provider, connected as the microservice's strategy.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest declares its options as a class (NestApplicationContextOptions) and takes a plain object
    const app = await NestFactory.create(WriterTransportModule, { logger: false });
    transport = app.get(KafkaRecordLoopTransport);
    app.connectMicroservice({ strategy: transport });
    await app.startAllMicroservices();
    await app.init();
    close = () => app.close();
  });
  afterAll(() => close());
  beforeEach(() => {
    sent.length = 0;
    apply = async () => applied;
  });

  it(`is the transport's '${WRITE_REQUESTS}' handler: a chunk reaches the write handler and its outcomes come back in order`, async () => {
    const outcomes = await transport.handleBatch([record(encodeWriteRequest(request(1)), 0), record(Buffer.from('not a write request'), 1)], context);
    expect(outcomes).toEqual([{ kind: 'done' }, { kind: 'dead-letter', reason: expect.any(String), code: 'undecodable' }]);
    expect(progress).toHaveBeenCalled();
  });

  it("hands the loop's context over: a request whose member is missing is parked on the wait topic through the chunk's output", async () => {
    apply = async () => {
      throw new WriteError('retry', 'noSuchObject (32) on member-add: the member is not there yet', { code: 32, bounded: true });
    };
    const outcomes = await transport.handleBatch([record(encodeWriteRequest(request(2)), 2)], context);
    expect(outcomes).toEqual([{ kind: 'done' }]);
    expect(sent.map((batch) => batch.topic)).toEqual([WAIT_TOPIC]);
    expect(readWait(sent[0]?.messages[0]?.headers)).toMatchObject({ attempt: 1 });
  });

  it('gives an outage to the loop unchanged: retriable, so the loop backs off and fetches the records again', async () => {
    const outage = new WriteError('retry', 'busy (51)', { code: 51 });
    apply = async () => {
      throw outage;
    };
    const error = await transport.handleBatch([record(encodeWriteRequest(request(3)), 3)], context).catch((e: unknown) => e);
    expect(error).toBe(outage);
    expect(classifyFailure(error)).toBe('retry');
  });

  it("gives a refusal of the writer's account to the loop unchanged: WriterStoppedError, no `retriable`, so the loop stops", async () => {
    apply = async () => {
      throw new WriteError('stop', 'invalidCredentials (49)', { code: 49 });
    };
    const error = await transport.handleBatch([record(encodeWriteRequest(request(4)), 4)], context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriterStoppedError);
    expect(classifyFailure(error)).toBe('stop');
  });
});
