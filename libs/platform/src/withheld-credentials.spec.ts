import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigFor, withheldVariable } from '@idsync/config';
import { configSecrets } from './bootstrap';
import { DirectoryCredentialsWithheldError, openLdapSession } from './ldap';

/**
 * A service is given only its own credentials (a Secret per service); the configuration loaded for it holds a marker
 * in place of the others' bind passwords (libs/config). Nothing may bind with that marker, nor redact it.
 */
const DEMO = readFileSync(join(__dirname, '..', '..', '..', 'config', 'demo.yaml'), 'utf8');
const MAPPER_ENV = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  // Port 1 on the loopback: a connection attempt would be refused at once (DirectoryUnavailableError).
  AD_URL: 'ldaps://127.0.0.1:1',
  AD_BASE_DN: 'DC=example,DC=test',
  AD_BIND_DN: 'CN=idsync-reader,CN=Users,DC=example,DC=test',
  AD_WRITER_BIND_DN: 'CN=idsync-writer,CN=Users,DC=example,DC=test',
  AD_CA_FILE: '/nonexistent/ad-ca.crt',
  DS_URL: 'ldaps://127.0.0.1:1',
  DS_BASE_DN: 'dc=example,dc=com',
  DS_BIND_DN: 'cn=idsync-reader',
  DS_WRITER_BIND_DN: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
  DS_CA_FILE: '/nonexistent/ds-ca.crt',
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
  KAFKA_CA_FILE: '/nonexistent/kafka-ca.crt',
  KAFKA_MAPPER_PASSWORD: 'kafka-mapper-secret',
};

describe('credentials withheld from a service', () => {
  const { config } = parseConfigFor(DEMO, 'demo.yaml', MAPPER_ENV, { reader: 'mapper' });
  const ad = config.directories['ad'];

  it('are never sent to a directory: the bind is refused before connecting, naming the variable', async () => {
    expect(withheldVariable(ad?.bindPassword)).toBe('AD_BIND_PASSWORD');
    const attempt = openLdapSession('ad', ad!);
    await expect(attempt).rejects.toBeInstanceOf(DirectoryCredentialsWithheldError);
    await expect(attempt).rejects.toThrow("cannot bind to directory 'ad' as CN=idsync-reader,CN=Users,DC=example,DC=test: AD_BIND_PASSWORD is not set in this environment");
    await expect(openLdapSession('ad', ad!, { bindDn: 'CN=idsync-writer', bindPassword: config.services['ad-writer'].bindPassword! })).rejects.toThrow(
      'AD_WRITER_PASSWORD is not set in this environment',
    );
  });

  it('are not among the secrets the logs redact; the credentials the service has are', () => {
    const secrets = configSecrets(config);
    expect(secrets.sort()).toEqual([MAPPER_ENV.IDSYNC_OPERATION_KEY_O1, MAPPER_ENV.KAFKA_MAPPER_PASSWORD].sort());
  });
});
