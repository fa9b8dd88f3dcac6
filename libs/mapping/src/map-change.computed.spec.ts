import { type AttributeChange, type EntryChangeEvent, type EntryImage } from '@idsync/contracts';
import { parse } from 'yaml';
import { compilePipe, type CompiledPipe } from './compile-pipe';
import { mapChange, MappingError, type MapResult } from './map-change';
import { pipeSchema } from './pipe';

/** Account state and value transforms, AD to the directory: the mappings the demo pipes use, and conditions. */
const adToDs: CompiledPipe = compilePipe(
  pipeSchema.parse(
    parse(`
name: ad-to-ds
source: ad
destination: ds
dnMaps:
  - from: "*,OU=Corp,DC=example,DC=test"
    to: "{1},ou=People,dc=example,dc=com"
syncClasses:
  - name: users
    evaluationOrder: 10
    objectClasses: [user]
    destinationObjectClasses: [top, person, organizationalPerson, inetOrgPerson]
    attributeMappings:
      - { from: sAMAccountName, to: uid }
      - { from: userAccountControl, to: nsAccountLock, transforms: [{ bitTest: 2, set: "TRUE" }] }
      - { from: accountExpires, to: accountExpiresTime, transforms: [{ time: { from: filetime, to: generalizedTime } }] }
      - { from: mail, to: mail, transforms: [{ case: lower }] }
      - { to: employeeType, values: [contractor], when: "(description=contractor*)" }
      - { to: employeeType, values: [staff], when: "(sAMAccountName=*)" }
      - { to: departmentNumber, template: "{department}-{company}", when: "(company=*)", transforms: [{ case: upper }] }
`),
  ),
);

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });
const add = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'add', values });
const image = (attributes: Record<string, string[]>): EntryImage => Object.entries(attributes).map(([name, values]) => ({ name, values }));

function adEvent(fields: Partial<EntryChangeEvent> & Pick<EntryChangeEvent, 'op'>): EntryChangeEvent {
  return {
    eventId: 'ad:dirsync:1:0',
    source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1.example.test:636', position: { kind: 'dirsync', cookieDigest: 'sha256:00', index: 0 } },
    entryId: { kind: 'objectGUID', value: '6f1c0b3e-7a2d-4c1b-9e8f-0a1b2c3d4e5f' },
    dn: 'CN=Jane Doe,OU=Corp,DC=example,DC=test',
    previousDn: null,
    objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
    attributes: [],
    initiator: null,
    changeTime: null,
    detectedAt: 1,
    after: null,
    before: null,
    ...fields,
  };
}

function written(result: MapResult): Record<string, readonly unknown[]> {
  if (result.kind !== 'mapped') throw new Error(`expected a mapped result, got ${result.reason}`);
  const out: Record<string, readonly unknown[]> = {};
  for (const change of result.requests[0]?.attributes ?? []) out[`${change.name} ${change.op}`] = change.values;
  return out;
}

/** Why nothing was written: a modify whose only mapped attribute could not be computed is dropped with the warning. */
const nothingWritten = (result: MapResult): string => {
  if (result.kind !== 'dropped' || result.reason !== 'nothing-to-write') throw new Error(`expected nothing-to-write, got ${result.kind}`);
  return result.detail;
};

describe('mapChange: transforms and conditions', () => {
  const newUser = (uac: string, extra: AttributeChange[] = []): EntryChangeEvent =>
    adEvent({ op: 'add', attributes: [replace('sAMAccountName', 'jdoe'), replace('userAccountControl', uac), replace('mail', 'Jane.Doe@Example.TEST'), ...extra] });

  it('locks the directory account of a user created disabled, and writes no lock for an enabled one', () => {
    expect(written(mapChange(newUser('514'), adToDs))['nsAccountLock replace']).toEqual(['TRUE']);
    expect(written(mapChange(newUser('512'), adToDs))['nsAccountLock replace']).toBeUndefined();
  });

  it('disabling and enabling in AD replaces the lock (set, then cleared)', () => {
    const modify = (uac: string) => adEvent({ op: 'modify', attributes: [replace('userAccountControl', uac)] });
    expect(written(mapChange(modify('66050'), adToDs))).toEqual({ 'nsAccountLock replace': ['TRUE'] });
    expect(written(mapChange(modify('66048'), adToDs))).toEqual({ 'nsAccountLock replace': [] });
  });

  it('turns accountExpires into a generalized time, and "never" into no value', () => {
    const modify = (filetime: string) => adEvent({ op: 'modify', attributes: [replace('accountExpires', filetime)] });
    expect(written(mapChange(modify('134458272000000000'), adToDs))).toEqual({ 'accountExpiresTime replace': ['20270131000000Z'] });
    expect(written(mapChange(modify('9223372036854775807'), adToDs))).toEqual({ 'accountExpiresTime replace': [] });
  });

  it('writes a transformed attribute whole even when the source changed value by value, from the after-image', () => {
    const event = adEvent({ op: 'modify', attributes: [add('mail', 'Second@Example.TEST')], after: image({ mail: ['Jane@Example.TEST', 'Second@Example.TEST'] }) });
    expect(written(mapChange(event, adToDs))).toEqual({ 'mail replace': ['jane@example.test', 'second@example.test'] });
  });

  it('leaves a transformed attribute alone, with a warning, when the event gives only part of its values', () => {
    const result = mapChange(adEvent({ op: 'modify', attributes: [add('mail', 'Second@Example.TEST')] }), adToDs);
    expect(nothingWritten(result)).toBe('no mapped attribute changed (mail not updated: the event does not give the full value of mail)');
  });

  it('dead-letters an event whose value a transform cannot read, naming the mapping and not the value', () => {
    let error: unknown;
    try {
      mapChange(adEvent({ op: 'modify', attributes: [replace('userAccountControl', 'jdoe-secret')] }), adToDs);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MappingError);
    expect((error as Error).message).toMatch(/nsAccountLock: transform bitTest: a value is not an integer \(11 characters\)/);
    expect((error as Error).message).not.toMatch(/jdoe-secret/);
  });

  it('takes the first candidate whose condition holds', () => {
    expect(written(mapChange(newUser('512', [replace('description', 'contractor, Acme')]), adToDs))['employeeType replace']).toEqual(['contractor']);
    expect(written(mapChange(newUser('512', [replace('description', 'engineer')]), adToDs))['employeeType replace']).toEqual(['staff']);
  });

  it('re-evaluates the conditions when an attribute they read changes, from the after-image', () => {
    const event = adEvent({ op: 'modify', attributes: [replace('description', 'contractor')], after: image({ description: ['contractor'], sAMAccountName: ['jdoe'] }) });
    expect(written(mapChange(event, adToDs))).toEqual({ 'employeeType replace': ['contractor'] });
    const back = adEvent({ op: 'modify', attributes: [replace('description', 'engineer')], after: image({ description: ['engineer'], sAMAccountName: ['jdoe'] }) });
    expect(written(mapChange(back, adToDs))).toEqual({ 'employeeType replace': ['staff'] });
  });

  it('does not guess when a condition cannot be decided', () => {
    const result = mapChange(adEvent({ op: 'modify', attributes: [replace('description', 'engineer')] }), adToDs);
    expect(nothingWritten(result)).toBe('no mapped attribute changed (employeeType not updated: condition (sAMAccountName=*) cannot be decided (the event does not give the attributes it reads))');
  });

  it('leaves the attribute as it is when no condition holds, and transforms a conditional template', () => {
    const withCompany = newUser('512', [replace('department', 'sales'), replace('company', 'acme')]);
    expect(written(mapChange(withCompany, adToDs))['departmentNumber replace']).toEqual(['SALES-ACME']);
    const modify = adEvent({ op: 'modify', attributes: [replace('department', 'ops')], after: image({ department: ['ops'], company: [] }) });
    expect(nothingWritten(mapChange(modify, adToDs))).toBe('no mapped attribute changed');
  });
});

describe('pipe configuration: transforms and conditions', () => {
  const validate = (mappings: string) =>
    pipeSchema.safeParse(
      parse(`
name: p
source: ad
destination: ds
syncClasses:
  - name: users
    evaluationOrder: 1
    destinationObjectClasses: [top]
    attributeMappings: ${mappings}
`),
    );
  const issues = (mappings: string): string[] => {
    const result = validate(mappings);
    if (result.success) throw new Error('expected a validation error');
    return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('allows several mappings to one attribute only when each but the last has a condition', () => {
    expect(validate('[{ to: a, values: [x], when: "(b=1)" }, { to: a, values: [y] }]').success).toBe(true);
    expect(issues('[{ to: a, values: [x] }, { to: a, values: [y], when: "(b=1)" }]')).toEqual([
      "syncClasses.0.attributeMappings.1.to: 'a' is already mapped by entry [0], which has no when: only the last candidate for an attribute may go without one",
    ]);
    expect(issues('[{ to: a, values: [x] }, { to: a, values: [y] }]')).toEqual(["syncClasses.0.attributeMappings.1.to: 'a' is already mapped by entry [0]"]);
  });

  it('refuses a condition that is not a filter or reads a password, and transforms of constants or DN values', () => {
    expect(issues('[{ to: a, values: [x], when: "(b=1" }]')[0]).toMatch(/^syncClasses\.0\.attributeMappings\.0\.when: is not a valid LDAP filter/);
    expect(issues('[{ to: a, values: [x], when: "(userPassword=*)" }]')[0]).toMatch(/must not read password attributes/);
    expect(issues('[{ to: a, values: [x], transforms: [{ case: lower }] }]')[0]).toMatch(/transforms: apply to a copy \(from\) or a template, not to constant values/);
    expect(issues('[{ from: m, to: a, dn: true, transforms: [{ case: lower }] }]')[0]).toMatch(/not to DN values/);
    expect(issues('[{ from: m, to: a, transforms: [{ bitTest: -1 }] }]')[0]).toMatch(/transforms\.0\.bitTest: bitTest: must be a non-zero bit mask/);
  });
});
