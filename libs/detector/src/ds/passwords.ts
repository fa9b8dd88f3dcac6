/**
 * Passwords in the directory's changelog, and how they become sealed values in events.
 *
 * Two shapes carry a clear password:
 * - 389 Directory Server with `nsslapd-unhashed-pw-switch: on` writes `unhashed#user#password: <clear>` inside the
 *   `changes` LDIF of the change that set userPassword (verified on the local stack).
 * - PingDirectory keeps it encrypted in the changelog entry's own attribute `ds-changelog-encrypted-password`
 *   (beside `changes`), decrypted with a key configured on the server. Documented assumption, since no
 *   PingDirectory runs here: one value per changed password, opaque bytes that a deployment-provided hook
 *   (`DecryptChangelogPassword`) turns into the clear UTF-8 password; the hook is where PingDirectory's key and
 *   format live, so the core never depends on them.
 *
 * The clear value lives only inside a `ClearPassword` (printed and serialized as `***`) until the event is built,
 * where a `PasswordSealer` (AES-256-GCM, @idsync/secrets) turns it into the `idsyncPassword` pseudo-attribute.
 * A userPassword change that carries only a hash (pre-hashed write, or the switch off) cannot reach AD, whose
 * unicodePwd needs the clear password: such a change is reported (`hashOnly`), never silently dropped.
 */
import { type EntryId } from '@idsync/contracts';

/** 389-ds (nsslapd-unhashed-pw-switch: on) records the clear text of a userPassword change under this name. */
export const CLEAR_PASSWORD_ATTRIBUTE = 'unhashed#user#password';
/** PingDirectory: the changelog entry's attribute holding the changed password, encrypted (see the hook). */
export const ENCRYPTED_PASSWORD_ATTRIBUTE = 'ds-changelog-encrypted-password';

/** A clear password held in memory; shows as `***` wherever it is printed or serialized. */
export class ClearPassword {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = Buffer.from(bytes);
  }

  /** The bytes, for the sealer only. */
  reveal(): Buffer {
    return this.#bytes;
  }

  /** Overwrites the bytes once sealed. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toJSON(): string {
    return '***';
  }

  toString(): string {
    return '***';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'ClearPassword(***)';
  }
}

/** PingDirectory's decryption, provided by the deployment: encrypted bytes in, clear UTF-8 password out. */
export type DecryptChangelogPassword = (encrypted: Buffer) => Buffer;

/** Seals one clear password for the entry it belongs to (the pseudo-attribute's envelope). */
export type PasswordSealer = (clear: Buffer, entryId: EntryId) => Buffer;

/** What a changelog entry said about passwords; counts and flags only, plus the clear value in its wrapper. */
export interface PasswordFacts {
  /** The newest clear password of the change, when the changelog recorded one. */
  readonly clear: ClearPassword | null;
  /** userPassword changed but no clear value was recorded: cannot be pushed to AD. */
  readonly hashOnly: boolean;
  /** Encrypted values (PingDirectory) that could not be decrypted (no hook, or the hook failed). */
  readonly undecryptable: number;
}

export const NO_PASSWORD: PasswordFacts = { clear: null, hashOnly: false, undecryptable: 0 };
