import { receiptsGroupPrefix, receiptsTopicOf } from '@idsync/config';
import { createKafka, directoryProbe, kafkaProbe, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule } from '@idsync/platform';
import { AdDetector, DIRSYNC_OID } from '@idsync/detector/ad';
import { detectorProbe, detectorRunnerModule, publishingFromConfig } from '@idsync/detector/runner';

void runService('ad-detector', ({ config, logger, metrics, tracing }) => {
  const block = config.services['ad-detector'];
  const sourceName = block.source;
  const source = namedDirectory(config, sourceName);
  const kafka = createKafka(config.kafka, 'ad-detector', logger);
  const detector = new AdDetector({
    directoryName: sourceName,
    directory: source,
    ...publishingFromConfig(config, 'ad-detector', kafka, logger),
    includeBaseDns: block.includeBaseDns,
    includeObjectClasses: block.includeObjectClasses,
    pollIntervalMs: block.pollIntervalMs,
    streamingPollShare: block.streamingPollShare,
    ...(block.ownWrites.enabled
      ? { ownWrites: { receiptsTopic: receiptsTopicOf(config.kafka.topics.adOperations.name), groupPrefix: receiptsGroupPrefix(config), settleMs: block.ownWrites.settleMs } }
      : {}),
    logger,
    metrics,
    tracing,
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
  return { ...module, imports: [...(module.imports ?? []), detectorRunnerModule('ad-detector', detector, logger)] };
});
