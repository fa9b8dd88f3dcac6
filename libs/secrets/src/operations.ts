/**
 * Operation keys: shared by the mapper and the writers only (and the CLI, which publishes requests for resyncs and
 * dead-letter redrives), so that a writer obeys only what they made, whatever else can reach Kafka.
 *
 * - **Signed requests.** Each write request record carries `idsync-signature: 1:<key id>:<base64 HMAC-SHA-256>` over
 *   its key, its value and the headers that change what a writer does (OPERATION_DIRECTIVE_HEADERS). A writer that
 *   requires signatures refuses a record without one, under an unknown key, or whose bytes or directives changed.
 * - **Passwords bound to their destination.** A sealed password (the AES-GCM envelope of envelope.ts, bound to the
 *   source entry) is wrapped by the mapper in a binding: `IDSB`, version, key id, HMAC-SHA-256 over the pipe, the
 *   destination directory, the destination DN (normalized), the source entry id and the envelope. The writer
 *   unwraps it only for the request it is in, so an envelope lifted into a request for another account, another
 *   pipe or another DN is refused, even with signatures off. The mapper never opens the envelope (it holds no
 *   password key).
 *
 * Keys rotate like password keys: add the new key everywhere, make it current where requests are made, drop the old
 * one once no record on the topics needs it. Errors name the problem and the key id, never key bytes or values.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { LEAVE_SCOPE_HEADER, ABSENT_HEADER, SNAPSHOT_HEADER } from '@idsync/contracts';
import { type Keyring, type PasswordKey } from './keyring';
import { KEY_ID_PATTERN, MAX_KEY_ID_LENGTH } from './envelope';

export const SIGNATURE_HEADER = 'idsync-signature';
const SIGNATURE_VERSION = '1';

/** Headers that change what a writer does with a request: part of what is signed. Wait-state headers are not (the writer sets them). */
export const OPERATION_DIRECTIVE_HEADERS = [ABSENT_HEADER, LEAVE_SCOPE_HEADER, SNAPSHOT_HEADER] as const;

export const SIGNATURE_PROBLEMS = ['unsigned', 'malformed', 'unknown-key', 'bad-signature'] as const;
export type SignatureProblem = (typeof SIGNATURE_PROBLEMS)[number];

export interface SignedRecord {
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined;
}

const bytes = (value: Buffer | string | null | undefined): Buffer | null => (value === null || value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'));

/**
 * The bytes a MAC is taken over: the prefix, then each part length-prefixed, so no two different inputs give the same
 * bytes (a null, five zero bytes, differs from an empty value: 1 and a zero length). Built as one buffer and hashed in
 * one call: a writer checks every record it takes, and each call into the hash costs more than copying the bytes.
 */
function framed(prefix: string, parts: readonly (Buffer | null)[]): Buffer {
  const head = Buffer.from(prefix, 'utf8');
  let length = head.length;
  for (const part of parts) length += 5 + (part?.length ?? 0);
  const input = Buffer.allocUnsafe(length);
  let at = head.copy(input, 0);
  for (const part of parts) {
    input.writeUInt8(part === null ? 0 : 1, at);
    input.writeUInt32BE(part?.length ?? 0, at + 1);
    at += 5;
    if (part !== null) at += part.copy(input, at);
  }
  return input;
}

/**
 * The HMAC key of an operation key, made once: `createHmac` with raw bytes builds a key object on every call (about
 * 75 µs, on every record the mapper signs and every record a writer checks).
 */
const HMAC_KEYS = new WeakMap<PasswordKey, KeyObject>();

function hmac(key: PasswordKey): ReturnType<typeof createHmac> {
  let secret = HMAC_KEYS.get(key);
  if (secret === undefined) {
    secret = createSecretKey(key.bytes);
    HMAC_KEYS.set(key, secret);
  }
  return createHmac('sha256', secret);
}

/** The MAC over the key id, the record's key, value and directive headers. */
function recordMac(key: PasswordKey, record: SignedRecord): Buffer {
  const parts: (Buffer | null)[] = [bytes(record.key), record.value];
  for (const name of OPERATION_DIRECTIVE_HEADERS) parts.push(bytes(record.headers?.[name]));
  return hmac(key)
    .update(framed(`idsync-operation/${SIGNATURE_VERSION}\0${key.id}\0`, parts))
    .digest();
}

/** The signature header value for a record, under the keyring's current key. */
export function signOperation(keyring: Keyring, record: SignedRecord): string {
  return `${SIGNATURE_VERSION}:${keyring.current.id}:${recordMac(keyring.current, record).toString('base64')}`;
}

/** The record's headers with its signature added (what a producer sends). */
export function withSignature(keyring: Keyring, record: SignedRecord): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) if (value !== undefined && name !== SIGNATURE_HEADER) headers[name] = value;
  headers[SIGNATURE_HEADER] = signOperation(keyring, record);
  return headers;
}

export type SignatureCheck = { readonly ok: true; readonly keyId: string } | { readonly ok: false; readonly problem: SignatureProblem; readonly detail: string };

/** Checks a record's signature against the keyring (any of its keys, by the id the signature names). */
export function verifyOperation(keyring: Keyring, record: SignedRecord): SignatureCheck {
  const header = record.headers?.[SIGNATURE_HEADER];
  if (header === undefined) return { ok: false, problem: 'unsigned', detail: `no ${SIGNATURE_HEADER} header` };
  const [version, keyId, mac, ...rest] = header.split(':');
  if (version !== SIGNATURE_VERSION || keyId === undefined || mac === undefined || rest.length > 0 || !KEY_ID_PATTERN.test(keyId)) {
    return { ok: false, problem: 'malformed', detail: `${SIGNATURE_HEADER} is not '${SIGNATURE_VERSION}:<key id>:<base64>'` };
  }
  const key = keyring.get(keyId);
  if (key === undefined) return { ok: false, problem: 'unknown-key', detail: `signed under key '${keyId}', which is not among the operation keys (${keyring.ids().join(', ')})` };
  const given = Buffer.from(mac, 'base64');
  const expected = recordMac(key, record);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, problem: 'bad-signature', detail: `the signature under key '${keyId}' does not match the record (altered, or signed by someone else)` };
  }
  return { ok: true, keyId };
}

// ---------------------------------------------------------------------------------------------- password bindings

export const BINDING_MAGIC = Buffer.from('IDSB', 'ascii');
const BINDING_VERSION = 1;
const MAC_LENGTH = 32;

/** The destination entry a sealed password is for. `dn`: normalized by the caller (both sides the same way). */
export interface DestinationBinding {
  readonly pipe: string;
  readonly destination: string;
  readonly dn: string;
  readonly sourceEntryId: { readonly kind: string; readonly value: string };
}

export const BINDING_PROBLEMS = ['not-bound', 'truncated', 'unknown-key', 'other-entry'] as const;
export type BindingProblem = (typeof BINDING_PROBLEMS)[number];

/** A bound password cannot be used for this request. Never retriable: the same bytes fail the same way. */
export class PasswordBindingError extends Error {
  readonly retriable = false as const;
  constructor(
    readonly problem: BindingProblem,
    detail: string,
  ) {
    super(`password binding refused: ${problem} (${detail})`);
    this.name = 'PasswordBindingError';
  }
}

function bindingMac(key: PasswordKey, binding: DestinationBinding, sealed: Buffer): Buffer {
  const parts = [binding.pipe, binding.destination, binding.dn.toLowerCase(), binding.sourceEntryId.kind, binding.sourceEntryId.value.toLowerCase()].map((part) => Buffer.from(part, 'utf8'));
  return hmac(key)
    .update(framed(`idsync-password-binding/${BINDING_VERSION}\0${key.id}\0`, [...parts, sealed]))
    .digest();
}

export function isBoundPassword(value: Buffer | string): boolean {
  return Buffer.isBuffer(value) && value.length >= BINDING_MAGIC.length && value.subarray(0, BINDING_MAGIC.length).equals(BINDING_MAGIC);
}

/** Wraps a sealed password for one destination entry, under the keyring's current key. */
export function bindPassword(sealed: Buffer, keyring: Keyring, binding: DestinationBinding): Buffer {
  const key = keyring.current;
  const id = Buffer.from(key.id, 'ascii');
  return Buffer.concat([BINDING_MAGIC, Buffer.from([BINDING_VERSION, id.length]), id, bindingMac(key, binding, sealed), sealed]);
}

/** The sealed password inside a binding, if the binding is for this destination entry; throws PasswordBindingError. */
export function unbindPassword(bound: Buffer, keyring: Keyring, binding: DestinationBinding): Buffer {
  if (!isBoundPassword(bound)) throw new PasswordBindingError('not-bound', 'the value is not bound to a destination entry (no operation-key binding)');
  const idLength = bound[5] ?? 0;
  const start = 6 + idLength;
  if (bound[4] !== BINDING_VERSION || idLength === 0 || idLength > MAX_KEY_ID_LENGTH || bound.length < start + MAC_LENGTH) {
    throw new PasswordBindingError('truncated', `${bound.length} bytes, not a version ${BINDING_VERSION} binding`);
  }
  const keyId = bound.subarray(6, start).toString('ascii');
  const key = keyring.get(keyId);
  if (key === undefined) throw new PasswordBindingError('unknown-key', `bound under key '${keyId}', which is not among the operation keys (${keyring.ids().join(', ')})`);
  const given = bound.subarray(start, start + MAC_LENGTH);
  const sealed = bound.subarray(start + MAC_LENGTH);
  if (!timingSafeEqual(given, bindingMac(key, binding, sealed))) {
    throw new PasswordBindingError('other-entry', `bound to another destination entry, pipe or source entry than this request's (key '${keyId}')`);
  }
  return Buffer.from(sealed);
}
