import { ChangeNumber } from './change-number';
import { decidePosition, nextRange, settleBatch } from './position';

const cn = (n: number): ChangeNumber => ChangeNumber.parse(String(n));
const window = (first: number, last: number) => ({ first: cn(first), last: cn(last) });

describe('decidePosition: where a detector continues', () => {
  it('starts at the current end when there is no checkpoint: a first start publishes only new changes', () => {
    expect(decidePosition(null, window(1, 120))).toEqual({ kind: 'start-at-end', after: cn(120) });
    expect(decidePosition(null, window(0, 0))).toEqual({ kind: 'start-at-end', after: cn(0) });
  });

  it('resumes after the checkpoint while the changelog still holds the next change', () => {
    expect(decidePosition(cn(50), window(1, 120))).toEqual({ kind: 'resume', after: cn(50) });
    expect(decidePosition(cn(120), window(1, 120))).toEqual({ kind: 'resume', after: cn(120) });
    expect(decidePosition(cn(99), window(100, 120))).toEqual({ kind: 'resume', after: cn(99) });
    expect(decidePosition(cn(0), window(1, 0))).toEqual({ kind: 'resume', after: cn(0) });
  });

  it('stops with a resync message when the next change was purged (checkpoint older than firstChangeNumber - 1)', () => {
    const decision = decidePosition(cn(0), window(100, 120));
    expect(decision.kind).toBe('resync-needed');
    expect(decision.kind === 'resync-needed' && decision.message).toMatch(/changes 1\.\.99 were purged.*resync is needed.*kafka-consumer-groups/);
    expect(decidePosition(cn(98), window(100, 120)).kind).toBe('resync-needed');
  });

  it('stops when the checkpoint is ahead of the server (another server, or a re-created changelog)', () => {
    const decision = decidePosition(cn(500), window(1, 120));
    expect(decision.kind === 'resync-needed' && decision.message).toMatch(/ahead of the server's lastChangeNumber 120/);
  });
});

describe('nextRange: the change numbers of the next poll', () => {
  it('asks for at most batchSize numbers after the checkpoint, never past lastChangeNumber', () => {
    expect(nextRange(cn(10), window(1, 1000), 100)).toEqual({ from: cn(11), to: cn(110) });
    expect(nextRange(cn(10), window(1, 15), 100)).toEqual({ from: cn(11), to: cn(15) });
    expect(nextRange(cn(15), window(1, 15), 100)).toBeNull();
  });
});

describe('settleBatch: how far the checkpoint may move', () => {
  const base = { after: cn(10), to: cn(15), pendingGap: null, now: 1_000, graceMs: 5_000 };

  it('moves to the end of the range when every change number came back, in any order', () => {
    expect(settleBatch({ ...base, found: [cn(13), cn(11), cn(12), cn(15), cn(14)] })).toEqual({ through: cn(15), skipped: [], pendingGap: null });
  });

  it('stops before a missing number, which may still be being written, and remembers since when', () => {
    expect(settleBatch({ ...base, found: [cn(11), cn(12), cn(14), cn(15)] })).toEqual({ through: cn(12), skipped: [], pendingGap: { at: cn(13), since: 1_000 } });
  });

  it('keeps waiting within the grace period, and processes the number once it appears', () => {
    const pendingGap = { at: cn(13), since: 1_000 };
    expect(settleBatch({ ...base, after: cn(12), found: [cn(14), cn(15)], pendingGap, now: 4_000 })).toEqual({ through: cn(12), skipped: [], pendingGap });
    expect(settleBatch({ ...base, after: cn(12), found: [cn(13), cn(14), cn(15)], pendingGap, now: 4_000 })).toEqual({ through: cn(15), skipped: [], pendingGap: null });
  });

  it('skips, and reports, a run of missing numbers after the grace period', () => {
    const settled = settleBatch({ ...base, found: [cn(11), cn(14), cn(15)], pendingGap: { at: cn(12), since: 0 }, now: 6_000 });
    expect(settled).toEqual({ through: cn(15), skipped: [cn(12), cn(13)], pendingGap: null });
  });

  it('at the tip, skips only the number that waited, not the ones after it', () => {
    const settled = settleBatch({ ...base, found: [cn(11)], pendingGap: { at: cn(12), since: 0 }, now: 6_000 });
    expect(settled).toEqual({ through: cn(12), skipped: [cn(12)], pendingGap: { at: cn(13), since: 6_000 } });
  });

  it('does not move at all when nothing came back', () => {
    expect(settleBatch({ ...base, found: [] })).toEqual({ through: cn(10), skipped: [], pendingGap: { at: cn(11), since: 1_000 } });
  });
});
