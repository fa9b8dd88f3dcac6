import { type AttributeValue } from '@idsync/contracts';
import { evaluateFilter, type FilterEntry, FilterResult, filterAttributes, InvalidFilterError, matchesFilter, parseFilter } from './filter';

/** An entry view: listed attributes are known (absent ones listed as []), others unknown. */
function entry(values: Record<string, readonly AttributeValue[]>): FilterEntry {
  const lower = new Map(Object.entries(values).map(([name, list]) => [name.toLowerCase(), list]));
  return { values: (key) => lower.get(key) };
}

const { True, False, Undefined } = FilterResult;

const jane = entry({
  objectClass: ['top', 'person', 'organizationalPerson', 'user'],
  sAMAccountName: ['jdoe'],
  cn: ['Jane Doe'],
  department: ['Sales'],
  userAccountControl: ['514'],
  employeeNumber: ['0042'],
  pwdLastSet: ['133000000000000000'],
  objectGUID: [Buffer.from('0011aabb', 'hex')],
  description: [],
});

describe('parseFilter', () => {
  it('reads and/or/not and every item type', () => {
    expect(parseFilter('(&(objectClass=user)(|(cn=J*)(!(sn=*))))')).toEqual({
      type: 'and',
      filters: [
        { type: 'equality', attribute: 'objectClass', key: 'objectclass', value: { bytes: Buffer.from('user'), folded: 'user' } },
        {
          type: 'or',
          filters: [
            { type: 'substrings', attribute: 'cn', key: 'cn', initial: 'j', any: [], final: null },
            { type: 'not', filter: { type: 'present', attribute: 'sn', key: 'sn' } },
          ],
        },
      ],
    });
    expect(parseFilter('(uSNChanged>=100)')).toMatchObject({ type: 'greaterOrEqual' });
    expect(parseFilter('(uSNChanged<=100)')).toMatchObject({ type: 'lessOrEqual' });
    expect(parseFilter('(cn~=jane)')).toMatchObject({ type: 'approx' });
    expect(parseFilter('(userAccountControl:1.2.840.113556.1.4.803:=2)')).toMatchObject({ type: 'bitwise', rule: 'bit-and', value: 2n });
  });

  it('decodes the RFC 4515 escapes \\2a \\28 \\29 \\5c \\00 and UTF-8 hex sequences', () => {
    expect(parseFilter('(cn=a\\2ab\\28c\\29d\\5ce\\00f)')).toMatchObject({ type: 'equality', value: { folded: 'a*b(c)d\\e\u0000f' } });
    expect(parseFilter('(cn=Ren\\c3\\a9e)')).toMatchObject({ value: { folded: 'renée' } });
    expect(parseFilter('(cn=*\\2a*)')).toMatchObject({ type: 'substrings', initial: null, any: ['*'], final: null });
  });

  it('reads substrings with initial, any and final parts', () => {
    expect(parseFilter('(cn=Ja*n*D*e)')).toMatchObject({ initial: 'ja', any: ['n', 'd'], final: 'e' });
  });

  it('accepts a single item without parentheses and spaces between list items', () => {
    expect(parseFilter('objectClass=user')).toMatchObject({ type: 'equality', key: 'objectclass' });
    expect(parseFilter(' (& (a=1) (b=2) ) ')).toMatchObject({ type: 'and' });
  });

  it('lists the attributes it reads', () => {
    expect([...filterAttributes(parseFilter('(&(objectClass=user)(!(CN=x))(|(mail=*)(cn=y)))'))]).toEqual(['objectclass', 'cn', 'mail']);
  });

  it.each([
    ['(cn=a', "missing ')'"],
    ['(cn=a(b))', "unescaped '('"],
    ['(=a)', 'missing attribute name'],
    ['(cn)', 'missing operator'],
    ['(cn=a\\2)', 'two hex digits'],
    ['(cn=a\\*)', 'two hex digits'],
    ['(cn>=a*)', "unescaped '*'"],
    ['(cn:caseExactMatch:=a)', 'is not supported'],
    ['(cn:dn:1.2.840.113556.1.4.803:=2)', 'is not supported'],
    ['(userAccountControl:1.2.840.113556.1.4.803:=two)', 'needs an integer'],
    ['(c n=a)', 'is not an attribute name'],
    ['(a=1))', "unexpected ')'"],
  ])('rejects %j (%s)', (text, problem) => {
    let error: unknown;
    try {
      parseFilter(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidFilterError);
    expect((error as InvalidFilterError).problem).toContain(problem);
    expect((error as InvalidFilterError).retriable).toBe(false);
    expect((error as InvalidFilterError).message).toContain(text);
  });
});

describe('evaluateFilter', () => {
  it.each([
    ['(objectClass=USER)', True],
    ['(OBJECTCLASS=user)', True],
    ['(objectClass=group)', False],
    ['(cn=jane*)', True],
    ['(cn=*DOE)', True],
    ['(cn=*ne*o*)', True],
    ['(cn=*doe*jane)', False],
    ['(cn~=jane doe)', True],
    ['(description=*)', False],
    ['(sAMAccountName=*)', True],
    ['(employeeNumber>=41)', True],
    ['(employeeNumber<=41)', False],
    ['(pwdLastSet>=132999999999999999)', True],
    ['(department>=R)', True],
    ['(department<=R)', False],
    ['(userAccountControl:1.2.840.113556.1.4.803:=2)', True],
    ['(userAccountControl:1.2.840.113556.1.4.803:=3)', False],
    ['(userAccountControl:1.2.840.113556.1.4.804:=3)', True],
    ['(objectGUID=\\00\\11\\aa\\bb)', True],
    ['(objectGUID=\\00\\11)', False],
    ['(&)', True],
    ['(|)', False],
  ])('%s is %s', (text, expected) => {
    expect(evaluateFilter(parseFilter(text), jane)).toBe(expected);
  });

  it('evaluates an attribute the event does not carry as UNDEFINED (RFC 4511 three-valued logic)', () => {
    expect(evaluateFilter(parseFilter('(title=Manager)'), jane)).toBe(Undefined);
    expect(evaluateFilter(parseFilter('(title=*)'), jane)).toBe(Undefined);
    expect(evaluateFilter(parseFilter('(!(title=Manager))'), jane)).toBe(Undefined);
    expect(matchesFilter(parseFilter('(!(title=Manager))'), jane)).toBe(false);
  });

  it('combines UNDEFINED as RFC 4511 says: FALSE wins in &, TRUE wins in |', () => {
    expect(evaluateFilter(parseFilter('(&(title=x)(objectClass=group))'), jane)).toBe(False);
    expect(evaluateFilter(parseFilter('(&(title=x)(objectClass=user))'), jane)).toBe(Undefined);
    expect(evaluateFilter(parseFilter('(|(title=x)(objectClass=user))'), jane)).toBe(True);
    expect(evaluateFilter(parseFilter('(|(title=x)(objectClass=group))'), jane)).toBe(Undefined);
  });

  it('treats an ordering or bit-wise match it cannot apply to a value as UNDEFINED', () => {
    expect(evaluateFilter(parseFilter('(cn:1.2.840.113556.1.4.803:=1)'), jane)).toBe(Undefined);
  });
});
