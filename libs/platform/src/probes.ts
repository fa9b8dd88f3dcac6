import { type DirectoryConfig } from '@idsync/config';
import { type HealthProbe } from './health';
import { type KafkaClient } from './kafka/index';
import { openLdapSession, readRootDse } from './ldap';

export function kafkaProbe(kafka: KafkaClient): HealthProbe {
  return {
    name: 'kafka',
    async check() {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const cluster = await admin.describeCluster();
        return { brokers: cluster.brokers.length, controller: cluster.controller };
      } finally {
        await admin.disconnect();
      }
    },
  };
}

/** Binds (with the given account) and reads the root DSE; reports the URL that answered. */
export function directoryProbe(
  name: string,
  dir: DirectoryConfig,
  credentials: { bindDn: string; bindPassword: string } = dir,
): HealthProbe {
  return {
    name: `directory:${name}`,
    async check() {
      const session = await openLdapSession(name, dir, credentials);
      try {
        const dse = await readRootDse(session.client, ['namingContexts', 'vendorName', 'vendorVersion']);
        return { url: session.url, namingContexts: dse['namingcontexts'] ?? [] };
      } finally {
        await session.client.unbind();
      }
    },
  };
}
