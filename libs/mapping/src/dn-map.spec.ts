import fc from 'fast-check';
import { type Ava, type Dn, dnEquals, formatDn, parseDn, type Rdn } from './dn';
import { compileDnMap, type CompiledDnMap, dnMapTargetBases, InvalidDnPatternError, mapDn, matchDnPattern, type ValueLookup } from './dn-map';

function lookupOf(values: Record<string, string | Buffer>): ValueLookup {
  const lower = new Map(Object.entries(values).map(([name, value]) => [name.toLowerCase(), value]));
  return (key) => lower.get(key);
}

function mapText(maps: readonly CompiledDnMap[], dn: string, values: Record<string, string | Buffer> = {}): string | null {
  const result = mapDn(maps, parseDn(dn), lookupOf(values));
  if (result.kind === 'no-match') return null;
  if (result.kind === 'unresolved') throw new Error(`unresolved ${result.attribute} (${result.problem})`);
  return formatDn(result.dn);
}

describe('fromDnPattern matching', () => {
  const map = compileDnMap({ from: '*,**,ou=Sales,dc=example,dc=test', to: '{1},{2},dc=x' });

  it('* matches exactly one RDN and ** any number, including none', () => {
    expect(matchDnPattern(map, parseDn('cn=Jane,ou=Sales,dc=example,dc=test'))?.map(formatDn)).toEqual(['cn=Jane', '']);
    expect(matchDnPattern(map, parseDn('cn=Jane,ou=East,ou=Region,ou=Sales,dc=example,dc=test'))?.map(formatDn)).toEqual(['cn=Jane', 'ou=East,ou=Region']);
    expect(matchDnPattern(map, parseDn('ou=Sales,dc=example,dc=test'))).toBeNull();
    expect(matchDnPattern(map, parseDn('cn=Jane,ou=Sales,dc=example,dc=com'))).toBeNull();
  });

  it('compares the literal RDNs case-insensitively and ignores spacing', () => {
    expect(matchDnPattern(map, parseDn('CN=Jane, OU=SALES, DC=Example, DC=Test'))).not.toBeNull();
  });

  it('lets an earlier ** take as few RDNs as possible', () => {
    const twice = compileDnMap({ from: '**,ou=a,**', to: '{1}' });
    expect(matchDnPattern(twice, parseDn('cn=x,ou=a,ou=b,ou=a,dc=y'))?.map(formatDn)).toEqual(['cn=x', 'ou=b,ou=a,dc=y']);
  });
});

describe('toDnPattern', () => {
  it('changes the RDN attribute using a source attribute, escaped for the DN', () => {
    const maps = [compileDnMap({ from: '*,OU=Sales,DC=example,DC=test', to: 'uid={sAMAccountName},ou=Sales,ou=People,dc=example,dc=com' })];
    expect(mapText(maps, 'CN=Jane Doe,OU=Sales,DC=example,DC=test', { sAMAccountName: 'jdoe' })).toBe('uid=jdoe,ou=Sales,ou=People,dc=example,dc=com');
    expect(mapText(maps, 'CN=Jane Doe,OU=Sales,DC=example,DC=test', { sAMAccountName: 'doe, j+r' })).toBe('uid=doe\\, j\\+r,ou=Sales,ou=People,dc=example,dc=com');
  });

  it('substitutes all the RDNs of a ** match with {2}, and nothing when it matched none', () => {
    const maps = [compileDnMap({ from: '*,**,dc=example,dc=test', to: '{1},{2},ou=people,dc=example,dc=com' })];
    expect(mapText(maps, 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test')).toBe('CN=Jane Doe,OU=Sales,OU=Corp,ou=people,dc=example,dc=com');
    expect(mapText(maps, 'CN=Doe\\, Jane,DC=example,DC=test')).toBe('CN=Doe\\, Jane,ou=people,dc=example,dc=com');
  });

  it('uses the value of a * match inside a value to change the RDN type', () => {
    const maps = [compileDnMap({ from: '*,ou=People,dc=example,dc=com', to: 'CN={1},OU=People,OU=Corp,DC=example,DC=test' })];
    expect(mapText(maps, 'uid=jdoe,ou=People,dc=example,dc=com')).toBe('CN=jdoe,OU=People,OU=Corp,DC=example,DC=test');
  });

  it('mixes literal text and several attributes in one value, and keeps {{ }} as literal braces', () => {
    const maps = [compileDnMap({ from: '*,dc=x', to: 'cn={givenName} {sn} {{ext}},dc=y' })];
    expect(mapText(maps, 'cn=a,dc=x', { givenName: 'Jane', sn: 'Doe' })).toBe('cn=Jane Doe {ext},dc=y');
  });

  it('lists the source attributes it reads', () => {
    expect(compileDnMap({ from: '*,dc=x', to: 'cn={givenName} {SN},uid={givenName},dc=y' }).attributes).toEqual(['givenname', 'sn']);
  });

  it('reports a missing or binary attribute as unresolved, naming the attribute', () => {
    const maps = [compileDnMap({ from: '*,dc=x', to: 'uid={sAMAccountName},dc=y' })];
    expect(mapDn(maps, parseDn('cn=a,dc=x'), lookupOf({}))).toEqual({ kind: 'unresolved', rule: 0, attribute: 'sAMAccountName', problem: 'missing' });
    expect(mapDn(maps, parseDn('cn=a,dc=x'), lookupOf({ samaccountname: Buffer.from([1]) }))).toMatchObject({ problem: 'binary' });
    expect(mapDn(maps, parseDn('cn=a,dc=x'))).toMatchObject({ kind: 'unresolved' });
  });
});

describe('an ordered list of DN maps', () => {
  const maps = [
    compileDnMap({ from: '*,OU=Groups,OU=Corp,DC=example,DC=test', to: '{1},ou=Groups,dc=example,dc=com' }),
    compileDnMap({ from: '*,**,OU=Corp,DC=example,DC=test', to: '{1},ou=People,dc=example,dc=com' }),
  ];

  it('uses the first map that matches', () => {
    expect(mapText(maps, 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test')).toBe('CN=Sales Team,ou=Groups,dc=example,dc=com');
    expect(mapText(maps, 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test')).toBe('CN=Jane Doe,ou=People,dc=example,dc=com');
  });

  it('returns no-match when no map matches', () => {
    expect(mapText(maps, 'CN=Administrator,CN=Users,DC=example,DC=test')).toBeNull();
    expect(mapDn([], parseDn('cn=a'))).toEqual({ kind: 'no-match' });
  });
});

describe('invalid patterns', () => {
  it.each([
    [{ from: '*,,dc=x', to: '{1},dc=y' }, 'empty RDN'],
    [{ from: '*,dc=x', to: '{2},dc=y' }, 'has 1'],
    [{ from: '**,dc=x', to: 'cn={1},dc=y' }, "must refer to a '*' wildcard"],
    [{ from: '*,dc=x', to: 'cn={given name},dc=y' }, 'is not a wildcard number or an attribute name'],
    [{ from: '*,dc=x', to: 'cn={sn,dc=y' }, 'unclosed'],
    [{ from: 'cn=a;b,dc=x', to: 'dc=y' }, "unescaped ';'"],
  ])('rejects %j (%s)', (rule, problem) => {
    expect(() => compileDnMap(rule)).toThrow(InvalidDnPatternError);
    expect(() => compileDnMap(rule)).toThrow(problem);
  });
});

const value = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.array(fc.constantFrom(',', '+', '"', '\\', '=', '#', ' ', 'é', '日', 'a', 'Q'), { maxLength: 8 }).map((chars) => chars.join('')),
);
const ava: fc.Arbitrary<Ava> = fc.record({ type: fc.constantFrom('cn', 'CN', 'ou', 'uid', 'l'), value });
const rdn: fc.Arbitrary<Rdn> = fc.array(ava, { minLength: 1, maxLength: 2 });
const suffix: Dn = parseDn('dc=example,dc=test');

describe('round trips through a map and its inverse (property-based)', () => {
  const forward = [compileDnMap({ from: '*,**,dc=example,dc=test', to: '{1},{2},ou=people,dc=example,dc=com' })];
  const inverse = [compileDnMap({ from: '*,**,ou=people,dc=example,dc=com', to: '{1},{2},dc=example,dc=test' })];

  it('maps every DN below the base there and back to an equal DN', () => {
    fc.assert(
      fc.property(fc.array(rdn, { minLength: 1, maxLength: 5 }), (rdns) => {
        const dn: Dn = [...rdns, ...suffix];
        const there = mapDn(forward, dn);
        expect(there.kind).toBe('mapped');
        if (there.kind !== 'mapped') return;
        const back = mapDn(inverse, parseDn(formatDn(there.dn)));
        expect(back.kind).toBe('mapped');
        if (back.kind === 'mapped') expect(dnEquals(back.dn, dn)).toBe(true);
      }),
    );
  });

  it('round trips an RDN type change through {1} in a value when the value survives', () => {
    const toAd = [compileDnMap({ from: '*,ou=People,dc=example,dc=com', to: 'CN={1},OU=People,DC=example,DC=test' })];
    const toDs = [compileDnMap({ from: '*,OU=People,DC=example,DC=test', to: 'uid={1},ou=People,dc=example,dc=com' })];
    fc.assert(
      fc.property(value, (uid) => {
        const dn: Dn = [[{ type: 'uid', value: uid }], ...parseDn('ou=People,dc=example,dc=com')];
        const there = mapDn(toAd, dn);
        if (there.kind !== 'mapped') throw new Error('forward map did not apply');
        const back = mapDn(toDs, parseDn(formatDn(there.dn)));
        if (back.kind !== 'mapped') throw new Error('inverse map did not apply');
        expect(dnEquals(back.dn, dn)).toBe(true);
      }),
    );
  });
});

describe('dnMapTargetBases', () => {
  it('gives the constant part of each target pattern: the subtrees the destination DNs fall in', () => {
    expect(dnMapTargetBases([{ to: '{1},OU=Corp,DC=example,DC=test' }, { to: 'CN={cn},OU=People,OU=Corp,DC=example,DC=test' }])?.map((dn) => formatDn(dn))).toEqual([
      'OU=Corp,DC=example,DC=test',
      'OU=People,OU=Corp,DC=example,DC=test',
    ]);
  });

  it('gives no bound for a pattern of placeholders only, or without DN maps', () => {
    expect(dnMapTargetBases([{ to: '{1},OU=Corp,DC=example,DC=test' }, { to: '{1}' }])).toBeNull();
    expect(dnMapTargetBases([])).toBeNull();
  });
});
