import { type MemoryReading, readMemory, releaseMemory, watchMemory } from './memory';

const MB = 1024 * 1024;
/** The event loop's busy share the watcher reads: quiet (the service waits for input) unless a test says so. */
let busy = 0.01;
beforeEach(() => (busy = 0.01));

describe('watchMemory', () => {
  it('gives memory back when the resident set exceeds the used heap and external memory by more than the gap, at most once a minute', () => {
    let reading: MemoryReading = { residentAnon: 100 * MB, heapTotal: 60 * MB, heapUsed: 55 * MB, external: 10 * MB };
    let now = 0;
    const released: number[] = [];
    // A release shrinks the heap to what it uses and gives back all but 20 MB beyond it.
    const release = (): void => void (reading = { ...reading, heapTotal: reading.heapUsed, residentAnon: reading.heapUsed + reading.external + 20 * MB });
    const watch = watchMemory({
      gapBytes: 24 * MB,
      minIntervalMs: 60_000,
      checkEveryMs: 3_600_000,
      busyShare: () => busy,
      read: () => reading,
      now: () => now,
      release,
      onRelease: (gap) => released.push(gap / MB),
    });
    try {
      expect(watch.check()).toBe(true); // 35 MB kept: a heap grown past what it uses counts
      reading = { residentAnon: 300 * MB, heapTotal: 60 * MB, heapUsed: 40 * MB, external: 10 * MB };
      now = 30_000;
      expect(watch.check()).toBe(false); // too soon after the last
      now = 61_000;
      expect(watch.check()).toBe(true);
      // A large heap in use is not kept memory: a leak is never hidden by this.
      reading = { residentAnon: 400 * MB, heapTotal: 365 * MB, heapUsed: 360 * MB, external: 10 * MB };
      now = 200_000;
      expect(watch.check()).toBe(false);
      expect(released).toEqual([35, 250]);
    } finally {
      watch.stop();
    }
  });

  it('does not try again what a release could not give back, and lowers the bar when it is given back later', () => {
    let reading: MemoryReading = { residentAnon: 200 * MB, heapTotal: 60 * MB, heapUsed: 60 * MB, external: 10 * MB };
    let now = 0;
    let releases = 0;
    // The allocator keeps 100 MB right after the collection.
    const release = (): void => void ((releases += 1), (reading = { ...reading, residentAnon: 170 * MB }));
    const watch = watchMemory({ gapBytes: 24 * MB, minIntervalMs: 60_000, checkEveryMs: 3_600_000, busyShare: () => busy, read: () => reading, now: () => now, release });
    try {
      expect(watch.check()).toBe(true);
      now = 120_000;
      expect(watch.check()).toBe(false); // 100 MB kept, as the last release left it
      reading = { ...reading, residentAnon: 200 * MB };
      now = 240_000;
      expect(watch.check()).toBe(true); // 30 MB more since: a new spike
      // Later the allocator gives back all but 30 MB: the bar comes down with it.
      reading = { ...reading, residentAnon: 100 * MB };
      now = 360_000;
      expect(watch.check()).toBe(false);
      reading = { ...reading, residentAnon: 130 * MB };
      now = 480_000;
      expect(watch.check()).toBe(true); // 30 MB over the new bar, not over the old one
      expect(releases).toBe(3);
    } finally {
      watch.stop();
    }
  });

  it('once the service goes quiet after work, releases against the gap alone, whatever a release during the work left', () => {
    let reading: MemoryReading = { residentAnon: 200 * MB, heapTotal: 60 * MB, heapUsed: 60 * MB, external: 10 * MB };
    let now = 0;
    let releases = 0;
    // During the work a release leaves 100 MB kept (what the work holds, and what the allocator gives back later).
    const release = (): void => void ((releases += 1), (reading = { ...reading, residentAnon: 170 * MB }));
    const watch = watchMemory({ gapBytes: 16 * MB, minIntervalMs: 60_000, checkEveryMs: 3_600_000, busyShare: () => busy, read: () => reading, now: () => now, release });
    try {
      busy = 0.9;
      expect(watch.check()).toBe(true); // 130 MB kept: over the pressure bar (128), released while it works
      // The work ends; the heap stays grown: 40 MB kept, under the bar the release set (100 + 16).
      reading = { ...reading, residentAnon: 110 * MB, heapTotal: 80 * MB, heapUsed: 60 * MB };
      now = 70_000;
      busy = 0.5;
      expect(watch.check()).toBe(false);
      now = 80_000;
      busy = 0.01;
      expect(watch.check()).toBe(true); // quiet after work: 40 MB is over the gap
      // Quiet again, nothing worked since: the bar is what the release left plus the gap.
      reading = { ...reading, residentAnon: 110 * MB };
      now = 200_000;
      expect(watch.check()).toBe(false);
      expect(releases).toBe(2);
    } finally {
      watch.stop();
    }
  });

  it('does not stall a service at work for a moderate gap: it waits for a quiet interval', () => {
    // Just started (or in the middle of a drain): 40 MB kept while the event loop is busy.
    let reading: MemoryReading = { residentAnon: 110 * MB, heapTotal: 80 * MB, heapUsed: 60 * MB, external: 10 * MB };
    let now = 10_000;
    let releases = 0;
    const release = (): void => void ((releases += 1), (reading = { ...reading, residentAnon: 80 * MB, heapTotal: 60 * MB }));
    const watch = watchMemory({ gapBytes: 16 * MB, minIntervalMs: 60_000, checkEveryMs: 3_600_000, busyShare: () => busy, read: () => reading, now: () => now, release });
    try {
      for (const share of [0.9, 0.3, 0.06]) {
        busy = share;
        expect(watch.check()).toBe(false);
        now += 10_000;
      }
      busy = 0.02;
      expect(watch.check()).toBe(true); // quiet: now
      expect(releases).toBe(1);
    } finally {
      watch.stop();
    }
  });

  it('releaseMemory runs a full collection; readMemory reads the process', () => {
    expect(() => releaseMemory()).not.toThrow();
    const { residentAnon, heapTotal } = readMemory();
    expect(residentAnon).toBeGreaterThan(0);
    expect(heapTotal).toBeGreaterThan(0);
  });
});
