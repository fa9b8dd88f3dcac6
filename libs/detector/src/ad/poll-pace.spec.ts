import { nextPollDelayMs } from './poll-pace';

const pace = { pollIntervalMs: 1_000, streamingPollShare: 0.25 };

describe('the pause before the next DirSync poll', () => {
  it('is none when the DC says it has more', () => {
    expect(nextPollDelayMs({ entries: 500, moreResults: true }, { searchMs: 400, sinceSearchStartMs: 450 }, pace)).toBe(0);
  });

  it('is the poll interval after an empty page, however quick the search was', () => {
    expect(nextPollDelayMs({ entries: 0, moreResults: false }, { searchMs: 2, sinceSearchStartMs: 3 }, pace)).toBe(1_000);
  });

  it('keeps the searches to their share of the time while changes stream in, publishing counted as waiting', () => {
    // A 60 ms search at a quarter of the time: the next one starts 240 ms after this one started.
    expect(nextPollDelayMs({ entries: 3, moreResults: false }, { searchMs: 60, sinceSearchStartMs: 60 }, pace)).toBe(180);
    expect(nextPollDelayMs({ entries: 3, moreResults: false }, { searchMs: 60, sinceSearchStartMs: 100 }, pace)).toBe(140);
    expect(nextPollDelayMs({ entries: 3, moreResults: false }, { searchMs: 60, sinceSearchStartMs: 300 }, pace)).toBe(0);
  });

  it('never waits longer than the poll interval', () => {
    expect(nextPollDelayMs({ entries: 1, moreResults: false }, { searchMs: 900, sinceSearchStartMs: 900 }, pace)).toBe(1_000);
  });

  it('polls back to back with a share of 1', () => {
    expect(nextPollDelayMs({ entries: 1, moreResults: false }, { searchMs: 60, sinceSearchStartMs: 60 }, { ...pace, streamingPollShare: 1 })).toBe(0);
  });
});
