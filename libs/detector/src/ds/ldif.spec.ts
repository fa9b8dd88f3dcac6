import { MalformedLdifError, parseLdifContent, parseLdifModifications } from './ldif';

describe('LDIF as 389-ds writes it into cn=changelog changes', () => {
  it('reads modify blocks separated by "-", ignoring the trailing NUL byte', () => {
    const mods = parseLdifModifications('add: mail\nmail: a@x\nmail: b@x\n-\ndelete: mail\nmail: c@x\n-\nreplace: title\ntitle: Boss\n-\n\0');
    expect(mods).toEqual([
      { op: 'add', name: 'mail', values: ['a@x', 'b@x'] },
      { op: 'delete', name: 'mail', values: ['c@x'] },
      { op: 'replace', name: 'title', values: ['Boss'] },
    ]);
  });

  it('keeps a delete or replace without values (remove the whole attribute)', () => {
    expect(parseLdifModifications('delete: description\n-\nreplace: title\n-\n')).toEqual([
      { op: 'delete', name: 'description', values: [] },
      { op: 'replace', name: 'title', values: [] },
    ]);
  });

  it('accepts a last block without its "-" and CRLF line ends', () => {
    expect(parseLdifModifications('replace: sn\r\nsn: Doe\r\n')).toEqual([{ op: 'replace', name: 'sn', values: ['Doe'] }]);
  });

  it('joins continuation lines and decodes base64 values to text when they are UTF-8', () => {
    const encoded = Buffer.from('Ünïcode and a long value', 'utf8').toString('base64');
    const folded = `description:: ${encoded.slice(0, 10)}\n ${encoded.slice(10, 20)}\n ${encoded.slice(20)}\n`;
    expect(parseLdifContent(`cn: plain\n${folded}`)).toEqual([
      { name: 'cn', values: ['plain'] },
      { name: 'description', values: ['Ünïcode and a long value'] },
    ]);
  });

  it('keeps values that are not UTF-8 as bytes', () => {
    const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x80]);
    const [photo] = parseLdifModifications(`add: jpegPhoto\njpegPhoto:: ${bytes.toString('base64')}\n-\n`);
    expect(Buffer.isBuffer(photo?.values[0])).toBe(true);
    expect(photo?.values[0]).toEqual(bytes);
  });

  it('groups repeated attribute lines of entry content case-insensitively, keeping the first spelling', () => {
    expect(parseLdifContent('objectClass: top\nobjectclass: person\ncn: A\n')).toEqual([
      { name: 'objectClass', values: ['top', 'person'] },
      { name: 'cn', values: ['A'] },
    ]);
  });

  it('reads the changes text from bytes as well as from a string', () => {
    expect(parseLdifContent(Buffer.from('sn: Doe\n\0', 'utf8'))).toEqual([{ name: 'sn', values: ['Doe'] }]);
  });

  it.each([
    ['a value line before any add:/delete:/replace:', 'mail: a@x\n-\n'],
    ['a value for another attribute inside a block', 'add: mail\ncn: x\n-\n'],
    ['a "-" with nothing before it', '-\n'],
    ['invalid base64', 'replace: cn\ncn:: !!!\n-\n'],
    ['a URL value', 'replace: jpegPhoto\njpegPhoto:< file:///etc/passwd\n-\n'],
    ['a continuation line first', ' oops\n'],
  ])('refuses %s', (_what, text) => {
    expect(() => parseLdifModifications(text)).toThrow(MalformedLdifError);
  });
});
