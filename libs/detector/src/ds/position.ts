import { ChangeNumber } from './change-number';

/** The changelog's window as the root DSE reports it (389-ds says 0/0 when the changelog is empty). */
export interface ChangelogWindow {
  readonly first: ChangeNumber;
  readonly last: ChangeNumber;
}

export const START_DECISIONS = ['resume', 'start-at-end', 'resync-needed'] as const;
export type StartDecisionKind = (typeof START_DECISIONS)[number];

export type StartDecision =
  | { readonly kind: 'resume'; readonly after: ChangeNumber }
  /** No checkpoint yet: only changes made from now on are published; a full load is a resync. */
  | { readonly kind: 'start-at-end'; readonly after: ChangeNumber }
  | { readonly kind: 'resync-needed'; readonly message: string };

const RESYNC_HOW =
  'a resync is needed: run a full load of the directory (resync) so the destination matches it, then start the detector again with a fresh checkpoint (delete the consumer group idsync.checkpoint.<detector>.<directory> with kafka-consumer-groups.sh --delete)';

/**
 * Where to continue, from the stored checkpoint (the last change number published) and the changelog's window.
 * Asked at start and again before every poll, so a detector left behind while the server trimmed its changelog stops.
 */
export function decidePosition(checkpoint: ChangeNumber | null, window: ChangelogWindow): StartDecision {
  if (checkpoint === null) return { kind: 'start-at-end', after: window.last };
  const empty = window.last.equals(ChangeNumber.ZERO);
  if (!empty && checkpoint.isBefore(window.first.previous())) {
    return {
      kind: 'resync-needed',
      message: `the checkpoint (change number ${checkpoint.format()}) is older than the oldest change the server still keeps (firstChangeNumber ${window.first.format()}): changes ${checkpoint.next().format()}..${window.first.previous().format()} were purged from cn=changelog; ${RESYNC_HOW}`,
    };
  }
  if (!empty && checkpoint.isAfter(window.last)) {
    return {
      kind: 'resync-needed',
      message: `the checkpoint (change number ${checkpoint.format()}) is ahead of the server's lastChangeNumber ${window.last.format()}: the checkpoint comes from another server or the changelog was re-created; ${RESYNC_HOW}`,
    };
  }
  return { kind: 'resume', after: checkpoint };
}

/** The change numbers to ask for next: `(changeNumber>=from)(changeNumber<=to)`, never past the server's last. */
export function nextRange(after: ChangeNumber, window: ChangelogWindow, batchSize: number): { from: ChangeNumber; to: ChangeNumber } | null {
  if (!after.isBefore(window.last)) return null;
  const from = after.next();
  return { from, to: ChangeNumber.min(from.plus(batchSize - 1), window.last) };
}

/** A change number the root DSE counted but the changelog did not return yet, and since when (epoch ms). */
export interface PendingGap {
  readonly at: ChangeNumber;
  readonly since: number;
}

export interface SettledBatch {
  /** Entries up to here (inclusive) are processed, and the checkpoint moves here. */
  readonly through: ChangeNumber;
  /** Change numbers given up as real gaps (never written, or trimmed), to count and log. */
  readonly skipped: readonly ChangeNumber[];
  readonly pendingGap: PendingGap | null;
}

/**
 * Decides how far a batch may move the checkpoint, given the change numbers the search returned (any order).
 * A number inside the range that is missing may be a change still being written: the checkpoint stops before it
 * until it has been missing for `graceMs`; then it is skipped (389-ds's changelog can have real gaps) together with
 * the missing numbers right after it that a present later change proves settled, and reported, never silently.
 */
export function settleBatch(input: {
  readonly after: ChangeNumber;
  readonly to: ChangeNumber;
  readonly found: readonly ChangeNumber[];
  readonly pendingGap: PendingGap | null;
  readonly now: number;
  readonly graceMs: number;
}): SettledBatch {
  const present = new Set(input.found.map((c) => c.format()));
  const skipped: ChangeNumber[] = [];
  const highest = input.found.reduce<ChangeNumber | null>((max, c) => (max === null ? c : ChangeNumber.max(max, c)), null);
  let through = input.after;
  let cursor = input.after.next();
  while (!cursor.isAfter(input.to)) {
    if (present.has(cursor.format())) {
      through = cursor;
      cursor = cursor.next();
      continue;
    }
    const aged = input.pendingGap !== null && input.pendingGap.at.equals(cursor) && input.now - input.pendingGap.since >= input.graceMs;
    if (!aged) {
      const since = input.pendingGap?.at.equals(cursor) ? input.pendingGap.since : input.now;
      return { through, skipped, pendingGap: { at: cursor, since } };
    }
    // The aged number is skipped; so are the missing ones right after it that a later present change proves past.
    do {
      skipped.push(cursor);
      through = cursor;
      cursor = cursor.next();
    } while (highest !== null && cursor.isBefore(highest) && !present.has(cursor.format()));
  }
  return { through, skipped, pendingGap: null };
}
