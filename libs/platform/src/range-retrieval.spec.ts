import { foldNextSlices, foldValueRanges, parseValueRange, RangeRetrievalError, valueRangeRequest } from './range-retrieval';

const GROUP = 'CN=Big,OU=Corp,DC=example,DC=test';
const members = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `CN=u${from + i},OU=Corp,DC=example,DC=test`);

describe('parseValueRange', () => {
  it('reads the slice AD names member;range=0-1499 and the last one, member;range=1500-*', () => {
    expect(parseValueRange('member;range=0-1499')).toEqual({ attribute: 'member', low: 0, high: 1499 });
    expect(parseValueRange('member;range=1500-*')).toEqual({ attribute: 'member', low: 1500, high: null });
  });

  it('keeps the attribute name as the server spelled it and reads the option whatever its case', () => {
    expect(parseValueRange('Member;Range=0-1499')).toEqual({ attribute: 'Member', low: 0, high: 1499 });
    expect(parseValueRange('MEMBER;RANGE=3000-*')).toEqual({ attribute: 'MEMBER', low: 3000, high: null });
  });

  it('keeps other options with the attribute', () => {
    expect(parseValueRange('userCertificate;binary;range=0-99')).toEqual({ attribute: 'userCertificate;binary', low: 0, high: 99 });
  });

  it('is null for plain attributes and for options that are not a range', () => {
    for (const name of ['member', 'cn;lang-en', 'member;range=', 'member;range=a-b', 'member;range=5', 'member;ranges=0-1', 'dn']) expect(parseValueRange(name)).toBeNull();
  });

  it('asks for the rest from a value index on, with a lower-case option (Samba ignores RANGE=)', () => {
    expect(valueRangeRequest('Member', 1500)).toBe('Member;range=1500-*');
  });
});

describe('foldValueRanges and foldNextSlices', () => {
  it('returns an entry without slices as it is, with nothing to read', () => {
    const entry = { dn: GROUP, cn: 'Big', member: members(0, 2) };
    const progress = foldValueRanges(entry);
    expect(progress.entry).toBe(entry);
    expect(progress.pending).toEqual([]);
  });

  it('completes a 3,000-member group read in two slices, as the plain attribute, in order', () => {
    // ldapts also lists the requested `member` the server answered as a slice, with no values.
    const first = foldValueRanges({ dn: GROUP, cn: 'Big', member: [], 'member;range=0-1499': members(0, 1499) });
    expect(first.pending).toEqual([{ attribute: 'member', next: 1500 }]);
    expect(first.entry['member']).toHaveLength(1500);
    expect(Object.keys(first.entry).sort()).toEqual(['cn', 'dn', 'member']);

    const done = foldNextSlices(first, { dn: GROUP, 'member;range=1500-*': members(1500, 2999) });
    expect(done.pending).toEqual([]);
    expect(done.entry['member']).toEqual(members(0, 2999));
    expect(done.entry['cn']).toBe('Big');
  });

  it('follows middle slices (a server may answer 1500-2999 to 1500-*) until one ends in *', () => {
    let progress = foldValueRanges({ dn: GROUP, 'member;range=0-1499': members(0, 1499) });
    // ldapts lists the requested description too, with no values.
    progress = foldNextSlices(progress, { dn: GROUP, 'member;range=1500-*': [], 'member;range=1500-2999': members(1500, 2999) });
    expect(progress.pending).toEqual([{ attribute: 'member', next: 3000 }]);
    progress = foldNextSlices(progress, { dn: GROUP, 'member;range=3000-*': members(3000, 3200) });
    expect(progress.pending).toEqual([]);
    expect(progress.entry['member']).toEqual(members(0, 3200));
  });

  it('completes two ranged attributes of one entry side by side', () => {
    const phones = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `+1 555 ${from + i}`);
    let progress = foldValueRanges({ dn: GROUP, 'member;range=0-1499': members(0, 1499), 'otherTelephone;range=0-1499': phones(0, 1499), description: 'x' });
    expect(progress.pending).toEqual([
      { attribute: 'member', next: 1500 },
      { attribute: 'otherTelephone', next: 1500 },
    ]);
    progress = foldNextSlices(progress, { dn: GROUP, 'member;range=1500-2999': members(1500, 2999), 'otherTelephone;range=1500-*': phones(1500, 1600) });
    expect(progress.pending).toEqual([{ attribute: 'member', next: 3000 }]);
    progress = foldNextSlices(progress, { dn: GROUP, 'member;range=3000-*': members(3000, 3000) });
    expect(progress.pending).toEqual([]);
    expect(progress.entry['member']).toHaveLength(3001);
    expect(progress.entry['otherTelephone']).toEqual(phones(0, 1600));
    expect(progress.entry['description']).toBe('x');
  });

  it('matches slices to their attribute whatever the case the server answers in', () => {
    const first = foldValueRanges({ dn: GROUP, Member: [], 'member;range=0-1499': members(0, 1499) });
    const done = foldNextSlices(first, { dn: GROUP, 'MEMBER;range=1500-*': members(1500, 1501) });
    expect(Object.keys(done.entry).sort()).toEqual(['Member', 'dn']);
    expect(done.entry['Member']).toHaveLength(1502);
  });

  it('keeps binary values as bytes, and makes the whole attribute bytes when one slice came as bytes', () => {
    const bytes = (n: number): Buffer => Buffer.from([0xff, 0x00, n]);
    let progress = foldValueRanges({ dn: GROUP, 'userCertificate;range=0-1': [bytes(0), bytes(1)] });
    progress = foldNextSlices(progress, { dn: GROUP, 'userCertificate;range=2-*': bytes(2) });
    expect(progress.entry['userCertificate']).toEqual([bytes(0), bytes(1), bytes(2)]);

    // A slice whose values were all valid UTF-8 came as text: the same bytes again.
    let mixed = foldValueRanges({ dn: GROUP, 'userCertificate;range=0-0': 'abc' });
    mixed = foldNextSlices(mixed, { dn: GROUP, 'userCertificate;range=1-*': bytes(1) });
    expect(mixed.entry['userCertificate']).toEqual([Buffer.from('abc'), bytes(1)]);
  });

  it('ends an attribute that lost values since the first slice (nothing from the next index on)', () => {
    const first = foldValueRanges({ dn: GROUP, 'member;range=0-1499': members(0, 1499) });
    const done = foldNextSlices(first, { dn: GROUP, 'member;range=1500-*': [] });
    expect(done.pending).toEqual([]);
    expect(done.entry['member']).toHaveLength(1500);
  });

  it('refuses answers that would lose or repeat values: another start, a plain attribute, an empty range', () => {
    const first = foldValueRanges({ dn: GROUP, 'member;range=0-1499': members(0, 1499) });
    expect(() => foldNextSlices(first, { dn: GROUP, 'member;range=1400-*': members(1400, 2999) })).toThrow(RangeRetrievalError);
    expect(() => foldNextSlices(first, { dn: GROUP, member: members(0, 2999) })).toThrow(/without a range/);
    expect(() => foldNextSlices(first, { dn: GROUP, 'member;range=1500-1499': members(0, 0) })).toThrow(/empty range/);
  });
});
