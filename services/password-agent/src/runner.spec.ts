import { ldapiSocketPath, sambaPrerequisites } from './runner';

describe('ldapiSocketPath', () => {
  it('reads the socket path of both ldapi URL forms', () => {
    expect(ldapiSocketPath('ldapi:///var/lib/samba/private/ldap_priv/ldapi')).toBe('/var/lib/samba/private/ldap_priv/ldapi');
    expect(ldapiSocketPath('ldapi://%2Fvar%2Flib%2Fsamba%2Fprivate%2Fldap_priv%2Fldapi')).toBe('/var/lib/samba/private/ldap_priv/ldapi');
  });

  it('refuses a URL without an absolute path', () => {
    expect(ldapiSocketPath('ldapi://')).toBeNull();
    expect(ldapiSocketPath('ldapi://relative/socket')).toBeNull();
  });
});

describe('sambaPrerequisites', () => {
  it('names each missing piece: the tool, smb.conf and the ldapi socket', () => {
    const problems = sambaPrerequisites({
      sambaTool: '/nonexistent/samba-tool',
      smbConf: '/nonexistent/smb.conf',
      ldapiUrl: 'ldapi:///nonexistent/ldapi',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        '/nonexistent/samba-tool not found or not executable',
        'smb.conf /nonexistent/smb.conf not found',
        'ldapi socket /nonexistent/ldapi not found',
      ]),
    );
  });

  it('does not take a regular file for the ldapi socket', () => {
    const problems = sambaPrerequisites({ sambaTool: process.execPath, smbConf: __filename, ldapiUrl: `ldapi://${__filename}` });
    expect(problems).toContain(`ldapi socket ${__filename} not found`);
  });
});
