import { type EntryChangeEvent } from '@idsync/contracts';
import { parse } from 'yaml';
import { compilePipe, type CompiledPipe } from './compile-pipe';
import { mapChange } from './map-change';
import { PASSWORD_PSEUDO_ATTRIBUTE, pipeSchema } from './pipe';

const pipe = (passwords?: boolean): CompiledPipe =>
  compilePipe(
    pipeSchema.parse(
      parse(`
name: ds-to-ad
source: ds
destination: ad
dnMaps: [{ from: "**,ou=Corp,dc=example,dc=com", to: "{1},OU=Corp,DC=example,DC=test" }]
correlation: [[sAMAccountName]]
syncClasses:
  - name: users
    evaluationOrder: 30
    objectClasses: [inetOrgPerson]
    destinationObjectClasses: [top, person, organizationalPerson, user]
    ${passwords === undefined ? '' : `passwords: ${passwords}`}
    attributeMappings:
      - { from: uid, to: sAMAccountName }
      - { from: cn, to: cn }
`),
    ),
  );

// Opaque bytes standing for a sealed envelope: the mapper never looks inside.
const sealed = Buffer.from('IDSP\x01\x01\x02k1-opaque-ciphertext', 'latin1');

const event = (op: 'add' | 'modify', attributes: EntryChangeEvent['attributes']): EntryChangeEvent => ({
  eventId: 'ds:42',
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds', position: { kind: 'change-number', changeNumber: '42' } },
  entryId: { kind: 'entryUUID', value: '67edfa3b-f26a-4fbb-ac14-b3d04f9be650' },
  op,
  dn: 'uid=pw1,ou=Sales,ou=Corp,dc=example,dc=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'inetOrgPerson'],
  attributes,
  initiator: 'cn=directory manager',
  changeTime: 1,
  detectedAt: 2,
  after: null,
  before: null,
});

describe('mapChange and sealed passwords', () => {
  it('passes a password-only modify through as idsyncPassword, bytes untouched, keyed by the source entry', () => {
    const result = mapChange(event('modify', [{ name: 'idsyncPassword', op: 'replace', values: [sealed] }]), pipe());
    expect(result.kind).toBe('mapped');
    if (result.kind !== 'mapped') return;
    const [request] = result.requests;
    expect(request?.op).toBe('modify');
    expect(request?.sourceEntryId.value).toBe('67edfa3b-f26a-4fbb-ac14-b3d04f9be650');
    expect(request?.attributes).toEqual([{ name: PASSWORD_PSEUDO_ATTRIBUTE, op: 'replace', values: [sealed] }]);
    expect(request?.attributes[0]?.values[0]).toBe(sealed);
  });

  it('carries the password into the create of a new entry beside the mapped attributes', () => {
    const result = mapChange(
      event('add', [
        { name: 'uid', op: 'replace', values: ['pw1'] },
        { name: 'cn', op: 'replace', values: ['pw1'] },
        { name: 'idsyncPassword', op: 'replace', values: [sealed] },
      ]),
      pipe(),
    );
    expect(result.kind === 'mapped' && result.requests[0]?.attributes.map((a) => a.name)).toEqual(['sAMAccountName', 'cn', 'idsyncPassword']);
  });

  it('drops passwords for a sync class with passwords: false', () => {
    const result = mapChange(event('modify', [{ name: 'idsyncPassword', op: 'replace', values: [sealed] }]), pipe(false));
    expect(result).toMatchObject({ kind: 'dropped', reason: 'nothing-to-write' });
  });

  it('refuses filters and templates that would read the pseudo-attribute', () => {
    expect(
      pipeSchema.safeParse({ name: 'p', source: 'a', destination: 'b', syncClasses: [{ name: 'c', evaluationOrder: 1, destinationObjectClasses: ['x'], includeFilter: '(idsyncPassword=*)' }] })
        .success,
    ).toBe(false);
  });
});
