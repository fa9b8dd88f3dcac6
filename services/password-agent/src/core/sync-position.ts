/**
 * Where the agent stands in the DC's stream of password changes: the DirSync control samba-tool keeps in its cache
 * (`dirsyncControl: dirsync:<critical>:<flags>:<maxBytes>[:<base64 cookie>]`), rewritten after each DirSync answer
 * it has handled completely. Without a cookie the next samba-tool run reads every account from the beginning.
 */

export class UnreadablePositionError extends Error {
  readonly retriable = false;
  constructor(problem: string) {
    super(`samba-tool's stored DirSync position is unreadable: ${problem}`);
    this.name = 'UnreadablePositionError';
  }
}

/** What a DirSync cookie (MS-ADTS, Samba's ldapControlDirSyncCookie) says about its position. */
export interface DirSyncCookieFields {
  /** The DC's highest USN when it answered: the next answer holds changes after it. */
  readonly highestUsn: bigint;
  /** The answering DC's invocationId (another DC, or one restored from backup, answers a full pass). */
  readonly invocationId: string;
  /** When the DC issued the cookie. */
  readonly issuedAt: Date;
}

const MAGIC = 'MSDS';
// MSDS, version, NTTIME, two reserved words, extra length, high-water mark (3 x USN), invocationId GUID.
const HIGHEST_USN_OFFSET = 44;
const INVOCATION_ID_OFFSET = 52;
const MIN_COOKIE_LENGTH = INVOCATION_ID_OFFSET + 16;
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

/** Reads the fields of a DirSync cookie; throws on bytes that are not one. */
export function parseDirSyncCookie(bytes: Buffer): DirSyncCookieFields {
  if (bytes.length < MIN_COOKIE_LENGTH || bytes.subarray(0, 4).toString('latin1') !== MAGIC) {
    throw new UnreadablePositionError(`not a DirSync cookie (${bytes.length} bytes)`);
  }
  const filetime = bytes.readBigUInt64LE(8);
  return {
    highestUsn: bytes.readBigUInt64LE(HIGHEST_USN_OFFSET),
    invocationId: guidText(bytes.subarray(INVOCATION_ID_OFFSET, INVOCATION_ID_OFFSET + 16)),
    issuedAt: new Date(Number(filetime / 10_000n - FILETIME_EPOCH_OFFSET_MS)),
  };
}

/** A GUID's text form from its little-endian binary form (as AD stores objectGUID and invocationId). */
function guidText(b: Buffer): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Buffer.from(b.subarray(from, to));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

const CONTROL = /^dirsync:([01]):(-?\d+):(\d+)(?::([A-Za-z0-9+/]+={0,2}))?$/;

export class SyncPosition {
  private constructor(
    /** The control exactly as samba-tool stores it. */
    readonly control: string,
    readonly cookie: DirSyncCookieFields | null,
    /** When samba-tool (or the agent) last wrote it. */
    readonly storedAt: Date | null,
  ) {}

  /** From samba-tool's cache: its dirsyncControl and currentTime (ldb's `YYYYMMDDhhmmss.0Z`). */
  static fromCache(control: string, storedAt: string | null): SyncPosition {
    const match = CONTROL.exec(control.trim());
    if (!match) throw new UnreadablePositionError(`dirsyncControl is not a DirSync control (${control.length} characters)`);
    const cookie = match[4] === undefined ? null : parseDirSyncCookie(Buffer.from(match[4], 'base64'));
    return new SyncPosition(control.trim(), cookie, storedAt === null ? null : parseLdbTime(storedAt));
  }

  /** No cookie yet: samba-tool's next run reads every account (a full pass). */
  get fromBeginning(): boolean {
    return this.cookie === null;
  }

  /** For logs and /health: the USN and DC it stands at, never the cookie's bytes (they are not secret, only long). */
  describe(): { fromBeginning: boolean; highestUsn: string | null; invocationId: string | null; storedAt: string | null } {
    return {
      fromBeginning: this.fromBeginning,
      highestUsn: this.cookie === null ? null : this.cookie.highestUsn.toString(),
      invocationId: this.cookie?.invocationId ?? null,
      storedAt: this.storedAt?.toISOString() ?? null,
    };
  }
}

/** ldb's generalized time, `20261130021021.0Z`. */
export function parseLdbTime(text: string): Date {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text.trim());
  if (!match) throw new UnreadablePositionError(`currentTime '${text.slice(0, 40)}' is not an ldb time`);
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/**
 * How a start takes its position. `resume`: samba-tool's cache holds one (even an unfinished full pass, which
 * then goes on: its cookie still stands at the beginning). Without one, `baseline` begins at the DC's current end
 * (password changes from then on are published, existing ones are not) and `full-pass` reads and publishes every
 * account's current hash (`initialSync`). A full pass asked for explicitly replaces a stored position.
 */
export type StartMode = 'resume' | 'baseline' | 'full-pass';

export function decideStart(stored: SyncPosition | null, options: { initialSync: boolean; fullPass: boolean }): StartMode {
  if (options.fullPass) return 'full-pass';
  if (stored !== null) return 'resume';
  return options.initialSync ? 'full-pass' : 'baseline';
}
