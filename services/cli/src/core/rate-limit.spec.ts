import { RateLimiter } from './rate-limit';

describe('RateLimiter (resync --rate)', () => {
  it('spaces batches so the average stays at the rate, the first one at once', async () => {
    let clock = 0;
    const waits: number[] = [];
    const limiter = new RateLimiter(
      100,
      () => clock,
      async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    );
    for (let i = 0; i < 5; i++) await limiter.take(25);
    // 125 units at 100/s: the fifth batch starts after 1 s (four batches of 0.25 s before it).
    expect(waits).toEqual([250, 250, 250, 250]);
    expect(clock).toBe(1_000);
  });

  it('saves nothing up while idle, and keeps bursts to a quarter of a second', async () => {
    let clock = 0;
    const waits: number[] = [];
    const limiter = new RateLimiter(
      40,
      () => clock,
      async (ms) => void waits.push(ms),
    );
    await limiter.take(10);
    clock = 60_000;
    await limiter.take(10);
    await limiter.take(10);
    expect(waits).toEqual([250]);
    expect(limiter.batchSize(500)).toBe(10);
    expect(new RateLimiter(1).batchSize(500)).toBe(1);
    expect(new RateLimiter(100_000).batchSize(500)).toBe(500);
    expect(() => new RateLimiter(0)).toThrow(RangeError);
  });
});
