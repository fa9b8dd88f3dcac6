import fc from 'fast-check';
import { type AttributeChange } from '@idsync/contracts';
import { currentEntry, diff, targetValues, valueKey } from './diff';

// Shaped like what ldapts returns from 389-ds for a seeded user and group.
const mmiller = currentEntry({
  dn: 'uid=mmiller,ou=People,dc=example,dc=com',
  objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  uid: 'mmiller',
  cn: 'Mary Miller',
  sn: 'Miller',
  mail: 'mmiller@example.com',
  telephoneNumber: ['+1 555 0100', '+1 555 0101'],
});
const support = currentEntry({
  dn: 'cn=Support,ou=Groups,dc=example,dc=com',
  objectClass: ['top', 'groupOfNames'],
  cn: 'Support',
  member: ['uid=mmiller,ou=People,dc=example,dc=com', 'uid=tnguyen,ou=People,dc=example,dc=com'],
});

const replace = (name: string, ...values: (string | Buffer)[]): AttributeChange => ({ name, op: 'replace', values });

describe('diff', () => {
  it('finds nothing to do when the entry already holds the requested values (ends echo loops)', () => {
    expect(diff([replace('uid', 'mmiller'), replace('cn', 'Mary Miller'), replace('MAIL', 'mmiller@example.com')], mmiller)).toEqual([]);
  });

  it('touches only the attributes the request names', () => {
    expect(diff([replace('mail', 'mary.miller@example.com')], mmiller)).toEqual([{ op: 'replace', name: 'mail', values: ['mary.miller@example.com'] }]);
  });

  it('compares attribute names case-insensitively', () => {
    expect(diff([replace('TelephoneNumber', '+1 555 0101', '+1 555 0100')], mmiller)).toEqual([]);
  });

  it('replaces a single value whose case changed, so a correction propagates', () => {
    expect(diff([replace('sn', 'MILLER')], mmiller)).toEqual([{ op: 'replace', name: 'sn', values: ['MILLER'] }]);
  });

  it('never writes a case-only change of a naming attribute', () => {
    expect(diff([replace('uid', 'MMiller')], mmiller, { namingAttributes: new Set(['uid']) })).toEqual([]);
  });

  it('clears an attribute for a replace with no values, and does nothing when it is already absent', () => {
    expect(diff([replace('mail')], mmiller)).toEqual([{ op: 'replace', name: 'mail', values: [] }]);
    expect(diff([replace('description')], mmiller)).toEqual([]);
  });

  it('turns a full member list into value-level additions and deletions', () => {
    const changes = diff([replace('member', 'UID=mmiller, ou=people,dc=example,dc=com', 'uid=jdoe,ou=People,dc=example,dc=com')], support);
    expect(changes).toEqual([
      { op: 'add', name: 'member', values: ['uid=jdoe,ou=People,dc=example,dc=com'] },
      { op: 'delete', name: 'member', values: ['uid=tnguyen,ou=People,dc=example,dc=com'] },
    ]);
  });

  it('compares member DNs as normalized DNs (case and spaces do not matter)', () => {
    expect(diff([{ name: 'member', op: 'add', values: ['UID=MMILLER , OU=People, DC=example,DC=com'] }], support)).toEqual([]);
    expect(diff([{ name: 'member', op: 'delete', values: ['uid=nobody,ou=People,dc=example,dc=com'] }], support)).toEqual([]);
  });

  it('removes the last members value by value, never with a replace that could drop a concurrent addition', () => {
    expect(diff([replace('member')], support)).toEqual([{ op: 'delete', name: 'member', values: ['uid=mmiller,ou=People,dc=example,dc=com', 'uid=tnguyen,ou=People,dc=example,dc=com'] }]);
  });

  it('keeps only the part of a value-level change the entry lacks', () => {
    const changes = diff([{ name: 'member', op: 'add', values: ['uid=mmiller,ou=People,dc=example,dc=com', 'uid=new,ou=People,dc=example,dc=com'] }], support);
    expect(changes).toEqual([{ op: 'add', name: 'member', values: ['uid=new,ou=People,dc=example,dc=com'] }]);
  });

  it('applies several changes to one attribute in order', () => {
    const changes = diff(
      [
        { name: 'telephoneNumber', op: 'delete', values: ['+1 555 0100'] },
        { name: 'telephoneNumber', op: 'add', values: ['+1 555 0199'] },
      ],
      mmiller,
    );
    expect(changes).toEqual([{ op: 'replace', name: 'telephoneNumber', values: ['+1 555 0101', '+1 555 0199'] }]);
  });

  it('compares binary values byte-wise, a Buffer equal to the UTF-8 bytes of a decoded string', () => {
    const photo = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00]);
    const entry = currentEntry({ dn: 'uid=x,dc=example,dc=com', jpegPhoto: photo, description: 'text' });
    expect(diff([replace('jpegPhoto', Buffer.from(photo))], entry)).toEqual([]);
    expect(diff([replace('jpegPhoto', Buffer.from([0xff, 0xd8]))], entry)).toEqual([{ op: 'replace', name: 'jpegPhoto', values: [Buffer.from([0xff, 0xd8])] }]);
    // ldapts decodes valid UTF-8 as a string: the same bytes sent as a Buffer are the same value.
    expect(diff([replace('description', Buffer.from('text', 'utf8'))], entry)).toEqual([]);
  });

  it('passes password changes through without comparing them (servers never return them as written)', () => {
    const secret = Buffer.from('"Secret1!"', 'utf16le');
    expect(diff([replace('unicodePwd', secret)], currentEntry({ dn: 'CN=x,DC=example,DC=test' }))).toEqual([{ op: 'replace', name: 'unicodePwd', values: [secret] }]);
  });

  it('creates everything from nothing when there is no entry', () => {
    expect(diff([replace('cn', 'New'), replace('member', 'uid=a,dc=example,dc=com')], null)).toEqual([
      { op: 'replace', name: 'cn', values: ['New'] },
      { op: 'add', name: 'member', values: ['uid=a,dc=example,dc=com'] },
    ]);
  });

  describe('properties', () => {
    const value = fc.constantFrom('a', 'B', 'b', 'c', 'Dd', 'dd', 'e');
    const values = fc.uniqueArray(value, { maxLength: 5, selector: (v) => v.toLowerCase() });
    const change = fc.record({ name: fc.constantFrom('member', 'description', 'cn'), op: fc.constantFrom('add', 'delete', 'replace'), values });

    it('applying the computed modifications reaches the target, and a second diff is empty', () => {
      fc.assert(
        fc.property(fc.constantFrom('member', 'description', 'cn'), values, fc.array(change, { maxLength: 4 }), (name, have, changes) => {
          const own = changes.map((c) => ({ ...c, name }));
          const entry = currentEntry({ dn: 'cn=x,dc=example,dc=com', [name]: have });
          const modifications = diff(own, entry);
          // Apply what the server would apply.
          let result: string[] = [...have];
          for (const m of modifications) {
            if (m.op === 'replace') result = m.values as string[];
            else if (m.op === 'add') result = [...result, ...(m.values as string[])];
            else result = result.filter((v) => !m.values.some((d) => valueKey(name, d) === valueKey(name, v)));
          }
          const target = targetValues(name, have, own);
          expect(new Set(result.map((v) => valueKey(name, v)))).toEqual(new Set(target.map((v) => valueKey(name, v))));
          expect(diff(own, currentEntry({ dn: 'cn=x,dc=example,dc=com', [name]: result }))).toEqual([]);
        }),
      );
    });
  });
});
