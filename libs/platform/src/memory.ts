import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
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
  readonly heapUsed: number;
  readonly external: number;
}

/** RssAnon of /proc/self/status (the binary and libraries mapped from files left out); rss where there is none. */
export function readMemory(): MemoryReading {
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  let residentAnon = rss;
  try {
    const kb = /RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) residentAnon = Number(kb) * 1024;
  } catch {
    // not Linux: the whole resident set
  }
  return { residentAnon, heapTotal, heapUsed, external };
}

export interface MemoryWatchOptions {
  /**
   * Anonymous resident memory beyond what V8's heap uses and its external memory that counts as kept after a spike.
   * Default 16 MiB. What a release could not give back (code, stacks, the allocator's) raises the bar by as much.
   */
  readonly gapBytes?: number;
  /** How often it is read. Default 10 s. */
  readonly checkEveryMs?: number;
  /** Fewest milliseconds between two releases. Default 60 s. */
  readonly minIntervalMs?: number;
  /**
   * Kept memory that is released even while the service works (an interval that is not quiet): a release blocks the
   * event loop (up to a second on a heap of 100 MB), so below this it waits until the service waits for input.
   * Default 128 MiB, beyond what the last release could not give back.
   */
  readonly pressureBytes?: number;
  readonly read?: () => MemoryReading;
  /** Share of the time the event loop was busy since the last call (0–1); default: the process's event loop. */
  readonly busyShare?: () => number;
  readonly release?: () => void;
  readonly now?: () => number;
  /** Called after each release with the gap that caused it. */
  readonly onRelease?: (gapBytes: number) => void;
}

/** Event-loop shares that make an interval busy (work went on) or quiet (the service waits for input). */
const BUSY_SHARE = 0.2;
const QUIET_SHARE = 0.05;

/** The share of time the event loop was busy since the last call. */
function eventLoopBusyShare(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const current = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(current, last).utilization;
    last = current;
    return share;
  };
}

/**
 * Watches what the process keeps beyond what it uses: after a spike (a large batch, a burst of fetches) V8 keeps the
 * pages it freed, and a heap grown for the spike stays that large; when the anonymous resident memory exceeds the
 * heap's used part and external memory by more than `gapBytes`, the memory is given back (releaseMemory: a compacting
 * collection that also shrinks the heap), at most once per `minIntervalMs`. A release blocks the event loop, so it
 * waits for an interval in which the service was quiet (its event loop busy under a twentieth of the time), unless
 * the kept memory exceeds `pressureBytes`: a release at the first check after a start, or in the middle of a drain,
 * stalled the service (0.8 s for a writer just as its backlog arrived) and took the CPU from those still working.
 * What stays after a release (code, stacks, what the allocator has not given back yet) is not tried again: the next
 * release needs that much plus `gapBytes`; the bar comes down with what is kept (the allocator gives back later).
 * Once the service goes quiet after work (an interval with its event loop busy a fifth of the time or more, then a
 * quiet one), the bar is the gap alone: a release during the work measured what the work held, not what stays. A
 * leak does not show here (it is used heap, which this never counts): heapUsed tells it.
 */
export function watchMemory(options: MemoryWatchOptions = {}): { check(): boolean; stop(): void } {
  const gapBytes = options.gapBytes ?? 16 * 1024 * 1024;
  const minIntervalMs = options.minIntervalMs ?? 60_000;
  const pressureBytes = options.pressureBytes ?? 128 * 1024 * 1024;
  const read = options.read ?? readMemory;
  const release = options.release ?? releaseMemory;
  const now = options.now ?? Date.now;
  const busyShare = options.busyShare ?? eventLoopBusyShare();
  let last = Number.NEGATIVE_INFINITY;
  /** Work went on since the last release: the first quiet interval after it may release against the gap alone. */
  let workedSinceRelease = false;
  /** What a release left kept: not given back by one, so not counted as kept after a spike. */
  let floor = 0;
  const gapNow = (): number => {
    const { residentAnon, heapUsed, external } = read();
    return residentAnon - heapUsed - external;
  };
  const check = (): boolean => {
    const gap = gapNow();
    const share = busyShare();
    if (share >= BUSY_SHARE) workedSinceRelease = true;
    const quiet = share < QUIET_SHARE;
    floor = Math.min(floor, Math.max(0, gap));
    // At work only much kept memory is worth a stall; quiet after work the gap alone counts; quiet again, the gap
    // beyond what the last release left.
    const bar = quiet ? (workedSinceRelease ? 0 : floor) + gapBytes : floor + pressureBytes;
    if (gap <= bar || now() - last < minIntervalMs) return false;
    last = now();
    workedSinceRelease = false;
    release();
    floor = Math.max(0, gapNow());
    options.onRelease?.(gap);
    return true;
  };
  const timer = setInterval(check, options.checkEveryMs ?? 10_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
