import { createKafka, directoryProbe, kafkaProbe, namedDirectory, openLdapSession, runService, ServiceModule, writerCredentials } from '@idsync/platform';

void runService('ds-writer', ({ config, logger }) => {
  const block = config.services['ds-writer'];
  const destination = namedDirectory(config, block.destination);
  const credentials = writerCredentials(config, 'ds-writer');
  return ServiceModule.create({
    logger,
    probes: [
      kafkaProbe(createKafka(config.kafka, `${config.kafka.clientId}-ds-writer`, logger)),
      directoryProbe(block.destination, destination, credentials),
    ],
    event: 'ds-writer.destination',
    report: async () => {
      const { client, url } = await openLdapSession(block.destination, destination, credentials);
      await client.unbind();
      return { url, bindDn: credentials.bindDn, dryRun: block.dryRun };
    },
  });
});
