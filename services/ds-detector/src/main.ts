import { type SyncConfig } from '@idsync/config';
import { CONFIG, directoryProbe, JsonLogger, KAFKA, kafkaProbe, type KafkaClient, Metrics, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule, Tracing } from '@idsync/platform';
import { keyringFromConfig } from '@idsync/secrets';
import { DsDetector } from '@idsync/detector/ds';
import { DETECTOR, detectorProbe, DetectorRunner, publishingFromConfig } from '@idsync/detector/runner';

void runService(
  'ds-detector',
  ServiceModule.forService({
    providers: [
      {
        provide: DETECTOR,
        inject: [CONFIG, KAFKA, JsonLogger, Metrics, Tracing],
        useFactory: (config: SyncConfig, kafka: KafkaClient, logger: JsonLogger, metrics: Metrics, tracing: Tracing) => {
          const settings = config.services['ds-detector'];
          return new DsDetector({
            directoryName: settings.source,
            directory: namedDirectory(config, settings.source),
            ...publishingFromConfig(config, 'ds-detector', kafka, logger),
            pollIntervalMs: settings.pollIntervalMs,
            batchSize: settings.batchSize,
            includeBaseDns: settings.includeBaseDns,
            includeObjectClasses: settings.includeObjectClasses,
            ignoreInitiators: settings.ignoreInitiators,
            // Without password keys, clear passwords from the changelog are counted and dropped, never published.
            ...(config.secrets?.passwordKeys ? { keyring: keyringFromConfig(config.secrets.passwordKeys) } : {}),
            logger,
            metrics,
            tracing,
          });
        },
      },
      DetectorRunner,
    ],
    inject: [DETECTOR, KAFKA, CONFIG],
    parts: (detector: DsDetector, kafka: KafkaClient, config: SyncConfig) => {
      const sourceName = config.services['ds-detector'].source;
      const source = namedDirectory(config, sourceName);
      const probeEvery = { intervalMs: config.http.probeIntervalMs };
      return {
        probes: [kafkaProbe(kafka, probeEvery), directoryProbe(sourceName, source, source, probeEvery), detectorProbe(detector)],
        event: 'ds-detector.source',
        report: async () => {
          const { client, url } = await openLdapSession(sourceName, source);
          try {
            const dse = await readRootDse(client, ['changelog', 'firstChangeNumber', 'lastChangeNumber', 'vendorVersion']);
            return {
              url,
              vendorVersion: dse['vendorversion']?.[0],
              changelog: dse['changelog']?.[0] ?? null,
              firstChangeNumber: dse['firstchangenumber']?.[0] ?? null,
              lastChangeNumber: dse['lastchangenumber']?.[0] ?? null,
            };
          } finally {
            await client.unbind();
          }
        },
      };
    },
  }),
);
