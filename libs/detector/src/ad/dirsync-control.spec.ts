import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ber, BerReader, BerWriter } from 'ldapts';
import { DIRSYNC_FLAGS, DIRSYNC_OID, DirSyncControl, decodeDirSyncResponse, encodeDirSyncRequest } from './dirsync-control';

const captured = Buffer.from((JSON.parse(readFileSync(join(__dirname, '__fixtures__', 'response-control.json'), 'utf8')) as { base64: string }).base64, 'base64');

function readRequest(bytes: Buffer): { flags: number; maxBytes: number; cookie: Buffer } {
  const reader = new BerReader(bytes);
  reader.readSequence();
  const flags = reader.readInt() ?? NaN;
  const maxBytes = reader.readInt() ?? NaN;
  const cookie = reader.readString(Ber.OctetString, true) ?? Buffer.alloc(1);
  return { flags, maxBytes, cookie };
}

describe('DirSync control', () => {
  it('encodes incremental values (0x80000000) as the 4-byte signed INTEGER AD expects', () => {
    const bytes = encodeDirSyncRequest({ flags: DIRSYNC_FLAGS.incrementalValues, maxBytes: 0, cookie: Buffer.alloc(0) });
    expect(bytes.toString('hex')).toBe('300b0204800000000201000400');
  });

  it('round-trips flags, maxBytes and the cookie', () => {
    const cookie = Buffer.from('4d53445303000000deadbeef', 'hex');
    const flags = DIRSYNC_FLAGS.incrementalValues | DIRSYNC_FLAGS.objectSecurity | DIRSYNC_FLAGS.ancestorsFirstOrder;
    const decoded = readRequest(encodeDirSyncRequest({ flags, maxBytes: 1_048_576, cookie }));
    expect(decoded).toEqual({ flags: -0x80000000 | 0x801, maxBytes: 1_048_576, cookie });
  });

  it('accepts the flags word written unsigned too', () => {
    const signed = encodeDirSyncRequest({ flags: DIRSYNC_FLAGS.incrementalValues, maxBytes: 0, cookie: Buffer.alloc(0) });
    expect(encodeDirSyncRequest({ flags: 0x80000000, maxBytes: 0, cookie: Buffer.alloc(0) })).toEqual(signed);
  });

  it('decodes a response control captured from Samba: no more results, a 108-byte MSDS cookie', () => {
    const value = decodeDirSyncResponse(captured);
    expect(value.moreResults).toBe(false);
    expect(value.cookie.length).toBe(108);
    expect(value.cookie.subarray(0, 4).toString('latin1')).toBe('MSDS');
  });

  it('decodes what it would send back (round trip through a response-shaped value)', () => {
    const writer = new BerWriter();
    writer.startSequence();
    writer.writeInt(1);
    writer.writeInt(0);
    writer.writeBuffer(Buffer.from('cookie'), Ber.OctetString);
    writer.endSequence();
    expect(decodeDirSyncResponse(writer.buffer)).toEqual({ moreResults: true, cookie: Buffer.from('cookie') });
  });

  it('rejects a truncated response value', () => {
    expect(() => decodeDirSyncResponse(captured.subarray(0, 6))).toThrow(/malformed/);
  });

  it('writes itself as a critical control with the DirSync OID, and parses the response into the same instance', () => {
    const control = new DirSyncControl({ flags: DIRSYNC_FLAGS.incrementalValues, maxBytes: 0, cookie: Buffer.from('abc') });
    const writer = new BerWriter();
    control.write(writer);
    const reader = new BerReader(writer.buffer);
    reader.readSequence();
    expect(reader.readString()).toBe(DIRSYNC_OID);
    expect(reader.readBoolean()).toBe(true);
    expect(readRequest(reader.readString(Ber.OctetString, true) ?? Buffer.alloc(0)).cookie.toString()).toBe('abc');

    control.parse(new BerReader(captured));
    expect(control.response?.cookie.length).toBe(108);
    expect(control.rawResponse).toEqual(captured);
  });
});
