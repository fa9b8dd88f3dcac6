import { backoffDelay, DEFAULT_BACKOFF } from './backoff';

describe('backoffDelay', () => {
  it('doubles from the initial wait up to the maximum (no jitter asked)', () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('draws each wait between (1 - jitter) and all of it, so instances that failed together come back apart', () => {
    const options = { initialMs: 1_000, maxMs: 8_000, factor: 2, jitter: 0.5 };
    expect(backoffDelay(1, options, () => 0)).toBe(1_000);
    expect(backoffDelay(1, options, () => 0.999999)).toBe(500);
    expect(backoffDelay(10, options, () => 0.5)).toBe(6_000);
    const draws = Array.from({ length: 200 }, () => backoffDelay(3, options));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(2_000);
    expect(Math.max(...draws)).toBeLessThanOrEqual(4_000);
    expect(new Set(draws).size).toBeGreaterThan(50);
  });

  it('by default waits 100-200 ms at first and at most 30 s, with half of each wait drawn at random', () => {
    expect(DEFAULT_BACKOFF).toMatchObject({ initialMs: 200, maxMs: 30_000, jitter: 0.5 });
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(200);
    expect(backoffDelay(50, DEFAULT_BACKOFF, () => 0)).toBe(30_000);
    expect(backoffDelay(50, DEFAULT_BACKOFF, () => 1)).toBe(15_000);
  });
});
