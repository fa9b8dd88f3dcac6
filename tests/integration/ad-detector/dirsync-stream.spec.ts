import { type Client } from 'ldapts';
import { type EntryChangeEvent } from '@idsync/contracts';
import { ChangePublisher, openLdapSession } from '@idsync/platform';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';
import { testKafka } from '../support/kafka';
import { type CheckpointedPublisher } from '@idsync/detector';
import { AdDetector, type AdDetectorOptions } from '@idsync/detector/ad';
import { CookieRejectedError, DcIdentity, ForeignCookieError, readDcIdentity } from '@idsync/detector/ad';
import { AdTestData, EventLog, waitUntil } from './support';

describe('ad-detector: DirSync from the Samba AD DC into Kafka', () => {
  const config = stackConfig();
  const ad = config.directories['ad'];
  if (!ad) throw new Error('config/demo.yaml defines no directory named ad');
  const { client: kafka, kafkajs } = testKafka(config.kafka, 'idsync-test-ad-detector');
  const suffix = uniqueSuffix();
  const eventsTopic = `idsync.test.ad-changes.${suffix}`;
  const checkpointTopic = `idsync.test.checkpoints.${suffix}`;
  const base = ad.baseDn;
  const scopeOu = `OU=adt-${suffix},OU=Corp,${base}`;
  const otherOu = `OU=moved,${scopeOu}`;
  const outsideOu = `OU=adt-out-${suffix},OU=Corp,${base}`;
  const sam = (tag: string): string => `${tag}${suffix}`.slice(0, 20);

  let client: Client;
  let data: AdTestData;
  let log: EventLog;

  const options = (source: string, extra: Partial<AdDetectorOptions> = {}): AdDetectorOptions => ({
    directoryName: source,
    directory: ad,
    kafka,
    eventsTopic,
    checkpointTopic,
    includeBaseDns: [scopeOu],
    includeObjectClasses: ['user', 'group', 'organizationalUnit'],
    pollIntervalMs: 200,
    retryInitialMs: 200,
    ...extra,
  });

  /** A running detector and how to stop it. */
  function start(detector: AdDetector): { stop: () => Promise<void>; done: Promise<void> } {
    const abort = new AbortController();
    const done = detector.run(abort.signal);
    return {
      done,
      stop: async () => {
        abort.abort();
        await done;
      },
    };
  }

  const ofUser = (dn: string) => (e: EntryChangeEvent) => e.dn.toLowerCase() === dn.toLowerCase();

  beforeAll(async () => {
    const { host, port } = hostPort(ad.urls[0] ?? '');
    await requireServer('Samba AD DC (LDAPS)', host, port);
    const broker = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', broker.host, broker.port);
    const admin = kafkajs.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: eventsTopic, numPartitions: 3 },
        { topic: checkpointTopic, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    ({ client } = await openLdapSession('ad', ad));
    data = new AdTestData(client);
    await data.addOu(scopeOu, `adt-${suffix}`);
    await data.addOu(otherOu, 'moved');
    await data.addOu(outsideOu, `adt-out-${suffix}`);
    log = new EventLog(kafkajs, eventsTopic);
    await log.start();
  });

  afterAll(async () => {
    await log?.stop();
    await data?.cleanup();
    await client?.unbind();
  });

  it('publishes add, modify (single- and multi-valued), member add/remove, rename, move and delete as the right events, and nothing outside includeBaseDns', async () => {
    const detector = new AdDetector(options(`ad-${suffix}`));
    const running = start(detector);
    try {
      await waitUntil('the baseline pass', () => detector.status().state === 'streaming');
      // Created before the detector started: the first start does not publish the existing domain.
      const user = `CN=Ada ${suffix},${scopeOu}`;
      await data.addUser(user, `Ada ${suffix}`, sam('a'), { description: 'hello' });
      const added = await log.waitFor('add', (e) => e.op === 'add' && ofUser(user)(e));
      expect(added.entryId.kind).toBe('objectGUID');
      expect(added.objectClasses).toContain('user');
      expect(added.attributes).toContainEqual({ name: 'description', op: 'replace', values: ['hello'] });
      expect(Buffer.isBuffer(added.attributes.find((a) => a.name === 'objectSid')?.values[0])).toBe(true);
      const guid = added.entryId.value;
      const about = (op: EntryChangeEvent['op'], attribute?: string) => (e: EntryChangeEvent) =>
        e.entryId.value === guid && e.op === op && (attribute === undefined || e.attributes.some((a) => a.name === attribute));

      await data.modify(user, 'replace', 'description', ['changed']);
      const single = await log.waitFor('single-valued modify', about('modify', 'description'));
      expect(single.attributes).toEqual([{ name: 'description', op: 'replace', values: ['changed'] }]);
      expect(single.objectClasses).toContain('user'); // learned by the re-fetch

      await data.modify(user, 'add', 'otherTelephone', ['+1 555 0100', '+1 555 0101']);
      await log.waitFor('multi-valued add', (e) => about('modify', 'otherTelephone')(e) && e.attributes[0]?.values.length === 2);
      await data.modify(user, 'delete', 'otherTelephone', ['+1 555 0100']);
      const multi = await log.waitFor('multi-valued delete', (e) => about('modify', 'otherTelephone')(e) && e.attributes[0]?.values.length === 1);
      expect(multi.attributes).toEqual([{ name: 'otherTelephone', op: 'replace', values: ['+1 555 0101'] }]);

      const group = `CN=Team ${suffix},${scopeOu}`;
      await data.addGroup(group, `Team ${suffix}`, sam('g'));
      const groupAdd = await log.waitFor('group add', (e) => e.op === 'add' && ofUser(group)(e));
      const ofGroup = (e: EntryChangeEvent) => e.entryId.value === groupAdd.entryId.value && e.op === 'modify';
      await data.modify(group, 'add', 'member', [user]);
      const memberAdd = await log.waitFor('member add', (e) => ofGroup(e) && e.attributes.some((a) => a.op === 'add'));
      expect(memberAdd.attributes).toEqual([{ name: 'member', op: 'add', values: [user] }]);
      await data.modify(group, 'delete', 'member', [user]);
      const memberDelete = await log.waitFor('member delete', (e) => ofGroup(e) && e.attributes.some((a) => a.op === 'delete'));
      expect(memberDelete.attributes).toEqual([{ name: 'member', op: 'delete', values: [user] }]);

      const renamed = `CN=Ada Renamed ${suffix},${scopeOu}`;
      await data.move(user, renamed);
      const rename = await log.waitFor('rename', (e) => about('rename')(e) && ofUser(renamed)(e));
      expect(rename.previousDn?.toLowerCase()).toBe(user.toLowerCase());

      const moved = `CN=Ada Renamed ${suffix},${otherOu}`;
      await data.move(renamed, moved);
      const move = await log.waitFor('move', (e) => about('rename')(e) && ofUser(moved)(e));
      expect(move.previousDn?.toLowerCase()).toBe(renamed.toLowerCase());

      const outside = `CN=Outsider ${suffix},${outsideOu}`;
      await data.addUser(outside, `Outsider ${suffix}`, sam('o'));
      await data.remove(moved);
      const deleted = await log.waitFor('delete', about('delete'));
      expect(deleted.dn.toLowerCase()).toBe(moved.toLowerCase());
      // The outsider was created before the delete, so its page has been read by now.
      expect(log.events.filter((e) => e.dn.toLowerCase().includes(`adt-out-${suffix}`))).toEqual([]);
      expect(detector.status().eventsPublished).toBeGreaterThanOrEqual(10);
    } finally {
      await running.stop();
    }
  });

  it('resumes from the committed cookie after a stop: changes made while it was down arrive, nothing is re-read from the start', async () => {
    const source = `ad-restart-${suffix}`;
    const first = new AdDetector(options(source));
    const one = start(first);
    await waitUntil('the baseline pass', () => first.status().state === 'streaming');
    const before = `CN=Before ${suffix},${scopeOu}`;
    await data.addUser(before, `Before ${suffix}`, sam('b'));
    await log.waitFor('add before the stop', (e) => e.op === 'add' && ofUser(before)(e) && e.source.directory === source);
    await one.stop();

    const whileDown = `CN=While Down ${suffix},${scopeOu}`;
    await data.addUser(whileDown, `While Down ${suffix}`, sam('w'));
    await data.modify(before, 'replace', 'description', ['while down']);

    const second = new AdDetector(options(source));
    const two = start(second);
    try {
      await log.waitFor('add made while down', (e) => e.op === 'add' && ofUser(whileDown)(e) && e.source.directory === source);
      await log.waitFor('modify made while down', (e) => e.op === 'modify' && ofUser(before)(e) && e.source.directory === source);
      // Resumed, not re-based: the add from before the stop was not published again.
      expect(log.events.filter((e) => e.op === 'add' && ofUser(before)(e) && e.source.directory === source)).toHaveLength(1);
    } finally {
      await two.stop();
    }
  });

  it('loses nothing when a publish is cut short by destroying the producer mid-transaction', async () => {
    const source = `ad-abort-${suffix}`;
    let cut = 0;
    let cutOutcome: unknown;
    /** Destroys the producer while the first transaction carrying events is under way. */
    const publisherFactory = (): CheckpointedPublisher => {
      const inner = new ChangePublisher(kafka, { detector: 'ad-detector', source, eventsTopic, checkpointTopic });
      return {
        checkpointGroup: inner.checkpointGroup,
        connect: () => inner.connect(),
        readCheckpoint: () => inner.readCheckpoint(),
        disconnect: () => inner.disconnect(),
        publish: async (events, checkpoint) => {
          if (events.length > 0 && cut === 0) {
            cut++;
            const publishing = inner.publish(events, checkpoint).then(
              () => 'committed',
              (error: unknown) => error,
            );
            await (inner as unknown as { producer: { disconnect(): Promise<void> } }).producer.disconnect();
            cutOutcome = await publishing;
            throw new Error('publish cut short');
          }
          await inner.publish(events, checkpoint);
        },
      };
    };
    let detector = new AdDetector(options(source, { publisherFactory }));
    let running = start(detector);
    try {
      await waitUntil('the baseline pass', () => detector.status().state === 'streaming');
      const victim = `CN=Victim ${suffix},${scopeOu}`;
      await data.addUser(victim, `Victim ${suffix}`, sam('v'));
      await waitUntil('the cut publish', () => cut === 1);
      // Whether the detector retries by itself or stops, a (re)started one must deliver the change.
      const outcome = await Promise.race([
        running.done.then(
          () => 'stopped',
          () => 'failed',
        ),
        log.waitFor('victim add', (e) => e.op === 'add' && ofUser(victim)(e) && e.source.directory === source).then(() => 'delivered'),
      ]);
      if (outcome !== 'delivered') {
        detector = new AdDetector(options(source, { publisherFactory }));
        running = start(detector);
      }
      await log.waitFor('victim add after recovery', (e) => e.op === 'add' && ofUser(victim)(e) && e.source.directory === source);
      // The cut really landed inside the transaction, which therefore never became visible: the add arrives once.
      expect(cutOutcome).toBeInstanceOf(Error);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(log.events.filter((e) => e.op === 'add' && ofUser(victim)(e) && e.source.directory === source)).toHaveLength(1);
    } finally {
      await running.stop().catch(() => undefined);
    }
  });

  it('refuses a checkpoint taken on another DC, with the way forward, instead of a silent full pass', async () => {
    const source = `ad-foreign-${suffix}`;
    const publisher = new ChangePublisher(kafka, { detector: 'ad-detector', source, eventsTopic, checkpointTopic });
    await publisher.connect();
    const other = new DcIdentity('11111111-2222-3333-4444-555555555555', 'dc2.example.test');
    await publisher.publish([], { position: Buffer.from('MSDS-cookie-of-another-dc').toString('base64'), server: other.format() });
    await publisher.disconnect();
    const run = new AdDetector(options(source)).run(new AbortController().signal);
    await expect(run).rejects.toBeInstanceOf(ForeignCookieError);
    await expect(run).rejects.toThrow(/dc2\.example\.test.*kafka-consumer-groups\.sh .*--delete --group idsync\.checkpoint\.ad-detector\./s);
  });

  it('stops with a clear error when the DC rejects the stored cookie', async () => {
    const source = `ad-corrupt-${suffix}`;
    const dc = await readDcIdentity(client);
    const publisher = new ChangePublisher(kafka, { detector: 'ad-detector', source, eventsTopic, checkpointTopic });
    await publisher.connect();
    await publisher.publish([], { position: Buffer.from('this is not a DirSync cookie at all').toString('base64'), server: dc.format() });
    await publisher.disconnect();
    const run = new AdDetector(options(source)).run(new AbortController().signal);
    await expect(run).rejects.toBeInstanceOf(CookieRejectedError);
    await expect(run).rejects.toThrow(/rejected the stored DirSync cookie.*code 12/s);
  });
});
