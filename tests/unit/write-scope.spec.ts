import { type AttributeChange, type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import { checkWriteRequest, compilePipe, writeScopes } from '@idsync/mapping';
import { adEvent, demoConfig, demoPipe, dsEvent as demoDsEvent, requestsFor } from './support/demo-config';

// Scope enforcement on the demo's pipes: what the mapper produces passes; what it could not have produced is refused.
const scopes = writeScopes(demoConfig.pipes.map(compilePipe), (directory) => demoConfig.directories[directory]?.baseDn ?? '');
const adToDs = demoPipe('ad-to-ds');
const dsToAd = demoPipe('ds-to-ad');

const replace = (name: string, ...values: (string | Buffer)[]): AttributeChange => ({ name, op: 'replace', values });
const sealed = Buffer.from('IDSP\x01\x01\x02k1 and the rest of an envelope', 'latin1');

const dsEvent = (fields: Partial<EntryChangeEvent>): EntryChangeEvent =>
  demoDsEvent({ objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], dn: 'cn=Jane Doe,ou=Sales,ou=Corp,dc=example,dc=com', ...fields });
const mapped = requestsFor;

const userAdd = adEvent({ attributes: [replace('sAMAccountName', 'jdoe'), replace('cn', 'Jane Doe'), replace('sn', 'Doe'), replace('mail', 'jdoe@example.test'), replace('idsyncPassword', sealed)] });
const dsUserAdd = dsEvent({ attributes: [replace('uid', 'jdoe'), replace('cn', 'Jane Doe'), replace('sn', 'Doe'), replace('idsyncPassword', sealed)] });

describe('write scope: what the mapper produces for the demo pipes passes', () => {
  const groupDn = 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test';
  const dsGroupDn = 'cn=Support,ou=Groups,ou=Corp,dc=example,dc=com';
  it.each([
    ['an AD user add (password sealed)', userAdd, adToDs],
    [
      'an AD group add with members',
      adEvent({ dn: groupDn, objectClasses: ['top', 'group'], attributes: [replace('cn', 'Sales Team'), replace('member', 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test')] }),
      adToDs,
    ],
    ['an AD OU add', adEvent({ dn: 'OU=Sales,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'organizationalUnit'], attributes: [replace('ou', 'Sales')] }), adToDs],
    ['an AD modify', adEvent({ op: 'modify', attributes: [replace('telephoneNumber', '+1 555 0100'), { name: 'description', op: 'delete', values: [] }] }), adToDs],
    [
      'an AD member delta',
      adEvent({ op: 'modify', dn: groupDn, objectClasses: ['top', 'group'], attributes: [{ name: 'member', op: 'add', values: ['CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test'] }] }),
      adToDs,
    ],
    ['an AD rename within OU=Corp', adEvent({ op: 'rename', previousDn: 'CN=Jane Roe,OU=Sales,OU=Corp,DC=example,DC=test', attributes: [replace('cn', 'Jane Doe')] }), adToDs],
    ['an AD delete (with its unlink)', adEvent({ op: 'delete', attributes: [] }), adToDs],
    ['an AD move out of OU=Corp (leave scope)', adEvent({ op: 'rename', dn: 'CN=Jane Doe,OU=Elsewhere,DC=example,DC=test', previousDn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test' }), adToDs],
    ['a directory user add (password sealed)', dsUserAdd, dsToAd],
    [
      'a directory group add',
      dsEvent({ dn: dsGroupDn, objectClasses: ['top', 'groupOfNames'], attributes: [replace('cn', 'Support'), replace('member', 'cn=Jane Doe,ou=Sales,ou=Corp,dc=example,dc=com')] }),
      dsToAd,
    ],
    ['a directory password change', dsEvent({ op: 'modify', attributes: [replace('idsyncPassword', sealed)] }), dsToAd],
    ['a directory delete', dsEvent({ op: 'delete' }), dsToAd],
  ])('%s', (_name, event, pipe) => {
    const requests = mapped(event, pipe);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) expect(checkWriteRequest(request, scopes, pipe.destination)).toBeNull();
  });
});

describe('write scope: requests the mapper could not have produced are refused', () => {
  const [adUserToDs] = mapped(userAdd, adToDs) as [WriteRequest];
  const [dsUserToAd] = mapped(dsUserAdd, dsToAd) as [WriteRequest];
  const dsDelete = (dn: string): WriteRequest => ({ ...adUserToDs, op: 'delete', dn, previousDn: null, objectClasses: [], attributes: [] });
  const adModify = (attributes: AttributeChange[], dn = dsUserToAd.dn): WriteRequest => ({ ...dsUserToAd, op: 'modify', dn, objectClasses: [], attributes });

  it.each([
    ['a pipe the configuration lacks', { ...adUserToDs, pipe: 'forged' }, 'ds', 'unknown-pipe', "names pipe 'forged'"],
    ["another destination's pipe", adUserToDs, 'ad', 'other-destination', "pipe 'ad-to-ds' writes to 'ds', not to 'ad'"],
    ["a delete outside the pipe's subtrees", dsDelete('uid=admin,ou=Services,dc=example,dc=com'), 'ds', 'outside-scope', 'the DN is outside the subtrees'],
    ['a delete of the base itself', dsDelete('dc=example,dc=com'), 'ds', 'outside-scope', 'the DN is outside'],
    ['a DN that does not parse', dsDelete('not a dn'), 'ds', 'outside-scope', 'the DN is outside'],
    ['a rename from outside', { ...adUserToDs, op: 'rename', previousDn: 'cn=Directory Administrators,dc=example,dc=com' }, 'ds', 'outside-scope', 'its previous DN'],
    ['a raw userPassword', { ...adUserToDs, attributes: [...adUserToDs.attributes, replace('userPassword', '{SSHA}abc')] }, 'ds', 'secret-attribute', 'carries userPassword in the clear'],
    ['a raw unicodePwd', adModify([replace('unicodePwd', Buffer.from('"Secret1!"', 'utf16le'))]), 'ad', 'secret-attribute', 'carries unicodePwd in the clear'],
    ['a shadow credential', adModify([replace('msDS-KeyCredentialLink', 'B:828:00')]), 'ad', 'secret-attribute', 'msDS-KeyCredentialLink'],
    ['an attribute the pipe does not write', adModify([replace('scriptPath', '\\\\evil\\run.cmd')]), 'ad', 'attribute', 'does not write scriptPath'],
    [
      'userAccountControl whole, without its bit mask',
      { ...adModify([replace('userAccountControl', '66048')]), attributePolicies: [] },
      'ad',
      'policy',
      "writes userAccountControl without pipe 'ds-to-ad''s policy for it (authority force, bits 2)",
    ],
    ['an object class change', adModify([replace('objectClass', 'top', 'computer')]), 'ad', 'attribute', 'does not write objectClass'],
    [
      'a group membership outside the subtrees',
      adModify([{ name: 'member', op: 'add', values: ['CN=Administrator,CN=Users,DC=example,DC=test'] }], 'cn=Support,ou=Groups,OU=Corp,DC=example,DC=test'),
      'ad',
      'dn-value',
      'a value of member is a DN outside',
    ],
    [
      'a create with object classes no sync class creates',
      { ...dsUserToAd, objectClasses: ['top', 'person', 'organizationalPerson', 'user', 'computer'] },
      'ad',
      'object-class',
      'object classes top, person, organizationalPerson, user, computer',
    ],
    ['a create without object classes', { ...dsUserToAd, objectClasses: [] }, 'ad', 'object-class', 'names no object classes'],
    ['correlation lists of its own', { ...dsUserToAd, correlation: [['sAMAccountName'], ['description']] }, 'ad', 'correlation', "correlation lists are not pipe 'ds-to-ad''s"],
    [
      'an unlink that adds',
      { ...adUserToDs, op: 'unlink', objectClasses: [], previousDn: adUserToDs.dn, attributes: [{ name: 'member', op: 'add', values: [adUserToDs.dn] }] },
      'ds',
      'attribute',
      'an unlink may only remove values of member',
    ],
  ] as const)('%s', (_name, request, destination, refusal, detail) => {
    const refused = checkWriteRequest(request, scopes, destination);
    expect(refused?.refusal).toBe(refusal);
    expect(refused?.detail).toContain(detail);
    expect(refused?.detail).toContain(request.requestId);
  });

  it('never puts attribute values in the reason', () => {
    const refused = checkWriteRequest(adModify([replace('unicodePwd', '"Secret1!"'), replace('description', 'visible?')]), scopes, 'ad');
    expect(refused?.detail).not.toContain('Secret1!');
    expect(refused?.detail).not.toContain('visible?');
  });

  it('refuses a sealed password for a pipe whose classes pass none', () => {
    const noPasswords = demoConfig.pipes.map((pipe) => (pipe.name === 'ds-to-ad' ? { ...pipe, syncClasses: pipe.syncClasses.map((c) => ({ ...c, passwords: false })) } : pipe));
    const strict = writeScopes(noPasswords.map(compilePipe), (directory) => demoConfig.directories[directory]?.baseDn ?? '');
    expect(checkWriteRequest(dsUserToAd, strict, 'ad')?.refusal).toBe('attribute');
    expect(checkWriteRequest(dsUserToAd, scopes, 'ad')).toBeNull();
  });
});
