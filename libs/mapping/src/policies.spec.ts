import { type AttributeChange, type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import { parse } from 'yaml';
import { compilePipe } from './compile-pipe';
import { mapChange } from './map-change';
import { pipeSchema } from './pipe';
import { checkWriteRequest, writeScopes } from './write-scope';

// Attribute policies: authority (force, keep, merge), bits, auxiliary classes. Set on mappings, carried by the
// requests that write those attributes, and checked by the writer's scope: a request cannot drop or change them.
const dsToAdYaml = `
name: ds-to-ad
source: ds
destination: ad
dnMaps:
  - from: "*,ou=People,dc=example,dc=com"
    to: "{1},OU=People,DC=example,DC=test"
syncClasses:
  - name: people
    evaluationOrder: 1
    objectClasses: [inetOrgPerson]
    destinationObjectClasses: [top, person, organizationalPerson, user]
    attributeMappings:
      - { from: uid, to: sAMAccountName }
      - { to: userAccountControl, values: ["2"], bits: 2, when: "(nsAccountLock=true)" }
      - { to: userAccountControl, values: ["0"], bits: 2 }
      - { from: telephoneNumber, to: telephoneNumber, authority: keep }
      - { from: mail, to: otherMailbox, authority: merge }
      - { from: employeeNumber, to: employeeNumber, auxiliaryClass: idsyncExtra }
`;
const pipe = compilePipe(pipeSchema.parse(parse(dsToAdYaml)));
const scopes = writeScopes([pipe], () => 'DC=example,DC=test');

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });
const modify = (attributes: AttributeChange[], after: Record<string, string[]> | null = null): EntryChangeEvent => ({
  eventId: 'ds:changelog:1',
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds:636', position: { kind: 'change-number', changeNumber: '1' } },
  entryId: { kind: 'entryUUID', value: '0b7d4a52-3e1f-4f60-8a55-2c9e7b1d0a11' },
  op: 'modify',
  dn: 'cn=jdoe,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes,
  initiator: null,
  changeTime: null,
  detectedAt: 1,
  after: after === null ? null : Object.entries(after).map(([name, values]) => ({ name, values })),
  before: null,
});

function requestOf(event: EntryChangeEvent): WriteRequest {
  const result = mapChange(event, pipe);
  if (result.kind !== 'mapped') throw new Error(`expected a mapped result, got ${result.reason}: ${result.detail}`);
  return result.requests[0] as WriteRequest;
}

describe('attribute policies: configuration', () => {
  const issues = (mappings: string): string[] => {
    const result = pipeSchema.safeParse(
      parse(`
name: p
source: ds
destination: ad
attributeMappings: [{ from: mail, to: mail }]
syncClasses:
  - { name: a, evaluationOrder: 1, destinationObjectClasses: [top], attributeMappings: ${mappings} }
  - { name: b, evaluationOrder: 2, destinationObjectClasses: [top], attributeMappings: [{ from: telephoneNumber, to: telephoneNumber }] }
`),
    );
    if (result.success) throw new Error('expected a validation error');
    return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('refuses one attribute written two ways in a pipe (the writer could not tell which)', () => {
    expect(issues('[{ from: telephoneNumber, to: telephoneNumber, authority: keep }]')).toEqual([
      "syncClasses.1.attributeMappings.0: writes 'telephoneNumber' with authority force, no bits, no auxiliaryClass, but syncClasses.0.attributeMappings[0] with authority keep, no bits, no auxiliaryClass: a pipe writes each attribute one way",
    ]);
  });

  it('refuses bad masks, bits with keep or merge, and bad class names', () => {
    expect(issues('[{ to: userAccountControl, values: ["2"], bits: 0 }]')[0]).toMatch(/bits: must be a non-zero 32-bit mask/);
    expect(issues('[{ to: userAccountControl, values: ["2"], bits: 0x100000000 }]')[0]).toMatch(/bits: must be a non-zero 32-bit mask/);
    expect(issues('[{ to: userAccountControl, values: ["2"], bits: 2, authority: keep }]')[0]).toMatch(/authority: bits are always taken from the mapping/);
    expect(issues('[{ from: x, to: y, auxiliaryClass: "not a class" }]')[0]).toMatch(/auxiliaryClass: must be an object class name/);
    expect(issues('[{ from: x, to: y, authority: always }]')[0]).toMatch(/^syncClasses\.0\.attributeMappings\.0\.authority: /);
  });
});

describe('attribute policies: requests', () => {
  it('carry the policy of each attribute they write, and only of those', () => {
    const request = requestOf(modify([replace('telephoneNumber', '+1 555 0100')]));
    expect(request.attributePolicies).toEqual([{ name: 'telephoneNumber', authority: 'keep', bitMask: null, auxiliaryClass: null }]);
    expect(requestOf(modify([replace('uid', 'jdoe2')])).attributePolicies).toBeUndefined();
  });

  it('a lock in the directory sets the disabled bit only; an unlock clears it', () => {
    const locked = requestOf(modify([replace('nsAccountLock', 'TRUE')], { nsAccountLock: ['TRUE'] }));
    expect(locked.attributes).toEqual([replace('userAccountControl', '2')]);
    expect(locked.attributePolicies).toEqual([{ name: 'userAccountControl', authority: 'force', bitMask: '2', auxiliaryClass: null }]);
    const unlocked = requestOf(modify([{ name: 'nsAccountLock', op: 'delete', values: [] }], { nsAccountLock: [] }));
    expect(unlocked.attributes).toEqual([replace('userAccountControl', '0')]);
  });

  it('a password change carries the lock state, so a first password never enables a locked account', () => {
    const sealed = { name: 'idsyncPassword', op: 'replace' as const, values: [Buffer.from('sealed envelope') as unknown as string] };
    const locked = requestOf(modify([sealed], { nsAccountLock: ['TRUE'], idsyncAccountExpires: [] }));
    expect(locked.attributes.find((c) => c.name === 'userAccountControl')).toEqual(replace('userAccountControl', '2'));
    const open = requestOf(modify([sealed], { nsAccountLock: [] }));
    expect(open.attributes.find((c) => c.name === 'userAccountControl')).toEqual(replace('userAccountControl', '0'));
    // Other computed attributes whose inputs did not change are not sent.
    expect(
      requestOf(modify([replace('uid', 'x'), sealed], { nsAccountLock: [] }))
        .attributes.map((c) => c.name)
        .sort(),
    ).toEqual(['idsyncPassword', 'sAMAccountName', 'userAccountControl']);
  });

  it('pass the writer\u2019s scope check as mapped', () => {
    const request = requestOf(modify([replace('telephoneNumber', '1'), replace('mail', 'a@b'), replace('employeeNumber', '7'), replace('nsAccountLock', 'TRUE')], { nsAccountLock: ['TRUE'] }));
    expect(request.attributePolicies?.map((p) => p.name).sort()).toEqual(['employeeNumber', 'otherMailbox', 'telephoneNumber', 'userAccountControl']);
    expect(checkWriteRequest(request, scopes, 'ad')).toBeNull();
  });

  it('are refused when a policy is left out, changed or added', () => {
    const request = requestOf(modify([replace('telephoneNumber', '+1 555 0100')]));
    const { attributePolicies: _left, ...withoutPolicies } = request;
    expect(checkWriteRequest(withoutPolicies, scopes, 'ad')).toEqual({
      refusal: 'policy',
      detail: `request ${request.requestId} for ${request.dn} refused (policy): it writes telephoneNumber without pipe 'ds-to-ad''s policy for it (authority keep)`,
    });
    const forced = { ...request, attributePolicies: [{ name: 'telephoneNumber', authority: 'force' as const, bitMask: null, auxiliaryClass: null }] };
    expect(checkWriteRequest(forced, scopes, 'ad')?.detail).toMatch(/its policy for telephoneNumber \(authority force\) is not pipe 'ds-to-ad''s \(authority keep\)/);
    const masked = { ...request, attributePolicies: [...(request.attributePolicies ?? []), { name: 'sAMAccountName', authority: 'force' as const, bitMask: '2', auxiliaryClass: null }] };
    expect(checkWriteRequest(masked, scopes, 'ad')?.detail).toMatch(/gives sAMAccountName a policy \(authority force, bits 2\), which pipe 'ds-to-ad' does not/);
  });
});
