import { decideStart, parseDirSyncCookie, parseLdbTime, SyncPosition, UnreadablePositionError } from './sync-position';

// samba-tool's cache on the local stack (Samba 4.17) after a run: its dirsyncControl and currentTime.
const STORED_CONTROL = 'dirsync:1:0:0:TVNEUwMAAACA0nOIb4DdAQAAAAAAAAAAKAAAAOceAAAAAAAAAAAAAAAAAADnHgAAAAAAAK3Wyreb/K5DoLy9yTGIoFEBAAAAAAAAAAEAAAAAAAAArdbKt5v8rkOgvL3JMYigUeceAAAAAAAA';
const STORED_AT = '20261130020626.0Z';
// That DC's highestCommittedUSN when the cookie was issued, and its NTDS Settings invocationId.
const DC = { highestUsn: 7911n, invocationId: 'b7cad6ad-fc9b-43ae-a0bc-bdc93188a051' };

describe('SyncPosition (samba-tool cache dirsyncControl)', () => {
  it("reads where a stored cookie stands: the DC's highest USN, the DC, and when it was stored", () => {
    const position = SyncPosition.fromCache(STORED_CONTROL, STORED_AT);
    expect(position.fromBeginning).toBe(false);
    expect(position.cookie).toMatchObject(DC);
    expect(position.describe()).toEqual({ fromBeginning: false, highestUsn: '7911', invocationId: DC.invocationId, storedAt: '2026-11-30T02:06:26.000Z' });
  });

  it('takes a control without a cookie (a new cache, or a full pass not yet done) as the beginning', () => {
    const position = SyncPosition.fromCache('dirsync:1:0:0', null);
    expect(position.fromBeginning).toBe(true);
    expect(position.describe()).toEqual({ fromBeginning: true, highestUsn: null, invocationId: null, storedAt: null });
  });

  it('refuses a control that is not a DirSync one, or a cookie without the MSDS header, without echoing it', () => {
    expect(() => SyncPosition.fromCache('paged_results:1:100', null)).toThrow(UnreadablePositionError);
    expect(() => SyncPosition.fromCache('paged_results:1:100', null)).toThrow(/not a DirSync control \(19 characters\)/);
    const notACookie = `dirsync:1:0:0:${Buffer.alloc(80, 7).toString('base64')}`;
    expect(() => SyncPosition.fromCache(notACookie, null)).toThrow(/not a DirSync cookie \(80 bytes\)/);
  });

  it('reads the cookie fields from bytes', () => {
    const bytes = Buffer.from(STORED_CONTROL.slice('dirsync:1:0:0:'.length), 'base64');
    expect(bytes.length).toBe(108);
    const fields = parseDirSyncCookie(bytes);
    expect(fields).toMatchObject(DC);
    // Issued on the day the fixture was captured.
    expect(fields.issuedAt.toISOString().slice(0, 10)).toBe('2026-11-30');
    expect(() => parseDirSyncCookie(bytes.subarray(0, 60))).toThrow(UnreadablePositionError);
  });

  it('reads ldb times and refuses anything else', () => {
    expect(parseLdbTime('20261130021021.0Z').toISOString()).toBe('2026-11-30T02:10:21.000Z');
    expect(() => parseLdbTime('yesterday')).toThrow(/not an ldb time/);
  });
});

describe('decideStart', () => {
  const stored = SyncPosition.fromCache(STORED_CONTROL, STORED_AT);
  const unfinishedFullPass = SyncPosition.fromCache('dirsync:1:0:0', STORED_AT);

  it('resumes from a stored position, whatever initialSync says', () => {
    expect(decideStart(stored, { initialSync: false, fullPass: false })).toBe('resume');
    expect(decideStart(stored, { initialSync: true, fullPass: false })).toBe('resume');
  });

  it('resumes an unfinished full pass rather than dropping it for a baseline', () => {
    expect(decideStart(unfinishedFullPass, { initialSync: false, fullPass: false })).toBe('resume');
  });

  it('without a stored position: the current end (baseline), or a full pass when initialSync asks', () => {
    expect(decideStart(null, { initialSync: false, fullPass: false })).toBe('baseline');
    expect(decideStart(null, { initialSync: true, fullPass: false })).toBe('full-pass');
  });

  it('a full pass asked for explicitly replaces a stored position', () => {
    expect(decideStart(stored, { initialSync: false, fullPass: true })).toBe('full-pass');
    expect(decideStart(null, { initialSync: false, fullPass: true })).toBe('full-pass');
  });
});
