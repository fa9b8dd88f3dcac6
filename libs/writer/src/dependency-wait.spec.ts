import { behindWait, HeldEntries, nextWait, readWait, WAIT_HEADERS, waitHeaders, waitTopicOf } from './dependency-wait';

describe('nextWait: when a request whose dependency is missing is tried again', () => {
  const maxWaitMs = 15 * 60_000;

  it('parks it soon at first, then once a minute, counting from the first failure', () => {
    let state = undefined as ReturnType<typeof readWait>;
    const dues: number[] = [];
    let now = 1_000_000;
    for (let i = 0; i < 6; i++) {
      const decision = nextWait(state, now, maxWaitMs);
      if (decision.kind !== 'park') throw new Error('gave up too early');
      dues.push(decision.state.due - now);
      expect(decision.state.since).toBe(1_000_000);
      expect(decision.state.attempt).toBe(i + 1);
      state = decision.state;
      now = decision.state.due;
    }
    expect(dues).toEqual([5_000, 15_000, 30_000, 60_000, 60_000, 60_000]);
  });

  it('never parks past the deadline, and gives up once the wait is over, saying how long it waited', () => {
    const since = 0;
    const late = nextWait({ since, attempt: 9, due: 0 }, maxWaitMs - 10_000, maxWaitMs);
    expect(late).toEqual({ kind: 'park', state: { since, attempt: 10, due: maxWaitMs } });
    expect(nextWait({ since, attempt: 10, due: maxWaitMs }, maxWaitMs, maxWaitMs)).toEqual({ kind: 'give-up', waitedMs: maxWaitMs });
  });
});

describe('wait headers', () => {
  it('round-trip, and a record without them was never parked', () => {
    const state = { since: 1, attempt: 2, due: 3 };
    expect(readWait(waitHeaders(state))).toEqual(state);
    expect(waitHeaders(state, 'e1/ad-to-ds/0')[WAIT_HEADERS.behind]).toBe('e1/ad-to-ds/0');
    expect(readWait({})).toBeUndefined();
    expect(readWait(undefined)).toBeUndefined();
    expect(readWait({ [WAIT_HEADERS.since]: 'x', [WAIT_HEADERS.attempt]: '1', [WAIT_HEADERS.due]: '2' })).toBeUndefined();
  });

  it('a request parked behind another is due at once and keeps its own history', () => {
    expect(behindWait(undefined, 50)).toEqual({ since: 50, attempt: 0, due: 50 });
    expect(behindWait({ since: 10, attempt: 3, due: 40 }, 50)).toEqual({ since: 10, attempt: 3, due: 50 });
  });

  it('names the wait topic after the operations topic', () => {
    expect(waitTopicOf('idsync.ds.operations')).toBe('idsync.ds.operations.wait');
  });
});

describe('HeldEntries: entries with parked requests', () => {
  it('holds an entry while any of its parked requests is pending, naming the first one', () => {
    const held = new HeldEntries(60_000);
    held.hold('k', 0, 'first');
    held.hold('k', 0, 'second');
    expect(held.isHeld('k', 1)).toBe(true);
    expect(held.blocker('k')).toBe('first');
    held.release('k');
    expect(held.isHeld('k', 1)).toBe(true);
    held.release('k');
    expect(held.isHeld('k', 1)).toBe(false);
    held.release('k'); // a release for a request parked by another replica: nothing to do
    expect(held.size).toBe(0);
  });

  it('lets a hold expire (another replica may have tried the parked request)', () => {
    const held = new HeldEntries(60_000);
    held.hold('k', 0, 'first');
    expect(held.isHeld('k', 59_999)).toBe(true);
    expect(held.isHeld('k', 60_000)).toBe(false);
  });
});
