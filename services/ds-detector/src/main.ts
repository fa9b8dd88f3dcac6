import { createKafka, directoryProbe, kafkaProbe, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule } from '@idsync/platform';

void runService('ds-detector', ({ config, logger }) => {
  const sourceName = config.services['ds-detector'].source;
  const source = namedDirectory(config, sourceName);
  return ServiceModule.create({
    logger,
    probes: [kafkaProbe(createKafka(config.kafka, `${config.kafka.clientId}-ds-detector`, logger)), directoryProbe(sourceName, source)],
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
  });
});
