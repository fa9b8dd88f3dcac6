/**
 * Dependency waits off the hot path. A request that fails on something that may still come (a member or a parent
 * not there yet) is tried a couple of times in line; then, instead of holding its partition or being dead-lettered
 * after seconds, it is parked on the writer's wait topic (`<operations topic>.wait`, same partitions, same key) and
 * tried again there on a schedule, for up to `maxWaitMs` (minutes), before it is dead-lettered with how long it
 * waited. The records after it on its partition go on.
 *
 * One entry's requests keep their order: while an entry has a parked request, its later requests are parked behind
 * it (in the same wait partition, since the key is the same) instead of being applied ahead of it.
 */

/** Record headers of a parked request (values are decimal epoch milliseconds / counts). */
export const WAIT_HEADERS = {
  /** When the request first failed on its dependency. */
  since: 'idsync-wait-since',
  /** Times it was parked. */
  attempt: 'idsync-wait-attempt',
  /** Not to be tried before this time. */
  due: 'idsync-wait-due',
  /** Parked only to stay behind an earlier request of the same entry (that request's id). */
  behind: 'idsync-wait-behind',
} as const;

export interface WaitState {
  readonly since: number;
  readonly attempt: number;
  readonly due: number;
}

/** Delays between tries on the wait topic: soon at first, then once a minute. */
export const WAIT_STEPS_MS = [5_000, 15_000, 30_000, 60_000] as const;

export const DEFAULT_MAX_WAIT_MS = 15 * 60_000;

/** The wait state a record carries, if it was parked (undefined for a record from the operations topic). */
export function readWait(headers: Readonly<Record<string, string>> | undefined): WaitState | undefined {
  const since = Number(headers?.[WAIT_HEADERS.since]);
  const attempt = Number(headers?.[WAIT_HEADERS.attempt]);
  const due = Number(headers?.[WAIT_HEADERS.due]);
  if (!Number.isFinite(since) || !Number.isFinite(attempt) || !Number.isFinite(due) || headers?.[WAIT_HEADERS.since] === undefined) return undefined;
  return { since, attempt, due };
}

/** What to do with a request that failed on a dependency again: park it once more, or give up (dead-letter). */
export type WaitDecision = { readonly kind: 'park'; readonly state: WaitState } | { readonly kind: 'give-up'; readonly waitedMs: number };

export function nextWait(previous: WaitState | undefined, now: number, maxWaitMs: number): WaitDecision {
  const since = previous?.since ?? now;
  const attempt = (previous?.attempt ?? 0) + 1;
  if (now - since >= maxWaitMs) return { kind: 'give-up', waitedMs: now - since };
  const step = WAIT_STEPS_MS[Math.min(attempt, WAIT_STEPS_MS.length) - 1] ?? 60_000;
  // Never due after the deadline: the last try comes when the wait is over.
  return { kind: 'park', state: { since, attempt, due: Math.min(now + step, since + maxWaitMs) } };
}

/** A request parked behind an earlier one of its entry: due at once (its turn comes after that one's). */
export function behindWait(previous: WaitState | undefined, now: number): WaitState {
  return { since: previous?.since ?? now, attempt: previous?.attempt ?? 0, due: now };
}

export function waitHeaders(state: WaitState, behind?: string): Record<string, string> {
  return {
    [WAIT_HEADERS.since]: String(state.since),
    [WAIT_HEADERS.attempt]: String(state.attempt),
    [WAIT_HEADERS.due]: String(state.due),
    ...(behind === undefined ? {} : { [WAIT_HEADERS.behind]: behind }),
  };
}

export { waitTopicOf } from '@idsync/config';

/**
 * Entries with requests parked by this process, counted, so their later requests park behind them. A hold also
 * expires (`holdMs` after it was last taken): with several replicas, the wait partition may be tried by another one,
 * which this one never hears from; by then every parked request was applied or dead-lettered.
 */
export class HeldEntries {
  private readonly held = new Map<string, { count: number; until: number; blocker: string }>();

  constructor(private readonly holdMs: number) {}

  /** One more parked request of the entry; `blocker` names the request the next ones stay behind. */
  hold(key: string, now: number, blocker: string): void {
    const current = this.held.get(key);
    this.held.set(key, { count: (current?.count ?? 0) + 1, until: now + this.holdMs, blocker: current?.blocker ?? blocker });
  }

  release(key: string): void {
    const current = this.held.get(key);
    if (!current) return;
    if (current.count <= 1) this.held.delete(key);
    else this.held.set(key, { ...current, count: current.count - 1 });
  }

  blocker(key: string): string | undefined {
    return this.held.get(key)?.blocker;
  }

  isHeld(key: string, now: number): boolean {
    const current = this.held.get(key);
    if (!current) return false;
    if (current.until <= now) {
      this.held.delete(key);
      return false;
    }
    return true;
  }

  get size(): number {
    return this.held.size;
  }
}
