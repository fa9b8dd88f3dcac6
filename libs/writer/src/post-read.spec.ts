import { Ber, BerReader, BerWriter } from 'ldapts';
import { parseSearchResultEntry, PostReadControl } from './post-read';

function searchResultEntry(dn: string, attributes: Record<string, string[]>): Buffer {
  const writer = new BerWriter();
  writer.startSequence(0x64);
  writer.writeString(dn);
  writer.startSequence();
  for (const [type, values] of Object.entries(attributes)) {
    writer.startSequence();
    writer.writeString(type);
    writer.startSequence(Ber.Set | Ber.Constructor);
    for (const value of values) writer.writeString(value);
    writer.endSequence();
    writer.endSequence();
  }
  writer.endSequence();
  writer.endSequence();
  return writer.buffer;
}

describe('PostReadControl', () => {
  it('asks for the named attributes: its value is a sequence of attribute names, and it is not critical', () => {
    const writer = new BerWriter();
    new PostReadControl(['entryUUID', 'cn']).write(writer);
    const reader = new BerReader(writer.buffer);
    reader.readSequence();
    expect(reader.readString()).toBe('1.3.6.1.1.13.2');
    expect(reader.readBoolean()).toBe(false);
    const value = new BerReader(reader.readString(Ber.OctetString, true) as Buffer);
    value.readSequence();
    expect([value.readString(), value.readString()]).toEqual(['entryUUID', 'cn']);
  });

  it('reads the entry the server returns: its DN and every value of every attribute', () => {
    const control = new PostReadControl(['entryUUID']);
    control.parse(new BerReader(searchResultEntry('uid=a,ou=People,dc=example,dc=com', { entryUUID: ['0b7d9c1e-5a4f-4c1e-9d1a-1f0e2d3c4b5a'], mail: ['a@x', 'b@x'] })));
    expect(control.entry?.dn).toBe('uid=a,ou=People,dc=example,dc=com');
    expect(control.entry?.attributes.get('entryUUID')?.map(String)).toEqual(['0b7d9c1e-5a4f-4c1e-9d1a-1f0e2d3c4b5a']);
    expect(control.entry?.attributes.get('mail')?.map(String)).toEqual(['a@x', 'b@x']);
  });

  it('is left without an entry when the value is not a SearchResultEntry', () => {
    expect(parseSearchResultEntry(new BerReader(Buffer.from([0x30, 0x00])))).toBeUndefined();
    expect(parseSearchResultEntry(new BerReader(Buffer.alloc(0)))).toBeUndefined();
  });
});
