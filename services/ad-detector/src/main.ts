import { receiptsGroupPrefix, receiptsTopicOf, type SyncConfig } from '@idsync/config';
import { CONFIG, directoryProbe, JsonLogger, KAFKA, kafkaProbe, type KafkaClient, Metrics, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule, Tracing } from '@idsync/platform';
import { AdDetector, DIRSYNC_OID } from '@idsync/detector/ad';
import { DETECTOR, detectorProbe, DetectorRunner, publishingFromConfig } from '@idsync/detector/runner';

void runService(
  'ad-detector',
  ServiceModule.forService({
    providers: [
      {
        provide: DETECTOR,
        inject: [CONFIG, KAFKA, JsonLogger, Metrics, Tracing],
        useFactory: (config: SyncConfig, kafka: KafkaClient, logger: JsonLogger, metrics: Metrics, tracing: Tracing) => {
          const block = config.services['ad-detector'];
          return new AdDetector({
            directoryName: block.source,
            directory: namedDirectory(config, block.source),
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
        },
      },
      DetectorRunner,
    ],
    inject: [DETECTOR, KAFKA, CONFIG],
    parts: (detector: AdDetector, kafka: KafkaClient, config: SyncConfig) => {
      const sourceName = config.services['ad-detector'].source;
      const source = namedDirectory(config, sourceName);
      const probeEvery = { intervalMs: config.http.probeIntervalMs };
      return {
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
      };
    },
  }),
);
