import { randomUUID } from 'node:crypto';
import { encodeLink, type EntryLink, linkKey } from '@idsync/contracts';
import { LinkRegistry, LinksView, LinkStore } from '@idsync/links';
import { createKafka, JsonLogger, type KafkaAdmin, type KafkaClient, type RecordProducer, SecretRedactor } from '@idsync/platform';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';

/**
 * A writer's view of the links topic on the real Kafka: what is on the topic at start is loaded (latest record per
 * key, tombstones retire pairs), what others publish later is seen after catchUp(), and a registry's flush puts its
 * links on the topic for every other view.
 */

const config = stackConfig();
const logger = new JsonLogger('links-test', 'warn', new SecretRedactor([]), () => undefined);
const link = (source = randomUUID(), destination = randomUUID()): EntryLink => ({
  pipe: 'ad-to-ds',
  source: { directory: 'ad', kind: 'objectGUID', value: source },
  destination: { directory: 'ds', kind: 'entryUUID', value: destination },
  origin: 'created',
  linkedAt: Date.now(),
  linkedBy: 'ds-writer',
});

describe('LinksView on the real Kafka', () => {
  const topic = `idsync.test.links.${uniqueSuffix()}`;
  let kafka: KafkaClient;
  let producer: RecordProducer;
  const opened: { view: LinksView; store: LinkStore }[] = [];
  const openView = async (): Promise<{ view: LinksView; store: LinkStore }> => {
    const store = LinkStore.open();
    const view = new LinksView({ kafka, topic, store, logger, groupPrefix: `idsync-test-${uniqueSuffix()}`, catchUpTimeoutMs: 10_000 });
    opened.push({ view, store });
    await view.start();
    return { view, store };
  };

  beforeAll(async () => {
    const { host, port } = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', host, port);
    kafka = createKafka(config.kafka, 'ad-writer');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ name: topic, partitions: 3, replicationFactor: 1, config: { 'cleanup.policy': 'compact' } }]);
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    for (const { view, store } of opened) {
      await view.stop();
      store.close();
    }
    await producer?.disconnect();
  });

  it('loads what the topic holds at start: the latest record per key, tombstones retiring their pair, foreign values skipped', async () => {
    const kept = link();
    const replacedBefore = link();
    const replacedAfter = { ...replacedBefore, origin: 'dn' as const };
    const removed = link();
    await producer.send({
      topic,
      messages: [
        { key: linkKey(kept), value: encodeLink(kept) },
        { key: linkKey(replacedBefore), value: encodeLink(replacedBefore) },
        { key: linkKey(removed), value: encodeLink(removed) },
        { key: linkKey(replacedAfter), value: encodeLink(replacedAfter) },
        { key: linkKey(removed), value: null },
        { key: 'not-a-link', value: Buffer.from('{"json":true}') },
      ],
    });
    const { view, store } = await openView();
    expect(view.status()).toMatchObject({ state: 'following', links: 2, retired: 1, skipped: 1 });
    expect(store.counterpart('ad', kept.source.value, 'ds')?.destination.value).toBe(kept.destination.value);
    expect(store.counterpart('ds', kept.destination.value, 'ad')?.source.value).toBe(kept.source.value);
    expect(store.counterpart('ad', replacedBefore.source.value, 'ds')?.origin).toBe('dn');
    expect(store.counterpart('ad', removed.source.value, 'ds')).toBeNull();
    expect(store.retired(removed.destination.value)).toHaveLength(1);
  });

  it('sees links another writer publishes once catchUp() returns, and its own links reach every other view', async () => {
    const first = await openView();
    const second = await openView();
    const registry = new LinkRegistry({ store: first.store, view: first.view, producer, topic, service: 'ds-writer' });
    const fresh = link();
    registry.link(fresh);
    expect(first.store.counterpart('ad', fresh.source.value, 'ds')).not.toBeNull(); // its own view at once
    expect(registry.pending).toBe(1);
    await registry.flush();
    expect(registry.pending).toBe(0);
    await second.view.catchUp();
    expect(second.store.counterpart('ad', fresh.source.value, 'ds')).toMatchObject({ linkedBy: 'ds-writer', key: linkKey(fresh) });

    const known = first.store.counterpart('ad', fresh.source.value, 'ds');
    if (known === null) throw new Error('the link vanished from its own view');
    registry.unlink(known);
    await registry.flush();
    await second.view.catchUp();
    expect(second.store.counterpart('ad', fresh.source.value, 'ds')).toBeNull();
    expect(second.store.retired(fresh.source.value)).toHaveLength(1);
  });

  it("catchUp(maxAgeMs): a barrier passed that recently answers at once; an older one reads the topic's end again", async () => {
    let clock = 1_000_000;
    const store = LinkStore.open();
    const view = new LinksView({ kafka, topic, store, logger, groupPrefix: `idsync-test-${uniqueSuffix()}`, catchUpTimeoutMs: 10_000, now: () => clock });
    opened.push({ view, store });
    await view.start();
    await view.catchUp();
    const endReads = jest.spyOn((view as unknown as { admin: KafkaAdmin }).admin, 'topicOffsets');
    const later = link();
    await producer.send({ topic, messages: [{ key: linkKey(later), value: encodeLink(later) }] });
    clock += 150;
    await view.catchUp(200);
    expect(endReads).not.toHaveBeenCalled();
    clock += 100;
    await view.catchUp(200);
    expect(endReads).toHaveBeenCalledTimes(1);
    expect(store.counterpart('ad', later.source.value, 'ds')).not.toBeNull();
  });

  it('rebuilds the same view from the topic after a restart', async () => {
    const before = await openView();
    const again = await openView();
    expect(again.store.counts()).toEqual(before.store.counts());
    expect([...again.store.all()].map((l) => l.key).sort()).toEqual([...before.store.all()].map((l) => l.key).sort());
  });
});
