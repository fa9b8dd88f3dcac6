import { randomUUID } from 'node:crypto';
import { encodeWriteReceipt, type EntryChangeEvent, type WriteReceipt } from '@idsync/contracts';
import { ReceiptsView } from '@idsync/detector/ad';
import { createKafka, type KafkaClient, type RecordProducer } from '@idsync/platform';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';

/**
 * The ad-detector's view of the ad-writer's write receipts on the real Kafka: after catchUp() every receipt published
 * before it is known (the barrier the detector passes after each DirSync read), a record that is no receipt is skipped
 * and counted, and receipts written before the start point are ignored.
 */

const config = stackConfig();
const T0 = Date.now();

function receipt(guid: string, description: string, writtenAt = Date.now()): WriteReceipt {
  return {
    service: 'ad-writer',
    directory: 'ad',
    requestId: `r-${randomUUID()}`,
    entryId: { kind: 'objectGUID', value: guid },
    dn: 'CN=Receipt Test,OU=Corp,DC=example,DC=test',
    writtenAt,
    attributes: [{ name: 'description', values: [description], added: [description], removed: [], anyValue: false }],
    landedAt: null,
  };
}

function modifyOf(guid: string, description: string): EntryChangeEvent {
  return {
    eventId: `ad:test:${randomUUID()}`,
    source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc', position: { kind: 'dirsync', cookieDigest: 'test', index: 0 } },
    entryId: { kind: 'objectGUID', value: guid },
    op: 'modify',
    dn: 'CN=Receipt Test,OU=Corp,DC=example,DC=test',
    previousDn: null,
    objectClasses: ['user'],
    attributes: [{ name: 'description', op: 'replace', values: [description] }],
    initiator: null,
    changeTime: null,
    detectedAt: Date.now(),
    after: null,
    before: null,
  };
}

describe('ReceiptsView on the real Kafka', () => {
  const topic = `idsync.test.receipts.${uniqueSuffix()}`;
  let kafka: KafkaClient;
  let producer: RecordProducer;
  const views: ReceiptsView[] = [];
  const publish = async (records: { key: string; value: Buffer }[]): Promise<void> => {
    await producer.send({ topic, messages: records });
  };
  const openView = async (from: number): Promise<ReceiptsView> => {
    const view = new ReceiptsView({ kafka, topic, groupPrefix: `idsync-test-receipts-${uniqueSuffix()}-`, settleMs: 60_000, catchUpTimeoutMs: 10_000 });
    views.push(view);
    await view.start(from);
    return view;
  };

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
    kafka = createKafka(config.kafka, 'ad-detector');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ name: topic, partitions: 3, replicationFactor: 1 }]);
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    for (const view of views) await view.stop();
    await producer?.disconnect();
  });

  it('knows every receipt published before catchUp: the writer’s change is recognized, someone else’s is not', async () => {
    const guid = randomUUID();
    await publish([{ key: guid, value: encodeWriteReceipt(receipt(guid, 'by the writer')) }]);
    const view = await openView(Number.NEGATIVE_INFINITY);
    await view.catchUp();
    expect(view.ownWrites.recognize(modifyOf(guid, 'by the writer')).event).toBeNull();
    expect(view.ownWrites.recognize(modifyOf(guid, 'by someone else')).event).not.toBeNull();

    // Published while the view runs: known after the next catchUp, whichever partition it landed on.
    const later = Array.from({ length: 12 }, () => randomUUID());
    await publish(later.map((id) => ({ key: id, value: encodeWriteReceipt(receipt(id, 'later')) })));
    await view.catchUp();
    for (const id of later) expect([id, view.ownWrites.recognize(modifyOf(id, 'later')).event]).toEqual([id, null]);
  });

  it('skips and counts a record that is no receipt (a forged or foreign one), and goes on', async () => {
    const view = await openView(Number.NEGATIVE_INFINITY);
    const guid = randomUUID();
    await publish([
      { key: guid, value: Buffer.from('not an avro record') },
      { key: guid, value: encodeWriteReceipt(receipt(guid, 'after the garbage')) },
    ]);
    await view.catchUp();
    expect(view.status().skipped).toBeGreaterThanOrEqual(1);
    expect(view.ownWrites.recognize(modifyOf(guid, 'after the garbage')).event).toBeNull();
  });

  it('ignores receipts written before its start point (they cannot match a change read from there on)', async () => {
    const old = randomUUID();
    const recent = randomUUID();
    await publish([
      { key: old, value: encodeWriteReceipt(receipt(old, 'old', T0 - 3_600_000)) },
      { key: recent, value: encodeWriteReceipt(receipt(recent, 'recent')) },
    ]);
    const view = await openView(T0 - 60_000);
    await view.catchUp();
    expect(view.ownWrites.recognize(modifyOf(old, 'old')).event).not.toBeNull();
    expect(view.ownWrites.recognize(modifyOf(recent, 'recent')).event).toBeNull();
  });
});
