/**
 * The delete circuit breaker (pure core). A script that empties an OU at the source must not empty the destination
 * too: more than `maxDeletes` deletes within `windowMs` trip the breaker, and from then on every delete (and the
 * unlink that goes with it) is held on the writer's held topic (`<operations topic>.held`) instead of being applied,
 * while every other request keeps flowing. An operator decides: `idsync deletes approve` applies the held deletes,
 * `idsync deletes discard` dead-letters them (for a later `idsync dlq redrive`). Either closes the breaker again.
 *
 * The breaker's state is shared by the writer's replicas and survives restarts: it lives on the checkpoints topic
 * (compacted) under `delete-breaker/<destination>`, as the last control record: tripped (by a writer), approved or
 * discarded (by an operator). A decision covers the deletes held up to its time; a record held later waits for the
 * next one.
 */

export const BREAKER_KEY_PREFIX = 'delete-breaker/';

export { heldTopicOf, operationsTopicOfHeld } from '@idsync/config';

/** Key of a destination's breaker state on the checkpoints topic. */
export function breakerKey(destination: string): string {
  return `${BREAKER_KEY_PREFIX}${destination}`;
}

export type BreakerDecision = 'approved' | 'discarded';

/** A writer tripped the breaker: `deletes` within `windowMs` went past `limit`. */
export interface BreakerTrip {
  readonly state: 'tripped';
  readonly at: number;
  readonly by: string;
  readonly deletes: number;
  readonly limit: number;
  readonly windowMs: number;
}

/** An operator decided what becomes of the deletes held up to `at`. */
export interface BreakerVerdict {
  readonly state: BreakerDecision;
  readonly at: number;
  readonly by: string;
}

/** The last control record of a destination's breaker. */
export type BreakerControl = BreakerTrip | BreakerVerdict;

export function encodeBreakerControl(control: BreakerControl): Buffer {
  return Buffer.from(JSON.stringify({ ...control, at: new Date(control.at).toISOString() }), 'utf8');
}

/** A control record's value; null when it is not one (garbage is ignored, never trusted to open the breaker). */
export function parseBreakerControl(value: Buffer | string | null): BreakerControl | null {
  if (value === null) return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(value.toString()) as Record<string, unknown>;
  } catch {
    return null;
  }
  const at = typeof parsed['at'] === 'string' ? Date.parse(parsed['at']) : Number.NaN;
  const by = typeof parsed['by'] === 'string' ? parsed['by'] : '';
  if (!Number.isFinite(at)) return null;
  if (parsed['state'] === 'approved' || parsed['state'] === 'discarded') return { state: parsed['state'], at, by };
  if (parsed['state'] === 'tripped') {
    const deletes = Number(parsed['deletes']);
    const limit = Number(parsed['limit']);
    const windowMs = Number(parsed['windowMs']);
    if (![deletes, limit, windowMs].every(Number.isFinite)) return null;
    return { state: 'tripped', at, by, deletes, limit, windowMs };
  }
  return null;
}

export interface DeleteBreakerSettings {
  /** Deletes allowed within the window (a count, or `"N%"` of the entries); the one after them trips the breaker. */
  readonly maxDeletes: number | string;
  readonly windowMs: number;
}

/** What to do with a delete from the operations topic: apply it, or hold it (`trips`: this one opened the breaker). */
export type DeleteAdmission = { readonly kind: 'apply' } | { readonly kind: 'hold'; readonly trips: boolean; readonly deletes: number };

/** What to do with a record from the held topic, held at `heldAt`. */
export type HeldRelease = { readonly kind: 'wait' } | { readonly kind: 'apply' | 'discard'; readonly decision: BreakerVerdict };

/**
 * One writer's view of its destination's breaker: the deletes it applied within the window, and the shared state
 * (the last control record it has seen, or its own trip not yet seen back).
 */
export class DeleteBreaker {
  /** Deletes applied within the window: when, and for which entry (record key). */
  private readonly applied: { readonly at: number; readonly key: string }[] = [];
  private control: BreakerControl | null = null;
  /** The last decision seen: it covers the deletes held up to its time. */
  private decision: BreakerVerdict | null = null;

  constructor(
    readonly settings: DeleteBreakerSettings,
    /** The entries a percentage is of (the writer's linked entries); not asked for a count. */
    private readonly entries: () => number = () => 0,
  ) {}

  private limit(): number {
    const { maxDeletes } = this.settings;
    return typeof maxDeletes === 'number' ? maxDeletes : deleteLimit(maxDeletes, this.entries());
  }

  get tripped(): boolean {
    return this.control?.state === 'tripped';
  }

  /** The last control record (for status and /health). */
  get state(): BreakerControl | null {
    return this.control;
  }

  /** A control record read from the checkpoints topic (any replica's trip, an operator's decision). */
  observe(control: BreakerControl): void {
    if (this.control !== null && control.at < this.control.at) return;
    this.control = control;
    if (control.state !== 'tripped') {
      this.decision = control;
      // A decision starts a new window: the deletes it let through are not counted against the next ones.
      this.applied.length = 0;
    }
  }

  /** A delete from the operations topic for the entry `key`, at `now`. */
  admit(now: number, key = ''): DeleteAdmission {
    if (this.tripped) return { kind: 'hold', trips: false, deletes: this.count(now) };
    const deletes = this.count(now);
    if (deletes >= this.limit()) return { kind: 'hold', trips: true, deletes: deletes + 1 };
    this.applied.push({ at: now, key });
    return { kind: 'apply' };
  }

  /**
   * The unlink that follows an entry's delete (removing its DN from groups) goes with that delete: applied when the
   * delete was (within the window), held while the breaker is tripped otherwise.
   */
  holdsUnlink(now: number, key: string): boolean {
    if (!this.tripped) return false;
    this.count(now);
    return !this.applied.some((delete_) => delete_.key === key);
  }

  /** The control record of a trip this writer caused (it holds at once, before reading it back). */
  trip(now: number, by: string, deletes: number): BreakerTrip {
    const control: BreakerTrip = { state: 'tripped', at: now, by, deletes, limit: this.limit(), windowMs: this.settings.windowMs };
    this.observe(control);
    return control;
  }

  /**
   * A record of the held topic, held at `heldAt`: applied or discarded by the decision that covers it, or waiting for
   * one. A record held after the last decision while the breaker is closed again (a replica that had not seen the
   * decision yet) follows that decision too.
   */
  release(heldAt: number): HeldRelease {
    const decision = this.decision;
    if (decision === null || (heldAt > decision.at && this.tripped)) return { kind: 'wait' };
    return { kind: decision.state === 'discarded' ? 'discard' : 'apply', decision };
  }

  private count(now: number): number {
    while (this.applied.length > 0 && (this.applied[0]?.at ?? 0) <= now - this.settings.windowMs) this.applied.shift();
    return this.applied.length;
  }
}

/** The limit now: a count (`20`) as it is; a percentage (`"5%"`) of `entries` (the writer's linked entries), at least 1. */
export function deleteLimit(maxDeletes: number | string, entries: number): number {
  if (typeof maxDeletes === 'number') return maxDeletes;
  const percent = Number(maxDeletes.slice(0, -1));
  return Math.max(1, Math.floor((entries * percent) / 100));
}
