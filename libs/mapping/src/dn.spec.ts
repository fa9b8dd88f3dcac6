import fc from 'fast-check';
import { type Ava, type Dn, dnEquals, escapeDnValue, formatDn, InvalidDnError, isDescendantOf, isInSubtree, normalizeDn, parentDn, parseDn, type Rdn } from './dn';

function problemOf(text: string): InvalidDnError {
  try {
    parseDn(text);
  } catch (error) {
    if (error instanceof InvalidDnError) return error;
    throw error;
  }
  throw new Error(`expected '${text}' not to parse`);
}

describe('parseDn', () => {
  it('reads an Active Directory user DN into RDNs from the entry to the root', () => {
    expect(parseDn('CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test')).toEqual([
      [{ type: 'CN', value: 'Jane Doe' }],
      [{ type: 'OU', value: 'Sales' }],
      [{ type: 'OU', value: 'Corp' }],
      [{ type: 'DC', value: 'example' }],
      [{ type: 'DC', value: 'test' }],
    ]);
  });

  it('reads the empty DN as the root DSE', () => {
    expect(parseDn('')).toEqual([]);
    expect(parseDn('   ')).toEqual([]);
  });

  it('splits multi-valued RDNs at +', () => {
    expect(parseDn('cn=Jane Doe+uid=jdoe,dc=example,dc=com')[0]).toEqual([
      { type: 'cn', value: 'Jane Doe' },
      { type: 'uid', value: 'jdoe' },
    ]);
  });

  it('keeps escaped commas, plus signs, quotes, backslashes and equals signs in the value', () => {
    expect(parseDn('CN=Doe\\, Jane,OU=R\\+D,DC=example,DC=test')[0]).toEqual([{ type: 'CN', value: 'Doe, Jane' }]);
    expect(parseDn('OU=R\\+D,DC=example')[0]).toEqual([{ type: 'OU', value: 'R+D' }]);
    expect(parseDn('cn=say \\"hi\\",dc=x')[0]?.[0]?.value).toBe('say "hi"');
    expect(parseDn('cn=back\\\\slash,dc=x')[0]?.[0]?.value).toBe('back\\slash');
    expect(parseDn('cn=a\\=b,dc=x')[0]?.[0]?.value).toBe('a=b');
  });

  it('decodes hex escapes, including multi-byte UTF-8 sequences', () => {
    expect(parseDn('cn=Doe\\2C Jane,dc=x')[0]?.[0]?.value).toBe('Doe, Jane');
    expect(parseDn('cn=Ren\\C3\\A9e,dc=x')[0]?.[0]?.value).toBe('Renée');
    expect(parseDn('cn=\\E6\\97\\A5\\E6\\9C\\AC,dc=x')[0]?.[0]?.value).toBe('日本');
  });

  it('accepts non-ASCII characters written directly', () => {
    expect(parseDn('cn=Renée Müller,ou=Zürich,dc=example,dc=com')[1]).toEqual([{ type: 'ou', value: 'Zürich' }]);
  });

  it('ignores whitespace around separators but keeps escaped leading and trailing spaces', () => {
    expect(parseDn(' cn = Jane Doe , ou = Sales + l = Paris ,dc=x ')).toEqual([
      [{ type: 'cn', value: 'Jane Doe' }],
      [
        { type: 'ou', value: 'Sales' },
        { type: 'l', value: 'Paris' },
      ],
      [{ type: 'dc', value: 'x' }],
    ]);
    expect(parseDn('cn=\\ padded\\ ,dc=x')[0]?.[0]?.value).toBe(' padded ');
    expect(parseDn('cn=\\20padded\\20,dc=x')[0]?.[0]?.value).toBe(' padded ');
    expect(parseDn('cn=trailing\\\\  ,dc=x')[0]?.[0]?.value).toBe('trailing\\');
  });

  it('decodes # hex values holding a BER string and keeps other BER values as hex', () => {
    expect(parseDn('cn=#0C024869,dc=x')[0]).toEqual([{ type: 'cn', value: 'Hi' }]);
    expect(parseDn('cn=#04024869,dc=x')[0]).toEqual([{ type: 'cn', value: 'Hi' }]);
    expect(parseDn('1.3.6.1.4.1.1466.0=#02012A,dc=x')[0]).toEqual([{ type: '1.3.6.1.4.1.1466.0', value: '#02012a', ber: '02012a' }]);
    expect(formatDn(parseDn('1.3.6.1.4.1.1466.0=#02012A,dc=x'))).toBe('1.3.6.1.4.1.1466.0=#02012a,dc=x');
  });

  it('accepts the legacy quoted form and OID. prefix', () => {
    expect(parseDn('cn="Doe, Jane ",dc=x')[0]?.[0]?.value).toBe('Doe, Jane ');
    expect(parseDn('OID.2.5.4.3=Jane,dc=x')[0]).toEqual([{ type: '2.5.4.3', value: 'Jane' }]);
  });

  it.each([
    ['cn=Jane,,dc=x', 'empty RDN'],
    ['cn=Jane,', 'ends with a separator'],
    ['Jane Doe', "expected '='"],
    ['=Jane,dc=x', "cannot start with '='"],
    ['cn=a\\', 'escapes nothing'],
    ['cn=a\\4,dc=x', 'two-digit hex escape'],
    ['cn=a\\C3,dc=x', 'not valid UTF-8'],
    ['cn=a;b,dc=x', "unescaped ';'"],
    ['cn=a"b,dc=x', `unescaped '"'`],
    ['cn=#123,dc=x', 'even number of hex digits'],
    ['cn="open,dc=x', 'unterminated quoted value'],
    ['1x=a', 'not an attribute name'],
    ['c_n=a', "expected '=' after attribute type 'c'"],
    ['cn=a+,dc=x', "empty attribute after '+'"],
  ])('rejects %j: %s', (text, problem) => {
    const error = problemOf(text);
    expect(error.retriable).toBe(false);
    expect(error.dn).toBe(text);
    expect(error.problem).toContain(problem);
    expect(error.message).toContain(`'${text}'`);
  });
});

describe('escapeDnValue', () => {
  it('escapes the RFC 4514 specials, a leading # or space, a trailing space and control characters', () => {
    expect(escapeDnValue('Doe, Jane')).toBe('Doe\\, Jane');
    expect(escapeDnValue('a+b"c\\d;e<f>g=h')).toBe('a\\+b\\"c\\\\d\\;e\\<f\\>g\\=h');
    expect(escapeDnValue('#1')).toBe('\\#1');
    expect(escapeDnValue(' x ')).toBe('\\ x\\ ');
    expect(escapeDnValue('a\u0000b\nc')).toBe('a\\00b\\0Ac');
    expect(escapeDnValue('Renée')).toBe('Renée');
    expect(escapeDnValue('a#b c')).toBe('a#b c');
  });
});

describe('normalized comparison', () => {
  it('ignores case of types and values and whitespace around separators', () => {
    expect(dnEquals('CN=Jane Doe, OU=Sales,DC=Example,DC=Test', 'cn=jane doe,ou=sales,dc=example,dc=test')).toBe(true);
    expect(normalizeDn(' CN = Jane Doe , DC=Example ')).toBe('cn=jane doe,dc=example');
  });

  it('treats escaped and hex-escaped forms of the same value as equal', () => {
    expect(dnEquals('cn=Doe\\, Jane,dc=x', 'cn=Doe\\2C Jane,dc=x')).toBe(true);
    expect(dnEquals('cn=Renée,dc=x', 'CN=REN\\C3\\89E,DC=X')).toBe(true);
  });

  it('compares multi-valued RDNs regardless of the order of their parts', () => {
    expect(dnEquals('cn=Jane+uid=jdoe,dc=x', 'UID=JDOE+CN=JANE,dc=x')).toBe(true);
  });

  it('knows the OIDs of the common naming attributes', () => {
    expect(dnEquals('2.5.4.3=Jane,0.9.2342.19200300.100.1.25=x', 'cn=Jane,dc=x')).toBe(true);
  });

  it('distinguishes different values and depths', () => {
    expect(dnEquals('cn=Jane,dc=x', 'cn=John,dc=x')).toBe(false);
    expect(dnEquals('cn=Jane,dc=x', 'cn=Jane,ou=a,dc=x')).toBe(false);
  });
});

describe('tree relations', () => {
  it('isDescendantOf is strict and isInSubtree includes the base', () => {
    expect(isDescendantOf('CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test', 'ou=corp,dc=example,dc=test')).toBe(true);
    expect(isDescendantOf('OU=Corp,DC=example,DC=test', 'ou=corp,dc=example,dc=test')).toBe(false);
    expect(isInSubtree('OU=Corp,DC=example,DC=test', 'ou=corp,dc=example,dc=test')).toBe(true);
    expect(isDescendantOf('CN=Jane,OU=Corpus,DC=example,DC=test', 'OU=Corp,DC=example,DC=test')).toBe(false);
    expect(isDescendantOf('cn=x,dc=example,dc=test', '')).toBe(true);
  });

  it('parentDn drops the first RDN and returns null at the root', () => {
    expect(parentDn('CN=Doe\\, Jane,OU=Sales,DC=example')).toBe('OU=Sales,DC=example');
    expect(parentDn('DC=example')).toBe('');
    expect(parentDn('')).toBeNull();
    expect(parentDn(parseDn('cn=a,dc=b'))).toEqual([[{ type: 'dc', value: 'b' }]]);
  });
});

/** Values with everything that needs escaping, plus non-ASCII text. */
const dnValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.array(fc.constantFrom(',', '+', '"', '\\', ';', '<', '>', '=', '#', ' ', 'é', '日', '\u0000', '\n', 'a', 'Z', '{', '}'), { maxLength: 10 }).map((chars) => chars.join('')),
);
const attributeType = fc.constantFrom('cn', 'CN', 'ou', 'uid', 'dc', 'l', 'sAMAccountName', '2.5.4.3');
const ava: fc.Arbitrary<Ava> = fc.record({ type: attributeType, value: dnValue });
const rdn: fc.Arbitrary<Rdn> = fc.array(ava, { minLength: 1, maxLength: 3 });
const dnArbitrary: fc.Arbitrary<Dn> = fc.array(rdn, { minLength: 1, maxLength: 6 });

describe('round trips (property-based)', () => {
  it('parse(formatDn(dn)) gives the same RDNs back', () => {
    fc.assert(fc.property(dnArbitrary, (dn) => expect(parseDn(formatDn(dn))).toEqual(dn)));
  });

  it('formatDn(parseDn(text)) gives the text back for formatted DNs (escaped commas, multi-valued RDNs, non-ASCII)', () => {
    fc.assert(
      fc.property(dnArbitrary, (dn) => {
        const text = formatDn(dn);
        expect(formatDn(parseDn(text))).toBe(text);
      }),
    );
  });

  it('escapeDnValue then parse gives the original value back', () => {
    fc.assert(
      fc.property(dnValue, (value) => {
        expect(parseDn(`cn=${escapeDnValue(value)}`)).toEqual([[{ type: 'cn', value }]]);
      }),
    );
  });

  it('a DN equals itself re-formatted with other spacing and case', () => {
    fc.assert(
      fc.property(dnArbitrary, (dn) => {
        const spaced = dn.map((r) => r.map((a) => `${a.type.toUpperCase()} = ${escapeDnValue(a.value)}`).join(' + ')).join(' , ');
        expect(dnEquals(spaced, dn)).toBe(true);
      }),
    );
  });
});
