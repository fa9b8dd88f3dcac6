import { IncludeRules, type ChangeFacts } from './include-rules';

const rules = new IncludeRules({
  includeBaseDns: ['ou=People,dc=example,dc=com', 'ou=Groups,dc=example,dc=com'],
  includeObjectClasses: ['inetOrgPerson', 'groupOfNames'],
  ignoreInitiators: ['uid=idsync-writer,ou=Services,dc=example,dc=com'],
});
const change = (facts: Partial<ChangeFacts>): ChangeFacts => ({
  op: 'modify',
  dn: 'uid=a,ou=People,dc=example,dc=com',
  previousDn: null,
  initiator: 'cn=directory manager',
  objectClasses: ['top', 'inetOrgPerson'],
  attributeCount: 1,
  passwordValuesExcluded: 0,
  ...facts,
});

describe('IncludeRules: which changes are published', () => {
  it('publishes a change in scope, of an included class, by someone else', () => {
    expect(rules.ignoreReason(change({}))).toBeNull();
  });

  it("ignores the writer's own changes, comparing DNs without regard to case or spaces", () => {
    expect(rules.ignoreReason(change({ initiator: 'UID=idsync-writer, ou=services, DC=Example,dc=com' }))).toBe('initiator');
  });

  it("does not ignore a delete by initiator: 389-ds records the entry's last modifier there, not the deleter", () => {
    expect(rules.ignoreReason(change({ op: 'delete', initiator: 'uid=idsync-writer,ou=services,dc=example,dc=com' }))).toBeNull();
  });

  it('ignores entries outside the included base DNs, but not a move into or out of them', () => {
    expect(rules.ignoreReason(change({ dn: 'uid=svc,ou=Services,dc=example,dc=com' }))).toBe('outside-base-dns');
    expect(rules.ignoreReason(change({ op: 'rename', dn: 'uid=a,ou=Services,dc=example,dc=com', previousDn: 'uid=a,ou=People,dc=example,dc=com' }))).toBeNull();
    expect(rules.ignoreReason(change({ op: 'rename', dn: 'uid=a,ou=People,dc=example,dc=com', previousDn: 'uid=a,ou=Services,dc=example,dc=com' }))).toBeNull();
  });

  it('ignores entries of other classes, and keeps those whose classes are unknown', () => {
    expect(rules.ignoreReason(change({ objectClasses: ['top', 'organizationalUnit'] }))).toBe('object-class');
    expect(rules.ignoreReason(change({ objectClasses: ['TOP', 'INETORGPERSON'] }))).toBeNull();
    expect(rules.ignoreReason(change({ objectClasses: null }))).toBeNull();
    expect(rules.ignoreReason(change({ objectClasses: [] }))).toBeNull();
  });

  it('ignores a modify that only touched operational attributes, but not a password change', () => {
    expect(rules.ignoreReason(change({ attributeCount: 0 }))).toBe('operational-only');
    expect(rules.ignoreReason(change({ attributeCount: 0, passwordValuesExcluded: 1 }))).toBeNull();
  });

  it('publishes every class when none is configured', () => {
    const all = new IncludeRules({ includeBaseDns: ['dc=example,dc=com'] });
    expect(all.ignoreReason(change({ objectClasses: ['organizationalUnit'], dn: 'ou=x,dc=example,dc=com' }))).toBeNull();
  });
});
