import { cachedProbe } from './cached-probe';
import { HealthProbeError } from './health';

describe('cachedProbe', () => {
  let clock = 1_000_000;
  const now = () => clock;
  const probe = (results: (() => Record<string, unknown>)[]) => {
    let calls = 0;
    return {
      name: 'directory:ds',
      async check() {
        const next = results[Math.min(calls, results.length - 1)] as () => Record<string, unknown>;
        calls += 1;
        return next();
      },
    };
  };

  it('checks the dependency once per interval, whatever the request rate', async () => {
    const cached = cachedProbe(probe([() => ({ url: 'ldaps://a' })]), { intervalMs: 15_000, now });
    const answers = await Promise.all(Array.from({ length: 1_000 }, () => cached.check()));
    expect(cached.checks()).toBe(1);
    expect(answers[999]).toEqual({ url: 'ldaps://a', checkedAt: new Date(clock).toISOString() });
    clock += 14_999;
    for (let i = 0; i < 100; i++) await cached.check();
    expect(cached.checks()).toBe(1);
    clock += 1;
    await cached.check();
    await cached.check();
    expect(cached.checks()).toBe(2);
  });

  it('answers the last result while a refresh runs, and waits for one once the last is three intervals old', async () => {
    const cached = cachedProbe(probe([() => ({ n: 1 }), () => ({ n: 2 }), () => ({ n: 3 })]), { intervalMs: 10_000, now });
    expect(await cached.check()).toMatchObject({ n: 1 });
    clock += 10_000;
    expect(await cached.check()).toMatchObject({ n: 1 }); // stale, refresh started
    await new Promise((resolve) => setImmediate(resolve));
    expect(await cached.check()).toMatchObject({ n: 2 });
    clock += 30_000;
    expect(await cached.check()).toMatchObject({ n: 3 }); // too old to answer: waited for
  });

  it('reports a failure with its time, from the cache too', async () => {
    const cached = cachedProbe(
      probe([
        () => {
          throw new HealthProbeError('bind refused', { url: 'ldaps://a' });
        },
      ]),
      { intervalMs: 10_000, now },
    );
    await expect(cached.check()).rejects.toMatchObject({ message: 'bind refused', details: { url: 'ldaps://a', checkedAt: expect.any(String) } });
    await expect(cached.check()).rejects.toThrow('bind refused');
    expect(cached.checks()).toBe(1);
  });
});
