import { type AttributeChange, type AttributePolicy, type WriteRequest } from '@idsync/contracts';
import { currentEntry } from './diff';
import { InvalidEntryError } from './errors';
import { planWrite, type WritePlan } from './plan';

const AD = { kind: 'active-directory' } as const;
const DS = { kind: 'ldap' } as const;
const DN = 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test';

const replace = (name: string, ...values: (string | Buffer)[]): AttributeChange => ({ name, op: 'replace', values });
const policy = (name: string, fields: Partial<AttributePolicy>): AttributePolicy => ({ name, authority: 'force', bitMask: null, auxiliaryClass: null, ...fields });
const DISABLED_BIT = policy('userAccountControl', { bitMask: '2' });

function request(attributes: AttributeChange[], attributePolicies: AttributePolicy[], op: WriteRequest['op'] = 'modify'): WriteRequest {
  return {
    requestId: 'evt-1/ds-to-ad/0',
    pipe: 'ds-to-ad',
    sourceEventId: 'evt-1',
    sourceEntryId: { kind: 'entryUUID', value: '5f0c1a2e-0000-4000-8000-000000000001' },
    op,
    dn: DN,
    previousDn: null,
    objectClasses: op === 'upsert' ? ['top', 'person', 'organizationalPerson', 'user'] : [],
    attributes,
    correlation: [],
    changeTime: null,
    detectedAt: 1,
    attributePolicies,
  };
}

const entry = (attributes: Record<string, string[]>) => currentEntry({ dn: DN, objectClass: ['top', 'person', 'organizationalPerson', 'user'], ...attributes });
const changes = (plan: WritePlan) => plan.steps.map((step) => (step.kind === 'modify' ? step.changes : step));

describe('attribute policies in the writer', () => {
  it('bits: a lock sets the disabled bit and keeps every other bit of userAccountControl', () => {
    const plan = planWrite(request([replace('userAccountControl', '2')], [DISABLED_BIT]), entry({ userAccountControl: ['66048'] }), AD);
    expect(changes(plan)).toEqual([[{ op: 'replace', name: 'userAccountControl', values: ['66050'] }]]);
    const unlock = planWrite(request([replace('userAccountControl', '0')], [DISABLED_BIT]), entry({ userAccountControl: ['66050'] }), AD);
    expect(changes(unlock)).toEqual([[{ op: 'replace', name: 'userAccountControl', values: ['66048'] }]]);
  });

  it('bits: nothing to write when the bit is already as asked', () => {
    expect(planWrite(request([replace('userAccountControl', '0')], [DISABLED_BIT]), entry({ userAccountControl: ['512'] }), AD).steps).toEqual([]);
  });

  it('bits: a value that is not one integer is refused, not guessed', () => {
    expect(() => planWrite(request([replace('userAccountControl', 'TRUE')], [DISABLED_BIT]), entry({ userAccountControl: ['512'] }), AD)).toThrow(InvalidEntryError);
  });

  it('bits on create: merged into what the writer sets (512 with a password, after it; 546 without, never enabled)', () => {
    const password = Buffer.from('"S3cret!pw"', 'utf16le');
    const locked = planWrite(request([replace('unicodePwd', password), replace('userAccountControl', '2')], [DISABLED_BIT], 'upsert'), null, AD);
    expect(locked.steps.at(-1)).toEqual({ kind: 'modify', dn: DN, changes: [{ op: 'replace', name: 'userAccountControl', values: ['514'] }] });
    const open = planWrite(request([replace('unicodePwd', password), replace('userAccountControl', '0')], [DISABLED_BIT], 'upsert'), null, AD);
    expect(open.steps.at(-1)).toEqual({ kind: 'modify', dn: DN, changes: [{ op: 'replace', name: 'userAccountControl', values: ['512'] }] });
    const noPassword = planWrite(request([replace('userAccountControl', '0')], [DISABLED_BIT], 'upsert'), null, AD);
    expect(noPassword.steps).toHaveLength(1);
    expect(noPassword.steps[0]).toMatchObject({ kind: 'add', attributes: expect.arrayContaining([{ name: 'userAccountControl', values: ['546'] }]) });
  });

  it('bits and the first password of an account created without one: the lock decides, after the password', () => {
    const password = Buffer.from('"S3cret!pw"', 'utf16le');
    const plan = planWrite(request([replace('unicodePwd', password), replace('userAccountControl', '2')], [DISABLED_BIT]), entry({ userAccountControl: ['546'] }), AD);
    expect(changes(plan)).toEqual([[{ op: 'replace', name: 'unicodePwd', values: [password] }], [{ op: 'replace', name: 'userAccountControl', values: ['514'] }]]);
  });

  it('keep: written only where the destination has no value', () => {
    const keep = [policy('telephoneNumber', { authority: 'keep' })];
    expect(planWrite(request([replace('telephoneNumber', '+1 555 0100')], keep), entry({ telephoneNumber: ['+1 555 9999'] }), DS).steps).toEqual([]);
    expect(planWrite(request([replace('telephoneNumber')], keep), entry({ telephoneNumber: ['+1 555 9999'] }), DS).steps).toEqual([]);
    expect(changes(planWrite(request([replace('telephoneNumber', '+1 555 0100')], keep), entry({}), DS))).toEqual([[{ op: 'replace', name: 'telephoneNumber', values: ['+1 555 0100'] }]]);
  });

  it('merge: values are added, none removed', () => {
    const merge = [policy('otherMailbox', { authority: 'merge' })];
    const plan = planWrite(request([replace('otherMailbox', 'a@example.test')], merge), entry({ otherMailbox: ['b@example.test'] }), AD);
    expect(changes(plan)).toEqual([[{ op: 'add', name: 'otherMailbox', values: ['a@example.test'] }]]);
    expect(planWrite(request([{ name: 'otherMailbox', op: 'delete', values: [] }], merge), entry({ otherMailbox: ['b@example.test'] }), AD).steps).toEqual([]);
  });

  it('auxiliary class: added to an entry that lacks it, in the same modify, and to a created entry', () => {
    const aux = [policy('employeeNumber', { auxiliaryClass: 'idsyncExtra' })];
    const plan = planWrite(request([replace('employeeNumber', '7')], aux), entry({}), DS);
    expect(changes(plan)).toEqual([
      [
        { op: 'add', name: 'objectClass', values: ['idsyncExtra'] },
        { op: 'replace', name: 'employeeNumber', values: ['7'] },
      ],
    ]);
    expect(changes(planWrite(request([replace('employeeNumber', '7')], aux), entry({ objectClass: ['top', 'idsyncextra'] }), DS))).toEqual([
      [{ op: 'replace', name: 'employeeNumber', values: ['7'] }],
    ]);
    const created = planWrite(request([replace('employeeNumber', '7'), replace('sn', 'Doe')], aux, 'upsert'), null, DS);
    expect(created.steps[0]).toMatchObject({ kind: 'add', attributes: expect.arrayContaining([{ name: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user', 'idsyncExtra'] }]) });
  });
});
