import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gc: GcFunction | undefined;

/**
 * Gives the memory of a spike that is over back to the system: a full garbage collection of the kind V8 runs under
 * memory pressure. After an ordinary collection V8 keeps the pages it freed (its page pool) mapped and resident: an AD
 * detector that held a DirSync page of 10,000 entries (Samba answers a whole backlog in one page) kept ~280 MB of them
 * for good, with 30 MB of heap in use. Blocks the thread for the collection (tens of milliseconds on a heap of tens of
 * MB): for after a large batch, never per record.
 */
export function releaseMemory(): void {
  if (gc === undefined) {
    // The gc function of a fresh context: exposing it changes nothing else, and the flag is read when a context is made.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as GcFunction;
  }
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** One reading: the process's anonymous resident memory and what V8 accounts for (its heap and external memory). */
export interface MemoryReading {
  readonly residentAnon: number;
  readonly heapTotal: number;
  readonly external: number;
}

/** RssAnon of /proc/self/status (the binary and libraries mapped from files left out); rss where there is none. */
export function readMemory(): MemoryReading {
  const { rss, heapTotal, external } = process.memoryUsage();
  let residentAnon = rss;
  try {
    const kb = /RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) residentAnon = Number(kb) * 1024;
  } catch {
    // not Linux: the whole resident set
  }
  return { residentAnon, heapTotal, external };
}

export interface MemoryWatchOptions {
  /**
   * Anonymous resident memory beyond V8's heap and external memory that counts as kept after a spike. Default 32 MiB
   * (an idle service keeps about 20). What a release could not give back (the allocator's) raises the bar by as much.
   */
  readonly gapBytes?: number;
  /** How often it is read. Default 10 s. */
  readonly checkEveryMs?: number;
  /** Fewest milliseconds between two releases. Default 60 s. */
  readonly minIntervalMs?: number;
  readonly read?: () => MemoryReading;
  readonly release?: () => void;
  readonly now?: () => number;
  /** Called after each release with the gap that caused it. */
  readonly onRelease?: (gapBytes: number) => void;
}

/**
 * Watches what the process keeps beyond what it uses: after a spike (a large batch, a burst of fetches) V8 keeps the
 * pages it freed and they stay resident; when the anonymous resident memory exceeds V8's heap and external memory by
 * more than `gapBytes`, the memory is given back (releaseMemory), at most once per `minIntervalMs`. What stays beyond
 * the heap after a release (memory the allocator keeps) is not tried again: the next release needs a gap of that much
 * plus `gapBytes`. A leak does not show here (it is in the heap, which this never shrinks): heapUsed tells it.
 */
export function watchMemory(options: MemoryWatchOptions = {}): { check(): boolean; stop(): void } {
  const gapBytes = options.gapBytes ?? 32 * 1024 * 1024;
  const minIntervalMs = options.minIntervalMs ?? 60_000;
  const read = options.read ?? readMemory;
  const release = options.release ?? releaseMemory;
  const now = options.now ?? Date.now;
  let last = Number.NEGATIVE_INFINITY;
  /** What a release left beyond the heap: not given back by one, so not counted as kept after a spike. */
  let floor = 0;
  const gapNow = (): number => {
    const { residentAnon, heapTotal, external } = read();
    return residentAnon - heapTotal - external;
  };
  const check = (): boolean => {
    const gap = gapNow();
    if (gap <= floor + gapBytes || now() - last < minIntervalMs) return false;
    last = now();
    release();
    floor = Math.max(0, gapNow());
    options.onRelease?.(gap);
    return true;
  };
  const timer = setInterval(check, options.checkEveryMs ?? 10_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
