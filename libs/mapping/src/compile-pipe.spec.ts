import { compilePipe } from './compile-pipe';
import { type PipeInput, pipeSchema, SECRET_ATTRIBUTES } from './pipe';

const input: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [
    { from: '*,OU=Groups,OU=Corp,DC=example,DC=test', to: '{1},ou=Groups,dc=example,dc=com' },
    { from: '*,OU=Sales,OU=Corp,DC=example,DC=test', to: 'uid={sAMAccountName},ou=People,dc=example,dc=com' },
  ],
  attributeMappings: [
    { from: 'mail', to: 'mail' },
    { from: 'sn', to: 'sn' },
  ],
  autoMapExclude: ['objectSid'],
  ignoreChangesBy: ['CN=Sync Writer, OU=Service Accounts, DC=example, DC=test'],
  syncClasses: [
    {
      name: 'groups',
      evaluationOrder: 20,
      objectClasses: ['group'],
      destinationObjectClasses: ['groupOfUniqueNames'],
      attributeMappings: [{ from: 'member', to: 'uniqueMember', dn: true }],
    },
    {
      name: 'users',
      evaluationOrder: 10,
      includeFilter: '(&(objectClass=user)(!(department=Contractors)))',
      excludeAdSystemObjects: true,
      autoMapSameNames: true,
      autoMapExclude: ['whenChanged'],
      destinationObjectClasses: ['inetOrgPerson'],
      attributeMappings: [
        { from: 'sAMAccountName', to: 'uid' },
        { from: 'userPrincipalName', to: 'mail' },
        { to: 'cn', template: '{givenName} {sn}' },
      ],
    },
  ],
};

describe('compilePipe', () => {
  const pipe = compilePipe(pipeSchema.parse(input));

  it('orders sync classes by evaluationOrder', () => {
    expect(pipe.classes.map((syncClass) => syncClass.name)).toEqual(['users', 'groups']);
  });

  it("adds the pipe's mappings to each class, the class's own winning for the same destination attribute", () => {
    const users = pipe.classes[0];
    expect(users?.valueMappings.map((m) => `${m.from}->${m.to}`)).toEqual(['sAMAccountName->uid', 'userPrincipalName->mail', 'sn->sn']);
    expect(users?.templates.map((m) => m.to)).toEqual(['cn']);
    expect(pipe.classes[1]?.valueMappings.map((m) => `${m.from}->${m.to}`)).toEqual(['member->uniqueMember', 'mail->mail', 'sn->sn']);
  });

  it('merges auto-mapping switches: the class overrides the flag and adds exclusions; objectClass is always excluded', () => {
    const [users, groups] = pipe.classes;
    expect(users?.autoMap).toBe(true);
    expect([...(users?.autoMapExclude ?? [])]).toEqual(['objectclass', ...SECRET_ATTRIBUTES.map((name) => name.toLowerCase()), 'objectsid', 'whenchanged']);
    expect(groups?.autoMap).toBe(false);
  });

  it('unlinks deleted entries from the member attributes mapped with dn: true', () => {
    expect(pipe.unlinkAttributes).toEqual(['uniqueMember']);
  });

  it('lists the source attributes detectors must always carry', () => {
    expect(pipe.requiredSourceAttributes).toEqual(['department', 'iscriticalsystemobject', 'objectclass', 'samaccountname']);
  });

  it('normalizes the ignored initiators', () => {
    expect([...pipe.ignoreChangesBy]).toEqual(['cn=sync writer,ou=service accounts,dc=example,dc=test']);
  });
});
