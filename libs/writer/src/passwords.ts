/**
 * Sealed passwords in write requests (the `idsyncPassword` pseudo-attribute, see @idsync/mapping) become the
 * destination's own password attribute here, just before planning, and nowhere else:
 *
 * - AD: `unicodePwd` = the clear password in double quotes, UTF-16LE, as a binary replace (an administrator reset).
 *   A hashed password (`{CRYPT}...` from the AD side's agent) can never be set in AD: dead-letter.
 * - Directory: `userPassword` = the clear password (the server hashes it with its storage scheme) or the
 *   pre-hashed `{CRYPT}$6$...` value as it came (the server must allow pre-hashed values from the writer:
 *   Directory Manager, a password administrator, or nsslapd-allow-hashed-passwords).
 *
 * A request whose envelope cannot be opened (unknown key id, tampered, truncated, bound to another entry) is
 * dead-lettered with the reason; no value, key or ciphertext ever appears in the reason.
 */
import { type AttributeChange, type AttributeValue, type WriteRequest } from '@idsync/contracts';
import { type DirectoryKind } from '@idsync/config';
import { destinationBinding, PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { type Keyring, openPassword, PasswordBindingError, PasswordEnvelopeError, unbindPassword } from '@idsync/secrets';
import { attributeKey } from './attributes';
import { WriteError, type WriteErrorDetails } from './errors';

const PSEUDO_KEY = attributeKey(PASSWORD_PSEUDO_ATTRIBUTE);

/** Why a sealed password was not written; a closed set for metrics and dead-letter reasons. */
export const PASSWORD_REFUSALS = ['no-keyring', 'envelope', 'binding', 'hashed-for-ad', 'not-sealed', 'removal'] as const;
export type PasswordRefusal = (typeof PASSWORD_REFUSALS)[number];

/** A password that cannot be written, ever, as it is: dead-letter. The message never holds the value. */
export class PasswordRefusedError extends WriteError {
  constructor(
    readonly refusal: PasswordRefusal,
    reason: string,
    details: WriteErrorDetails = {},
    options?: ErrorOptions,
  ) {
    super('dead-letter', reason, details, options);
    this.name = 'PasswordRefusedError';
  }
}

/** AD's unicodePwd value for a clear password: `"password"` in UTF-16LE. */
export function encodeUnicodePwd(clear: Buffer): Buffer {
  const text = clear.toString('utf8');
  return Buffer.from(`"${text}"`, 'utf16le');
}

export function carriesSealedPassword(request: WriteRequest): boolean {
  return request.attributes.some((change) => attributeKey(change.name) === PSEUDO_KEY);
}

export interface PasswordOptions {
  readonly kind: DirectoryKind;
  /** Keys that open envelopes; without one, any sealed password is dead-lettered (no-keyring). */
  readonly keyring?: Keyring | undefined;
  /**
   * Operation keys (secrets.operationKeys) and this writer's destination name: the envelope must be bound to this
   * request's destination entry (@idsync/secrets operations.ts) and is unwrapped first. Without them, envelopes are
   * taken as the source sealed them.
   */
  readonly binding?: { readonly operationKeys: Keyring; readonly destination: string } | undefined;
}

/**
 * The request with its sealed password (if any) opened and turned into the destination's attribute. Pure (no I/O).
 * The returned request holds the clear password in memory only: it must go to planWrite and the LDAP client, not
 * to a log (describePlan masks unicodePwd and userPassword).
 */
export function resolvePasswords(request: WriteRequest, options: PasswordOptions): WriteRequest {
  if (!carriesSealedPassword(request)) return request;
  const details = { requestId: request.requestId, dn: request.dn };
  const who = `request ${request.requestId} (entry ${request.sourceEntryId.kind} ${request.sourceEntryId.value})`;
  const attributes: AttributeChange[] = [];
  for (const change of request.attributes) {
    if (attributeKey(change.name) !== PSEUDO_KEY) {
      attributes.push(change);
      continue;
    }
    if (change.op === 'delete' || change.values.length === 0) {
      throw new PasswordRefusedError('removal', `${who}: removing a password is not synchronized`, details);
    }
    if (options.keyring === undefined) {
      throw new PasswordRefusedError('no-keyring', `${who}: carries a sealed password but this writer has no password keys (secrets.passwordKeys)`, details);
    }
    // One password at a time: a multi-valued change keeps its last value (the newest).
    const value = change.values.at(-1) as AttributeValue;
    if (!Buffer.isBuffer(value)) throw new PasswordRefusedError('not-sealed', `${who}: the ${PASSWORD_PSEUDO_ATTRIBUTE} value is text, not a sealed envelope`, details);
    let sealed = value;
    if (options.binding !== undefined) {
      try {
        sealed = unbindPassword(value, options.binding.operationKeys, destinationBinding(request, options.binding.destination));
      } catch (error) {
        if (!(error instanceof PasswordBindingError)) throw error;
        throw new PasswordRefusedError('binding', `${who}: ${error.message}`, details);
      }
    }
    let opened;
    try {
      opened = openPassword(sealed, options.keyring, { entryId: request.sourceEntryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE });
    } catch (error) {
      if (!(error instanceof PasswordEnvelopeError)) throw error;
      throw new PasswordRefusedError('envelope', `${who}: ${error.message}`, details);
    }
    if (options.kind === 'active-directory') {
      if (opened.form !== 'clear') {
        opened.value.fill(0);
        throw new PasswordRefusedError('hashed-for-ad', `${who}: the password is a hash, which AD cannot take as unicodePwd (only a clear password can be set)`, details);
      }
      attributes.push({ name: 'unicodePwd', op: 'replace', values: [encodeUnicodePwd(opened.value)] });
      opened.value.fill(0);
    } else {
      attributes.push({ name: 'userPassword', op: 'replace', values: [opened.value] });
    }
  }
  return { ...request, attributes };
}
