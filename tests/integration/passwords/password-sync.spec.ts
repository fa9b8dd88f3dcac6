import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlreadyExistsError, Attribute, Change, type Client } from 'ldapts';
import { type Consumer, type IHeaders } from 'kafkajs';
import { decodeEntryChange, encodeWriteRequest, type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import { type DirectoryConfig } from '@idsync/config';
import { compilePipe, type CompiledPipe, mapChange, PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { createKafka, DirectoryBindError, JsonLogger, Metrics, openLdapSession, type RecordProducer, SecretRedactor, writerCredentials, type LoopRecord, type RecordOutcome } from '@idsync/platform';
import { Keyring, keyringFromConfig, sealPassword } from '@idsync/secrets';
import { bindPasswords } from '../../../services/mapper/src/record-mapper';
import { createWriteHandler, DirectoryWriter } from '@idsync/writer';
import { DsDetector } from '@idsync/detector/ds';
import { PasswordAgent } from '../../../services/password-agent/src/agent';
import { AgentLoop } from '../../../services/password-agent/src/runner';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';
import { READER_MAX_WAIT_MS, testKafka } from '../support/kafka';

/**
 * Password synchronization both ways on the local stack, in-process: the real ds-detector (sealing 389-ds's
 * unhashed#user#password), the real password agent (samba-tool user syncpasswords beside the Samba DC), the demo
 * pipes through mapChange, and the writers' core (DirectoryWriter through createWriteHandler) — every event, write
 * request and dead-letter record goes over Kafka topics made for the run, and every log line and Kafka record is
 * captured and searched for the clear passwords at the end.
 *
 * Both writers use their own accounts: the stack makes the ds-writer's account a password administrator of 389-ds
 * (passwordAdminDN), which is what lets it store the pre-hashed {CRYPT} values AD's password agent exports.
 */
const SAMBA = '/var/lib/idsync-stack/samba';

describe('password synchronization (389-ds <-> Samba AD)', () => {
  const config = stackConfig();
  const operationKeys = keyringFromConfig(config.secrets?.operationKeys ?? { current: 'none', keys: [] });
  const ad = config.directories['ad'] as DirectoryConfig;
  const ds = config.directories['ds'] as DirectoryConfig;
  const s = uniqueSuffix();
  const topics = {
    dsEvents: `idsync.test.pw.ds-events.${s}`,
    dsCheckpoints: `idsync.test.pw.ds-checkpoints.${s}`,
    adEvents: `idsync.test.pw.ad-events.${s}`,
    operations: `idsync.test.pw.operations.${s}`,
    deadLetter: `idsync.test.pw.dead-letter.${s}`,
  };
  const dsOu = `ou=pw-${s},ou=Corp,${ds.baseDn}`;
  const adOu = `OU=pw-${s},OU=Corp,${ad.baseDn}`;
  const keyring = new Keyring({ current: `k-${s}`, keys: [{ id: `k-${s}`, bytes: randomBytes(32) }] });
  const otherKey = { id: `other-${s}`, bytes: randomBytes(32) };

  // Every clear password this run uses: none of them may appear in a log line or a Kafka record.
  const clears: string[] = [];
  const password = (label: string): string => {
    const value = `Pw-${label}-${randomBytes(6).toString('hex')}!`;
    clears.push(value);
    return value;
  };
  const logLines: string[] = [];
  const logger = new JsonLogger('password-it', 'debug', new SecretRedactor([]), (line) => logLines.push(line));
  const kafka = createKafka(config.kafka, 'password-agent', logger);
  // The test's own topics and reader (kafkajs): what the product never does itself.
  const { kafkajs } = testKafka(config.kafka, `idsync-test-pw-${s}`);
  const records: { topic: string; key: Buffer | null; value: Buffer | null; headers: IHeaders | undefined }[] = [];
  const dsEvents: EntryChangeEvent[] = [];
  const adEvents: EntryChangeEvent[] = [];
  const dsMetrics = new Metrics();

  let consumer: Consumer;
  let producer: RecordProducer;
  let dsAdmin: Client;
  let adAdmin: Client;
  let detector: DsDetector;
  let detectorLoop: Promise<void>;
  let agent: PasswordAgent;
  let stateDir: string;
  let adWriter: DirectoryWriter;
  let dsWriter: DirectoryWriter;
  let dsToAd: CompiledPipe;
  let adToDs: CompiledPipe;
  let offset = 0;

  const pipe = (name: string): CompiledPipe => {
    const found = config.pipes.find((p) => p.name === name);
    if (!found) throw new Error(`config/demo.yaml has no pipe ${name}`);
    return compilePipe(found);
  };

  const waitFor = async <T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** Maps an event through a demo pipe, puts the write requests on the operations topic, applies them as a writer service would. */
  const deliver = async (
    event: EntryChangeEvent,
    through: CompiledPipe,
    writer: DirectoryWriter,
    service: 'ad-writer' | 'ds-writer',
  ): Promise<{ requests: WriteRequest[]; outcomes: RecordOutcome[] }> => {
    const result = mapChange(event, through);
    if (result.kind !== 'mapped') throw new Error(`event ${event.eventId} was not mapped: ${result.reason} ${result.detail}`);
    return apply([...result.requests], writer, service);
  };

  const apply = async (mapped: WriteRequest[], writer: DirectoryWriter, service: 'ad-writer' | 'ds-writer'): Promise<{ requests: WriteRequest[]; outcomes: RecordOutcome[] }> => {
    // Sealed passwords bound to their destination entry, as the mapper does (secrets.operationKeys).
    const requests = mapped.map((request) => bindPasswords(request, service === 'ad-writer' ? 'ad' : 'ds', operationKeys));
    const values = requests.map((request) => encodeWriteRequest(request));
    await producer.send({ topic: topics.operations, messages: requests.map((r, i) => ({ key: r.sourceEntryId.value, value: values[i] as Buffer })) });
    const handle = createWriteHandler({ service, writer, metrics: new Metrics(), logger, boundedRetry: { attempts: 2, initialDelayMs: 200 } });
    const loopRecords: LoopRecord[] = values.map((value, i) => ({ topic: topics.operations, partition: 0, offset: String(offset++), key: Buffer.from(requests[i]?.sourceEntryId.value ?? ''), value }));
    const outcomes = await handle(loopRecords);
    // Dead letters go to their topic with the reason, as the writer services' record loop does.
    const dead = outcomes.map((o, i) => ({ o, i })).filter(({ o }) => o.kind === 'dead-letter');
    if (dead.length > 0) {
      await producer.send({
        topic: topics.deadLetter,
        messages: dead.map(({ o, i }) => ({ key: loopRecords[i]?.key ?? null, value: loopRecords[i]?.value ?? null, headers: { reason: o.kind === 'dead-letter' ? o.reason : '' } })),
      });
    }
    return { requests, outcomes };
  };

  const canBind = async (directory: DirectoryConfig, name: string, dn: string, secret: string): Promise<boolean> => {
    try {
      const { client } = await openLdapSession(name, directory, { bindDn: dn, bindPassword: secret });
      await client.unbind();
      return true;
    } catch (error) {
      if (error instanceof DirectoryBindError) return false;
      throw error;
    }
  };

  const replace = (type: string, values: string[] | Buffer[]): Change => new Change({ operation: 'replace', modification: new Attribute({ type, values }) });
  const unicodePwd = (clear: string): Buffer => Buffer.from(`"${clear}"`, 'utf16le');
  const dsEventFor = (dn: string, predicate: (e: EntryChangeEvent) => boolean): Promise<EntryChangeEvent> =>
    waitFor(`a 389-ds event for ${dn}`, () => dsEvents.find((e) => e.dn.toLowerCase() === dn.toLowerCase() && predicate(e)));
  const hasPassword = (e: EntryChangeEvent): boolean => e.attributes.some((a) => a.name === PASSWORD_PSEUDO_ATTRIBUTE);

  beforeAll(async () => {
    const broker = hostPort(config.kafka.brokers[0] ?? '');
    await requireServer('Kafka', broker.host, broker.port);
    const adServer = hostPort(ad.urls[0] ?? '');
    await requireServer('Samba AD DC (LDAPS)', adServer.host, adServer.port);
    const dsServer = hostPort(ds.urls[0] ?? '');
    await requireServer('389 Directory Server (LDAPS)', dsServer.host, dsServer.port);

    const admin = kafkajs.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.dsEvents, numPartitions: 3 },
        { topic: topics.dsCheckpoints, numPartitions: 1 },
        { topic: topics.adEvents, numPartitions: 3 },
        { topic: topics.operations, numPartitions: 1 },
        { topic: topics.deadLetter, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    producer = kafka.producer();
    await producer.connect();
    consumer = kafkajs.consumer({ groupId: `idsync-test-pw-${s}`, maxWaitTimeInMs: READER_MAX_WAIT_MS, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topics: Object.values(topics).filter((t) => t !== topics.dsCheckpoints), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        records.push({ topic, key: message.key, value: message.value, headers: message.headers });
        if (topic === topics.dsEvents) dsEvents.push(decodeEntryChange(message.value));
        if (topic === topics.adEvents) adEvents.push(decodeEntryChange(message.value));
      },
    });

    dsAdmin = (await openLdapSession('ds', ds)).client;
    adAdmin = (await openLdapSession('ad', ad)).client;
    await dsAdmin.add(dsOu, { objectClass: ['top', 'organizationalUnit'], ou: `pw-${s}` });
    await adAdmin.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `pw-${s}` });

    dsToAd = pipe('ds-to-ad');
    adToDs = pipe('ad-to-ds');
    adWriter = DirectoryWriter.forService(config, 'ad-writer', { keyring });
    dsWriter = DirectoryWriter.forService(config, 'ds-writer', { keyring });

    detector = new DsDetector({
      directoryName: 'ds',
      directory: ds,
      kafka,
      eventsTopic: topics.dsEvents,
      checkpointTopic: topics.dsCheckpoints,
      checkpointSource: `pw-it-${s}`,
      pollIntervalMs: 100,
      batchSize: 50,
      includeBaseDns: [dsOu],
      ignoreInitiators: [writerCredentials(config, 'ds-writer').bindDn],
      gapGraceMs: 2_000,
      logger,
      metrics: dsMetrics,
      keyring,
    });
    detectorLoop = detector.run();
    await waitFor('the ds-detector to start', () => (detector.status().checkpoint === null ? undefined : true), 30_000);

    stateDir = mkdtempSync(join(tmpdir(), 'idsync-pw-agent-'));
    agent = new PasswordAgent({
      directoryName: 'ad',
      server: ad.urls[0] ?? 'ad',
      smbConf: `${SAMBA}/etc/smb.conf`,
      ldapiUrl: `ldapi://${SAMBA}/private/ldap_priv/ldapi`,
      stateDir,
      producer,
      topic: topics.adEvents,
      keyring,
      logger,
      metrics: new Metrics(),
      // Only this run's accounts (sAMAccountName p<suffix>...): other people's accounts never reach this test's topic.
      filter: `(&(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=512)(sAMAccountName=p${s}*))`,
    });
    await agent.initialize();
  });

  afterAll(async () => {
    await detector?.stop();
    await detectorLoop?.catch(() => undefined);
    await agent?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    await adWriter?.close();
    await dsWriter?.close();
    // A demo pipeline running against the same stack mirrors OU=Corp both ways: it may re-create what was just
    // deleted on the other side, so sweep both subtrees until both stay empty.
    const sweep = async (client: Client | undefined, base: string): Promise<number> => {
      if (!client) return 0;
      const { searchEntries } = await client.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }));
      for (const entry of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await client.del(entry.dn).catch(() => undefined);
      return searchEntries.length;
    };
    for (let round = 0; round < 5; round++) {
      const found = (await sweep(dsAdmin, dsOu)) + (await sweep(adAdmin, adOu));
      if (found === 0 && round > 0) break;
      await new Promise((r) => setTimeout(r, 1_500));
    }
    await dsAdmin?.unbind().catch(() => undefined);
    await adAdmin?.unbind().catch(() => undefined);
    await consumer?.disconnect();
    await producer?.disconnect();
    const admin = kafkajs.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  });

  const dsUser = (label: string): { dn: string; uid: string; adDn: string } => {
    const uid = `p${s}${label}`;
    return { uid, dn: `cn=${uid},${dsOu}`, adDn: `CN=${uid},${adOu}` };
  };

  it('a user created in 389-ds then given a password binds to AD with it; a changed password replaces it there', async () => {
    const user = dsUser('a');
    await dsAdmin.add(user.dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: user.uid, cn: user.uid, sn: 'Sync' });
    const add = await dsEventFor(user.dn, (e) => e.op === 'add');
    expect((await deliver(add, dsToAd, adWriter, 'ad-writer')).outcomes).toEqual([{ kind: 'done' }]);

    const first = password('a1');
    await dsAdmin.modify(user.dn, [replace('userPassword', [first])]);
    const firstEvent = await dsEventFor(user.dn, hasPassword);
    expect(firstEvent.entryId.kind).toBe('entryUUID');
    expect((await deliver(firstEvent, dsToAd, adWriter, 'ad-writer')).outcomes).toEqual([{ kind: 'done' }]);
    expect(await canBind(ad, 'ad', user.adDn, first)).toBe(true);

    const second = password('a2');
    await dsAdmin.modify(user.dn, [replace('userPassword', [second])]);
    const secondEvent = await dsEventFor(user.dn, (e) => hasPassword(e) && e.eventId !== firstEvent.eventId);
    expect((await deliver(secondEvent, dsToAd, adWriter, 'ad-writer')).outcomes).toEqual([{ kind: 'done' }]);
    expect(await canBind(ad, 'ad', user.adDn, second)).toBe(true);
    expect(await canBind(ad, 'ad', user.adDn, first)).toBe(false);
  });

  it('a 389-ds add carrying only a hashed userPassword is reported (cannot be pushed to AD), not silently dropped', async () => {
    const user = dsUser('h');
    await dsAdmin.add(user.dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: user.uid, cn: user.uid, sn: 'Sync', userPassword: password('h') });
    const add = await dsEventFor(user.dn, (e) => e.op === 'add');
    expect(hasPassword(add)).toBe(false);
    const warning = await waitFor('the hash-only warning', () => logLines.find((line) => line.includes('ds-detector.password-hash-only') && line.toLowerCase().includes(user.dn.toLowerCase())));
    expect(warning).toContain('cannot be pushed to AD');
    expect(await dsMetrics.value('idsync_detector_password_hash_only_total')).toBeGreaterThan(0);
  });

  it('a password changed in AD reaches 389-ds as a {CRYPT} hash: the new one binds there, the old one no longer does', async () => {
    const uid = `p${s}b`;
    const adDn = `CN=${uid},${adOu}`;
    const dsDn = `cn=${uid},${dsOu}`;
    const first = password('b1');
    await adAdmin.add(adDn, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: uid, cn: uid, sn: 'Sync' });
    await adAdmin.modify(adDn, [replace('unicodePwd', [unicodePwd(first)]), replace('userAccountControl', ['512'])]);
    // The directory side of the account (as ad-to-ds creates it from the ad-detector's add event).
    await dsAdmin.add(dsDn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid, cn: uid, sn: 'Sync' });

    // Also published: the accounts whose password the ad-writer set in the tests above (AD keeps no modifiersName, so
    // the agent cannot tell the writer's own changes: they come back once, and end as a rewrite of the same password).
    expect((await agent.runOnce()).published).toBeGreaterThanOrEqual(1);
    const firstEvent = await waitFor('the agent event', () => adEvents.find((e) => e.dn.toLowerCase() === adDn.toLowerCase()));
    expect(firstEvent).toMatchObject({ op: 'modify', entryId: { kind: 'objectGUID' } });
    expect((await deliver(firstEvent, adToDs, dsWriter, 'ds-writer')).outcomes).toEqual([{ kind: 'done' }]);
    expect(await canBind(ds, 'ds', dsDn, first)).toBe(true);

    // Counted for this account only: a pipeline running against the same stack mirrors OU=Corp and may replay the
    // other tests' passwords into AD at any time, which the agent then rightly publishes too.
    const eventsOfAccount = (): EntryChangeEvent[] => adEvents.filter((e) => e.dn.toLowerCase() === adDn.toLowerCase());
    const second = password('b2');
    await adAdmin.modify(adDn, [replace('unicodePwd', [unicodePwd(second)])]);
    const before = eventsOfAccount().length;
    expect((await agent.runOnce()).published).toBeGreaterThanOrEqual(1);
    const secondEvent = await waitFor('the second agent event', () => eventsOfAccount().find((e) => e.eventId !== firstEvent.eventId));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(eventsOfAccount().length).toBe(before + 1);
    expect((await deliver(secondEvent, adToDs, dsWriter, 'ds-writer')).outcomes).toEqual([{ kind: 'done' }]);
    expect(await canBind(ds, 'ds', dsDn, second)).toBe(true);
    expect(await canBind(ds, 'ds', dsDn, first)).toBe(false);
    // Nothing changed since: the next run publishes nothing for this account.
    await agent.runOnce();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(eventsOfAccount().length).toBe(before + 1);
  });

  it('a user created in AD with a password binds to 389-ds after its create and its password event are applied', async () => {
    const uid = `p${s}c`;
    const adDn = `CN=${uid},${adOu}`;
    const dsDn = `cn=${uid},${dsOu}`;
    const secret = password('c');
    await adAdmin.add(adDn, [
      new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
      new Attribute({ type: 'sAMAccountName', values: [uid] }),
      new Attribute({ type: 'cn', values: [uid] }),
      new Attribute({ type: 'sn', values: ['Created'] }),
      new Attribute({ type: 'unicodePwd', values: [unicodePwd(secret)] }),
      new Attribute({ type: 'userAccountControl', values: ['512'] }),
    ]);
    expect((await agent.runOnce()).published).toBe(1);
    const passwordEvent = await waitFor('the agent event', () => adEvents.find((e) => e.dn.toLowerCase() === adDn.toLowerCase()));
    // The ad-detector's add event for the account, as it publishes it (same objectGUID key).
    const create: EntryChangeEvent = {
      ...passwordEvent,
      eventId: `ad:create:${passwordEvent.entryId.value}`,
      op: 'add',
      attributes: [
        { name: 'sAMAccountName', op: 'replace', values: [uid] },
        { name: 'cn', op: 'replace', values: [uid] },
        { name: 'sn', op: 'replace', values: ['Created'] },
      ],
    };
    expect((await deliver(create, adToDs, dsWriter, 'ds-writer')).outcomes).toEqual([{ kind: 'done' }]);
    expect((await deliver(passwordEvent, adToDs, dsWriter, 'ds-writer')).outcomes).toEqual([{ kind: 'done' }]);
    expect(await canBind(ds, 'ds', dsDn, secret)).toBe(true);
  });

  it('an AD create that carries a sealed password makes the account disabled, sets the password, then enables it', async () => {
    const user = dsUser('d');
    const secret = password('d');
    await dsAdmin.add(user.dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: user.uid, cn: user.uid, sn: 'Sync' });
    const add = await dsEventFor(user.dn, (e) => e.op === 'add');
    // A create with its password (PingDirectory records it on adds, encrypted; the detector seals it the same way).
    const sealed = sealPassword(Buffer.from(secret), keyring.current, { entryId: add.entryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE });
    const withPassword: EntryChangeEvent = { ...add, attributes: [...add.attributes, { name: PASSWORD_PSEUDO_ATTRIBUTE, op: 'replace', values: [sealed] }] };
    const { outcomes } = await deliver(withPassword, dsToAd, adWriter, 'ad-writer');
    expect(outcomes).toEqual([{ kind: 'done' }]);
    const { searchEntries } = await adAdmin.search(user.adDn, { scope: 'base', attributes: ['userAccountControl'] });
    expect(String(searchEntries[0]?.['userAccountControl'])).toBe('512');
    expect(await canBind(ad, 'ad', user.adDn, secret)).toBe(true);
  });

  it('a tampered or wrong-key password event is dead-lettered with a reason and no value, and the password stays as it was', async () => {
    const user = dsUser('e');
    await dsAdmin.add(user.dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: user.uid, cn: user.uid, sn: 'Sync' });
    await deliver(await dsEventFor(user.dn, (e) => e.op === 'add'), dsToAd, adWriter, 'ad-writer');
    const kept = password('e1');
    await dsAdmin.modify(user.dn, [replace('userPassword', [kept])]);
    const event = await dsEventFor(user.dn, hasPassword);
    expect((await deliver(event, dsToAd, adWriter, 'ad-writer')).outcomes).toEqual([{ kind: 'done' }]);

    const mapped = mapChange(event, dsToAd);
    if (mapped.kind !== 'mapped') throw new Error('not mapped');
    const original = mapped.requests[0] as WriteRequest;
    const withValue = (value: Buffer, id: string): WriteRequest => ({
      ...original,
      requestId: `${original.requestId}/${id}`,
      attributes: [{ name: PASSWORD_PSEUDO_ATTRIBUTE, op: 'replace', values: [value] }],
    });
    const sealedValue = original.attributes.find((a) => a.name === PASSWORD_PSEUDO_ATTRIBUTE)?.values[0] as Buffer;
    const tampered = Buffer.from(sealedValue);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 20) ^ 0x40, tampered.length - 20);
    const attacker = password('e2');
    const wrongKey = sealPassword(Buffer.from(attacker), otherKey, { entryId: original.sourceEntryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE });
    // An envelope sealed for another entry, replayed onto this one.
    const replayed = sealPassword(Buffer.from(attacker), keyring.current, { entryId: { kind: 'entryUUID', value: '00000000-0000-4000-8000-000000000000' }, attribute: PASSWORD_PSEUDO_ATTRIBUTE });

    const { outcomes } = await apply([withValue(tampered, 'tampered'), withValue(wrongKey, 'wrong-key'), withValue(replayed, 'replayed')], adWriter, 'ad-writer');
    expect(outcomes.map((o) => o.kind)).toEqual(['dead-letter', 'dead-letter', 'dead-letter']);
    const reasons = outcomes.map((o) => (o.kind === 'dead-letter' ? o.reason : ''));
    expect(reasons[0]).toMatch(/tampered/);
    expect(reasons[1]).toMatch(new RegExp(`unknown-key.*'other-${s}'`));
    expect(reasons[2]).toMatch(/tampered/);
    for (const reason of reasons) expect(reason).toContain(original.sourceEntryId.value);

    const dlq = await waitFor('three dead-letter records', () => {
      const found = records.filter((r) => r.topic === topics.deadLetter);
      return found.length >= 3 ? found : undefined;
    });
    expect(dlq.map((r) => String(r.headers?.['reason'] ?? ''))).toEqual(reasons);
    expect(await canBind(ad, 'ad', user.adDn, kept)).toBe(true);
    expect(await canBind(ad, 'ad', user.adDn, attacker)).toBe(false);
  });

  // Its own block: its afterAll removes its accounts before the suite's afterAll closes the connections.
  describe('restarts', () => {
    const N = 300;
    /**
     * The restart test's accounts live outside OU=Corp, in no sync pipe's scope (pipelines running against the same
     * stack leave them alone, and they go with one subtree), except the one whose new password then goes on to 389-ds
     * through the ad-to-ds pipe.
     */
    const restartOu = `OU=pw-restart-${s},${ad.baseDn}`;
    const account = (i: number): { sam: string; dn: string } => ({ sam: `r${s}${i}`, dn: `CN=r${s}${i},${i === 1 ? adOu : restartOu}` });
    /** Every third account has no password, hence no {CRYPT} hash: the accounts an operator must hear about once. */
    const givenPassword = (i: number): boolean => i % 3 !== 0;
    const changedWhileDown = account(1);
    const changedWhileStarting = account(2);
    const restartState = mkdtempSync(join(tmpdir(), 'idsync-pw-restart-'));
    /** Agent loops this test started (stopped at the end whatever happens). */
    const running: AgentLoop[] = [];
    const restartLog: { at: number; line: string; fields: Record<string, unknown> }[] = [];
    const restartLogger = new JsonLogger('password-agent', 'debug', new SecretRedactor([]), (line) => {
      logLines.push(line);
      restartLog.push({ at: Date.now(), line, fields: JSON.parse(line) as Record<string, unknown> });
    });
    const agentFor = (initialSync: boolean, stateDir: string, agentProducer: RecordProducer): PasswordAgent =>
      new PasswordAgent({
        directoryName: 'ad',
        server: ad.urls[0] ?? 'ad',
        smbConf: `${SAMBA}/etc/smb.conf`,
        ldapiUrl: `ldapi://${SAMBA}/private/ldap_priv/ldapi`,
        stateDir,
        producer: agentProducer,
        topic: topics.adEvents,
        keyring,
        logger: restartLogger,
        metrics: new Metrics(),
        initialSync,
        filter: `(&(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=512)(sAMAccountName=r${s}*))`,
      });
    /** The agent as the service runs it (its loop), on a producer of its own (stopping the loop disconnects it). */
    const startAgent = (initialSync: boolean): { loop: AgentLoop; startedAt: number } => {
      const agentProducer = kafka.producer();
      const loop = new AgentLoop(agentFor(initialSync, restartState, agentProducer), agentProducer, restartLogger, { pollIntervalMs: 500 });
      running.push(loop);
      const startedAt = Date.now();
      void loop.start();
      return { loop, startedAt };
    };
    const passes = (since: number): Record<string, unknown>[] => restartLog.filter((l) => l.at >= since && l.fields['msg'] === 'password-agent.pass').map((l) => l.fields);
    const eventsFor = (dn: string): EntryChangeEvent[] => adEvents.filter((e) => e.dn.toLowerCase() === dn.toLowerCase());

    afterAll(async () => {
      for (const loop of running) await loop.stop().catch(() => undefined);
      rmSync(restartState, { recursive: true, force: true });
      const { searchEntries } = await adAdmin.search(restartOu, { scope: 'sub', filter: '(objectClass=*)', attributes: ['1.1'] }).catch(() => ({ searchEntries: [] }));
      for (const entry of searchEntries.sort((a, b) => b.dn.length - a.dn.length)) await adAdmin.del(entry.dn).catch(() => undefined);
    }, 300_000);

    it(`after a restart it reads only the accounts changed since its stored position, not the ${N} it read before; skipped accounts make one summary line`, async () => {
      await adAdmin.add(restartOu, { objectClass: ['top', 'organizationalUnit'], ou: `pw-restart-${s}` });
      const created = Date.now();
      for (let i = 0; i < N; i += 1) {
        const { sam, dn } = account(i);
        const attributes = [
          new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
          new Attribute({ type: 'sAMAccountName', values: [sam] }),
          new Attribute({ type: 'sn', values: ['Restart'] }),
        ];
        // Without a password the account must not require one (PASSWD_NOTREQD) to be enabled.
        if (givenPassword(i)) attributes.push(new Attribute({ type: 'unicodePwd', values: [unicodePwd(password(`r${i}`))] }), new Attribute({ type: 'userAccountControl', values: ['512'] }));
        else attributes.push(new Attribute({ type: 'userAccountControl', values: ['544'] }));
        await adAdmin.add(dn, attributes);
      }
      const withHash = [...Array(N).keys()].filter(givenPassword).length;
      process.stdout.write(`password agent restart: ${N} accounts created in ${Date.now() - created} ms\n`);

      // First start, no stored position, initialSync: a full pass reads (and publishes) every account.
      const first = startAgent(true);
      await waitFor('the first pass', () => (first.loop.status().runs >= 1 ? true : undefined), 400_000);
      const firstPassMs = Date.now() - first.startedAt;
      process.stdout.write(`password agent restart: first pass over ${N} accounts ${firstPassMs} ms\n`);
      expect(first.loop.status()).toMatchObject({ start: 'full-pass', state: 'running' });
      const [fullPass] = passes(first.startedAt);
      expect(fullPass).toMatchObject({ level: 'warn', accounts: N, published: withHash, skipped: { 'no-hash': N - withHash } });
      // One line for the accounts without a hash: none of them is named at info level or above, the first five at debug.
      const noHashDns = [...Array(N).keys()].filter((i) => !givenPassword(i)).map((i) => account(i).dn.toLowerCase());
      const naming = restartLog.filter((l) => l.fields['level'] !== 'debug' && noHashDns.some((dn) => l.line.toLowerCase().includes(dn)));
      expect(naming).toEqual([]);
      const skippedDetail = restartLog.find((l) => l.fields['msg'] === 'password-agent.pass.skipped')?.fields;
      expect(skippedDetail).toMatchObject({ level: 'debug', accounts: { 'no-hash': { more: N - withHash - 5 } } });
      await waitFor(`${withHash} password events of the full pass`, () => (adEvents.filter((e) => e.dn.includes(`CN=r${s}`)).length >= withHash ? true : undefined));
      const stored = first.loop.status().position;
      expect(stored).toMatchObject({ fromBeginning: false });
      await first.loop.stop();

      // While the agent is down: a password change (and the directory side of that account, as ad-to-ds makes it;
      // a pipeline running against the same stack may have made it already).
      const newPassword = password('r1-new');
      await adAdmin.modify(changedWhileDown.dn, [replace('unicodePwd', [unicodePwd(newPassword)])]);
      const dsDn = `cn=${changedWhileDown.sam},${dsOu}`;
      await dsAdmin
        .add(dsDn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: changedWhileDown.sam, cn: changedWhileDown.sam, sn: 'Restart' })
        .catch((error: unknown) => {
          if (!(error instanceof AlreadyExistsError)) throw error;
        });
      const eventsBefore = { down: eventsFor(changedWhileDown.dn).length, starting: eventsFor(changedWhileStarting.dn).length };

      // Restart (initialSync still true: a stored position wins), and a password changed while it is starting.
      const second = startAgent(true);
      await adAdmin.modify(changedWhileStarting.dn, [replace('unicodePwd', [unicodePwd(password('r2-new'))])]);
      const whileDown = await waitFor(
        'the password changed while the agent was down',
        () => (eventsFor(changedWhileDown.dn).length > eventsBefore.down ? eventsFor(changedWhileDown.dn).at(-1) : undefined),
        30_000,
      );
      await waitFor('the password changed while the agent was starting', () => (eventsFor(changedWhileStarting.dn).length > eventsBefore.starting ? true : undefined), 30_000);
      const resumedMs = Date.now() - second.startedAt;
      await waitFor('the first run after the restart', () => (second.loop.status().runs >= 1 ? true : undefined));
      expect(second.loop.status()).toMatchObject({ start: 'resume', state: 'running' });
      const start = restartLog.find((l) => l.at >= second.startedAt && l.fields['msg'] === 'password-agent.start')?.fields;
      expect(start).toMatchObject({ mode: 'resume', position: { highestUsn: stored?.highestUsn } });
      expect(String(start?.['note'])).toMatch(/resumed from the stored position/);
      // Only the two changed accounts were read: the passes since the restart name 2 accounts, not 300.
      await new Promise((r) => setTimeout(r, 1_500)); // a few more (empty) runs: nothing else turns up
      const since = passes(second.startedAt);
      expect(since.reduce((n, p) => n + Number(p['accounts']), 0)).toBe(2);
      expect(since.reduce((n, p) => n + Number(p['published']), 0)).toBe(2);
      await second.loop.stop();

      // The changed password reaches 389-ds: it binds there with the password set while the agent was down.
      expect((await deliver(whileDown, adToDs, dsWriter, 'ds-writer')).outcomes).toEqual([{ kind: 'done' }]);
      expect(await canBind(ds, 'ds', dsDn, newPassword)).toBe(true);
      process.stdout.write(`password agent restart: resumed start to both changes published ${resumedMs} ms (first pass ${firstPassMs} ms)\n`);
    }, 600_000);

    it('a first start without initialSync begins at the current end: it hands none of the existing accounts to the hook', async () => {
      const baselineState = mkdtempSync(join(tmpdir(), 'idsync-pw-baseline-'));
      try {
        const agent = agentFor(false, baselineState, producer);
        const started = Date.now();
        expect((await agent.initialize()).mode).toBe('baseline');
        const run = await agent.runOnce();
        const firstStartMs = Date.now() - started;
        expect(run).toMatchObject({ accounts: 0, published: 0 });
        await adAdmin.modify(account(4).dn, [replace('unicodePwd', [unicodePwd(password('r4-new'))])]);
        expect(await agent.runOnce()).toMatchObject({ accounts: 1, published: 1 });
        await agent.close();
        process.stdout.write(`password agent restart: first start without initialSync over the same ${N} accounts ${firstStartMs} ms (start + first run)\n`);
      } finally {
        rmSync(baselineState, { recursive: true, force: true });
      }
    });
  });

  it('no clear password appears in any Kafka record or log line of this run', async () => {
    // Let in-flight records arrive.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(records.length).toBeGreaterThan(10);
    expect(logLines.length).toBeGreaterThan(10);
    expect(clears.length).toBeGreaterThanOrEqual(8);
    const forms = (clear: string): Buffer[] => [
      Buffer.from(clear, 'utf8'),
      Buffer.from(clear, 'utf16le'),
      Buffer.from(Buffer.from(clear).toString('base64')),
      Buffer.from(Buffer.from(clear).toString('hex')),
    ];
    const leaks: string[] = [];
    for (const record of records) {
      const parts = [
        record.key,
        record.value,
        ...Object.entries(record.headers ?? {}).flatMap(([k, v]) => [Buffer.from(k), ...(Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x ?? '')))]),
      ];
      for (const clear of clears) {
        for (const form of forms(clear))
          if (parts.some((part) => part !== null && part !== undefined && part.includes(form))) leaks.push(`${record.topic}: a form of password ${clears.indexOf(clear)}`);
      }
    }
    for (const [index, line] of logLines.entries()) {
      for (const clear of clears) for (const form of forms(clear)) if (Buffer.from(line).includes(form)) leaks.push(`log line ${index}: a form of password ${clears.indexOf(clear)}`);
    }
    expect(leaks).toEqual([]);
    // The records did carry passwords, sealed.
    expect(records.some((r) => r.topic === topics.dsEvents && r.value?.includes(Buffer.from(PASSWORD_PSEUDO_ATTRIBUTE)))).toBe(true);
    expect(records.some((r) => r.topic === topics.adEvents)).toBe(true);
  });
});
