import { type EntryChangeEvent, type EntryId } from '@idsync/contracts';
import { PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { type SyncPasswordsObject } from './syncpasswords-ldif';

/** Seals a password hash for an entry (form 'hashed', attribute idsyncPassword). */
export type HashSealer = (hash: Buffer, entryId: EntryId) => Buffer;

/** Why an object samba-tool reported produced no event; a closed set for metrics. */
export const SKIP_REASONS = ['deleted', 'no-hash', 'not-a-crypt-hash', 'unchanged'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type PasswordDecision = { readonly kind: 'publish'; readonly event: EntryChangeEvent } | { readonly kind: 'skip'; readonly reason: SkipReason };

export interface AgentContext {
  /** Name of the AD directory in the configuration (events' source.directory). */
  readonly directory: string;
  /** The DC the agent runs beside (for events' source.server). */
  readonly server: string;
  readonly detectedAt: number;
}

const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

/** pwdLastSet (100 ns ticks since 1601-01-01) to epoch milliseconds; null for 0 / absent / unreadable. */
export function fileTimeToMs(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value) || value === '0') return null;
  return Number(BigInt(value) / 10_000n - FILETIME_EPOCH_OFFSET_MS);
}

/**
 * How long to hold a password event so that it is published no sooner than `settleMs` after the password was set
 * (pwdLastSet), at most `settleMs`. An account created with its password shows up here and in the ad-detector's
 * DirSync at about the same time; both events share the objectGUID key, and the writer can only apply the password
 * to an entry that its create already made. Holding the password back for a few detector poll intervals lets the
 * create go first in the usual case (it is a mitigation: a detector that lags longer still loses the race).
 */
export function settleDelayMs(pwdLastSet: string | null, now: number, settleMs: number): number {
  const setAt = fileTimeToMs(pwdLastSet);
  if (setAt === null || settleMs <= 0) return 0;
  return Math.max(0, Math.min(settleMs, setAt + settleMs - now));
}

/**
 * What to publish for one object samba-tool reported. samba-tool calls the script on any change of
 * unicodePwd, supplementalCredentials, pwdLastSet, sAMAccountName, userPrincipalName or userAccountControl and
 * always gives the current state: `lastPwdLastSet` (what this agent last published for the entry, if it knows)
 * lets it skip changes that are not password changes.
 *
 * The event: op modify, keyed by objectGUID, the DN and object classes samba-tool gave (so the mapper's sync class
 * and DN map apply as to any ad-detector event), one attribute: idsyncPassword = the sealed {CRYPT}$6$ hash
 * (form 'hashed'), which the directory writer sets as userPassword. Deterministic event id per password set.
 */
export function decidePasswordEvent(object: SyncPasswordsObject, context: AgentContext, seal: HashSealer, lastPwdLastSet: string | null = null): PasswordDecision {
  if (object.deleted) return { kind: 'skip', reason: 'deleted' };
  if (object.cryptSha512 === null) return { kind: 'skip', reason: 'no-hash' };
  if (!object.cryptSha512.reveal().subarray(0, 7).equals(Buffer.from('{CRYPT}'))) return { kind: 'skip', reason: 'not-a-crypt-hash' };
  if (lastPwdLastSet !== null && object.pwdLastSet !== null && lastPwdLastSet === object.pwdLastSet) return { kind: 'skip', reason: 'unchanged' };
  const entryId: EntryId = { kind: 'objectGUID', value: object.objectGuid };
  const stamp = object.pwdLastSet ?? 'unknown';
  const event: EntryChangeEvent = {
    eventId: `${context.directory}:password:${object.objectGuid}:${stamp}`,
    source: {
      system: 'active-directory',
      directory: context.directory,
      server: context.server,
      // samba-tool keeps its DirSync cookie in its own cache; the event names the password set it reports.
      position: { kind: 'dirsync', cookieDigest: `syncpasswords:${stamp}`, index: 0 },
    },
    entryId,
    op: 'modify',
    dn: object.dn,
    previousDn: null,
    objectClasses: object.objectClasses,
    attributes: [{ name: PASSWORD_PSEUDO_ATTRIBUTE, op: 'replace', values: [seal(object.cryptSha512.reveal(), entryId)] }],
    initiator: null,
    changeTime: fileTimeToMs(object.pwdLastSet),
    detectedAt: context.detectedAt,
    after: null,
    before: null,
  };
  return { kind: 'publish', event };
}
