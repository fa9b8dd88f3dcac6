import { createHash } from 'node:crypto';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A stored DirSync cookie that cannot be read back; the checkpoint is damaged, a retry cannot help. */
export class InvalidCookieError extends Error {
  readonly retriable = false;
  constructor(problem: string) {
    super(`DirSync cookie is unreadable: ${problem}`);
    this.name = 'InvalidCookieError';
  }
}

/**
 * The DirSync cookie: opaque bytes the DC hands back after each page and expects on the next request.
 * Stored as base64 in the checkpoint; events carry its digest (the cookie is ~100 bytes and grows with DCs).
 */
export class DirSyncCookie {
  /** Requests a first, full pass. */
  static readonly EMPTY = new DirSyncCookie(Buffer.alloc(0));

  private constructor(private readonly bytes: Buffer) {}

  static fromBytes(bytes: Buffer): DirSyncCookie {
    return bytes.length === 0 ? DirSyncCookie.EMPTY : new DirSyncCookie(Buffer.from(bytes));
  }

  /** Reads the form `format()` wrote. */
  static parse(text: string): DirSyncCookie {
    if (!BASE64.test(text)) throw new InvalidCookieError(`not base64 (${text.length} characters)`);
    return DirSyncCookie.fromBytes(Buffer.from(text, 'base64'));
  }

  get isEmpty(): boolean {
    return this.bytes.length === 0;
  }

  get length(): number {
    return this.bytes.length;
  }

  /** A copy of the bytes, for the request control. */
  toBuffer(): Buffer {
    return Buffer.from(this.bytes);
  }

  format(): string {
    return this.bytes.toString('base64');
  }

  /** Short, stable reference used in event positions and ids: the first 20 hex digits of SHA-256. */
  digest(): string {
    return createHash('sha256').update(this.bytes).digest('hex').slice(0, 20);
  }

  equals(other: DirSyncCookie): boolean {
    return this.bytes.equals(other.bytes);
  }

  toString(): string {
    return `DirSyncCookie(${this.length} bytes, ${this.digest()})`;
  }
}

/**
 * The domain controller a cookie belongs to. A cookie is only meaningful to the DC that issued it: handed to
 * another DC, Samba silently starts a full pass over. Identified by the invocationId of the DC's NTDS Settings
 * object (it also changes when a DC is restored from backup, which invalidates cookies too); the host name is
 * kept for messages.
 */
export class DcIdentity {
  constructor(
    readonly invocationId: string,
    readonly dnsHostName: string,
  ) {}

  /** `invocationId=<guid>;host=<dnsHostName>`: the `server` of the stored checkpoint. */
  format(): string {
    return `invocationId=${this.invocationId};host=${this.dnsHostName}`;
  }

  static parse(text: string): DcIdentity {
    const match = /^invocationId=([0-9a-f-]{36});host=(.*)$/i.exec(text);
    if (!match?.[1] || match[2] === undefined) throw new InvalidCookieError(`checkpoint server '${text}' is not a DC identity`);
    return new DcIdentity(match[1].toLowerCase(), match[2]);
  }

  sameDc(other: DcIdentity): boolean {
    return this.invocationId === other.invocationId;
  }

  toString(): string {
    return `${this.dnsHostName} (invocationId ${this.invocationId})`;
  }
}
