import { DirectoryBindError, openLdapSession, readRootDse } from '@idsync/platform';
import { hostPort, requireServer, stackConfig } from './support/stack';

const DIRSYNC_OID = '1.2.840.113556.1.4.841';

describe('Samba AD domain controller in the local stack', () => {
  const config = stackConfig();
  const ad = config.directories['ad'];
  if (!ad) throw new Error('config/demo.yaml defines no directory named ad');

  beforeAll(async () => {
    const { host, port } = hostPort(ad.urls[0] ?? '');
    await requireServer('Samba AD DC (LDAPS)', host, port);
  });

  it('binds over LDAPS with a verified certificate and advertises the DirSync control', async () => {
    expect(ad.urls[0]).toMatch(/^ldaps:\/\//);
    const { client } = await openLdapSession('ad', ad);
    try {
      const dse = await readRootDse(client, ['supportedControl', 'defaultNamingContext']);
      expect(dse['supportedcontrol']).toContain(DIRSYNC_OID);
      expect(dse['defaultnamingcontext']).toEqual([ad.baseDn]);
    } finally {
      await client.unbind();
    }
  });

  it('holds the seeded tree: users in OU=Corp and a group with members', async () => {
    const { client } = await openLdapSession('ad', ad);
    try {
      const { searchEntries } = await client.search(`OU=Groups,OU=Corp,${ad.baseDn}`, {
        filter: '(&(objectClass=group)(cn=Sales Team))',
        attributes: ['member'],
      });
      const members = [searchEntries[0]?.['member'] ?? []].flat().map(String);
      expect(members.sort()).toEqual([`CN=Bob Jones,OU=Sales,OU=Corp,${ad.baseDn}`, `CN=Jane Doe,OU=Sales,OU=Corp,${ad.baseDn}`]);
    } finally {
      await client.unbind();
    }
  });

  it('rejects a wrong password with an error naming the account, not the password', async () => {
    const wrong = 'definitely-not-the-password';
    const attempt = openLdapSession('ad', ad, { bindDn: ad.bindDn, bindPassword: wrong });
    await expect(attempt).rejects.toBeInstanceOf(DirectoryBindError);
    await expect(attempt).rejects.toThrow(ad.bindDn);
    await attempt.catch((error: unknown) => expect((error as Error).message).not.toContain(wrong));
  });

  it('refuses a server certificate from an untrusted CA', async () => {
    const untrusted = { ...ad, tls: { ...ad.tls, caFile: undefined } };
    await expect(openLdapSession('ad', untrusted)).rejects.toThrow(/unreachable.*(self-signed|certificate)/i);
  });
});
