import { type HealthProbe, HealthProbeError } from './health';

/** How often a dependency is really checked, whatever the rate of /health requests (default 15 s). */
export const DEFAULT_PROBE_INTERVAL_MS = 15_000;

export interface CachedProbeOptions {
  readonly intervalMs?: number;
  readonly now?: () => number;
}

interface Result {
  readonly at: number;
  readonly ok: boolean;
  readonly details: Record<string, unknown>;
  readonly message: string;
}

/**
 * A probe that touches its dependency (a bind, a Kafka metadata request) at most once per interval: /health answers
 * from the last result, with its time (`checkedAt`). Any caller can hit /health at any rate; the directory sees one
 * bind per interval. A result older than the interval is refreshed in the background while the last one is answered;
 * one older than three intervals (nobody asked for a while) is waited for, so an answer is never very old.
 */
export function cachedProbe(probe: HealthProbe, options: CachedProbeOptions = {}): HealthProbe & { readonly checks: () => number } {
  const intervalMs = options.intervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let last: Result | undefined;
  let running: Promise<Result> | undefined;
  let checks = 0;

  const refresh = (): Promise<Result> => {
    running ??= (async () => {
      checks += 1;
      try {
        const details = await probe.check();
        return { at: now(), ok: true, details, message: '' };
      } catch (error) {
        const details = error instanceof HealthProbeError ? error.details : {};
        return { at: now(), ok: false, details, message: error instanceof Error ? error.message : String(error) };
      }
    })().then((result) => {
      last = result;
      running = undefined;
      return result;
    });
    return running;
  };

  const answer = (result: Result): Record<string, unknown> => {
    const details = { ...result.details, checkedAt: new Date(result.at).toISOString() };
    if (!result.ok) throw new HealthProbeError(result.message, details);
    return details;
  };

  return {
    name: probe.name,
    checks: () => checks,
    async check() {
      const age = last === undefined ? Number.POSITIVE_INFINITY : now() - last.at;
      if (last !== undefined && age < intervalMs) return answer(last);
      if (last !== undefined && age < 3 * intervalMs) {
        void refresh();
        return answer(last);
      }
      return answer(await refresh());
    },
  };
}
