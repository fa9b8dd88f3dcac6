import { type AttributeChange, type WriteRequest } from '@idsync/contracts';
import { mapChange } from '@idsync/mapping';
import { adEvent, demoPipe as pipe, dsEvent } from './support/demo-config';

/** The demo's pipes mirror OU=Corp (AD) and ou=Corp (directory): every DN, member values included, maps both ways. */

const adToDs = pipe('ad-to-ds');
const dsToAd = pipe('ds-to-ad');

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });
const requests = (result: ReturnType<typeof mapChange>): WriteRequest[] => {
  if (result.kind !== 'mapped') throw new Error(`dropped: ${result.reason} ${result.detail}`);
  return [...result.requests];
};

describe('demo pipes (config/demo.yaml)', () => {
  it('creates an AD user at the mirrored DN in the directory, uid from sAMAccountName', () => {
    const [request] = requests(mapChange(adEvent({ attributes: [replace('sAMAccountName', 'jdoe'), replace('cn', 'Jane Doe'), replace('givenName', 'Jane'), replace('sn', 'Doe')] }), adToDs));
    expect(request).toMatchObject({ op: 'upsert', dn: 'CN=Jane Doe,OU=Sales,ou=Corp,dc=example,dc=com', objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'] });
    expect(request?.attributes).toEqual(expect.arrayContaining([replace('uid', 'jdoe'), replace('cn', 'Jane Doe'), replace('sn', 'Doe')]));
  });

  it('maps an AD group member delta to the mirrored member DN, and the directory delta back to the AD DN', () => {
    const member = 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test';
    const [toDs] = requests(
      mapChange(
        adEvent({ op: 'modify', dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'group'], attributes: [{ name: 'member', op: 'add', values: [member] }] }),
        adToDs,
      ),
    );
    expect(toDs).toMatchObject({ op: 'modify', dn: 'CN=Sales Team,OU=Groups,ou=Corp,dc=example,dc=com' });
    expect(toDs?.attributes).toEqual([{ name: 'member', op: 'add', values: ['CN=Jane Doe,OU=Sales,ou=Corp,dc=example,dc=com'] }]);

    const [toAd] = requests(
      mapChange(
        dsEvent({
          op: 'modify',
          dn: 'cn=Support,ou=Groups,ou=Corp,dc=example,dc=com',
          objectClasses: ['top', 'groupOfNames'],
          attributes: [{ name: 'member', op: 'delete', values: ['cn=Mary Miller,ou=Support,ou=Corp,dc=example,dc=com'] }],
        }),
        dsToAd,
      ),
    );
    expect(toAd).toMatchObject({ op: 'modify', dn: 'cn=Support,ou=Groups,OU=Corp,DC=example,DC=test' });
    expect(toAd?.attributes).toEqual([{ name: 'member', op: 'delete', values: ['cn=Mary Miller,ou=Support,OU=Corp,DC=example,DC=test'] }]);
  });

  it('creates a directory user in AD with sAMAccountName from uid and the user class', () => {
    const [request] = requests(
      mapChange(
        dsEvent({
          dn: 'cn=Mary Miller,ou=Support,ou=Corp,dc=example,dc=com',
          objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
          attributes: [replace('uid', 'mmiller'), replace('cn', 'Mary Miller'), replace('sn', 'Miller')],
        }),
        dsToAd,
      ),
    );
    expect(request).toMatchObject({ op: 'upsert', dn: 'cn=Mary Miller,ou=Support,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'person', 'organizationalPerson', 'user'] });
    expect(request?.attributes).toEqual(expect.arrayContaining([replace('sAMAccountName', 'mmiller')]));
    expect(request?.correlation).toEqual([['sAMAccountName'], ['mail']]);
  });

  it('syncs containers so a new OU exists before the people created in it', () => {
    const [request] = requests(mapChange(adEvent({ dn: 'OU=Marketing,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'organizationalUnit'], attributes: [replace('ou', 'Marketing')] }), adToDs));
    expect(request).toMatchObject({ op: 'upsert', dn: 'OU=Marketing,ou=Corp,dc=example,dc=com', objectClasses: ['top', 'organizationalUnit'] });
  });

  it('does not send back what the ds-writer wrote, and leaves AD system objects alone', () => {
    expect(mapChange(dsEvent({ op: 'modify', initiator: 'uid=idsync-writer,ou=Services,dc=example,dc=com', attributes: [replace('description', 'x')] }), dsToAd)).toMatchObject({
      kind: 'dropped',
      reason: 'ignored-initiator',
    });
    expect(mapChange(adEvent({ dn: 'CN=Administrators,CN=Builtin,DC=example,DC=test', objectClasses: ['top', 'group'] }), adToDs)).toMatchObject({ kind: 'dropped' });
  });
});
