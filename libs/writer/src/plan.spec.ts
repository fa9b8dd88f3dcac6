import { type WriteRequest } from '@idsync/contracts';
import { currentEntry } from './diff';
import { EntryNotFoundError, InvalidEntryError } from './errors';
import { planUnlink, planWrite, samAccountNameProblem } from './plan';

const AD = { kind: 'active-directory' } as const;
const DS = { kind: 'ldap' } as const;

function request(overrides: Partial<WriteRequest>): WriteRequest {
  return {
    requestId: 'evt-1/ds-to-ad/0',
    pipe: 'ds-to-ad',
    sourceEventId: 'evt-1',
    sourceEntryId: { kind: 'entryUUID', value: '5f0c1a2e-0000-4000-8000-000000000001' },
    op: 'upsert',
    dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test',
    previousDn: null,
    objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
    attributes: [],
    correlation: [['sAMAccountName']],
    changeTime: null,
    detectedAt: 1_700_000_000_000,
    ...overrides,
  };
}

const attrsOf = (plan: ReturnType<typeof planWrite>): Record<string, readonly (string | Buffer)[]> => {
  const step = plan.steps[0];
  if (step?.kind !== 'add') throw new Error(`expected an add, got ${step?.kind}`);
  return Object.fromEntries(step.attributes.map((a) => [a.name, a.values]));
};

describe('planWrite: creates', () => {
  it('creates an AD user disabled, with a logon name, when the request has no password', () => {
    const plan = planWrite(
      request({
        attributes: [
          { name: 'sAMAccountName', op: 'replace', values: ['jdoe'] },
          { name: 'sn', op: 'replace', values: ['Doe'] },
        ],
      }),
      null,
      AD,
    );
    expect(plan.steps).toHaveLength(1);
    expect(attrsOf(plan)).toMatchObject({ sAMAccountName: ['jdoe'], userAccountControl: ['546'], CN: ['jdoe'], sn: ['Doe'] });
    expect(attrsOf(plan)['objectClass']).toEqual(['top', 'person', 'organizationalPerson', 'user']);
  });

  it('creates an AD user with a password disabled first, then sets the password, then enables it (512)', () => {
    const password = Buffer.from('"S3cret!pw"', 'utf16le');
    const plan = planWrite(request({ attributes: [{ name: 'unicodePwd', op: 'replace', values: [password] }] }), null, AD);
    expect(attrsOf(plan)).toMatchObject({ userAccountControl: ['546'], sAMAccountName: ['jdoe'] });
    expect(attrsOf(plan)['unicodePwd']).toBeUndefined();
    expect(plan.steps.slice(1)).toEqual([
      { kind: 'modify', dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', changes: [{ op: 'replace', name: 'unicodePwd', values: [password] }] },
      { kind: 'modify', dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', changes: [{ op: 'replace', name: 'userAccountControl', values: ['512'] }] },
    ]);
  });

  it("enables a created AD user with the request's own userAccountControl after the password", () => {
    const password = Buffer.from('"S3cret!pw"', 'utf16le');
    const plan = planWrite(
      request({
        attributes: [
          { name: 'unicodePwd', op: 'replace', values: [password] },
          { name: 'userAccountControl', op: 'replace', values: ['66048'] },
        ],
      }),
      null,
      AD,
    );
    expect(attrsOf(plan)['userAccountControl']).toEqual(['546']);
    expect(plan.steps.at(-1)).toMatchObject({ kind: 'modify', changes: [{ name: 'userAccountControl', values: ['66048'] }] });
  });

  it('creates an AD group with a logon name and a global security group type', () => {
    const plan = planWrite(request({ dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'group'], attributes: [] }), null, AD);
    expect(attrsOf(plan)).toMatchObject({ sAMAccountName: ['Sales Team'], groupType: ['-2147483646'], CN: ['Sales Team'] });
  });

  it('creates an organizationalUnit with its naming value', () => {
    const plan = planWrite(request({ dn: 'OU=Berlin,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'organizationalUnit'] }), null, AD);
    expect(attrsOf(plan)).toEqual({ OU: ['Berlin'], objectClass: ['top', 'organizationalUnit'] });
  });

  it('fills sn from cn for an inetOrgPerson the source gave no surname', () => {
    const plan = planWrite(
      request({
        dn: 'uid=svc1,ou=People,dc=example,dc=com',
        objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
        attributes: [
          { name: 'cn', op: 'replace', values: ['Service One'] },
          { name: 'mail', op: 'replace', values: [] },
        ],
      }),
      null,
      DS,
    );
    expect(attrsOf(plan)).toEqual({
      cn: ['Service One'],
      sn: ['Service One'],
      uid: ['svc1'],
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    });
  });

  it('creates an empty groupOfNames without inventing a member', () => {
    const plan = planWrite(request({ dn: 'cn=Empty,ou=Groups,dc=example,dc=com', objectClasses: ['top', 'groupOfNames'] }), null, DS);
    expect(attrsOf(plan)).toEqual({ cn: ['Empty'], objectClass: ['top', 'groupOfNames'] });
  });

  it('refuses a create without object classes, saying where to set them', () => {
    expect(() => planWrite(request({ objectClasses: [] }), null, AD)).toThrow(/no object classes.*destinationObjectClasses/);
  });
});

describe('planWrite: AD limits', () => {
  it.each([
    ['a name longer than 20 characters', 'abcdefghijklmnopqrstu', /21 characters long; AD allows at most 20/],
    ['a forbidden character', 'j[doe]', /contains '\[', '\]'/],
    ['a trailing dot', 'jdoe.', /ends with a dot/],
  ])('rejects %s with a clear, non-retriable reason', (_, value, reason) => {
    const attempt = (): unknown => planWrite(request({ attributes: [{ name: 'sAMAccountName', op: 'replace', values: [value] }] }), null, AD);
    expect(attempt).toThrow(InvalidEntryError);
    expect(attempt).toThrow(reason);
    try {
      attempt();
    } catch (error) {
      expect((error as InvalidEntryError).outcome).toBe('dead-letter');
      expect((error as InvalidEntryError).retriable).toBe(false);
    }
  });

  it('rejects a logon name derived from a long RDN value', () => {
    expect(() => planWrite(request({ dn: 'CN=A Very Long Display Name Person,OU=Corp,DC=example,DC=test' }), null, AD)).toThrow(/sAMAccountName 'A Very Long Display Name Person'/);
  });

  it('allows group names up to 256 characters', () => {
    expect(samAccountNameProblem('All employees of the sales department', true)).toBeNull();
    expect(samAccountNameProblem('All employees of the sales department', false)).toMatch(/at most 20/);
  });

  it('checks sAMAccountName on modifies too', () => {
    const entry = currentEntry({ dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', sAMAccountName: 'jdoe', objectClass: ['user'] });
    expect(() => planWrite(request({ op: 'modify', attributes: [{ name: 'samaccountname', op: 'replace', values: ['a*b'] }] }), entry, AD)).toThrow(/'\*'/);
  });

  it('does not apply AD limits to the directory server', () => {
    const plan = planWrite(request({ dn: 'uid=x,dc=example,dc=com', objectClasses: ['top', 'extensibleObject'], attributes: [{ name: 'sAMAccountName', op: 'replace', values: ['a*b'] }] }), null, DS);
    expect(plan.steps[0]?.kind).toBe('add');
  });
});

describe('planWrite: existing entries', () => {
  const jdoe = currentEntry({
    dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test',
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    objectGUID: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
    sAMAccountName: 'jdoe',
    mail: 'jdoe@example.test',
  });

  it('is a no-op when an upsert finds the entry equal', () => {
    const plan = planWrite(request({ attributes: [{ name: 'mail', op: 'replace', values: ['JDOE@example.test'.toLowerCase()] }] }), jdoe, AD);
    expect(plan).toMatchObject({ steps: [], reason: 'the destination already matches', target: jdoe.dn });
  });

  it('modifies the entry it was given, even when found at another DN (correlation)', () => {
    const plan = planWrite(request({ dn: 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', attributes: [{ name: 'mail', op: 'replace', values: ['jane@example.test'] }] }), jdoe, AD);
    expect(plan.steps).toEqual([{ kind: 'modify', dn: jdoe.dn, changes: [{ op: 'replace', name: 'mail', values: ['jane@example.test'] }] }]);
  });

  it('leaves the naming attribute alone when the entry has another RDN (a create replayed after a rename)', () => {
    const renamed = currentEntry({ dn: 'cn=Ann New,ou=Corp,dc=example,dc=com', objectClass: ['inetOrgPerson'], cn: 'Ann New', uid: 'ann', description: 'x' });
    const stale = planWrite(
      request({
        dn: 'cn=Ann Old,ou=Corp,dc=example,dc=com',
        attributes: [
          { name: 'cn', op: 'replace', values: ['Ann Old'] },
          { name: 'description', op: 'replace', values: ['y'] },
        ],
      }),
      renamed,
      DS,
    );
    expect(stale.steps).toEqual([{ kind: 'modify', dn: renamed.dn, changes: [{ op: 'replace', name: 'description', values: ['y'] }] }]);
    // At its own RDN, the naming attribute's other values are still the request's to set.
    const same = planWrite(request({ dn: renamed.dn, attributes: [{ name: 'cn', op: 'replace', values: ['Ann New', 'Annie'] }] }), renamed, DS);
    expect(same.steps).toEqual([{ kind: 'modify', dn: renamed.dn, changes: [expect.objectContaining({ name: 'cn' })] }]);
  });

  it('asks for a later retry when a modify finds no entry', () => {
    expect(() => planWrite(request({ op: 'modify' }), null, AD)).toThrow(EntryNotFoundError);
  });

  it('deletes an existing entry, and does nothing for one already gone', () => {
    expect(planWrite(request({ op: 'delete' }), jdoe, AD).steps).toEqual([{ kind: 'delete', dn: jdoe.dn }]);
    expect(planWrite(request({ op: 'delete' }), null, AD)).toMatchObject({ steps: [], reason: expect.stringMatching(/already deleted/) });
  });

  it('renames in place without newSuperior, and moves with it', () => {
    const rename = planWrite(request({ op: 'rename', previousDn: jdoe.dn, dn: 'CN=jdoe2,OU=People,OU=Corp,DC=example,DC=test' }), jdoe, AD);
    expect(rename.steps).toEqual([{ kind: 'modify-dn', dn: jdoe.dn, newDn: 'CN=jdoe2,OU=People,OU=Corp,DC=example,DC=test', newRdn: 'CN=jdoe2', newSuperior: null }]);
    const move = planWrite(request({ op: 'rename', previousDn: jdoe.dn, dn: 'cn=jdoe,ou=sales , OU=Corp,DC=example,DC=test' }), jdoe, AD);
    expect(move.steps).toEqual([{ kind: 'modify-dn', dn: jdoe.dn, newDn: 'cn=jdoe,ou=sales,OU=Corp,DC=example,DC=test', newRdn: 'cn=jdoe', newSuperior: 'ou=sales,OU=Corp,DC=example,DC=test' }]);
  });

  it('treats a rename already done (entry found at the new DN, equal) as a no-op', () => {
    const plan = planWrite(request({ op: 'rename', previousDn: 'CN=old,OU=People,OU=Corp,DC=example,DC=test', dn: jdoe.dn }), jdoe, AD);
    expect(plan.steps).toEqual([]);
  });

  it('does nothing for a rename whose entry is in neither place (deleted since: the late echo of a rename), and says why', () => {
    const plan = planWrite(request({ op: 'rename', previousDn: 'CN=old,OU=People,OU=Corp,DC=example,DC=test', dn: jdoe.dn }), null, AD);
    expect(plan.steps).toEqual([]);
    expect(plan.reason).toContain('deleted since, or never synced');
  });
});

describe('planUnlink', () => {
  it('removes the deleted DN from every group still holding it, and skips the others', () => {
    const gone = 'uid=tnguyen,ou=People,dc=example,dc=com';
    const holders = [
      currentEntry({ dn: 'cn=Support,ou=Groups,dc=example,dc=com', member: ['uid=mmiller,ou=People,dc=example,dc=com', 'UID=TNGUYEN,ou=People,dc=example,dc=com'] }),
      currentEntry({ dn: 'cn=Other,ou=Groups,dc=example,dc=com', member: ['uid=mmiller,ou=People,dc=example,dc=com'] }),
    ];
    const plan = planUnlink(request({ op: 'unlink', dn: gone, previousDn: gone, attributes: [{ name: 'member', op: 'delete', values: [gone] }] }), holders, DS);
    expect(plan.steps).toEqual([{ kind: 'modify', dn: 'cn=Support,ou=Groups,dc=example,dc=com', changes: [{ op: 'delete', name: 'member', values: ['UID=TNGUYEN,ou=People,dc=example,dc=com'] }] }]);
  });
});

describe('planWrite: values AD chooses itself', () => {
  const user = (pwdLastSet: string) =>
    currentEntry({ dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: 'jdoe', pwdLastSet });
  const notMustChange = request({ attributes: [{ name: 'pwdLastSet', op: 'replace', values: ['-1'] }] });

  it('pwdLastSet -1 ("not must-change") against a set time is already in line: nothing written (it would restart the password age)', () => {
    expect(planWrite(notMustChange, user('134086272000000000'), AD).steps).toEqual([]);
  });

  it('pwdLastSet -1 against 0 ("must change") is written', () => {
    expect(planWrite(notMustChange, user('0'), AD).steps).toEqual([
      { kind: 'modify', dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', changes: [{ op: 'replace', name: 'pwdLastSet', values: ['-1'] }] },
    ]);
  });

  it('pwdLastSet 0 against a set time is written', () => {
    const mustChange = request({ attributes: [{ name: 'pwdLastSet', op: 'replace', values: ['0'] }] });
    expect(planWrite(mustChange, user('134086272000000000'), AD).steps).toHaveLength(1);
  });

  it('in another directory, -1 is a value like any other', () => {
    expect(
      planWrite(
        { ...notMustChange, dn: 'cn=jdoe,ou=People,dc=example,dc=com' },
        currentEntry({ dn: 'cn=jdoe,ou=People,dc=example,dc=com', objectClass: ['inetOrgPerson'], pwdLastSet: '134086272000000000' }),
        DS,
      ).steps,
    ).toHaveLength(1);
  });
});

describe('planWrite: an AD account without a password is never enabled by the lock bit alone', () => {
  const account = (uac: string) =>
    currentEntry({ dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: 'jdoe', userAccountControl: uac });
  const unlock = request({
    attributes: [{ name: 'userAccountControl', op: 'replace', values: ['0'] }],
    attributePolicies: [{ name: 'userAccountControl', authority: 'force', bitMask: '2', auxiliaryClass: null }],
  });

  it('546 (disabled, no password needed) stays disabled: 544 would take an empty password', () => {
    expect(planWrite(unlock, account('546'), AD).steps).toEqual([]);
  });

  it('514 (disabled, with a password) is enabled: 512', () => {
    expect(planWrite(unlock, account('514'), AD).steps).toEqual([
      { kind: 'modify', dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', changes: [{ op: 'replace', name: 'userAccountControl', values: ['512'] }] },
    ]);
  });

  it('546 with its first password is enabled with it (512)', () => {
    const withPassword = request({
      attributes: [...unlock.attributes, { name: 'unicodePwd', op: 'replace', values: [Buffer.from('"Secret-1"', 'utf16le')] }],
      attributePolicies: unlock.attributePolicies,
    });
    const steps = planWrite(withPassword, account('546'), AD).steps;
    expect(steps.at(-1)).toEqual({ kind: 'modify', dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', changes: [{ op: 'replace', name: 'userAccountControl', values: ['512'] }] });
  });
});
