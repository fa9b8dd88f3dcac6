// needs-stack
// AD → Kafka through the ad-detector: creates N users and N modifies in Samba (bare write rate), then runs the DirSync
// loop from a checkpoint taken before them and reports changes/s into Kafka: value-level changes only (the v1 detector),
// then with each entry's after-image read (the demo pipes' attribute set), from the same position in the same run.
// Usage: npm run bench -- ad-detector [N]
import { Kafka, logLevel } from 'kafkajs';
import { Attribute, Change } from './lib/ldapts.ts';
import platform from '@idsync/platform';
import detectorPkg from '@idsync/detector/ad';
import mapping from '@idsync/mapping';
import { demoConfig, stackKafkaOptions } from './lib/isolated-services.ts';

const { createKafka, openLdapSession, Metrics } = platform;
const { AdDetector } = detectorPkg;
const { afterImageAttributes, compilePipe } = mapping;

const N = Number(process.argv[2] ?? 1000);
const config = demoConfig();
const ad = config.directories['ad'];
if (!ad) throw new Error('no directory ad');
const suffix = Date.now().toString(36);
const ou = `OU=bench-${suffix},OU=Corp,${ad.baseDn}`;
const eventsTopic = `idsync.bench.ad-changes.${suffix}`;
const checkpointTopic = `idsync.bench.checkpoints.${suffix}`;
const imagedTopic = `idsync.bench.ad-changes-imaged.${suffix}`;
const kafka = createKafka(config.kafka, 'ad-detector');
// The bench's own topics: created and deleted with kafkajs' admin (the product never deletes topics).
const admin = new Kafka({ ...stackKafkaOptions(), clientId: 'idsync-bench-ad-topics', logLevel: logLevel.WARN }).admin();
await admin.connect();
await admin.createTopics({
  waitForLeaders: true,
  topics: [
    { topic: eventsTopic, numPartitions: 6 },
    { topic: imagedTopic, numPartitions: 6 },
    { topic: checkpointTopic, numPartitions: 1 },
  ],
});

const { client } = await openLdapSession('ad', ad);
await client.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `bench-${suffix}` });

const options = { directoryName: `bench-${suffix}`, directory: ad, kafka, eventsTopic, checkpointTopic, includeBaseDns: [ou], pollIntervalMs: 100 };
// The same detector reading after-images: its own checkpoint (directory name) and topic, the demo pipes' attribute set.
const afterImage = afterImageAttributes('ad', config.pipes.map(compilePipe));
const imagedOptions = { ...options, directoryName: `bench-${suffix}-imaged`, eventsTopic: imagedTopic, afterImage };
// Second runs of each, alternating (value-level, after-images, after-images, value-level), each from its own checkpoint.
const plainAgain = { ...options, directoryName: `bench-${suffix}-2` };
const imagedAgain = { ...imagedOptions, directoryName: `bench-${suffix}-imaged-2` };
const waitFor = async (what: string, condition: () => boolean, timeoutMs = 600_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

// 1. Checkpoints before the writes: a first start takes the baseline cookie and commits it.
let abort: AbortController;
let t: number;
let run: Promise<void>;
let baselineMs = 0;
for (const each of [options, imagedOptions, imagedAgain, plainAgain]) {
  const baseline = new AdDetector(each);
  abort = new AbortController();
  t = performance.now();
  run = baseline.run(abort.signal);
  await waitFor('baseline', () => baseline.status().state === 'streaming');
  baselineMs = performance.now() - t;
  abort.abort();
  await run;
}

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

// 3. Detector from the checkpoint: every change (N adds merged with their modifies by DirSync) into Kafka; then the
// same from its own checkpoint with after-images.
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
async function catchUp(each: typeof options): Promise<number> {
  const one = new AdDetector(each);
  const stop = new AbortController();
  const started = performance.now();
  const running = one.run(stop.signal);
  await waitFor('all events', () => one.status().eventsPublished >= N);
  const seconds = (performance.now() - started) / 1000;
  stop.abort();
  await running;
  return seconds;
}
const imagedRuns = [await catchUp(imagedOptions), await catchUp(imagedAgain)];
const plainAgainSeconds = await catchUp(plainAgain);
const imagedSeconds = (imagedRuns[0]! + imagedRuns[1]!) / 2;
const plainSeconds = (streamSeconds + plainAgainSeconds) / 2;

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
await admin.deleteTopics({ topics: [eventsTopic, imagedTopic, checkpointTopic] }).catch(() => undefined);
await admin.disconnect();

const rate = (count: number, seconds: number): string => `${Math.round(count / seconds)}/s`;
const read = await metrics.value('idsync_detector_changes_read_total');
const pages = await metrics.value('idsync_detector_dirsync_pages_total');
console.log(`ad-detector bench, N=${N} (Samba AD DC → Kafka, one LDAP connection for writes)`);
console.log(`  baseline (first start, full DirSync pass, not published): ${Math.round(baselineMs)} ms`);
console.log(`  bare Samba writes: adds ${rate(N, addSeconds)}, modifies ${rate(N, modifySeconds)}, deletes ${rate(N, deleteSeconds)}`);
console.log(
  `  catch-up from checkpoint: ${detector.status().eventsPublished} events (${read} entries, ${pages} pages) in ${streamSeconds.toFixed(2)} s = ${rate(detector.status().eventsPublished, streamSeconds)}`,
);
console.log(`    (DirSync merges an object's add and later modify into one entry: ${2 * N} writes → ${N} events = ${rate(2 * N, streamSeconds)} source changes/s)`);
console.log(
  `  with after-images (${afterImage.names.length} attributes: ${afterImage.names.join(', ')}): ${imagedRuns.map((x) => x.toFixed(2)).join(' s, ')} s, ` +
    `value-level only again ${plainAgainSeconds.toFixed(2)} s; means ${rate(N, imagedSeconds)} vs ${rate(N, plainSeconds)} = ${Math.round((100 * plainSeconds) / imagedSeconds)}% of the value-level-only rate`,
);
console.log(`  live deletes: last delete event ${liveSeconds.toFixed(2)} s after the first delete (write-bound: ${rate(N, liveSeconds)} end to end)`);
console.log(`  RSS ${Math.round(rssBefore / 1e6)} MB → ${Math.round(rssAfter / 1e6)} MB`);
process.exit(0);
