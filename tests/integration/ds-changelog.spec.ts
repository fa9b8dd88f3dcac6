import { Client } from 'ldapts';
import { openLdapSession, readRootDse, tlsOptions, writerCredentials } from '@idsync/platform';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from './support/stack';

describe('389 Directory Server with the retro changelog in the local stack', () => {
  const config = stackConfig();
  const ds = config.directories['ds'];
  if (!ds) throw new Error('config/demo.yaml defines no directory named ds');

  beforeAll(async () => {
    const { host, port } = hostPort(ds.urls[0] ?? '');
    await requireServer('389 Directory Server (LDAPS)', host, port);
  });

  it('records a write in cn=changelog with change number, target, entryUUID and initiator', async () => {
    const writer = writerCredentials(config, 'ds-writer');
    const reader = await openLdapSession('ds', ds);
    const writing = await openLdapSession('ds', ds, writer);
    const uid = `it-${uniqueSuffix()}`;
    const dn = `uid=${uid},ou=People,${ds.baseDn}`;
    try {
      const before = await readRootDse(reader.client, ['lastChangeNumber']);
      const last = Number(before['lastchangenumber']?.[0] ?? 0);

      await writing.client.add(dn, {
        objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        uid,
        cn: 'Integration Test',
        sn: 'Test',
      });

      const after = await readRootDse(reader.client, ['firstChangeNumber', 'lastChangeNumber']);
      expect(Number(after['lastchangenumber']?.[0])).toBeGreaterThan(last);
      expect(Number(after['firstchangenumber']?.[0])).toBeGreaterThanOrEqual(1);

      const { searchEntries } = await reader.client.search('cn=changelog', {
        filter: `(&(changeNumber>=${last + 1})(targetDn=${dn}))`,
      });
      expect(searchEntries).toHaveLength(1);
      const change = searchEntries[0];
      const { searchEntries: written } = await reader.client.search(dn, { scope: 'base', attributes: ['entryUUID'] });
      expect(change?.['changeType']).toBe('add');
      expect(String(change?.['targetDn']).toLowerCase()).toBe(dn.toLowerCase());
      expect(change?.['targetuniqueid']).toBe(written[0]?.['entryUUID']);
      expect(String(change?.['changeinitiatorsname']).toLowerCase()).toBe(writer.bindDn.toLowerCase());
      expect(String(change?.['changes'])).toContain(`uid: ${uid}`);
    } finally {
      await writing.client.del(dn).catch(() => undefined);
      await writing.client.unbind();
      await reader.client.unbind();
    }
  });

  it('does not let an anonymous client read cn=changelog', async () => {
    const anonymous = new Client({ url: ds.urls[0] ?? '', tlsOptions: tlsOptions(ds) });
    try {
      const { searchEntries } = await anonymous.search('cn=changelog', { filter: '(changeNumber>=1)', sizeLimit: 5 });
      expect(searchEntries).toHaveLength(0);
    } finally {
      await anonymous.unbind();
    }
  });
});
