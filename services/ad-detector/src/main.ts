import { createKafka, directoryProbe, ensureTopics, kafkaProbe, Metrics, MetricsModule, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule } from '@idsync/platform';
import { afterImageAttributes, compilePipe } from '@idsync/mapping';
import { AdDetector, DIRSYNC_OID } from '@idsync/detector/ad';
import { detectorProbe, detectorRunnerModule } from '@idsync/detector/runner';

void runService('ad-detector', ({ config, logger }) => {
  const block = config.services['ad-detector'];
  const sourceName = block.source;
  const source = namedDirectory(config, sourceName);
  const kafka = createKafka(config.kafka, 'ad-detector', logger);
  const metrics = new Metrics();
  const detector = new AdDetector({
    directoryName: sourceName,
    directory: source,
    kafka,
    eventsTopic: config.kafka.topics.adChanges.name,
    checkpointTopic: config.kafka.topics.checkpoints.name,
    ...(config.kafka.topics.adState === undefined ? {} : { stateTopic: config.kafka.topics.adState.name }),
    ...(block.afterImage.enabled ? { afterImage: afterImageAttributes(sourceName, config.pipes.map(compilePipe), block.afterImage) } : {}),
    deadLetterTopic: config.kafka.topics.deadLetter.name,
    maxRecordBytes: config.kafka.maxRecordBytes,
    includeBaseDns: block.includeBaseDns,
    includeObjectClasses: block.includeObjectClasses,
    pollIntervalMs: block.pollIntervalMs,
    streamingPollShare: block.streamingPollShare,
    logger,
    metrics,
    // The events and checkpoint topics must exist before the first transaction (the mapper creates them too).
    prepare: async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const created = await ensureTopics(admin, config.kafka.topics);
        if (created.length > 0) logger.event('info', 'ad-detector.topics-created', { topics: created });
      } finally {
        await admin.disconnect();
      }
    },
  });
  const probeEvery = { intervalMs: config.http.probeIntervalMs };
  const module = ServiceModule.create({
    logger,
    probes: [kafkaProbe(kafka, probeEvery), directoryProbe(sourceName, source, source, probeEvery), detectorProbe(detector)],
    event: 'ad-detector.source',
    report: async () => {
      const { client, url } = await openLdapSession(sourceName, source);
      try {
        const dse = await readRootDse(client, ['defaultNamingContext', 'highestCommittedUSN', 'supportedControl', 'dnsHostName']);
        return {
          url,
          namingContext: dse['defaultnamingcontext']?.[0],
          dnsHostName: dse['dnshostname']?.[0],
          highestCommittedUSN: dse['highestcommittedusn']?.[0],
          dirSyncSupported: (dse['supportedcontrol'] ?? []).includes(DIRSYNC_OID),
        };
      } finally {
        await client.unbind();
      }
    },
  });
  return { ...module, imports: [...(module.imports ?? []), MetricsModule.forMetrics(metrics), detectorRunnerModule('ad-detector', detector, logger)] };
});
