/** A partition a reader has not reached yet: where it is, and the end it waits for. */
export interface PartitionBehind {
  readonly partition: number;
  readonly at: bigint;
  readonly target: bigint;
}

export interface ReadBarrierOptions {
  /** Per partition, the offset after the last record on the topic now (the admin's high watermarks). */
  readonly ends: () => Promise<ReadonlyMap<number, bigint>>;
  /** How long catchUp waits before it gives up with `behind(...)`. */
  readonly timeoutMs: number;
  /** The error catchUp throws when the reader is still behind after the timeout (a retriable one). */
  readonly behind: (partitions: readonly PartitionBehind[], waitedMs: number) => Error;
  readonly now?: () => number;
}

interface Waiter {
  readonly targets: ReadonlyMap<number, bigint>;
  readonly resolve: () => void;
}

/**
 * The read barrier of a reader that follows a whole topic (a TopicFollower): the reader reports how far it got
 * (`advance`), and `catchUp()` returns once it holds everything the topic held when catchUp was called.
 */
export class ReadBarrier {
  private readonly positions = new Map<number, bigint>();
  private waiters: Waiter[] = [];
  private barrier: Promise<void> | null = null;
  private nextBarrier: Promise<void> | null = null;
  /** When the end the reader is known to hold was read (the start of the last barrier passed). */
  private heldAsOf = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ReadBarrierOptions) {}

  /** The reader has everything before `next` in `partition`. */
  advance(partition: number, next: bigint): void {
    if ((this.positions.get(partition) ?? 0n) < next) this.positions.set(partition, next);
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (this.reached(waiter.targets)) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  /** The reader starts over from the beginning of the topic. */
  reset(): void {
    this.positions.clear();
    this.heldAsOf = Number.NEGATIVE_INFINITY;
  }

  reached(targets: ReadonlyMap<number, bigint>): boolean {
    for (const [partition, target] of targets) if ((this.positions.get(partition) ?? 0n) < target) return false;
    return true;
  }

  /**
   * Waits until the reader holds everything the topic held when this was called — or, with `maxAgeMs`, at most that
   * long before (a barrier passed that recently answers at once). Throws `behind(...)` after the timeout.
   */
  catchUp(maxAgeMs = 0): Promise<void> {
    if (maxAgeMs > 0 && this.clock() - this.heldAsOf <= maxAgeMs) return Promise.resolve();
    // Callers arriving while a barrier runs share the next one (it starts after they arrived, so it covers them).
    if (this.barrier === null) {
      this.barrier = this.catchUpOnce().finally(() => (this.barrier = null));
      return this.barrier;
    }
    this.nextBarrier ??= this.barrier
      .catch(() => undefined)
      .then(() => {
        this.nextBarrier = null;
        return this.catchUp();
      });
    return this.nextBarrier;
  }

  private clock(): number {
    return (this.options.now ?? Date.now)();
  }

  private async catchUpOnce(): Promise<void> {
    const asOf = this.clock();
    const targets = await this.options.ends();
    const held = (): void => void (this.heldAsOf = Math.max(this.heldAsOf, asOf));
    if (this.reached(targets)) return held();
    const { timeoutMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const waiter = new Promise<void>((resolve) => this.waiters.push({ targets, resolve }));
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const behind = [...targets]
          .filter(([partition, target]) => (this.positions.get(partition) ?? 0n) < target)
          .map(([partition, target]) => ({ partition, at: this.positions.get(partition) ?? 0n, target }));
        reject(this.options.behind(behind, timeoutMs));
      }, timeoutMs);
    });
    try {
      await Promise.race([waiter, timeout]);
      held();
    } finally {
      clearTimeout(timer);
    }
  }
}
