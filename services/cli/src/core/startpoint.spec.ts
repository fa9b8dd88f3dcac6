import { ChangeNumber, type ChangelogWindow } from '@idsync/detector/ds';
import {
  adChoiceUnsupported,
  changelogEffect,
  changelogStart,
  describeChangelogEffect,
  detectorNames,
  findFirstChangeAtOrAfter,
  resolveDetector,
  type NextChangeLookup,
  type TimedChange,
} from './startpoint';

const cn = (n: number): ChangeNumber => ChangeNumber.parse(String(n));
const win = (first: number, last: number): ChangelogWindow => ({ first: cn(first), last: cn(last) });
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0);
const at = (seconds: number): number => T0 + seconds * 1_000;

/** A changelog as a list of [change number, seconds after T0]; the lookup answers like cn=changelog would. */
function fakeChangelog(changes: readonly (readonly [number, number])[]): { window: ChangelogWindow; lookup: NextChangeLookup; asked: number[] } {
  const sorted = [...changes].sort((a, b) => a[0] - b[0]);
  const asked: number[] = [];
  const window = win(sorted[0]?.[0] ?? 0, sorted.at(-1)?.[0] ?? 0);
  const lookup: NextChangeLookup = async (from) => {
    asked.push(Number(from.format()));
    const found = sorted.find(([n]) => n >= Number(from.format()));
    return found ? { changeNumber: cn(found[0]), time: at(found[1]) } : null;
  };
  return { window, lookup, asked };
}

const numberOf = (change: TimedChange | null): string | null => change?.changeNumber.format() ?? null;

describe('resolveDetector: which detector a name means', () => {
  const sources = { 'ad-detector': 'ad', 'ds-detector': 'ds' } as const;

  it.each([
    ['ds-detector', 'ds-detector'],
    ['ds', 'ds-detector'],
    ['AD-Detector', 'ad-detector'],
    ['ad', 'ad-detector'],
  ] as const)('%s -> %s', (name, detector) => {
    expect(resolveDetector(name, sources)).toBe(detector);
  });

  it('accepts the name of the directory a detector reads', () => {
    expect(resolveDetector('corp-ldap', { 'ad-detector': 'corp-ad', 'ds-detector': 'corp-ldap' })).toBe('ds-detector');
  });

  it('knows nothing else, and lists what it knows', () => {
    expect(resolveDetector('mapper', sources)).toBeNull();
    expect(detectorNames({ 'ad-detector': 'ad1', 'ds-detector': 'ds1' })).toEqual(['ad-detector', 'ad', 'ad1', 'ds-detector', 'ds', 'ds1']);
  });
});

describe('adChoiceUnsupported: DirSync has no change numbers and no times', () => {
  it('refuses --change-number and --time, accepts --beginning and --end', () => {
    expect(adChoiceUnsupported('change-number')).toMatch(/--change-number does not apply to the ad-detector/);
    expect(adChoiceUnsupported('time')).toMatch(/--time does not apply/);
    expect(adChoiceUnsupported('end')).toBeNull();
    expect(adChoiceUnsupported('beginning')).toBeNull();
  });
});

describe('changelogStart: the stored position (last change published) for each choice', () => {
  const window = win(100, 250);

  it('--beginning: before the oldest change the server keeps', () => {
    expect(changelogStart({ kind: 'beginning' }, window)).toMatchObject({ kind: 'ok', after: cn(99) });
  });

  it('--end: the last change now, so only later ones are published', () => {
    expect(changelogStart({ kind: 'end' }, window)).toMatchObject({ kind: 'ok', after: cn(250) });
  });

  it('--change-number N: the change before N, so N itself is published', () => {
    expect(changelogStart({ kind: 'change-number', changeNumber: cn(180) }, window)).toMatchObject({ kind: 'ok', after: cn(179) });
    expect(changelogStart({ kind: 'change-number', changeNumber: cn(100) }, window)).toMatchObject({ kind: 'ok', after: cn(99) });
    // The next change to be made: same as --end.
    expect(changelogStart({ kind: 'change-number', changeNumber: cn(251) }, window)).toMatchObject({ kind: 'ok', after: cn(250) });
  });

  it('refuses a change number outside first..last+1, naming the window', () => {
    const purged = changelogStart({ kind: 'change-number', changeNumber: cn(99) }, window);
    expect(purged).toEqual({ kind: 'refused', message: expect.stringMatching(/99 is outside the changelog's window 100\.\.250 \(it was purged.*from 100 to 251/) });
    const future = changelogStart({ kind: 'change-number', changeNumber: cn(252) }, window);
    expect(future).toEqual({ kind: 'refused', message: expect.stringMatching(/252 is outside .* not been made yet/) });
  });

  it('an empty changelog (389-ds says 0/0): beginning and end are both 0, no change number is in it', () => {
    expect(changelogStart({ kind: 'beginning' }, win(0, 0))).toMatchObject({ kind: 'ok', after: ChangeNumber.ZERO });
    expect(changelogStart({ kind: 'end' }, win(0, 0))).toMatchObject({ kind: 'ok', after: ChangeNumber.ZERO });
    expect(changelogStart({ kind: 'change-number', changeNumber: cn(1) }, win(0, 0))).toMatchObject({ kind: 'refused' });
  });
});

describe('findFirstChangeAtOrAfter: binary search over change numbers by changeTime', () => {
  // One change a second from 10 to 1009, with a gap at 500..519 (never written) and three changes in second 700.
  const changes: [number, number][] = [];
  for (let n = 10; n <= 1009; n += 1) if (n < 500 || n > 519) changes.push([n, n < 700 ? n : n === 700 || n === 701 || n === 702 ? 700 : n]);

  it('finds the first change made at or after the time, and stores the change before it', async () => {
    const { window, lookup, asked } = fakeChangelog(changes);
    const result = await findFirstChangeAtOrAfter(at(300), window, lookup);
    expect(numberOf(result.chosen)).toBe('300');
    expect(result.after.format()).toBe('299');
    expect(result.lookups).toBe(asked.length);
    expect(asked.length).toBeLessThanOrEqual(Math.ceil(Math.log2(1_000)) + 2);
  });

  it('a time between two changes picks the later one', async () => {
    const { window, lookup } = fakeChangelog([
      [1, 0],
      [2, 10],
      [3, 20],
    ]);
    expect(numberOf((await findFirstChangeAtOrAfter(at(15), window, lookup)).chosen)).toBe('3');
    expect(numberOf((await findFirstChangeAtOrAfter(at(10), window, lookup)).chosen)).toBe('2');
  });

  it('steps over gaps: a time inside a gap picks the first change after it', async () => {
    const { window, lookup } = fakeChangelog(changes);
    const result = await findFirstChangeAtOrAfter(at(510), window, lookup);
    expect(numberOf(result.chosen)).toBe('520');
    expect(result.after.format()).toBe('519');
  });

  it('changes made in the same second: the first of them', async () => {
    const { window, lookup } = fakeChangelog(changes);
    expect(numberOf((await findFirstChangeAtOrAfter(at(700), window, lookup)).chosen)).toBe('700');
    expect(numberOf((await findFirstChangeAtOrAfter(at(700) + 500, window, lookup)).chosen)).toBe('703');
  });

  it('a time before every change: the first change (same as --beginning)', async () => {
    const { window, lookup } = fakeChangelog(changes);
    const result = await findFirstChangeAtOrAfter(at(-3_600), window, lookup);
    expect(numberOf(result.chosen)).toBe('10');
    expect(result.after.format()).toBe('9');
  });

  it('a time after every change: none, the position is the end (same as --end)', async () => {
    const { window, lookup } = fakeChangelog(changes);
    const result = await findFirstChangeAtOrAfter(at(5_000), window, lookup);
    expect(result.chosen).toBeNull();
    expect(result.after.format()).toBe('1009');
  });

  it('works on a one-change changelog and answers an empty one without asking', async () => {
    const one = fakeChangelog([[42, 0]]);
    expect(numberOf((await findFirstChangeAtOrAfter(at(0), one.window, one.lookup)).chosen)).toBe('42');
    expect((await findFirstChangeAtOrAfter(at(1), one.window, one.lookup)).after.format()).toBe('42');
    const empty = await findFirstChangeAtOrAfter(at(0), win(0, 0), async () => {
      throw new Error('not asked');
    });
    expect(empty).toEqual({ chosen: null, after: ChangeNumber.ZERO, lookups: 0 });
  });

  it('agrees with a linear scan for every second of a changelog with gaps', async () => {
    const { window, lookup } = fakeChangelog(changes);
    for (let second = 0; second <= 1_020; second += 7) {
      const expected = changes.find(([, t]) => at(t) >= at(second))?.[0] ?? null;
      expect(numberOf((await findFirstChangeAtOrAfter(at(second), window, lookup)).chosen)).toBe(expected === null ? null : String(expected));
    }
  });

  it('rejects a lookup that answers outside what it was asked', async () => {
    const bad: NextChangeLookup = async () => ({ changeNumber: cn(1), time: at(0) });
    await expect(findFirstChangeAtOrAfter(at(0), win(10, 20), bad)).rejects.toThrow(/outside/);
  });
});

describe('changelogEffect: what a move skips or repeats', () => {
  const window = win(100, 250);

  it('moving back repeats the changes in between', () => {
    const effect = changelogEffect(cn(200), cn(99), window);
    expect(effect).toEqual({ kind: 'repeat', from: cn(100), to: cn(200), count: 101, again: true });
    expect(describeChangelogEffect(effect, cn(200))).toBe('changes 100..200 (up to 101) will be published AGAIN (subscribers see them twice; writers apply only what differs)');
  });

  it('moving forward skips them', () => {
    const effect = changelogEffect(cn(200), cn(250), window);
    expect(effect).toEqual({ kind: 'skip', from: cn(201), to: cn(250), count: 50 });
    expect(describeChangelogEffect(effect, cn(200))).toMatch(/^changes 201\.\.250 \(up to 50\) will be SKIPPED: never published/);
    expect(describeChangelogEffect(changelogEffect(cn(249), cn(250), window), cn(249))).toMatch(/^change 250 will be SKIPPED/);
  });

  it('without a checkpoint the detector would start at the end: that is what a move is compared with', () => {
    expect(changelogEffect(null, cn(250), window)).toEqual({ kind: 'none' });
    expect(describeChangelogEffect({ kind: 'none' }, null)).toMatch(/^no checkpoint yet: .* changes made from now on are published/);
    const effect = changelogEffect(null, cn(99), window);
    expect(effect).toEqual({ kind: 'repeat', from: cn(100), to: cn(250), count: 151, again: false });
    expect(describeChangelogEffect(effect, null)).toMatch(/will be published \(no checkpoint yet/);
  });

  it('no move, no effect', () => {
    expect(describeChangelogEffect(changelogEffect(cn(250), cn(250), window), cn(250))).toBe('none: the detector is already there');
  });
});
