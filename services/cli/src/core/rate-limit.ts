/**
 * Spaces work out to an average of `perSecond` units a second (`idsync resync --rate`): each `take(n)` waits until
 * the units taken before it have had their share of time. The first take goes at once; nothing is saved up while idle.
 */
export class RateLimiter {
  private nextAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(perSecond > 0)) throw new RangeError(`a rate must be above 0 (got ${perSecond})`);
  }

  /** A batch size that keeps bursts to about a quarter of a second's worth. */
  batchSize(max: number): number {
    return Math.max(1, Math.min(max, Math.ceil(this.perSecond / 4)));
  }

  async take(units: number): Promise<void> {
    const now = this.now();
    const start = Math.max(now, this.nextAt);
    this.nextAt = start + (units * 1_000) / this.perSecond;
    if (start > now) await this.sleep(start - now);
  }
}
