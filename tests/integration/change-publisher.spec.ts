import { decodeDeadLetter, decodeEntryChange, decodeEntryState, type EntryChangeEvent } from '@idsync/contracts';
import { ChangePublisher } from '@idsync/platform';
import { READER_MAX_WAIT_MS, testKafka } from './support/kafka';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from './support/stack';

describe('ChangePublisher: events and detector position in one Kafka transaction', () => {
  const config = stackConfig();
  const { client: kafka, kafkajs } = testKafka(config.kafka, 'idsync-test');
  const suffix = uniqueSuffix();
  const options = { detector: 'test-detector', source: `src-${suffix}`, eventsTopic: `idsync.test.events.${suffix}`, checkpointTopic: `idsync.test.checkpoints.${suffix}` };

  const event = (n: number): EntryChangeEvent => ({
    eventId: `cn:${n}`,
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://127.0.0.1:3636', position: { kind: 'change-number', changeNumber: String(n) } },
    entryId: { kind: 'entryUUID', value: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` },
    op: 'modify',
    dn: `uid=user${n},ou=People,dc=example,dc=com`,
    previousDn: null,
    objectClasses: [],
    attributes: [{ name: 'description', op: 'replace', values: [`change ${n}`] }],
    initiator: null,
    changeTime: null,
    detectedAt: 1_700_000_000_000,
    after: null,
    before: null,
  });

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
    const admin = kafkajs.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: options.eventsTopic, numPartitions: 3 },
        { topic: options.checkpointTopic, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
  });

  it('has no checkpoint before the first batch, and the latest one after each batch, also for a new instance', async () => {
    const first = new ChangePublisher(kafka, options);
    await first.connect();
    expect(await first.readCheckpoint()).toBeNull();
    await first.publish([event(1), event(2)], { position: '2', server: 'ldaps://127.0.0.1:3636' });
    await first.publish([], { position: '5', server: 'ldaps://127.0.0.1:3636' });
    await first.disconnect();

    const restarted = new ChangePublisher(kafka, options);
    await restarted.connect();
    expect(await restarted.readCheckpoint()).toEqual({ position: '5', server: 'ldaps://127.0.0.1:3636' });
    await restarted.disconnect();
  });

  it('delivers the events keyed by entry id to read_committed consumers', async () => {
    const consumer = kafkajs.consumer({ groupId: `idsync-test-${uniqueSuffix()}`, maxWaitTimeInMs: READER_MAX_WAIT_MS, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: options.eventsTopic, fromBeginning: true });
    const seen: { key: string; eventId: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${seen.length} events within 30 s`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const decoded = decodeEntryChange(message.value);
          seen.push({ key: message.key?.toString() ?? '', eventId: decoded.eventId });
          if (seen.length === 2) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(seen.map((s) => s.eventId).sort()).toEqual(['cn:1', 'cn:2']);
    expect(seen.find((s) => s.eventId === 'cn:1')?.key).toBe(event(1).entryId.value);
  });

  it('fences an older instance once a new one connects, so two pods never both advance the position', async () => {
    const old = new ChangePublisher(kafka, options);
    await old.connect();
    const replacement = new ChangePublisher(kafka, options);
    await replacement.connect();
    await expect(old.publish([event(9)], { position: '9', server: 'x' })).rejects.toThrow();
    await replacement.publish([], { position: '10', server: 'ldaps://127.0.0.1:3636' });
    await old.disconnect().catch(() => undefined);
    await replacement.disconnect();
    // The next pod resumes from the replacement's position, not the fenced one's. (Read by a new instance: its
    // connect waits until the coordinator has completed the last transaction; until then an offset fetch may still
    // return the position before it.)
    const next = new ChangePublisher(kafka, options);
    await next.connect();
    expect((await next.readCheckpoint())?.position).toBe('10');
    await next.disconnect();
  });
});

/**
 * A detector's batch (a DirSync page, a run of change numbers) against the broker's size limits: requests split under
 * the events topic's max.message.bytes, an event that cannot fit dead-lettered with a reference, a big batch in
 * several transactions with the checkpoint in the last.
 */
describe('ChangePublisher: batches under the broker size limits', () => {
  const config = stackConfig();
  const { client: kafka, kafkajs } = testKafka(config.kafka, 'idsync-test');
  const suffix = uniqueSuffix();
  const options = {
    detector: 'ad-detector',
    source: `size-${suffix}`,
    eventsTopic: `idsync.test.size-events.${suffix}`,
    checkpointTopic: `idsync.test.size-checkpoints.${suffix}`,
    deadLetterTopic: `idsync.test.size-dlt.${suffix}`,
  };
  const LIMIT = 50_000;

  /** An event whose description is `bytes` long. */
  const sizedEvent = (n: number, bytes: number): EntryChangeEvent => ({
    eventId: `page:${n}`,
    source: { system: 'active-directory', directory: 'ad', server: 'dc1', position: { kind: 'dirsync', cookieDigest: 'c', index: n } },
    entryId: { kind: 'objectGUID', value: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` },
    op: 'modify',
    dn: `CN=User ${n},OU=Corp,DC=example,DC=test`,
    previousDn: null,
    objectClasses: [],
    attributes: [{ name: 'description', op: 'replace', values: ['x'.repeat(bytes)] }],
    initiator: null,
    changeTime: null,
    detectedAt: 1_700_000_000_000,
    after: null,
    before: null,
  });

  async function readTopic(topic: string, count: number): Promise<{ key: string; value: Buffer | null }[]> {
    const consumer = kafkajs.consumer({ groupId: `idsync-test-${uniqueSuffix()}`, maxWaitTimeInMs: READER_MAX_WAIT_MS, readUncommitted: false });
    const seen: { key: string; value: Buffer | null }[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push({ key: message.key?.toString() ?? '', value: message.value }) });
      const deadline = Date.now() + 30_000;
      while (seen.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // anything beyond `count` would show now
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
    const admin = kafkajs.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: options.eventsTopic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(LIMIT) }] },
        { topic: options.checkpointTopic, numPartitions: 1 },
        { topic: options.deadLetterTopic, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
  });

  it('publishes a page far over the topic limit in requests under it, and dead-letters only the event that cannot fit, by reference', async () => {
    const publisher = new ChangePublisher(kafka, { ...options, maxTransactionBytes: 200_000 });
    await publisher.connect();
    try {
      // 60 events of ~10 KB (600 KB: twelve times the limit, three transactions) and one of 80 KB.
      const page = Array.from({ length: 60 }, (_, i) => sizedEvent(i, 10_000));
      page.splice(30, 0, sizedEvent(999, 80_000));
      await publisher.publish(page, { position: 'cookie-after-page', server: 'dc1' });
    } finally {
      await publisher.disconnect();
    }
    // As a restarted detector reads it: connecting fences, which waits until the last transaction is complete (its
    // offsets are written after the commit returns).
    const restarted = new ChangePublisher(kafka, { ...options, maxTransactionBytes: 200_000 });
    await restarted.connect();
    try {
      expect(await restarted.readCheckpoint()).toEqual({ position: 'cookie-after-page', server: 'dc1' });
    } finally {
      await restarted.disconnect();
    }
    const published = (await readTopic(options.eventsTopic, 60)).map((r) => decodeEntryChange(r.value).eventId);
    expect(published).toEqual(Array.from({ length: 60 }, (_, i) => `page:${i}`));
    const letters = (await readTopic(options.deadLetterTopic, 1)).map((r) => decodeDeadLetter(r.value));
    expect(letters).toEqual([expect.objectContaining({ stage: 'ad-detector', topic: options.eventsTopic, value: null, key: Buffer.from(sizedEvent(999, 1).entryId.value) })]);
    expect(letters[0]?.reason).toMatch(/^event page:999 \(modify of CN=User 999,OU=Corp,DC=example,DC=test, entry \S+\) is 8\d{4} bytes, over the limit of 49920 bytes/);
  });
});

/**
 * The state topic: each entry's latest after-image in the events' transaction, keyed like the events, a tombstone for a
 * deleted entry; the writers' own changes (not published as events) still move their entries' states.
 */
describe('ChangePublisher: entry states on the state topic', () => {
  const config = stackConfig();
  const { client: kafka, kafkajs } = testKafka(config.kafka, 'idsync-test');
  const suffix = uniqueSuffix();
  const options = {
    detector: 'ds-detector',
    source: `state-${suffix}`,
    eventsTopic: `idsync.test.state-events.${suffix}`,
    checkpointTopic: `idsync.test.state-checkpoints.${suffix}`,
    stateTopic: `idsync.test.state.${suffix}`,
  };
  const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const event = (n: number, op: EntryChangeEvent['op'], mail: string | null): EntryChangeEvent => ({
    eventId: `cn:${n}:${op}`,
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://127.0.0.1:3636', position: { kind: 'change-number', changeNumber: String(n) } },
    entryId: { kind: 'entryUUID', value: id(n) },
    op,
    dn: `uid=user${n},ou=People,dc=example,dc=com`,
    previousDn: null,
    objectClasses: [],
    attributes: [],
    initiator: null,
    changeTime: null,
    detectedAt: 1_700_000_000_000,
    after: mail === null ? null : [{ name: 'mail', values: [mail] }],
    before: null,
  });

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
    const admin = kafkajs.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: options.eventsTopic, numPartitions: 3 },
        { topic: options.checkpointTopic, numPartitions: 1 },
        { topic: options.stateTopic, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    });
    await admin.disconnect();
  });

  it('publishes the latest state per entry, tombstones deletes, leaves unread entries alone, and takes state-only changes', async () => {
    const publisher = new ChangePublisher(kafka, options);
    await publisher.connect();
    await publisher.publish(
      [event(1, 'add', 'one@example.com'), event(1, 'modify', 'one.b@example.com'), event(2, 'modify', null), event(3, 'delete', null)],
      { position: '3', server: 'ldaps://127.0.0.1:3636' },
      [event(4, 'modify', 'four@example.com')],
    );
    await publisher.disconnect();

    const consumer = kafkajs.consumer({ groupId: `idsync-test-${uniqueSuffix()}`, maxWaitTimeInMs: READER_MAX_WAIT_MS, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: options.stateTopic, fromBeginning: true });
    const states: { key: string; mail: string | null }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${states.length} state records within 30 s`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const state = message.value === null ? null : decodeEntryState(message.value);
          states.push({ key: message.key?.toString() ?? '', mail: state === null ? null : String(state.attributes[0]?.values[0]) });
          if (states.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(states.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: id(1), mail: 'one.b@example.com' },
      { key: id(3), mail: null },
      { key: id(4), mail: 'four@example.com' },
    ]);
  });
});
