/**
 * Password envelopes: how a password travels on a topic. AES-256-GCM under a key only the component that reads the
 * password and the writer that sets it hold; a key id so keys can rotate; additional authenticated data that binds the
 * envelope to the entry and attribute it belongs to, so a value cannot be replayed onto another entry.
 *
 * Layout (version 1), all in one Buffer:
 *
 * | bytes      | what                                                                     |
 * | ---------- | ------------------------------------------------------------------------ |
 * | 0..3       | magic `IDSP`                                                             |
 * | 4          | version (1)                                                              |
 * | 5          | form: 1 = clear password, 2 = hashed (a directory storage-scheme value, `{CRYPT}$6$...`) |
 * | 6          | key id length L (1..64)                                                  |
 * | 7..7+L-1   | key id (ASCII letters, digits, `.`, `_`, `-`)                            |
 * | next 12    | IV (random per envelope)                                                 |
 * | next n     | ciphertext (n = length of the value)                                     |
 * | last 16    | GCM tag                                                                  |
 *
 * AAD = the header (bytes 0 .. end of key id) + `idsync-password/1` NUL entry-id kind NUL entry-id value NUL
 * attribute (lower case). Header fields (form, key id) are thus authenticated too.
 *
 * Errors never carry the value, the key, or any part of the ciphertext: only the reason, the key id and lengths.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type Keyring, type PasswordKey } from './keyring';

export const ENVELOPE_MAGIC = Buffer.from('IDSP', 'ascii');
export const ENVELOPE_VERSION = 1;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const KEY_LENGTH = 32;
export const MAX_KEY_ID_LENGTH = 64;
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** What the sealed bytes are: the password itself, or a hash in a directory storage scheme (`{CRYPT}$6$...`). */
export const PASSWORD_FORMS = { clear: 1, hashed: 2 } as const;
export type PasswordForm = keyof typeof PASSWORD_FORMS;

/** What an envelope is bound to: the source entry's stable identity and the attribute that carries it. */
export interface PasswordBinding {
  readonly entryId: { readonly kind: string; readonly value: string };
  readonly attribute: string;
}

export interface OpenedPassword {
  readonly form: PasswordForm;
  readonly value: Buffer;
  readonly keyId: string;
}

export const ENVELOPE_PROBLEMS = ['not-an-envelope', 'unsupported-version', 'truncated', 'unknown-key', 'tampered'] as const;
export type EnvelopeProblem = (typeof ENVELOPE_PROBLEMS)[number];

/**
 * A sealed value cannot be opened. Never retriable: the same bytes fail the same way (a missing key needs an
 * operator; the record belongs on the dead-letter topic). The message names the problem and the key id only.
 */
export class PasswordEnvelopeError extends Error {
  readonly retriable = false as const;

  constructor(
    readonly problem: EnvelopeProblem,
    detail: string,
    readonly keyId: string | null = null,
  ) {
    super(`password envelope cannot be opened: ${problem} (${detail})`);
    this.name = 'PasswordEnvelopeError';
  }
}

const FORM_BY_CODE = new Map<number, PasswordForm>(Object.entries(PASSWORD_FORMS).map(([form, code]) => [code, form as PasswordForm]));

function aad(header: Buffer, binding: PasswordBinding): Buffer {
  const context = `idsync-password/${ENVELOPE_VERSION}\0${binding.entryId.kind}\0${binding.entryId.value.toLowerCase()}\0${binding.attribute.toLowerCase()}`;
  return Buffer.concat([header, Buffer.from(context, 'utf8')]);
}

function header(form: PasswordForm, keyId: string): Buffer {
  const id = Buffer.from(keyId, 'ascii');
  return Buffer.concat([ENVELOPE_MAGIC, Buffer.from([ENVELOPE_VERSION, PASSWORD_FORMS[form], id.length]), id]);
}

export function checkKey(key: PasswordKey): void {
  if (!KEY_ID_PATTERN.test(key.id)) throw new RangeError(`password key id must match ${String(KEY_ID_PATTERN)}`);
  if (key.bytes.length !== KEY_LENGTH) throw new RangeError(`password key '${key.id}' must be ${KEY_LENGTH} bytes (AES-256), not ${key.bytes.length}`);
}

export interface SealOptions {
  readonly form?: PasswordForm;
  /** Test seam only: a fixed IV. Never reuse an IV with the same key in production. */
  readonly iv?: Buffer;
}

/** Seals a password (clear, or a storage-scheme hash) for one entry's attribute under `key`. */
export function sealPassword(value: Buffer, key: PasswordKey, binding: PasswordBinding, options: SealOptions = {}): Buffer {
  checkKey(key);
  const head = header(options.form ?? 'clear', key.id);
  const iv = options.iv ?? randomBytes(IV_LENGTH);
  if (iv.length !== IV_LENGTH) throw new RangeError(`IV must be ${IV_LENGTH} bytes`);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad(head, binding));
  const body = Buffer.concat([cipher.update(value), cipher.final()]);
  return Buffer.concat([head, iv, body, cipher.getAuthTag()]);
}

/** True when the bytes start like an envelope (magic); says nothing about whether they open. */
export function isSealedPassword(value: Buffer | string): boolean {
  return Buffer.isBuffer(value) && value.length >= ENVELOPE_MAGIC.length && value.subarray(0, ENVELOPE_MAGIC.length).equals(ENVELOPE_MAGIC);
}

/** The key id an envelope names (without opening it); throws PasswordEnvelopeError when the header is unreadable. */
export function envelopeKeyId(sealed: Buffer): string {
  return readHeader(sealed).keyId;
}

interface Header {
  readonly form: PasswordForm;
  readonly keyId: string;
  readonly headerLength: number;
}

function readHeader(sealed: Buffer): Header {
  if (!isSealedPassword(sealed)) throw new PasswordEnvelopeError('not-an-envelope', `${sealed.length} bytes without the envelope magic`);
  if (sealed.length < 7) throw new PasswordEnvelopeError('truncated', `${sealed.length} bytes, shorter than a header`);
  const version = sealed[4] as number;
  if (version !== ENVELOPE_VERSION) throw new PasswordEnvelopeError('unsupported-version', `version ${version}; this build reads ${ENVELOPE_VERSION}`);
  const form = FORM_BY_CODE.get(sealed[5] as number);
  const idLength = sealed[6] as number;
  const headerLength = 7 + idLength;
  if (idLength === 0 || idLength > MAX_KEY_ID_LENGTH) throw new PasswordEnvelopeError('tampered', `key id length ${idLength}`);
  if (sealed.length < headerLength + IV_LENGTH + TAG_LENGTH) {
    throw new PasswordEnvelopeError('truncated', `${sealed.length} bytes, shorter than header, IV and tag (${headerLength + IV_LENGTH + TAG_LENGTH})`);
  }
  const keyId = sealed.subarray(7, headerLength).toString('ascii');
  if (!KEY_ID_PATTERN.test(keyId)) throw new PasswordEnvelopeError('tampered', 'key id is not printable');
  if (form === undefined) throw new PasswordEnvelopeError('tampered', `unknown form ${sealed[5] as number}`, keyId);
  return { form, keyId, headerLength };
}

/**
 * Opens an envelope for the entry and attribute it must belong to. Throws PasswordEnvelopeError: unknown-key (no such
 * key id in the keyring), tampered (authentication failed: altered bytes, another entry or attribute, a wrong key
 * under the right id), truncated, not-an-envelope, unsupported-version.
 */
export function openPassword(sealed: Buffer, keyring: Keyring, binding: PasswordBinding): OpenedPassword {
  const { form, keyId, headerLength } = readHeader(sealed);
  const key = keyring.get(keyId);
  if (key === undefined) throw new PasswordEnvelopeError('unknown-key', `key id '${keyId}' is not in the keyring (known: ${keyring.ids().join(', ')})`, keyId);
  const iv = sealed.subarray(headerLength, headerLength + IV_LENGTH);
  const body = sealed.subarray(headerLength + IV_LENGTH, sealed.length - TAG_LENGTH);
  const tag = sealed.subarray(sealed.length - TAG_LENGTH);
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(aad(sealed.subarray(0, headerLength), binding));
  decipher.setAuthTag(tag);
  const value = decipher.update(body);
  try {
    decipher.final();
  } catch {
    // Deliberately no cause: Node's error says nothing useful, and nothing decrypted may leave this function.
    value.fill(0);
    throw new PasswordEnvelopeError('tampered', `authentication failed under key '${keyId}' for this entry and attribute`, keyId);
  }
  return { form, value, keyId };
}
