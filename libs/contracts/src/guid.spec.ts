import fc from 'fast-check';
import { canonicalGuid, guidToBytes } from './guid';

describe('canonicalGuid', () => {
  it('byte-swaps the first three groups, as Windows prints GUIDs', () => {
    const bytes = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
    expect(canonicalGuid(bytes)).toBe('04030201-0605-0807-090a-0b0c0d0e0f10');
  });

  it('reads an objectGUID as AD stores it', () => {
    // Stored bytes of the GUID PowerShell shows as 6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31.
    const stored = Buffer.from('0e2a1c6fd4938e4ba1c52f7e0b9d4c31', 'hex');
    expect(canonicalGuid(stored)).toBe('6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31');
  });

  it('does not change the bytes it is given', () => {
    const bytes = Buffer.from('0e2a1c6fd4938e4ba1c52f7e0b9d4c31', 'hex');
    canonicalGuid(bytes);
    expect(bytes.toString('hex')).toBe('0e2a1c6fd4938e4ba1c52f7e0b9d4c31');
  });

  it.each([0, 15, 17])('refuses %i bytes', (length) => {
    expect(() => canonicalGuid(Buffer.alloc(length))).toThrow(`objectGUID must be 16 bytes, got ${length}`);
  });
});

describe('guidToBytes', () => {
  it('gives back the bytes AD stores', () => {
    const bytes = guidToBytes('04030201-0605-0807-090a-0b0c0d0e0f10');
    expect(bytes.toString('hex')).toBe('0102030405060708090a0b0c0d0e0f10');
  });

  it('accepts upper-case text', () => {
    const bytes = guidToBytes('6F1C2A0E-93D4-4B8E-A1C5-2F7E0B9D4C31');
    expect(canonicalGuid(bytes)).toBe('6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31');
  });

  it.each(['', '{6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31}', '6f1c2a0e93d44b8ea1c52f7e0b9d4c31', '6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c3g'])('refuses %j', (text) => {
    expect(() => guidToBytes(text)).toThrow(RangeError);
  });

  it('is the inverse of canonicalGuid, both ways', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
        const bytes = Buffer.from(raw);
        expect(guidToBytes(canonicalGuid(bytes)).equals(bytes)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.uuid(), (text) => {
        expect(canonicalGuid(guidToBytes(text))).toBe(text);
      }),
    );
  });
});
