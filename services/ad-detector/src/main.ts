import { createKafka, directoryProbe, kafkaProbe, namedDirectory, openLdapSession, readRootDse, runService, ServiceModule } from '@idsync/platform';

const DIRSYNC_OID = '1.2.840.113556.1.4.841';

void runService('ad-detector', ({ config, logger }) => {
  const sourceName = config.services['ad-detector'].source;
  const source = namedDirectory(config, sourceName);
  return ServiceModule.create({
    logger,
    probes: [kafkaProbe(createKafka(config.kafka, `${config.kafka.clientId}-ad-detector`, logger)), directoryProbe(sourceName, source)],
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
});
