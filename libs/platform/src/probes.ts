import { type DirectoryConfig } from '@idsync/config';
import { cachedProbe, type CachedProbeOptions } from './cached-probe';
import { type HealthProbe } from './health';
import { type KafkaClient } from './kafka/index';
import { openLdapSession, readRootDse } from './ldap';

/** Describes the cluster, at most once per interval (cachedProbe): /health answers from the last result. */
export function kafkaProbe(kafka: KafkaClient, options: CachedProbeOptions = {}): HealthProbe {
  return cachedProbe(
    {
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
    },
    options,
  );
}

/**
 * Binds (with the given account) and reads the root DSE, at most once per interval (cachedProbe): whatever the rate of
 * /health requests, the directory sees one bind per interval. Reports the URL that answered, never the credentials.
 */
export function directoryProbe(name: string, dir: DirectoryConfig, credentials: { bindDn: string; bindPassword: string } = dir, options: CachedProbeOptions = {}): HealthProbe {
  return cachedProbe(
    {
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
    },
    options,
  );
}
