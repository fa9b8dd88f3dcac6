import { changelogAnchor, checkAnchor } from './changelog-anchor';

const change = (overrides: Record<string, string> = {}): Record<string, string> => ({
  dn: 'changenumber=42,cn=changelog',
  changeNumber: '42',
  changeTime: '20261129120000Z',
  changeType: 'modify',
  targetDn: 'uid=ann,ou=People,dc=example,dc=com',
  targetUniqueId: '6f1c2a3b-11111111-22222222-33333333',
  changes: 'replace: description\ndescription: v2\n-\n',
  ...overrides,
});

describe('changelogAnchor', () => {
  it('names the change by its number and a fingerprint of its time, type and target, not of its values', () => {
    const anchor = changelogAnchor(change());
    expect(anchor).toMatch(/^42:[0-9a-f]{16}$/);
    expect(changelogAnchor(change({ changes: 'replace: description\ndescription: other\n-\n' }))).toBe(anchor);
    expect(
      changelogAnchor({
        CHANGENUMBER: '42',
        CHANGETIME: '20261129120000Z',
        changetype: 'MODIFY',
        targetdn: 'UID=ann,ou=People,dc=example,dc=com',
        targetuniqueid: '6f1c2a3b-11111111-22222222-33333333',
      }),
    ).toBe(anchor);
    expect(changelogAnchor({ ...change(), changeTime: Buffer.from('20261129120000Z') })).toBe(anchor);
  });

  it("differs for another change at the same number (another server's history)", () => {
    const anchor = changelogAnchor(change());
    expect(changelogAnchor(change({ changeTime: '20261129120001Z' }))).not.toBe(anchor);
    expect(changelogAnchor(change({ targetDn: 'uid=ben,ou=People,dc=example,dc=com' }))).not.toBe(anchor);
    expect(changelogAnchor(change({ targetUniqueId: '00000000-11111111-22222222-33333333' }))).not.toBe(anchor);
  });

  it('has none without a change number', () => {
    const { changeNumber: _dropped, ...rest } = change();
    expect(changelogAnchor(rest)).toBeNull();
  });
});

describe('checkAnchor', () => {
  const stored = changelogAnchor(change()) as string;

  it('the same change at the checkpoint: resume', () => {
    expect(checkAnchor(stored, change(), 'ldaps://ds1:636')).toEqual({ kind: 'same' });
  });

  it('another change at that number: stop, saying why and what to do', () => {
    const check = checkAnchor(stored, change({ changeTime: '20250101000000Z', targetDn: 'uid=zed,dc=example,dc=com' }), 'ldaps://ds2:636');
    expect(check.kind).toBe('different');
    expect(check.kind === 'different' ? check.message : '').toMatch(/change 42 is not the change ldaps:\/\/ds2:636 has at that number.*another server.*set-startpoint/);
  });

  it('nothing to compare (no stored anchor, or the change is gone): left to the window checks', () => {
    expect(checkAnchor(undefined, change(), 'x')).toEqual({ kind: 'unverifiable' });
    expect(checkAnchor(stored, null, 'x')).toEqual({ kind: 'unverifiable' });
  });
});
