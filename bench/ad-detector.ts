// needs-stack
// AD → Kafka through the ad-detector: creates N users and N modifies in Samba (bare write rate), then runs the DirSync
// loop from a checkpoint taken before them and reports changes/s into Kafka. Usage: npm run bench -- ad-detector [N]
import { Kafka, logLevel } from 'kafkajs';
import { Attribute, Change } from 'ldapts';
import platform from '@idsync/platform';
import detectorPkg from '@idsync/ad-detector/detector';
import { demoConfig, stackKafkaOptions } from './lib/isolated-services.ts';

const { createKafka, openLdapSession, Metrics } = platform;
const { AdDetector } = detectorPkg;

const N = Number(process.argv[2] ?? 1000);
const config = demoConfig();
const ad = config.directories['ad'];
if (!ad) throw new Error('no directory ad');
const suffix = `${Date.now().toString(36)}`;
const ou = `OU=bench-${suffix},OU=Corp,${ad.baseDn}`;
const eventsTopic = `idsync.bench.ad-changes.${suffix}`;
const checkpointTopic = `idsync.bench.checkpoints.${suffix}`;
const kafka = createKafka(config.kafka, 'ad-detector');
// The bench's own topics: created and deleted with kafkajs' admin (the product never deletes topics).
const admin = new Kafka({ ...stackKafkaOptions(), clientId: 'idsync-bench-ad-topics', logLevel: logLevel.WARN }).admin();
await admin.connect();
await admin.createTopics({ waitForLeaders: true, topics: [{ topic: eventsTopic, numPartitions: 6 }, { topic: checkpointTopic, numPartitions: 1 }] });

const { client } = await openLdapSession('ad', ad);
await client.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `bench-${suffix}` });

const options = { directoryName: `bench-${suffix}`, directory: ad, kafka, eventsTopic, checkpointTopic, includeBaseDns: [ou], pollIntervalMs: 100 };
const waitFor = async (what: string, condition: () => boolean, timeoutMs = 600_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

// 1. Checkpoint before the writes: a first start takes the baseline cookie and commits it.
const baseline = new AdDetector(options);
let abort = new AbortController();
let t = performance.now();
let run = baseline.run(abort.signal);
await waitFor('baseline', () => baseline.status().state === 'streaming');
const baselineMs = performance.now() - t;
abort.abort();
await run;

// 2. Bare write rates, one connection.
const dns: string[] = [];
t = performance.now();
for (let k = 0; k < N; k++) {
  const cn = `Bench User ${k}`;
  const dn = `CN=${cn},${ou}`;
  await client.add(dn, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sn: 'Bench', sAMAccountName: `b${suffix}${k}`.slice(0, 20) });
  dns.push(dn);
}
const addSeconds = (performance.now() - t) / 1000;
t = performance.now();
for (const dn of dns) await client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['benchmarked'] }) }));
const modifySeconds = (performance.now() - t) / 1000;

// 3. Detector from the checkpoint: every change (N adds merged with their modifies by DirSync) into Kafka.
const metrics = new Metrics();
const detector = new AdDetector({ ...options, metrics });
const rssBefore = process.memoryUsage().rss;
abort = new AbortController();
t = performance.now();
run = detector.run(abort.signal);
await waitFor('all events', () => detector.status().eventsPublished >= N);
const streamSeconds = (performance.now() - t) / 1000;
const rssAfter = process.memoryUsage().rss;
abort.abort();
await run;

// 4. Deletes while the detector runs live: tombstones → delete events, end to end.
const live = new AdDetector(options);
abort = new AbortController();
run = live.run(abort.signal);
await waitFor('live start', () => live.status().state === 'streaming');
t = performance.now();
for (const dn of dns) await client.del(dn);
const deleteSeconds = (performance.now() - t) / 1000;
await waitFor('delete events', () => live.status().eventsPublished >= N);
const liveSeconds = (performance.now() - t) / 1000;
abort.abort();
await run;

await client.del(ou);
await client.unbind();
await admin.deleteTopics({ topics: [eventsTopic, checkpointTopic] }).catch(() => undefined);
await admin.disconnect();

const rate = (count: number, seconds: number): string => `${Math.round(count / seconds)}/s`;
const read = metrics.counter('idsync_ad_detector_entries_read_total', '').get();
const pages = metrics.counter('idsync_ad_detector_pages_total', '').get();
console.log(`ad-detector bench, N=${N} (Samba AD DC → Kafka, one LDAP connection for writes)`);
console.log(`  baseline (first start, full DirSync pass, not published): ${Math.round(baselineMs)} ms`);
console.log(`  bare Samba writes: adds ${rate(N, addSeconds)}, modifies ${rate(N, modifySeconds)}, deletes ${rate(N, deleteSeconds)}`);
console.log(`  catch-up from checkpoint: ${detector.status().eventsPublished} events (${read} entries, ${pages} pages) in ${streamSeconds.toFixed(2)} s = ${rate(detector.status().eventsPublished, streamSeconds)}`);
console.log(`    (DirSync merges an object's add and later modify into one entry: ${2 * N} writes → ${N} events = ${rate(2 * N, streamSeconds)} source changes/s)`);
console.log(`  live deletes: last delete event ${liveSeconds.toFixed(2)} s after the first delete (write-bound: ${rate(N, liveSeconds)} end to end)`);
console.log(`  RSS ${Math.round(rssBefore / 1e6)} MB → ${Math.round(rssAfter / 1e6)} MB`);
process.exit(0);
