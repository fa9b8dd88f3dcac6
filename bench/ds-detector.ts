// needs-stack
// 389-ds → Kafka through the ds-detector: N modifies written into 389-ds over several connections (bare write rate),
// then the changelog loop run from a checkpoint taken before them (changes/s into Kafka, first to last commit): value-level
// changes only (the v1 detector), then with each entry's after-image read (the demo pipes' attribute set), from the same
// position in the same run; and the Avro codec alone (events encoded/decoded per second).
// Each catch-up runs twice, alternating (value-level, after-images, after-images, value-level), from its own checkpoint.
// Usage: npm run bench -- ds-detector [N] [connections] [batchSize] [users: how many entries the N modifies spread over]
import { Kafka, logLevel } from 'kafkajs';
import { Attribute, Change } from './lib/ldapts.ts';
import contracts from '@idsync/contracts';
import platform from '@idsync/platform';
import detectorPkg from '@idsync/detector/ds';
import mapping from '@idsync/mapping';
import { demoConfig, stackKafkaOptions } from './lib/isolated-services.ts';

const { encodeEntryChange, decodeEntryChange } = contracts;
const { ChangePublisher, createKafka, JsonLogger, Metrics, openLdapSession, SecretRedactor } = platform;
const { DsDetector } = detectorPkg;
const { afterImageAttributes, compilePipe } = mapping;

const N = Number(process.argv[2] ?? 2000);
const CONNECTIONS = Number(process.argv[3] ?? 4);
const BATCH = Number(process.argv[4] ?? 500);
const USERS = Number(process.argv[5] ?? 40);
const config = demoConfig();
const ds = config.directories['ds'];
if (!ds) throw new Error('no directory ds');
const suffix = Date.now().toString(36);
const ou = `ou=bench-${suffix},ou=People,${ds.baseDn}`;
const eventsTopic = `idsync.bench.ds-changes.${suffix}`;
const checkpointTopic = `idsync.bench.ds-checkpoints.${suffix}`;
const imagedTopic = `idsync.bench.ds-changes-imaged.${suffix}`;
const source = `ds-bench-${suffix}`;
const quiet = new JsonLogger('bench', 'warn', new SecretRedactor([]), () => undefined);
const kafka = createKafka(config.kafka, 'ds-detector', quiet);
// The bench's own topics: created and deleted with kafkajs' admin (the product never deletes topics).
const admin = new Kafka({ ...stackKafkaOptions(), clientId: 'idsync-bench-ds-topics', logLevel: logLevel.WARN }).admin();
await admin.connect();
await admin.createTopics({
  waitForLeaders: true,
  topics: [
    { topic: eventsTopic, numPartitions: 6 },
    { topic: imagedTopic, numPartitions: 6 },
    { topic: checkpointTopic, numPartitions: 1 },
  ],
});

const sessions = await Promise.all(Array.from({ length: CONNECTIONS }, () => openLdapSession('ds', ds)));
const main = sessions[0]!.client;
await main.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `bench-${suffix}` });
const users = Array.from({ length: USERS }, (_, k) => `uid=bench-${suffix}-${k},${ou}`);
for (const [k, dn] of users.entries()) {
  await main.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: `bench-${suffix}-${k}`, cn: `Bench ${k}`, sn: 'Bench' });
}

// The checkpoint before the modifies: the detector starts from here.
const dse = await main.search('', { scope: 'base', attributes: ['lastchangenumber'] });
const before = String(dse.searchEntries[0]?.['lastchangenumber']);
for (const each of ['plain-1', 'imaged-1', 'imaged-2', 'plain-2'].map((run) => `${source}-${run}`)) {
  const publisher = new ChangePublisher(kafka, { detector: 'ds-detector', source: each, eventsTopic, checkpointTopic });
  await publisher.connect();
  await publisher.publish([], { position: before, server: ds.urls[0]! });
  await publisher.disconnect();
}

// Bare write rate: N modifies, CONNECTIONS in parallel.
let next = 0;
const writeStart = performance.now();
await Promise.all(
  sessions.map(async ({ client }) => {
    for (let k = next++; k < N; k = next++) {
      await client.modify(users[k % USERS]!, [new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: [`bench ${k}`] }) })]);
    }
  }),
);
const writeSeconds = (performance.now() - writeStart) / 1000;
const after = await main.search('', { scope: 'base', attributes: ['lastchangenumber'] });
const target = Number(after.searchEntries[0]?.['lastchangenumber']);

// Detector from the checkpoint to the last change: time from the first commit to the one reaching the target.
const afterImage = afterImageAttributes('ds', config.pipes.map(compilePipe));
async function catchUp(imaged: boolean, run: number): Promise<{ detectSeconds: number; commitSeconds: number; published: number }> {
  const metrics = new Metrics();
  const detector = new DsDetector({
    directoryName: 'ds',
    directory: ds!,
    kafka,
    eventsTopic: imaged ? imagedTopic : eventsTopic,
    checkpointTopic,
    checkpointSource: `${source}-${imaged ? 'imaged' : 'plain'}-${run}`,
    pollIntervalMs: 100,
    batchSize: BATCH,
    logger: quiet,
    metrics,
    ...(imaged ? { afterImage } : {}),
  });
  const runStart = performance.now();
  const loop = detector.run();
  let firstCommit: number | null = null;
  while (Number(detector.status().checkpoint ?? 0) < target) {
    if (firstCommit === null && Number(detector.status().checkpoint ?? before) > Number(before)) firstCommit = performance.now();
    if (performance.now() - runStart > 600_000) throw new Error(`detector did not reach ${target}: ${JSON.stringify(detector.status())}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const done = performance.now();
  const published = await metrics.value('idsync_detector_events_published_total');
  await detector.stop();
  await loop;
  return { detectSeconds: (done - runStart) / 1000, commitSeconds: (done - (firstCommit ?? runStart)) / 1000, published };
}
const plain1 = await catchUp(false, 1);
const imaged1 = await catchUp(true, 1);
const imaged2 = await catchUp(true, 2);
const plain2 = await catchUp(false, 2);
const mean = (a: { detectSeconds: number; commitSeconds: number; published: number }, b: typeof a) => ({
  detectSeconds: (a.detectSeconds + b.detectSeconds) / 2,
  commitSeconds: (a.commitSeconds + b.commitSeconds) / 2,
  published: a.published,
});
const plain = mean(plain1, plain2);
const imaged = mean(imaged1, imaged2);
const changes = target - Number(before);

// Codec alone: a typical modify event.
const event = {
  eventId: 'ds:123456',
  source: { system: 'ldap' as const, directory: 'ds', server: 'ldaps://127.0.0.1:3636', position: { kind: 'change-number' as const, changeNumber: '123456' } },
  entryId: { kind: 'entryUUID' as const, value: '9fadf1fd-af7e-492b-aa8a-047013bd5cca' },
  op: 'modify' as const,
  dn: 'uid=jdoe,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [
    { name: 'description', op: 'replace' as const, values: ['bench value'] },
    { name: 'mail', op: 'add' as const, values: ['jdoe@example.com', 'j.doe@example.com'] },
  ],
  initiator: 'cn=directory manager',
  changeTime: 1_800_000_000_000,
  detectedAt: 1_800_000_000_100,
  after: null,
  before: null,
};
const CODEC = 200_000;
let record = encodeEntryChange(event);
let t = performance.now();
for (let k = 0; k < CODEC; k++) record = encodeEntryChange(event);
const encodeRate = CODEC / ((performance.now() - t) / 1000);
t = performance.now();
for (let k = 0; k < CODEC; k++) decodeEntryChange(record);
const decodeRate = CODEC / ((performance.now() - t) / 1000);

for (const dn of users) await main.del(dn).catch(() => undefined);
await main.del(ou).catch(() => undefined);
await Promise.all(sessions.map(({ client }) => client.unbind()));
await admin.deleteTopics({ topics: [eventsTopic, imagedTopic, checkpointTopic] }).catch(() => undefined);
await admin.disconnect();

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
console.log(`ds-detector bench: ${N} modifies of ${USERS} entries on ${CONNECTIONS} connections, detector batch ${BATCH}, RSS ${fmt(process.memoryUsage().rss / 2 ** 20)} MiB`);
console.log(
  `catch-ups (first to last commit): value-level ${plain1.commitSeconds.toFixed(2)} s, after-images ${imaged1.commitSeconds.toFixed(2)} s, after-images ${imaged2.commitSeconds.toFixed(2)} s, value-level ${plain2.commitSeconds.toFixed(2)} s (means below)`,
);
console.table([
  { measure: '389-ds bare write rate (modifies/s)', value: fmt(N / writeSeconds), detail: `${N} in ${writeSeconds.toFixed(2)} s` },
  {
    measure: 'detector 389-ds → Kafka (changes/s, first to last commit)',
    value: fmt(changes / plain.commitSeconds),
    detail: `${changes} change numbers (incl. other writers on the server), ${plain.published} events, ${plain.commitSeconds.toFixed(2)} s`,
  },
  { measure: 'detector incl. connect + first batch (changes/s)', value: fmt(changes / plain.detectSeconds), detail: `${plain.detectSeconds.toFixed(2)} s` },
  {
    measure: 'with after-images (changes/s, first to last commit)',
    value: fmt(changes / imaged.commitSeconds),
    detail: `${imaged.published} events, ${imaged.commitSeconds.toFixed(2)} s; ${Math.round((100 * plain.commitSeconds) / imaged.commitSeconds)}% of the value-level-only rate`,
  },
  {
    measure: 'with after-images incl. connect + first batch (changes/s)',
    value: fmt(changes / imaged.detectSeconds),
    detail: `${imaged.detectSeconds.toFixed(2)} s; ${Math.round((100 * plain.detectSeconds) / imaged.detectSeconds)}% (attribute set: ${afterImage.names.join(', ')})`,
  },
  { measure: 'Avro encode (events/s)', value: fmt(encodeRate), detail: `${record.length} bytes/event` },
  { measure: 'Avro decode (events/s)', value: fmt(decodeRate), detail: '' },
]);
process.exit(0);
