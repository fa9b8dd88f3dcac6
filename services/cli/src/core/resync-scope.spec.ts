import { compilePipe, pipeSchema, type PipeInput } from '@idsync/mapping';
import { resyncScope, ResyncScopeError } from './resync-scope';

const input: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [{ from: '**,OU=Corp,DC=example,DC=test', to: '{1},ou=Corp,dc=example,dc=com' }],
  correlation: [['uid'], ['mail']],
  syncClasses: [
    {
      name: 'groups',
      evaluationOrder: 20,
      includeBaseDns: ['OU=Corp,DC=example,DC=test'],
      objectClasses: ['group'],
      destinationObjectClasses: ['top', 'groupOfNames'],
      attributeMappings: [{ from: 'member', to: 'member', dn: true }],
    },
    {
      name: 'users',
      evaluationOrder: 30,
      includeBaseDns: ['OU=Corp,DC=example,DC=test'],
      objectClasses: ['user'],
      includeFilter: '(!(objectClass=computer))',
      destinationObjectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      attributeMappings: [
        { from: 'sAMAccountName', to: 'uid' },
        { to: 'cn', template: '{givenName} {sn}' },
      ],
    },
  ],
};
const pipe = compilePipe(pipeSchema.parse(input));
const base = { classes: [], sourceKind: 'active-directory', sourceBaseDn: 'DC=example,DC=test', destinationKind: 'ldap' } as const;

describe('resyncScope', () => {
  it('reads the inputs of transformed and conditional mappings by name (operational ones too) and their targets', () => {
    const dsToAd = compilePipe(
      pipeSchema.parse({
        name: 'ds-to-ad',
        source: 'ds',
        destination: 'ad',
        syncClasses: [
          {
            name: 'users',
            evaluationOrder: 1,
            objectClasses: ['inetOrgPerson'],
            destinationObjectClasses: ['top', 'user'],
            autoMapSameNames: true,
            attributeMappings: [
              { to: 'userAccountControl', values: ['2'], bits: 2, when: '(nsAccountLock=true)' },
              { to: 'userAccountControl', values: ['0'], bits: 2 },
              { from: 'idsyncAccountExpires', to: 'accountExpires', transforms: [{ time: { from: 'generalizedTime', to: 'filetime' } }] },
            ],
          },
        ],
      }),
    );
    const scope = resyncScope(dsToAd, { classes: [], sourceKind: 'ldap', sourceBaseDn: 'dc=example,dc=com', destinationKind: 'active-directory' });
    expect(scope.sourceAttributes).toEqual(expect.arrayContaining(['*', 'nsaccountlock', 'idsyncaccountexpires']));
    expect(scope.destinationAttributes).toEqual(expect.arrayContaining(['userAccountControl', 'accountExpires']));
  });

  it('reads the classes’ subtrees, their object classes, and only the attributes the mappings need', () => {
    const scope = resyncScope(pipe, base);
    expect(scope.sourceBases).toEqual(['OU=Corp,DC=example,DC=test']);
    expect(scope.sourceFilter).toBe('(|(objectClass=group)(objectClass=user))');
    expect(scope.sourceAttributes.map((a) => a.toLowerCase()).sort()).toEqual(['givenname', 'member', 'objectclass', 'objectguid', 'samaccountname', 'sn']);
    expect(scope.destinationBases).toEqual(['ou=Corp,dc=example,dc=com']);
    expect(scope.destinationObjectClasses).toEqual(['groupOfNames', 'inetOrgPerson']);
    expect(scope.destinationAttributes).toEqual(expect.arrayContaining(['objectClass', 'entryUUID', 'uid', 'cn', 'member', 'mail']));
  });

  it('narrows to one class, a base DN inside the source, and the operator’s filter', () => {
    const scope = resyncScope(pipe, { ...base, classes: ['users'], baseDn: 'OU=Sales,OU=Corp,DC=example,DC=test', filter: 'department=Sales' });
    expect(scope.classes.map((c) => c.name)).toEqual(['users']);
    expect(scope.sourceBases).toEqual(['OU=Sales,OU=Corp,DC=example,DC=test']);
    expect(scope.sourceFilter).toBe('(&(department=Sales)(objectClass=user))');
    expect(scope.destinationBases).toEqual(['OU=Sales,ou=Corp,dc=example,dc=com']);
  });

  it('refuses an unknown class, a base outside the source and a filter that does not parse, naming them', () => {
    expect(() => resyncScope(pipe, { ...base, classes: ['printers'] })).toThrow(new ResyncScopeError("pipe 'ad-to-ds' has no sync class 'printers' (it has: groups, users)"));
    expect(() => resyncScope(pipe, { ...base, baseDn: 'DC=other,DC=test' })).toThrow(/is not inside the source directory's base DC=example,DC=test/);
    expect(() => resyncScope(pipe, { ...base, filter: '(cn=unclosed' })).toThrow(/is not an LDAP filter/);
  });

  it('cannot tell the destination subtree when no DN map covers the source base', () => {
    const scope = resyncScope(pipe, { ...base, baseDn: 'DC=example,DC=test' });
    expect(scope.destinationBases).toBeNull();
  });
});
