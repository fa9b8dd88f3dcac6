export interface BackoffOptions {
  /** First wait, ms. */
  readonly initialMs: number;
  /** Longest wait, ms. */
  readonly maxMs: number;
  readonly factor: number;
  /**
   * Share of each wait drawn at random (0: none, 0.5: between half and all of it), so that instances that failed
   * together do not come back together.
   */
  readonly jitter?: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** The product's one backoff: wait before attempt `attempt + 1` (attempt counts failures so far, from 1). */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const full = Math.min(options.maxMs, options.initialMs * options.factor ** exponent);
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0));
  return Math.round(full * (1 - jitter * random()));
}
