import { type z } from 'zod';
import { type PipeInput, pipeSchema, pipesSchema } from './pipe';

const valid: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [{ from: '*,**,OU=Corp,DC=example,DC=test', to: '{1},ou=People,dc=example,dc=com' }],
  correlation: [['uid'], ['mail']],
  syncClasses: [
    {
      name: 'users',
      evaluationOrder: 10,
      includeBaseDns: ['OU=Corp,DC=example,DC=test'],
      includeFilter: '(&(objectClass=user)(!(objectClass=computer)))',
      destinationObjectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      attributeMappings: [
        { from: 'sAMAccountName', to: 'uid' },
        { to: 'cn', template: '{givenName} {sn}' },
        { from: 'manager', to: 'manager', dn: true },
        { to: 'o', values: ['Example'] },
      ],
    },
  ],
};

/** Each issue as `path: message`, the way the configuration loader reports them. */
function problems(input: unknown, schema: z.ZodType = pipeSchema): string[] {
  const result = schema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

function withClass(changes: Record<string, unknown>): unknown {
  return { ...valid, syncClasses: [{ ...valid.syncClasses[0], ...changes }] };
}

describe('pipeSchema', () => {
  it('accepts a complete pipe and applies the defaults', () => {
    const pipe = pipeSchema.parse(valid);
    expect(pipe.autoMapSameNames).toBe(false);
    expect(pipe.memberAttributes).toEqual(['member', 'uniqueMember']);
    expect(pipe.ignoreChangesBy).toEqual([]);
    const users = pipe.syncClasses[0];
    expect(users).toMatchObject({ creates: true, modifies: true, deletes: true, excludeDns: [], excludeAdSystemObjects: false, objectClasses: [] });
  });

  it('tags each attribute mapping with its kind', () => {
    expect(pipeSchema.parse(valid).syncClasses[0]?.attributeMappings).toEqual([
      { kind: 'direct', from: 'sAMAccountName', to: 'uid' },
      { kind: 'template', to: 'cn', template: '{givenName} {sn}' },
      { kind: 'dn', from: 'manager', to: 'manager' },
      { kind: 'constant', to: 'o', values: ['Example'] },
    ]);
  });

  it('names the path of every problem', () => {
    expect(problems({ ...valid, name: 'AD to DS', dnMaps: [{ from: '*,,dc=x', to: '{1}' }] })).toEqual(['name: pipe names are lower-case words (a-z, 0-9, -)', 'dnMaps.0.from: contains an empty RDN']);
  });

  it.each([
    ['an unknown key', { ...valid, syncClass: [] }, ': Unrecognized key: "syncClass"'],
    ['a missing source', { ...valid, source: undefined }, 'source: Invalid input: expected string, received undefined'],
    ['the same source and destination', { ...valid, destination: 'ad' }, "destination: is the same directory as source ('ad')"],
    ['no sync class', { ...valid, syncClasses: [] }, 'syncClasses: needs at least one sync class'],
    ['a DN map wildcard that does not exist', { ...valid, dnMaps: [{ from: '*,dc=x', to: '{2},dc=y' }] }, "dnMaps.0.to: {2} refers to wildcard 2, but the 'from' pattern '*,dc=x' has 1"],
    ['a DN map reading a password', { ...valid, dnMaps: [{ from: '*,dc=x', to: 'cn={userPassword},dc=y' }] }, 'dnMaps.0.to: must not read password attributes (userpassword)'],
    ['an empty correlation list', { ...valid, correlation: [[]] }, 'correlation.0: a correlation list needs at least one attribute'],
    ['an ignoreChangesBy that is not a DN', { ...valid, ignoreChangesBy: ['sync user'] }, "ignoreChangesBy.0: is not a valid DN: expected '=' after attribute type 'sync'"],
    ['an invalid base DN', withClass({ includeBaseDns: ['OU=Corp,,DC=example'] }), 'syncClasses.0.includeBaseDns.0: is not a valid DN: empty RDN'],
    ['the root DN as a base', withClass({ excludeDns: [''] }), 'syncClasses.0.excludeDns.0: must not be the empty (root) DN'],
    ['an invalid filter', withClass({ includeFilter: '(objectClass=user' }), "syncClasses.0.includeFilter: is not a valid LDAP filter: missing ')' (at character 17)"],
    ['a filter on a password', withClass({ includeFilter: '(unicodePwd=*)' }), 'syncClasses.0.includeFilter: must not read password attributes (unicodepwd)'],
    [
      'creates without destination object classes',
      withClass({ destinationObjectClasses: [] }),
      'syncClasses.0.destinationObjectClasses: needs the object classes of created entries (or set creates: false)',
    ],
    ['a negative evaluation order', withClass({ evaluationOrder: -1 }), 'syncClasses.0.evaluationOrder: Too small: expected number to be >=0'],
    [
      'a mapping with from and template',
      withClass({ attributeMappings: [{ from: 'sn', to: 'sn', template: '{sn}' }] }),
      'syncClasses.0.attributeMappings.0: needs exactly one of from (copy or dn), template or values; got from and template',
    ],
    ['a mapping with only to', withClass({ attributeMappings: [{ to: 'sn' }] }), 'syncClasses.0.attributeMappings.0: needs exactly one of from (copy or dn), template or values; got none'],
    ['dn without from', withClass({ attributeMappings: [{ to: 'o', values: ['x'], dn: true }] }), 'syncClasses.0.attributeMappings.0.dn: applies only to a mapping with from'],
    [
      'a template without placeholders',
      withClass({ attributeMappings: [{ to: 'o', template: 'Example' }] }),
      'syncClasses.0.attributeMappings.0.template: has no {attribute} placeholder; use values for a constant',
    ],
    ['a broken template', withClass({ attributeMappings: [{ to: 'cn', template: '{givenName {sn}' }] }), "syncClasses.0.attributeMappings.0.template: '{givenName {sn}' is not an attribute name"],
    [
      'a template reading a password',
      withClass({ attributeMappings: [{ to: 'x', template: '{userPassword}' }] }),
      'syncClasses.0.attributeMappings.0.template: must not read password attributes (userpassword)',
    ],
    [
      'a raw password copied',
      withClass({ attributeMappings: [{ from: 'userPassword', to: 'unicodePwd' }] }),
      "syncClasses.0.attributeMappings.0.from: userPassword is a credential: passwords travel only sealed (a sync class's passwords: true; the writer sets unicodePwd or userPassword itself), other credentials are never synchronized",
    ],
    [
      'a constant written to a credential',
      withClass({ attributeMappings: [{ to: 'msDS-KeyCredentialLink', values: ['B:828:0002'] }] }),
      "syncClasses.0.attributeMappings.0.to: msDS-KeyCredentialLink is a credential: passwords travel only sealed (a sync class's passwords: true; the writer sets unicodePwd or userPassword itself), other credentials are never synchronized",
    ],
    [
      'a bad attribute name',
      withClass({ attributeMappings: [{ from: 'given name', to: 'givenName' }] }),
      'syncClasses.0.attributeMappings.0.from: must be an attribute name (letters, digits and hyphens, starting with a letter) or an OID',
    ],
    ['no constant values', withClass({ attributeMappings: [{ to: 'o', values: [] }] }), 'syncClasses.0.attributeMappings.0.values: needs at least one value'],
    [
      'two mappings to one attribute',
      withClass({
        attributeMappings: [
          { from: 'sAMAccountName', to: 'uid' },
          { from: 'mail', to: 'UID' },
        ],
      }),
      "syncClasses.0.attributeMappings.1.to: 'UID' is already mapped by entry [0]",
    ],
  ])('rejects %s', (_name, input, problem) => {
    expect(problems(input)).toContain(problem);
  });

  it('rejects sync classes with the same name or evaluation order', () => {
    const users = valid.syncClasses[0];
    expect(problems({ ...valid, syncClasses: [users, { ...users, name: 'USERS' }, { ...users, name: 'others', evaluationOrder: 11 }] })).toEqual([
      "syncClasses.1.name: 'USERS' is already used by syncClasses[0]",
      "syncClasses.1.evaluationOrder: 10 is already used by sync class 'users'; the order must be unambiguous",
    ]);
  });
});

describe('pipesSchema', () => {
  it('rejects two pipes with the same name', () => {
    expect(problems([valid, valid], pipesSchema)).toEqual(["1.name: 'ad-to-ds' is already used by pipes[0]"]);
  });
});
