import { DcIdentity, DirSyncCookie, InvalidCookieError } from './dirsync-cookie';

describe('DirSyncCookie', () => {
  const bytes = Buffer.from('4d5344530300000080ff', 'hex');

  it('formats as base64 and parses back to an equal cookie', () => {
    const cookie = DirSyncCookie.fromBytes(bytes);
    const again = DirSyncCookie.parse(cookie.format());
    expect(again.equals(cookie)).toBe(true);
    expect(again.toBuffer()).toEqual(bytes);
  });

  it('is a value: changing the source buffer afterwards does not change it', () => {
    const source = Buffer.from(bytes);
    const cookie = DirSyncCookie.fromBytes(source);
    source[0] = 0;
    expect(cookie.toBuffer()).toEqual(bytes);
  });

  it('gives different cookies different digests, and the same cookie the same one', () => {
    const a = DirSyncCookie.fromBytes(bytes);
    const b = DirSyncCookie.fromBytes(Buffer.from('4d5344530300000080fe', 'hex'));
    expect(a.digest()).toMatch(/^[0-9a-f]{20}$/);
    expect(a.digest()).toBe(DirSyncCookie.parse(a.format()).digest());
    expect(a.digest()).not.toBe(b.digest());
    expect(a.equals(b)).toBe(false);
  });

  it('treats the empty cookie as a request for a full pass', () => {
    expect(DirSyncCookie.EMPTY.isEmpty).toBe(true);
    expect(DirSyncCookie.parse('').isEmpty).toBe(true);
    expect(DirSyncCookie.fromBytes(bytes).isEmpty).toBe(false);
  });

  it('refuses a damaged checkpoint instead of starting over', () => {
    expect(() => DirSyncCookie.parse('not base64!')).toThrow(InvalidCookieError);
  });
});

describe('DcIdentity', () => {
  it('formats and parses the checkpoint server, and compares DCs by invocationId', () => {
    const dc = new DcIdentity('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'dc1.example.test');
    const parsed = DcIdentity.parse(dc.format());
    expect(parsed.sameDc(dc)).toBe(true);
    expect(parsed.dnsHostName).toBe('dc1.example.test');
    expect(parsed.sameDc(new DcIdentity('11111111-2222-3333-4444-555555555555', 'dc1.example.test'))).toBe(false);
  });

  it('refuses a server string that is not a DC identity', () => {
    expect(() => DcIdentity.parse('ldaps://dc1:636')).toThrow(/not a DC identity/);
  });
});
