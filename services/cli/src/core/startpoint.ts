import { ChangeNumber, type ChangelogWindow } from '@idsync/detector/ds';

/**
 * The pure part of `idsync set-startpoint`: which detector a name means, where each choice puts a ds-detector
 * (change numbers), the search for the first change at or after a time, and what a move does (skip or repeat).
 * No Kafka, no LDAP: the command reads the servers and passes what it found.
 */

export const DETECTORS = ['ad-detector', 'ds-detector'] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** Where to put the detector. `change-number`: start WITH that change; `time`: with the first change at or after it. */
export type StartChoice =
  { readonly kind: 'beginning' } | { readonly kind: 'end' } | { readonly kind: 'change-number'; readonly changeNumber: ChangeNumber } | { readonly kind: 'time'; readonly at: number };
export type StartChoiceKind = StartChoice['kind'];

/** The option that gives each choice, for messages. */
export const CHOICE_OPTIONS: Readonly<Record<StartChoiceKind, string>> = {
  beginning: '--beginning',
  end: '--end',
  'change-number': '--change-number',
  time: '--time',
};

/**
 * The detector a command-line name means: its own name, the name without `-detector` (`ad`, `ds`), or the name of
 * the directory it reads (services.<detector>.source). Null when none matches; `detectorNames` lists the valid ones.
 */
export function resolveDetector(name: string, sources: Readonly<Record<DetectorName, string>>): DetectorName | null {
  const wanted = name.trim().toLowerCase();
  for (const detector of DETECTORS) {
    if (wanted === detector || wanted === detector.replace(/-detector$/, '')) return detector;
  }
  const bySource = DETECTORS.filter((detector) => sources[detector].toLowerCase() === wanted);
  return bySource.length === 1 ? (bySource[0] ?? null) : null;
}

export function detectorNames(sources: Readonly<Record<DetectorName, string>>): string[] {
  const names = new Set<string>();
  for (const detector of DETECTORS) {
    names.add(detector);
    names.add(detector.replace(/-detector$/, ''));
    names.add(sources[detector]);
  }
  return [...names];
}

/** DirSync has no change numbers and no times: why, and what to use instead. */
export function adChoiceUnsupported(choice: StartChoiceKind): string | null {
  if (choice !== 'change-number' && choice !== 'time') return null;
  return `${CHOICE_OPTIONS[choice]} does not apply to the ad-detector: a DirSync cookie has neither change numbers nor times, so AD cannot be asked for "the changes from ${choice === 'time' ? 'that time' : 'that change'} on"`;
}

export const AD_ALTERNATIVES = 'use --end (publish only changes made from now on), --beginning (the next pass publishes every object: a full load), or `idsync resync` to bring the destination level';

// ---------------------------------------------------------------------------------------------------------------
// ds-detector: change numbers. The stored position is the LAST change published; the detector continues after it.

export type ChangelogStart = { readonly kind: 'ok'; readonly after: ChangeNumber; readonly note: string } | { readonly kind: 'refused'; readonly message: string };

/** The changelog's window for people: `1..5,432`, or that it is empty. */
export function describeWindow(window: ChangelogWindow): string {
  return isEmpty(window) ? 'empty (firstChangeNumber/lastChangeNumber 0)' : `changes ${window.first.format()}..${window.last.format()}`;
}

function isEmpty(window: ChangelogWindow): boolean {
  return window.last.equals(ChangeNumber.ZERO);
}

/**
 * The position for --beginning, --end or --change-number (for --time see findFirstChangeAtOrAfter). A change
 * number is accepted from firstChangeNumber to lastChangeNumber + 1 (the next change to be made, same as --end).
 */
export function changelogStart(choice: Exclude<StartChoice, { kind: 'time' }>, window: ChangelogWindow): ChangelogStart {
  switch (choice.kind) {
    case 'beginning':
      if (isEmpty(window)) return { kind: 'ok', after: ChangeNumber.ZERO, note: 'the changelog is empty: the detector publishes the next change made' };
      return { kind: 'ok', after: window.first.previous(), note: `the oldest change the server keeps is ${window.first.format()}` };
    case 'end':
      return { kind: 'ok', after: window.last, note: isEmpty(window) ? 'the changelog is empty' : `the last change now is ${window.last.format()}` };
    case 'change-number': {
      const wanted = choice.changeNumber;
      if (isEmpty(window)) {
        return { kind: 'refused', message: `change number ${wanted.format()} is not in the changelog: it is empty (firstChangeNumber/lastChangeNumber 0); use --end` };
      }
      if (wanted.isBefore(window.first) || wanted.isAfter(window.last.next())) {
        const why = wanted.isBefore(window.first) ? 'it was purged from cn=changelog or never existed' : 'it has not been made yet';
        return {
          kind: 'refused',
          message: `change number ${wanted.format()} is outside the changelog's window ${window.first.format()}..${window.last.format()} (${why}); give one from ${window.first.format()} to ${window.last.next().format()} (the next change)`,
        };
      }
      return { kind: 'ok', after: wanted.previous(), note: `the detector publishes change ${wanted.format()} and every later one` };
    }
  }
}

/** A change as the time search sees it: its number and changeTime (epoch ms; 389-ds records whole seconds). */
export interface TimedChange {
  readonly changeNumber: ChangeNumber;
  readonly time: number;
}

/**
 * The first change whose number is `from` or higher (up to the window's last), or null when there is none. Change
 * numbers can have gaps (a failed operation, trimming), so this is "the next present change", not "change `from`".
 */
export type NextChangeLookup = (from: ChangeNumber) => Promise<TimedChange | null>;

export interface TimeSearchResult {
  /** The first change with changeTime >= the time; null when every change is older (start at the end). */
  readonly chosen: TimedChange | null;
  /** The position to store: the change before the chosen one, or the window's last. */
  readonly after: ChangeNumber;
  readonly lookups: number;
}

/**
 * Binary search over change numbers for the first change made at or after `at`, assuming changeTime does not go
 * down as change numbers go up (the server numbers changes in the order it commits them). Each probe asks for the
 * next present change at or after the midpoint, so gaps are stepped over; about log2(window) + 1 lookups.
 */
export async function findFirstChangeAtOrAfter(at: number, window: ChangelogWindow, lookup: NextChangeLookup): Promise<TimeSearchResult> {
  const seen = new Map<string, TimedChange | null>();
  let lookups = 0;
  const next = async (from: ChangeNumber): Promise<TimedChange | null> => {
    const key = from.format();
    if (!seen.has(key)) {
      lookups += 1;
      const found = from.isAfter(window.last) ? null : await lookup(from);
      if (found !== null && (found.changeNumber.isBefore(from) || found.changeNumber.isAfter(window.last))) {
        throw new RangeError(`lookup from ${key} returned change ${found.changeNumber.format()}, outside ${key}..${window.last.format()}`);
      }
      seen.set(key, found);
    }
    return seen.get(key) ?? null;
  };
  if (isEmpty(window)) return { chosen: null, after: window.last, lookups };
  // Invariant: the answer (the first change at or after `at`, or "none") is the next present change from some n in [low, high].
  let low = window.first;
  let high = window.last.next();
  while (low.isBefore(high)) {
    const mid = low.plus(Math.floor(high.distanceFrom(low) / 2));
    const found = await next(mid);
    if (found === null || found.time >= at) high = mid;
    else low = found.changeNumber.next();
  }
  const chosen = await next(low);
  return { chosen, after: chosen ? chosen.changeNumber.previous() : window.last, lookups };
}

/** What moving a ds-detector's position does, counted in change numbers (gaps make the real count lower). */
export type ChangelogEffect =
  | { readonly kind: 'none' }
  /** Changes from..to are published (again, when the detector had published them). */
  | { readonly kind: 'repeat'; readonly from: ChangeNumber; readonly to: ChangeNumber; readonly count: number; readonly again: boolean }
  /** Changes from..to are never published. */
  | { readonly kind: 'skip'; readonly from: ChangeNumber; readonly to: ChangeNumber; readonly count: number };

/**
 * Compares the new position with where the detector would go on without it: its checkpoint, or, without one, the
 * end of the changelog (a first start begins at the end).
 */
export function changelogEffect(current: ChangeNumber | null, next: ChangeNumber, window: ChangelogWindow): ChangelogEffect {
  const base = current ?? window.last;
  if (next.equals(base)) return { kind: 'none' };
  if (next.isBefore(base)) return { kind: 'repeat', from: next.next(), to: base, count: base.distanceFrom(next), again: current !== null };
  return { kind: 'skip', from: base.next(), to: next, count: next.distanceFrom(base) };
}

export function describeChangelogEffect(effect: ChangelogEffect, current: ChangeNumber | null): string {
  const range = (from: ChangeNumber, to: ChangeNumber, count: number): string =>
    from.equals(to) ? `change ${from.format()}` : `changes ${from.format()}..${to.format()} (up to ${count.toLocaleString('en-US')})`;
  switch (effect.kind) {
    case 'none':
      return current === null
        ? 'no checkpoint yet: a first start would begin at the end as of its start; this pins it to now, so changes made from now on are published, also those made before the detector starts'
        : 'none: the detector is already there';
    case 'repeat':
      return effect.again
        ? `${range(effect.from, effect.to, effect.count)} will be published AGAIN (subscribers see them twice; writers apply only what differs)`
        : `${range(effect.from, effect.to, effect.count)} will be published (no checkpoint yet: a first start would have begun after them)`;
    case 'skip':
      return `${range(effect.from, effect.to, effect.count)} will be SKIPPED: never published (their entries differ on the other side until changed again or resynced)`;
  }
}
