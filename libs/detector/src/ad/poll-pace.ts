/** What the pacing of DirSync polls needs to know about the page just read. */
export interface PolledPage {
  readonly entries: number;
  /** The DC said it has more right now. */
  readonly moreResults: boolean;
}

/** The configuration's default (libs/config schema: services.ad-detector.streamingPollShare). */
export const DEFAULT_STREAMING_POLL_SHARE = 0.25;

export interface PollPace {
  /** Pause after a page with nothing in it. */
  readonly pollIntervalMs: number;
  /**
   * While changes stream in, the largest share of the time a DirSync search may run (0 < share <= 1). Samba
   * evaluates each DirSync search over its whole database (tens of milliseconds of its only LDAP worker at 15,000
   * objects), so polling back to back after every small page would spend the DC on finding a handful of changes.
   */
  readonly streamingPollShare: number;
}

/**
 * How long to wait before the next DirSync poll. The DC has more: at once. Nothing changed: pollIntervalMs. Some
 * changes and nothing more: as long as keeps the searches within `streamingPollShare` of the time (counted from the
 * start of the search just made, so the time spent publishing counts as waiting), never longer than pollIntervalMs.
 */
export function nextPollDelayMs(page: PolledPage, timing: { readonly searchMs: number; readonly sinceSearchStartMs: number }, pace: PollPace): number {
  if (page.moreResults) return 0;
  if (page.entries === 0) return pace.pollIntervalMs;
  const cycleMs = timing.searchMs / pace.streamingPollShare;
  return Math.round(Math.min(pace.pollIntervalMs, Math.max(0, cycleMs - timing.sinceSearchStartMs)));
}
