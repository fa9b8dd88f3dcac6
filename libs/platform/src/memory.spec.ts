import { type MemoryReading, readMemory, releaseMemory, watchMemory } from './memory';

const MB = 1024 * 1024;

describe('watchMemory', () => {
  it('gives memory back when the resident set exceeds the heap and external memory by more than the gap, at most once a minute', () => {
    let reading: MemoryReading = { residentAnon: 100 * MB, heapTotal: 60 * MB, external: 10 * MB };
    let now = 0;
    const released: number[] = [];
    // A release gives back all but 20 MB beyond the heap.
    const release = (): void => void (reading = { ...reading, residentAnon: reading.heapTotal + reading.external + 20 * MB });
    const watch = watchMemory({ gapBytes: 32 * MB, minIntervalMs: 60_000, checkEveryMs: 3_600_000, read: () => reading, now: () => now, release, onRelease: (gap) => released.push(gap / MB) });
    try {
      expect(watch.check()).toBe(false); // 30 MB beyond the heap: normal
      reading = { residentAnon: 300 * MB, heapTotal: 60 * MB, external: 10 * MB };
      expect(watch.check()).toBe(true);
      reading = { residentAnon: 300 * MB, heapTotal: 60 * MB, external: 10 * MB };
      now = 30_000;
      expect(watch.check()).toBe(false); // too soon after the last
      now = 61_000;
      expect(watch.check()).toBe(true);
      // A large heap is not kept memory: a leak is never hidden by this.
      reading = { residentAnon: 400 * MB, heapTotal: 360 * MB, external: 10 * MB };
      now = 200_000;
      expect(watch.check()).toBe(false);
      expect(released).toEqual([230, 230]);
    } finally {
      watch.stop();
    }
  });

  it('does not try again what a release could not give back: the next needs that much plus the gap', () => {
    let reading: MemoryReading = { residentAnon: 200 * MB, heapTotal: 60 * MB, external: 10 * MB };
    let now = 0;
    let releases = 0;
    // The allocator keeps 100 MB whatever the collection does.
    const release = (): void => void ((releases += 1), (reading = { ...reading, residentAnon: 170 * MB }));
    const watch = watchMemory({ gapBytes: 32 * MB, minIntervalMs: 60_000, checkEveryMs: 3_600_000, read: () => reading, now: () => now, release });
    try {
      expect(watch.check()).toBe(true);
      now = 120_000;
      expect(watch.check()).toBe(false); // 100 MB beyond the heap, as the last release left it
      reading = { ...reading, residentAnon: 210 * MB };
      now = 240_000;
      expect(watch.check()).toBe(true); // 40 MB more since: a new spike
      expect(releases).toBe(2);
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
