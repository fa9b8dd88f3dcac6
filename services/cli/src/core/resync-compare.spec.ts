import { type WriteRequest } from '@idsync/contracts';
import { AttributeKnowledge, currentEntry } from '@idsync/writer';
import { compareRequest, describeDifference, DestinationIndex, snapshotEvent } from './resync-compare';

const options = { kind: 'ldap' as const, attributes: new AttributeKnowledge() };
const upsert = (dn: string, attributes: Record<string, string[]>): WriteRequest => ({
  requestId: 'r/1',
  pipe: 'ad-to-ds',
  sourceEventId: 'e/1',
  sourceEntryId: { kind: 'objectGUID', value: '00000000-0000-0000-0000-000000000001' },
  op: 'upsert',
  dn,
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: Object.entries(attributes).map(([name, values]) => ({ name, op: 'replace' as const, values })),
  correlation: [['uid']],
  changeTime: null,
  detectedAt: 0,
});
const entry = (dn: string, attributes: Record<string, string[]>) => currentEntry({ dn, objectClass: ['top', 'inetOrgPerson'], ...attributes });

describe('compareRequest', () => {
  it('finds an equal entry by DN and plans nothing', () => {
    const index = new DestinationIndex([entry('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['x'] })], [['uid']]);
    const result = compareRequest(upsert('CN=Ann,OU=Corp,DC=example,DC=com', { cn: ['Ann'], uid: ['ann'], description: ['x'] }), index, options);
    expect(result).toMatchObject({ kind: 'equal', foundBy: 'dn', steps: [] });
  });

  it('lists a changed and a missing attribute with the values on both sides', () => {
    const index = new DestinationIndex([entry('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['damaged'] })], [['uid']]);
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'], description: ['x'], mail: ['ann@example.com'] }), index, options);
    expect(result.kind).toBe('update');
    expect(result.differences).toEqual(
      expect.arrayContaining([
        { attribute: 'description', current: ['damaged'], add: ['x'], remove: [], replace: true },
        { attribute: 'mail', current: [], add: ['ann@example.com'], remove: [], replace: true },
      ]),
    );
  });

  it('finds an entry at another DN through a correlation list, ignoring case', () => {
    const index = new DestinationIndex([entry('cn=Ann Old,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ANN'] })], [['uid']]);
    const result = compareRequest(upsert('cn=Ann,ou=Corp,dc=example,dc=com', { cn: ['Ann'], uid: ['ann'] }), index, options);
    expect(result).toMatchObject({ foundBy: 'correlation', dn: 'cn=Ann Old,ou=Corp,dc=example,dc=com' });
  });

  it('reports an ambiguous correlation as an error instead of guessing', () => {
    const index = new DestinationIndex([entry('cn=A1,dc=example,dc=com', { uid: ['ann'] }), entry('cn=A2,dc=example,dc=com', { uid: ['ann'] })], [['uid']]);
    const result = compareRequest(upsert('cn=Ann,dc=example,dc=com', { uid: ['ann'] }), index, options);
    expect(result.kind).toBe('error');
    expect(result.problem).toMatch(/correlation finds 2 destination entries/);
  });

  it('plans a create when nothing matches, and leaves unmatched destination entries as candidates, children first', () => {
    const index = new DestinationIndex([entry('ou=Old,dc=example,dc=com', {}), entry('cn=Stray,ou=Old,dc=example,dc=com', { uid: ['stray'] }), entry('cn=Ann,dc=example,dc=com', { uid: ['ann'] })], [['uid']]);
    expect(compareRequest(upsert('cn=Bob,dc=example,dc=com', { cn: ['Bob'], uid: ['bob'] }), index, options).kind).toBe('create');
    compareRequest(upsert('cn=Ann,dc=example,dc=com', { uid: ['ann'] }), index, options);
    expect(index.unclaimed().map((e) => e.dn)).toEqual(['cn=Stray,ou=Old,dc=example,dc=com', 'ou=Old,dc=example,dc=com']);
  });
});

describe('describeDifference', () => {
  it('shows replaced values, value-level changes, and never a password', () => {
    expect(describeDifference({ attribute: 'description', current: ['a'], add: ['b'], remove: [], replace: true }, () => false)).toBe('description: "a" -> "b"');
    expect(describeDifference({ attribute: 'member', current: [], add: ['cn=x'], remove: ['cn=y'], replace: false }, () => false)).toBe('member: +"cn=x" -"cn=y"');
    expect(describeDifference({ attribute: 'userPassword', current: [], add: ['secret'], remove: [], replace: true }, (n) => n === 'userPassword')).toBe('userPassword: (none) -> ***');
  });
});

describe('snapshotEvent', () => {
  it('is a full read: op snapshot, every attribute a replace, keyed by the stable id, deterministic id per run', () => {
    const attributes = new Map([['cn', { name: 'cn', values: ['Ann'] }]]);
    const event = snapshotEvent(
      { dn: 'CN=Ann,DC=example,DC=test', entryId: { kind: 'objectGUID', value: 'abc' }, objectClasses: ['user'], attributes },
      7,
      { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1', runId: 'run1', detectedAt: 5 },
    );
    expect(event).toMatchObject({ op: 'snapshot', eventId: 'ad:snapshot:run1:abc', source: { position: { kind: 'snapshot', runId: 'run1', index: 7 } }, attributes: [{ name: 'cn', op: 'replace', values: ['Ann'] }] });
  });
});
