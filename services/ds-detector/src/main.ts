import { Module } from '@nestjs/common';
import { createKafka, directoryProbe, kafkaProbe, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule } from '@idsync/platform';
import { keyringFromConfig } from '@idsync/secrets';
import { DsDetector } from '@idsync/detector/ds';
import { detectorProbe, detectorRunnerModule, publishingFromConfig } from '@idsync/detector/runner';

@Module({})
class DsDetectorModule {}

void runService('ds-detector', ({ config, logger, metrics, tracing }) => {
  const settings = config.services['ds-detector'];
  const sourceName = settings.source;
  const source = namedDirectory(config, sourceName);
  const kafka = createKafka(config.kafka, 'ds-detector', logger);
  const detector = new DsDetector({
    directoryName: sourceName,
    directory: source,
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
  const probeEvery = { intervalMs: config.http.probeIntervalMs };
  return {
    module: DsDetectorModule,
    imports: [
      ServiceModule.create({
        logger,
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
      }),
      detectorRunnerModule('ds-detector', detector, logger),
    ],
  };
});
