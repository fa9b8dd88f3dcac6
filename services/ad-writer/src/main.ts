import { createKafka, directoryProbe, kafkaProbe, namedDirectory, openLdapSession, runService, ServiceModule, writerCredentials } from '@idsync/platform';

void runService('ad-writer', ({ config, logger }) => {
  const block = config.services['ad-writer'];
  const destination = namedDirectory(config, block.destination);
  const credentials = writerCredentials(config, 'ad-writer');
  return ServiceModule.create({
    logger,
    probes: [
      kafkaProbe(createKafka(config.kafka, `${config.kafka.clientId}-ad-writer`, logger)),
      directoryProbe(block.destination, destination, credentials),
    ],
    event: 'ad-writer.destination',
    report: async () => {
      const { client, url } = await openLdapSession(block.destination, destination, credentials);
      await client.unbind();
      return { url, bindDn: credentials.bindDn, dryRun: block.dryRun };
    },
  });
});
