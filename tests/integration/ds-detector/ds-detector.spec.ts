import { randomBytes } from 'node:crypto';
import { Attribute, Change, type Client } from 'ldapts';
import { type Consumer } from 'kafkajs';
import { decodeEntryChange, type EntryChangeEvent } from '@idsync/contracts';
import { ChangePublisher, createKafka, JsonLogger, Metrics, openLdapSession, SecretRedactor, writerCredentials } from '@idsync/platform';
import { DetectorStoppedError, DsDetector, type DsDetectorOptions } from '@idsync/detector/ds';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';
import { READER_MAX_WAIT_MS, testKafka } from '../support/kafka';

/**
 * The ds-detector's loop, in-process, against the stack's 389-ds and Kafka. Each run has its own events topic and its
 * own checkpoint identity; entries are uniquely named, so other people's writes to the same server never interfere.
 */
describe('ds-detector: cn=changelog of 389-ds to Kafka', () => {
  const config = stackConfig();
  const ds = config.directories['ds'];
  if (!ds) throw new Error('config/demo.yaml defines no directory named ds');
  const suffix = uniqueSuffix();
  const eventsTopic = `idsync.test.ds-events.${suffix}`;
  const checkpointTopic = `idsync.test.ds-checkpoints.${suffix}`;
  const people = `ou=People,${ds.baseDn}`;
  const groups = `ou=Groups,${ds.baseDn}`;
  const writer = writerCredentials(config, 'ds-writer');
  const logLines: string[] = [];
  const logger = new JsonLogger('ds-detector-test', 'debug', new SecretRedactor([]), (line) => logLines.push(line));
  const kafka = createKafka(config.kafka, 'ds-detector', logger);
  // The test's own topics and reader (kafkajs): what the product never does itself.
  const { kafkajs } = testKafka(config.kafka, 'idsync-test-ds-detector');
  const received: EntryChangeEvent[] = [];
  const created: string[] = [];
  let consumer: Consumer;
  let admin: Client;
  let writing: Client;

  const detector = (overrides: Partial<DsDetectorOptions> = {}): { detector: DsDetector; metrics: Metrics } => {
    const metrics = new Metrics();
    const instance = new DsDetector({
      directoryName: 'ds',
      directory: ds,
      kafka,
      eventsTopic,
      checkpointTopic,
      checkpointSource: `ds-it-${suffix}`,
      pollIntervalMs: 100,
      batchSize: 20,
      includeBaseDns: [people, groups],
      ignoreInitiators: [writer.bindDn],
      gapGraceMs: 3_000,
      retryInitialMs: 100,
      retryMaxMs: 1_000,
      logger,
      metrics,
      ...overrides,
    });
    return { detector: instance, metrics };
  };

  const started = async (instance: DsDetector): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (instance.status().checkpoint === null) {
      if (Date.now() > deadline) throw new Error(`detector did not start: ${JSON.stringify(instance.status())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const eventsFor = (predicate: (e: EntryChangeEvent) => boolean): EntryChangeEvent[] => received.filter(predicate);
  const waitForEvents = async (predicate: (e: EntryChangeEvent) => boolean, count: number, timeoutMs = 60_000): Promise<EntryChangeEvent[]> => {
    const deadline = Date.now() + timeoutMs;
    while (eventsFor(predicate).length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} events, got ${eventsFor(predicate).length} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 300));
    return eventsFor(predicate);
  };

  const entryUuid = async (dn: string): Promise<string> => {
    const { searchEntries } = await admin.search(dn, { scope: 'base', attributes: ['entryUUID'] });
    return String(searchEntries[0]?.['entryUUID']);
  };

  const addUser = async (uid: string, parent = people, client = admin): Promise<string> => {
    const dn = `uid=${uid},${parent}`;
    await client.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid, cn: `Test ${uid}`, sn: 'Test', mail: [`${uid}@example.com`] });
    created.push(dn);
    return dn;
  };

  const replace = (type: string, values: string[]): Change => new Change({ operation: 'replace', modification: new Attribute({ type, values }) });

  beforeAll(async () => {
    const broker = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', broker.host, broker.port);
    const server = hostPort(ds.urls[0] ?? '');
    await requireServer('389 Directory Server (LDAPS)', server.host, server.port);
    const kafkaAdmin = kafkajs.admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: eventsTopic, numPartitions: 3 },
        { topic: checkpointTopic, numPartitions: 1 },
      ],
    });
    await kafkaAdmin.disconnect();
    admin = (await openLdapSession('ds', ds)).client;
    writing = (await openLdapSession('ds', ds, writer)).client;
    consumer = kafkajs.consumer({ groupId: `idsync-test-ds-detector-${suffix}`, maxWaitTimeInMs: READER_MAX_WAIT_MS, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic: eventsTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = decodeEntryChange(message.value);
        expect(message.key?.toString()).toBe(event.entryId.value);
        received.push(event);
      },
    });
  });

  afterAll(async () => {
    for (const dn of [...created].reverse()) await admin?.del(dn).catch(() => undefined);
    await consumer?.disconnect();
    await admin?.unbind();
    await writing?.unbind();
    const kafkaAdmin = kafkajs.admin();
    await kafkaAdmin.connect();
    await kafkaAdmin.deleteTopics({ topics: [eventsTopic, checkpointTopic] }).catch(() => undefined);
    await kafkaAdmin.disconnect();
  });

  it('publishes add, single- and multi-valued modify, member add and remove, rename, move and delete as events', async () => {
    const { detector: running } = detector();
    const loop = running.run();
    await started(running);
    const uid = `it-${suffix}`;
    const ou = `ou=it-${suffix},${people}`;
    const userDn = await addUser(uid);
    const uuid = await entryUuid(userDn);
    await admin.modify(userDn, [replace('title', ['Engineer'])]);
    await admin.modify(userDn, [
      new Change({ operation: 'add', modification: new Attribute({ type: 'mail', values: [`${uid}.two@example.com`, `${uid}.three@example.com`] }) }),
      new Change({ operation: 'delete', modification: new Attribute({ type: 'mail', values: [`${uid}@example.com`] }) }),
      replace('telephoneNumber', ['+1 555 0100', '+1 555 0101']),
    ]);
    const groupDn = `cn=it-group-${suffix},${groups}`;
    await admin.add(groupDn, { objectClass: ['top', 'groupOfNames'], cn: `it-group-${suffix}`, member: [`uid=mmiller,${people}`] });
    created.push(groupDn);
    const groupUuid = await entryUuid(groupDn);
    await admin.modify(groupDn, [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn] }) })]);
    await admin.modify(groupDn, [new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [`uid=mmiller,${people}`] }) })]);
    const secret = randomBytes(16).toString('hex');
    await admin.modify(userDn, [replace('userPassword', [secret])]);
    await admin.modifyDN(userDn, `uid=${uid}-renamed`);
    const renamedDn = `uid=${uid}-renamed,${people}`;
    await admin.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `it-${suffix}` });
    created.push(ou);
    await admin.modifyDN(renamedDn, `uid=${uid}-renamed,${ou}`);
    const movedDn = `uid=${uid}-renamed,${ou}`;
    await admin.del(movedDn);

    const userEvents = await waitForEvents((e) => e.entryId.value === uuid, 7);
    const groupEvents = await waitForEvents((e) => e.entryId.value === groupUuid, 3);
    await running.stop();
    await loop;

    expect(userEvents.map((e) => e.op)).toEqual(['add', 'modify', 'modify', 'modify', 'rename', 'rename', 'delete']);
    const [added, single, multi, password, renamed, moved, deleted] = userEvents as [EntryChangeEvent, ...EntryChangeEvent[]] & EntryChangeEvent[];
    expect(added).toMatchObject({ dn: userDn, previousDn: null, entryId: { kind: 'entryUUID', value: uuid }, objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'] });
    expect(added.attributes).toContainEqual({ name: 'mail', op: 'replace', values: [`${uid}@example.com`] });
    expect(single?.attributes).toEqual([{ name: 'title', op: 'replace', values: ['Engineer'] }]);
    expect(single?.objectClasses.map((c) => c.toLowerCase())).toContain('inetorgperson');
    expect(multi?.attributes).toEqual([
      { name: 'mail', op: 'add', values: [`${uid}.two@example.com`, `${uid}.three@example.com`] },
      { name: 'mail', op: 'delete', values: [`${uid}@example.com`] },
      { name: 'telephoneNumber', op: 'replace', values: ['+1 555 0100', '+1 555 0101'] },
    ]);
    expect(password?.attributes.map((a) => a.name)).toEqual(['userPassword']);
    expect(JSON.stringify(password?.attributes[0]?.values)).not.toContain(secret);
    expect(renamed).toMatchObject({ dn: renamedDn, previousDn: userDn });
    expect(renamed?.attributes).toEqual([
      { name: 'uid', op: 'delete', values: [uid] },
      { name: 'uid', op: 'add', values: [`${uid}-renamed`] },
    ]);
    expect(moved).toMatchObject({ dn: movedDn, previousDn: renamedDn, attributes: [] });
    expect(deleted).toMatchObject({ dn: movedDn, previousDn: null, attributes: [] });
    expect(deleted?.objectClasses).toContain('inetOrgPerson');

    expect(groupEvents.map((e) => e.op)).toEqual(['add', 'modify', 'modify']);
    expect(groupEvents[1]?.attributes).toEqual([{ name: 'member', op: 'add', values: [userDn] }]);
    expect(groupEvents[2]?.attributes).toEqual([{ name: 'member', op: 'delete', values: [`uid=mmiller,${people}`] }]);

    for (const event of [...userEvents, ...groupEvents]) {
      expect(event.source).toMatchObject({ system: 'ldap', directory: 'ds', server: ds.urls[0] });
      expect(event.eventId).toBe(`ds:${event.source.position.kind === 'change-number' ? event.source.position.changeNumber : '?'}`);
      expect(event.initiator === null || event.initiator === 'cn=directory manager').toBe(true);
    }
    expect(logLines.join('\n')).not.toContain(secret);
  });

  it("does not publish the writer account's own changes, and counts them", async () => {
    const { detector: running, metrics } = detector();
    const loop = running.run();
    await started(running);
    const dn = await addUser(`it-w-${suffix}`);
    const uuid = await entryUuid(dn);
    await writing.modify(dn, [replace('description', ['written by idsync-writer'])]);
    await admin.modify(dn, [replace('title', ['after the writer'])]);
    const events = await waitForEvents((e) => e.entryId.value === uuid, 2);
    await running.stop();
    await loop;
    expect(events.map((e) => e.op)).toEqual(['add', 'modify']);
    expect(events[1]?.attributes).toEqual([{ name: 'title', op: 'replace', values: ['after the writer'] }]);
    expect(events.some((e) => e.attributes.some((a) => a.name === 'description'))).toBe(false);
    expect(await metrics.value('idsync_detector_changes_skipped_total', { reason: 'initiator' })).toBeGreaterThan(0);
  });

  it('loses nothing when killed abruptly while changes stream in and restarted: the new instance resumes from the checkpoint', async () => {
    const dn = await addUser(`it-k-${suffix}`);
    const uuid = await entryUuid(dn);
    const first = detector({ batchSize: 5 });
    const loop = first.detector.run();
    await started(first.detector);
    for (let n = 1; n <= 15; n++) await admin.modify(dn, [replace('description', [`k${n}`])]);
    await waitForEvents((e) => e.entryId.value === uuid, 3);
    await first.detector.kill();
    await loop;
    const checkpointAtKill = await readCheckpoint();
    for (let n = 16; n <= 30; n++) await admin.modify(dn, [replace('description', [`k${n}`])]);

    const second = detector({ batchSize: 5 });
    const loop2 = second.detector.run();
    await waitForEvents((e) => e.entryId.value === uuid, 30);
    await second.detector.stop();
    await loop2;
    expect(logLines.some((l) => l.includes('"ds-detector.resumed"') && l.includes(`"after":"${checkpointAtKill}"`))).toBe(true);
    expect(descriptions(uuid)).toEqual(Array.from({ length: 30 }, (_, k) => `k${k + 1}`));
  });

  it('loses nothing when its LDAP connection and Kafka producer are cut mid-batch: the batch is read again and published once', async () => {
    const dn = await addUser(`it-m-${suffix}`);
    const uuid = await entryUuid(dn);
    let cut = 0;
    const { detector: running, metrics } = detector({
      batchSize: 4,
      afterRead: async ({ reader, publisher, entries }) => {
        if (entries === 0 || cut >= 2 || descriptionsWritten === 0) return;
        cut += 1;
        await Promise.all([reader.connection.unbind(), publisher.disconnect()]);
      },
    });
    let descriptionsWritten = 0;
    const loop = running.run();
    await started(running);
    for (let n = 1; n <= 12; n++) {
      await admin.modify(dn, [replace('description', [`m${n}`])]);
      descriptionsWritten = n;
    }
    await waitForEvents((e) => e.entryId.value === uuid && e.op === 'modify', 12);
    await running.stop();
    await loop;
    expect(cut).toBe(2);
    expect(await metrics.value('idsync_detector_errors_total', { action: 'retry' })).toBeGreaterThan(0);
    expect(descriptions(uuid)).toEqual(Array.from({ length: 12 }, (_, k) => `m${k + 1}`));
  });

  it('finishes and commits the batch in flight when stopped (SIGTERM)', async () => {
    const dn = await addUser(`it-s-${suffix}`);
    const uuid = await entryUuid(dn);
    let stopping: Promise<void> | null = null;
    const { detector: running } = detector({
      afterRead: async ({ entries }) => {
        if (entries > 0 && stopping === null && written) stopping = running.stop();
      },
    });
    let written = false;
    const loop = running.run();
    await started(running);
    await admin.modify(dn, [replace('description', ['s1'])]);
    written = true;
    await loop;
    // Assigned in the callback above: the checker, which does not follow that, would narrow it to null here.
    await (stopping as Promise<void> | null);
    const events = await waitForEvents((e) => e.entryId.value === uuid && e.op === 'modify', 1, 20_000);
    expect(events[0]?.attributes).toEqual([{ name: 'description', op: 'replace', values: ['s1'] }]);
    expect(running.status().state).toBe('stopped');
  });

  it('stops with a resync message when its checkpoint cannot be continued from, instead of skipping changes', async () => {
    const source = `ds-it-ahead-${suffix}`;
    const publisher = new ChangePublisher(kafka, { detector: 'ds-detector', source, eventsTopic, checkpointTopic });
    await publisher.connect();
    const { searchEntries } = await admin.search('', { scope: 'base', attributes: ['lastchangenumber'] });
    const ahead = Number(searchEntries[0]?.['lastchangenumber']) + 1_000_000;
    await publisher.publish([], { position: String(ahead), server: ds.urls[0] ?? '' });
    await publisher.disconnect();
    const { detector: running } = detector({ checkpointSource: source });
    const failure = await running.run().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DetectorStoppedError);
    expect((failure as DetectorStoppedError).resyncNeeded).toBe(true);
    expect((failure as Error).message).toMatch(/ahead of the server's lastChangeNumber.*a resync is needed/);
    expect(running.status().state).toBe('failed');
  });

  it('refuses to resume on a changelog that has another change at its checkpoint (another replica, a re-created changelog); resumes where it is the same', async () => {
    const source = `ds-it-anchor-${suffix}`;
    const { detector: first } = detector({ checkpointSource: source });
    const firstLoop = first.run();
    await started(first);
    const dn = await addUser(`it-an-${suffix}`);
    const uuid = await entryUuid(dn);
    await admin.modify(dn, [replace('description', ['an1'])]);
    await waitForEvents((e) => e.entryId.value === uuid && e.op === 'modify', 1);
    await first.stop();
    await firstLoop;

    const reading = new ChangePublisher(kafka, { detector: 'ds-detector', source, eventsTopic, checkpointTopic });
    await reading.connect();
    const stored = await reading.readCheckpoint();
    await reading.disconnect();
    if (stored === null) throw new Error('no checkpoint after a published batch');
    expect(stored.anchor).toMatch(new RegExp(`^${stored.position}:[0-9a-f]{16}$`));

    // The same server: it resumes.
    const { detector: again } = detector({ checkpointSource: source });
    const againLoop = again.run();
    await started(again);
    expect(again.status().state).not.toBe('failed');
    await again.stop();
    await againLoop;

    // The checkpoint's change number names another change here: stop, never skip or repeat changes silently.
    const publisher = new ChangePublisher(kafka, { detector: 'ds-detector', source, eventsTopic, checkpointTopic });
    await publisher.connect();
    await publisher.publish([], { position: stored.position, server: 'ldaps://another-replica:636', anchor: `${stored.position}:0123456789abcdef` });
    await publisher.disconnect();
    const { detector: foreign } = detector({ checkpointSource: source });
    const failure = await foreign.run().then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DetectorStoppedError);
    expect((failure as DetectorStoppedError).kind).toBe('foreign-changelog');
    expect((failure as Error).message).toMatch(new RegExp(`change ${stored.position} is not the change .* has at that number.*another server`));
    expect(foreign.status().state).toBe('failed');
  });

  function descriptions(uuid: string): string[] {
    return received.filter((e) => e.entryId.value === uuid && e.op === 'modify').flatMap((e) => e.attributes.filter((a) => a.name === 'description').flatMap((a) => a.values.map(String)));
  }

  async function readCheckpoint(): Promise<string | undefined> {
    const publisher = new ChangePublisher(kafka, { detector: 'ds-detector', source: `ds-it-${suffix}`, eventsTopic, checkpointTopic });
    await publisher.connect();
    try {
      return (await publisher.readCheckpoint())?.position;
    } finally {
      await publisher.disconnect();
    }
  }
});
