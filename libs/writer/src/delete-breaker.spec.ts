import { breakerKey, DeleteBreaker, deleteLimit, encodeBreakerControl, parseBreakerControl } from './delete-breaker';

describe('DeleteBreaker', () => {
  const settings = { maxDeletes: 3, windowMs: 60_000 };

  it('applies deletes up to the limit within the window, holds the next one and trips', () => {
    const breaker = new DeleteBreaker(settings);
    expect([0, 1, 2].map((i) => breaker.admit(1_000 + i).kind)).toEqual(['apply', 'apply', 'apply']);
    expect(breaker.admit(1_003)).toEqual({ kind: 'hold', trips: true, deletes: 4 });
    breaker.trip(1_003, 'ds-writer', 4);
    expect(breaker.tripped).toBe(true);
    expect(breaker.admit(1_004)).toMatchObject({ kind: 'hold', trips: false });
  });

  it('holds an unlink with its delete: applied when its delete was, held when its delete was held', () => {
    const breaker = new DeleteBreaker(settings);
    for (const key of ['a', 'b', 'c']) breaker.admit(1, key);
    expect(breaker.holdsUnlink(2, 'a')).toBe(false); // not tripped
    expect(breaker.admit(3, 'd')).toMatchObject({ kind: 'hold', trips: true });
    breaker.trip(3, 'ds-writer', 4);
    expect(breaker.holdsUnlink(4, 'a')).toBe(false); // its delete was applied
    expect(breaker.holdsUnlink(4, 'd')).toBe(true);
    expect(breaker.holdsUnlink(4, 'unknown')).toBe(true);
  });

  it('forgets deletes older than the window', () => {
    const breaker = new DeleteBreaker(settings);
    for (const at of [0, 10_000, 20_000]) expect(breaker.admit(at).kind).toBe('apply');
    expect(breaker.admit(60_000).kind).toBe('apply'); // the first one left the window
    expect(breaker.admit(60_001).kind).toBe('hold');
  });

  it('holds every held record until a decision covers it; a decision opens the window afresh', () => {
    const breaker = new DeleteBreaker(settings);
    for (const at of [1, 2, 3]) breaker.admit(at);
    breaker.trip(4, 'ds-writer', 4);
    expect(breaker.release(4)).toEqual({ kind: 'wait' });
    breaker.observe({ state: 'approved', at: 100, by: 'alice' });
    expect(breaker.tripped).toBe(false);
    expect(breaker.release(4)).toMatchObject({ kind: 'apply', decision: { state: 'approved', by: 'alice' } });
    expect([101, 102, 103].map((at) => breaker.admit(at).kind)).toEqual(['apply', 'apply', 'apply']);
    expect(breaker.admit(104)).toMatchObject({ kind: 'hold', trips: true });
    breaker.trip(104, 'ds-writer', 4);
    // Held after the approval, during the new trip: waits for the next decision, which discards it.
    expect(breaker.release(104)).toEqual({ kind: 'wait' });
    breaker.observe({ state: 'discarded', at: 200, by: 'bob' });
    expect(breaker.release(104)).toMatchObject({ kind: 'discard', decision: { by: 'bob' } });
  });

  it('keeps the newest control record when records arrive out of order (replicas, a replay of the topic)', () => {
    const breaker = new DeleteBreaker(settings);
    breaker.observe({ state: 'approved', at: 500, by: 'alice' });
    breaker.observe({ state: 'tripped', at: 400, by: 'ds-writer', deletes: 4, limit: 3, windowMs: 60_000 });
    expect(breaker.tripped).toBe(false);
    breaker.observe({ state: 'tripped', at: 600, by: 'ds-writer#2', deletes: 4, limit: 3, windowMs: 60_000 });
    expect(breaker.tripped).toBe(true);
    expect(breaker.admit(601)).toMatchObject({ kind: 'hold', trips: false });
  });

  it('takes its limit from a percentage of the entries', () => {
    expect(deleteLimit(20, 5)).toBe(20);
    expect(deleteLimit('5%', 1_000)).toBe(50);
    expect(deleteLimit('5%', 10)).toBe(1);
    let entries = 100;
    const breaker = new DeleteBreaker({ maxDeletes: '2%', windowMs: 60_000 }, () => entries);
    expect([1, 2].map((at) => breaker.admit(at).kind)).toEqual(['apply', 'apply']);
    expect(breaker.admit(3).kind).toBe('hold');
    entries = 1_000;
    expect(breaker.admit(4).kind).toBe('apply');
  });
});

describe('breaker control records', () => {
  it('round-trip, and garbage is never read as a decision', () => {
    const tripped = { state: 'tripped' as const, at: Date.parse('2026-11-30T05:00:00Z'), by: 'ds-writer', deletes: 21, limit: 20, windowMs: 60_000 };
    expect(parseBreakerControl(encodeBreakerControl(tripped))).toEqual(tripped);
    expect(parseBreakerControl(encodeBreakerControl({ state: 'approved', at: 1_700_000_000_000, by: 'alice' }))).toEqual({ state: 'approved', at: 1_700_000_000_000, by: 'alice' });
    expect(parseBreakerControl(Buffer.from('{"state":"approved"}'))).toBeNull();
    expect(parseBreakerControl(Buffer.from('{"state":"open","at":"2026-11-30T05:00:00Z"}'))).toBeNull();
    expect(parseBreakerControl(Buffer.from('not json'))).toBeNull();
    expect(parseBreakerControl(null)).toBeNull();
    expect(breakerKey('ds')).toBe('delete-breaker/ds');
  });
});
