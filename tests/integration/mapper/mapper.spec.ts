import { type Kafka } from 'kafkajs';
import { type SyncConfig } from '@idsync/config';
import { decodeDeadLetter, decodeWriteRequest, encodeEntryChange, type AttributeChange, type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import { type KafkaClient, Metrics } from '@idsync/platform';
import { MapperService } from '../../../services/mapper/src/mapper-service';
import { stackConfig, uniqueSuffix } from '../support/stack';
import { produce, readAll, stackKafka, testLogger, type ReadRecord } from './kafka-support';

jest.setTimeout(120_000);

const JANE = '6f1c0b3e-7a2d-4c1b-9e8f-0a1b2c3d4e5f';
const SALES_TEAM = '0d9a3f52-1c4e-4b7a-8f10-2a3b4c5d6e7f';
const NO_ACCOUNT = '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const MMILLER = '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001';
const SUPPORT = '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d003';

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });
const add = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'add', values });
const del = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'delete', values });

function adEvent(n: number, entry: string, fields: Pick<EntryChangeEvent, 'op' | 'dn'> & Partial<EntryChangeEvent>): EntryChangeEvent {
  return {
    eventId: `ad:dirsync:5d41402a:${n}`,
    source: { system: 'active-directory', directory: 'ad', server: 'ldaps://127.0.0.1:636', position: { kind: 'dirsync', cookieDigest: 'sha256:5d41402abc4b2a76', index: n } },
    entryId: { kind: 'objectGUID', value: entry },
    previousDn: null,
    objectClasses: [],
    attributes: [],
    initiator: null,
    changeTime: 1_704_164_645_000 + n,
    detectedAt: 1_704_164_646_000 + n,
    after: null,
    before: null,
    ...fields,
  };
}

function dsEvent(n: number, entry: string, fields: Pick<EntryChangeEvent, 'op' | 'dn'> & Partial<EntryChangeEvent>): EntryChangeEvent {
  return {
    eventId: `ds:changelog:${n}`,
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://127.0.0.1:3636', position: { kind: 'change-number', changeNumber: String(n) } },
    entryId: { kind: 'entryUUID', value: entry },
    previousDn: null,
    objectClasses: [],
    attributes: [],
    initiator: 'cn=Directory Manager',
    changeTime: 1_704_164_700_000 + n,
    detectedAt: 1_704_164_701_000 + n,
    after: null,
    before: null,
    ...fields,
  };
}

const USER_CLASSES = ['top', 'person', 'organizationalPerson', 'user'];
const AD = 'DC=example,DC=test';

/** The detectors' events for a small scenario, in the order they are published. */
const AD_INPUT: { key: string; value: Buffer }[] = [
  // 0: Jane is created in OU=Sales.
  {
    key: JANE,
    value: encodeEntryChange(
      adEvent(1, JANE, {
        op: 'add',
        dn: `CN=Jane Doe,OU=Sales,OU=Corp,${AD}`,
        objectClasses: USER_CLASSES,
        attributes: [
          replace('sAMAccountName', 'jdoe'),
          replace('givenName', 'Jane'),
          replace('sn', 'Doe'),
          replace('cn', 'Jane Doe'),
          replace('mail', 'jane.doe@example.test'),
          replace('description', 'Sales, EMEA'),
        ],
      }),
    ),
  },
  // 1: garbage on the topic.
  { key: 'garbage', value: Buffer.from('{"not":"avro"}') },
  // 2: a user without sAMAccountName: its directory DN (uid={sAMAccountName}) cannot be built.
  {
    key: NO_ACCOUNT,
    value: encodeEntryChange(
      adEvent(3, NO_ACCOUNT, {
        op: 'add',
        dn: `CN=No Account,OU=Sales,OU=Corp,${AD}`,
        objectClasses: USER_CLASSES,
        attributes: [replace('givenName', 'No'), replace('sn', 'Account'), replace('cn', 'No Account')],
      }),
    ),
  },
  // 3: Jane joins Sales Team, and its description changes.
  {
    key: SALES_TEAM,
    value: encodeEntryChange(
      adEvent(4, SALES_TEAM, {
        op: 'modify',
        dn: `CN=Sales Team,OU=Groups,OU=Corp,${AD}`,
        objectClasses: ['top', 'group'],
        attributes: [add('member', `CN=Jane Doe,OU=Sales,OU=Corp,${AD}`), replace('description', 'Everyone in sales')],
      }),
    ),
  },
  // 4: Jane's mail changes (the detector puts sAMAccountName on every event: the DN map reads it).
  {
    key: JANE,
    value: encodeEntryChange(
      adEvent(5, JANE, {
        op: 'modify',
        dn: `CN=Jane Doe,OU=Sales,OU=Corp,${AD}`,
        objectClasses: USER_CLASSES,
        attributes: [replace('sAMAccountName', 'jdoe'), replace('mail', 'jdoe@example.test')],
      }),
    ),
  },
  // 5: AD's own Administrator: never leaves AD.
  {
    key: '1a2b3c4d-0000-4000-8000-000000000500',
    value: encodeEntryChange(
      adEvent(6, '1a2b3c4d-0000-4000-8000-000000000500', {
        op: 'modify',
        dn: `CN=Administrator,CN=Users,${AD}`,
        objectClasses: USER_CLASSES,
        attributes: [replace('sAMAccountName', 'Administrator'), replace('description', 'Built-in account')],
      }),
    ),
  },
  // 6: Jane is deleted (tombstone: last known DN, sAMAccountName kept).
  {
    key: JANE,
    value: encodeEntryChange(adEvent(7, JANE, { op: 'delete', dn: `CN=Jane Doe,OU=Sales,OU=Corp,${AD}`, objectClasses: USER_CLASSES, attributes: [replace('sAMAccountName', 'jdoe')] })),
  },
];

const DS_INPUT: { key: string; value: Buffer }[] = [
  {
    key: MMILLER,
    value: encodeEntryChange(
      dsEvent(101, MMILLER, {
        op: 'add',
        dn: 'uid=mmiller,ou=People,dc=example,dc=com',
        objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        attributes: [
          replace('uid', 'mmiller'),
          replace('givenName', 'Mary'),
          replace('sn', 'Miller'),
          replace('cn', 'Mary Miller'),
          replace('mail', 'mmiller@example.com'),
          replace('userPassword', '{SSHA512}c2VjcmV0'),
        ],
      }),
    ),
  },
  {
    key: SUPPORT,
    value: encodeEntryChange(
      dsEvent(102, SUPPORT, {
        op: 'modify',
        dn: 'cn=Support,ou=Groups,dc=example,dc=com',
        objectClasses: ['top', 'groupOfNames'],
        attributes: [add('member', 'uid=mmiller,ou=People,dc=example,dc=com'), del('member', 'uid=tnguyen,ou=People,dc=example,dc=com')],
      }),
    ),
  },
  // The ds-writer's own change (written for the ad-to-ds pipe): not sent back to AD.
  {
    key: MMILLER,
    value: encodeEntryChange(
      dsEvent(103, MMILLER, {
        op: 'modify',
        dn: 'uid=mmiller,ou=People,dc=example,dc=com',
        objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        attributes: [replace('description', 'from AD')],
        initiator: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
      }),
    ),
  },
];

/** The demo configuration with this run's own topics (one input partition, so the scenario's order is the topic's). */
function configWithTopics(base: SyncConfig, suffix: string): SyncConfig {
  const topic = (name: string, partitions: number) => ({ name: `idsync.test.mapper.${name}.${suffix}`, partitions, replicationFactor: 1 });
  return {
    ...base,
    kafka: {
      ...base.kafka,
      topics: {
        adChanges: topic('ad-changes', 1),
        dsChanges: topic('ds-changes', 1),
        adOperations: topic('ad-operations', 3),
        dsOperations: topic('ds-operations', 3),
        deadLetter: topic('dead-letter', 1),
        checkpoints: topic('checkpoints', 1),
        links: topic('links', 3),
      },
    },
  };
}

describe('mapper service: change topics in, operation topics out (uid pipes, real Kafka)', () => {
  let kafka: Kafka;
  let client: KafkaClient;
  const base = stackConfig({ pipesFile: 'tests/fixtures/uid-pipes.yaml' });
  const run = uniqueSuffix();
  const config = configWithTopics(base, run);
  const replayConfig: SyncConfig = {
    ...config,
    kafka: {
      ...config.kafka,
      topics: {
        ...config.kafka.topics,
        adOperations: { ...config.kafka.topics.adOperations, name: `${config.kafka.topics.adOperations.name}.replay` },
        dsOperations: { ...config.kafka.topics.dsOperations, name: `${config.kafka.topics.dsOperations.name}.replay` },
        deadLetter: { ...config.kafka.topics.deadLetter, name: `${config.kafka.topics.deadLetter.name}.replay` },
      },
    },
  };
  const services: MapperService[] = [];
  const metrics = new Metrics();
  const { logger, lines } = testLogger();

  let dsOps: ReadRecord[];
  let adOps: ReadRecord[];
  let letters: ReadRecord[];

  beforeAll(async () => {
    ({ client, kafkajs: kafka } = await stackKafka());
    const mapper = new MapperService({ kafka: client, config, logger, metrics, groupId: `idsync-test-mapper-${run}` });
    services.push(mapper);
    await mapper.start();
    await produce(kafka, config.kafka.topics.adChanges.name, AD_INPUT);
    await produce(kafka, config.kafka.topics.dsChanges.name, DS_INPUT);
    [dsOps, adOps, letters] = await Promise.all([
      readAll(kafka, config.kafka.topics.dsOperations.name, 5),
      readAll(kafka, config.kafka.topics.adOperations.name, 2),
      readAll(kafka, config.kafka.topics.deadLetter.name, 2),
    ]);
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    if (!kafka) return;
    const admin = kafka.admin();
    await admin.connect();
    const names = [...Object.values(config.kafka.topics), ...Object.values(replayConfig.kafka.topics)].map((t) => t.name);
    const existing = new Set(await admin.listTopics());
    await admin.deleteTopics({ topics: [...new Set(names)].filter((name) => existing.has(name)) });
    await admin.disconnect();
  });

  const requests = (records: ReadRecord[]): (WriteRequest & { key: string })[] => records.map((record) => ({ ...decodeWriteRequest(record.value), key: record.key?.toString() ?? '' }));
  const byEvent = (records: ReadRecord[], eventId: string) => requests(records).filter((r) => r.sourceEventId === eventId);
  const attribute = (request: WriteRequest | undefined, name: string) => request?.attributes.find((a) => a.name === name);

  it('maps an AD user to uid=<sAMAccountName> in ou=People, keyed by its objectGUID', () => {
    const [upsert, ...more] = byEvent(dsOps, 'ad:dirsync:5d41402a:1');
    expect(more).toEqual([]);
    expect(upsert).toMatchObject({
      key: JANE,
      requestId: 'ad:dirsync:5d41402a:1/ad-to-ds/0',
      pipe: 'ad-to-ds',
      op: 'upsert',
      dn: 'uid=jdoe,ou=People,dc=example,dc=com',
      objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      correlation: [['uid'], ['mail']],
      sourceEntryId: { kind: 'objectGUID', value: JANE },
    });
    expect(attribute(upsert, 'uid')).toEqual(replace('uid', 'jdoe'));
    expect(attribute(upsert, 'cn')).toEqual(replace('cn', 'Jane Doe'));
    expect(attribute(upsert, 'mail')).toEqual(replace('mail', 'jane.doe@example.test'));
    expect(attribute(upsert, 'description')).toEqual(replace('description', 'Sales, EMEA'));
  });

  it('maps modifies and deletes after records that went to the dead-letter topic, in order', () => {
    const fromJane = requests(dsOps).filter((r) => r.key === JANE);
    expect(fromJane.map((r) => `${r.sourceEventId} ${r.op}`)).toEqual(['ad:dirsync:5d41402a:1 upsert', 'ad:dirsync:5d41402a:5 modify', 'ad:dirsync:5d41402a:7 delete', 'ad:dirsync:5d41402a:7 unlink']);
    expect(attribute(fromJane[1], 'mail')).toEqual(replace('mail', 'jdoe@example.test'));
    expect(fromJane[2]?.dn).toBe('uid=jdoe,ou=People,dc=example,dc=com');
    expect(fromJane[3]).toMatchObject({ op: 'unlink', previousDn: 'uid=jdoe,ou=People,dc=example,dc=com', attributes: [del('member', 'uid=jdoe,ou=People,dc=example,dc=com')] });
  });

  it('maps a directory group member change to AD member DNs, and a directory user to AD', () => {
    const [group] = byEvent(adOps, 'ds:changelog:102');
    expect(group).toMatchObject({ key: SUPPORT, op: 'modify', dn: `CN=Support,OU=Groups,OU=Corp,${AD}`, correlation: [['sAMAccountName'], ['mail']] });
    expect(group?.attributes).toEqual([add('member', `CN=mmiller,OU=Corp,${AD}`), del('member', `CN=tnguyen,OU=Corp,${AD}`)]);

    const [user] = byEvent(adOps, 'ds:changelog:101');
    expect(user).toMatchObject({ key: MMILLER, op: 'upsert', dn: `CN=mmiller,OU=Corp,${AD}`, objectClasses: ['top', 'person', 'organizationalPerson', 'user'] });
    expect(attribute(user, 'sAMAccountName')).toEqual(replace('sAMAccountName', 'mmiller'));
    expect(user?.attributes.map((a) => a.name.toLowerCase())).not.toContain('unicodepwd');
  });

  it('maps an AD group change; AD member DNs cannot become uid= DNs and are left out with a warning', () => {
    const [group, ...more] = byEvent(dsOps, 'ad:dirsync:5d41402a:4');
    expect(more).toEqual([]);
    expect(group).toMatchObject({ key: SALES_TEAM, op: 'modify', dn: 'cn=Sales Team,ou=Groups,dc=example,dc=com', attributes: [replace('description', 'Everyone in sales')] });
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'mapper.warning', eventId: 'ad:dirsync:5d41402a:4', pipe: 'ad-to-ds' }));
  });

  it('sends an undecodable record and an unmappable event to the dead-letter topic with the reason', () => {
    const decoded = letters.map((record) => ({ ...decodeDeadLetter(record.value), key: record.key?.toString() }));
    expect(decoded).toEqual([
      expect.objectContaining({
        key: 'garbage',
        stage: 'mapper',
        topic: config.kafka.topics.adChanges.name,
        partition: 0,
        offset: '1',
        value: AD_INPUT[1]?.value,
        reason: expect.stringMatching(/^undecodable entry-change record \(magic-byte\)/),
      }),
      expect.objectContaining({
        key: NO_ACCOUNT,
        stage: 'mapper',
        offset: '2',
        value: AD_INPUT[2]?.value,
        reason: expect.stringMatching(/cannot map event ad:dirsync:5d41402a:3 .*needs attribute sAMAccountName/),
      }),
    ]);
  });

  it('counts dropped events by pipe and reason', async () => {
    expect(await metrics.value('idsync_mapper_events_dropped_total', { pipe: 'ds-to-ad', reason: 'ignored-initiator' })).toBe(1);
    expect(await metrics.value('idsync_mapper_events_dropped_total', { pipe: 'ad-to-ds', reason: 'no-sync-class' })).toBe(1);
  });

  it('never writes a password value to a log line', () => {
    expect(JSON.stringify(lines)).not.toContain('c2VjcmV0');
  });

  it('gives byte-identical output when the input is replayed from offset 0 by a new group', async () => {
    const replay = new MapperService({ kafka: client, config: replayConfig, logger, metrics: new Metrics(), groupId: `idsync-test-mapper-replay-${run}` });
    services.push(replay);
    await replay.start();
    const [dsAgain, adAgain, lettersAgain] = await Promise.all([
      readAll(kafka, replayConfig.kafka.topics.dsOperations.name, 5),
      readAll(kafka, replayConfig.kafka.topics.adOperations.name, 2),
      readAll(kafka, replayConfig.kafka.topics.deadLetter.name, 2),
    ]);
    const bytes = (records: ReadRecord[]) => records.map((r) => ({ partition: r.partition, key: r.key?.toString('hex'), value: r.value?.toString('hex') }));
    expect(bytes(dsAgain)).toEqual(bytes(dsOps));
    expect(bytes(adAgain)).toEqual(bytes(adOps));
    // Dead letters carry the time they failed; everything else about them is the same.
    const stable = (records: ReadRecord[]) => records.map((r) => ({ ...decodeDeadLetter(r.value), failedAt: 0 }));
    expect(stable(lettersAgain)).toEqual(stable(letters));
  });
});
