import { type WriteRequest } from '@idsync/contracts';
import { checkWriteRequest, destinationBinding, PASSWORD_PSEUDO_ATTRIBUTE, WRITE_REFUSALS, type WriteScope } from '@idsync/mapping';
import { type Keyring, PasswordBindingError, type SignedRecord, unbindPassword, verifyOperation } from '@idsync/secrets';

/**
 * What a writer obeys: a request the mapper made (signed, when signatures are required), for one of its own pipes and
 * inside that pipe's scope (@idsync/mapping write-scope.ts), whose sealed passwords are bound to this very request's
 * destination entry. Anything else is refused before the writer reads or writes anything. Pure: no I/O.
 */

/** Why a writer refused a request: the scope's reasons, a missing or bad signature, a password bound elsewhere. */
export const REQUEST_REFUSALS = [...WRITE_REFUSALS, 'unsigned', 'bad-signature', 'password-binding'] as const;
export type RequestRefusal = (typeof REQUEST_REFUSALS)[number];

export interface RefusedRequest {
  readonly refusal: RequestRefusal;
  /** Names the request, the pipe, the DN and attribute names; never values or key material. */
  readonly detail: string;
}

export interface RequestGuard {
  /** Null when the writer may apply the request that `record` carries. */
  check(request: WriteRequest, record: SignedRecord): RefusedRequest | null;
  /** Whether a pipe name is the configuration's (metric labels take only known names: a forged record's are not). */
  knows(pipe: string): boolean;
}

export interface RequestGuardOptions {
  /** Every pipe of the configuration by name (writeScopes). */
  readonly scopes: ReadonlyMap<string, WriteScope>;
  /** This writer's destination directory (its name in the configuration). */
  readonly destination: string;
  /** secrets.operationKeys: verify signatures and password bindings. */
  readonly operationKeys?: Keyring | undefined;
  /** secrets.signOperations: refuse records without a valid signature. */
  readonly requireSignature: boolean;
}

const PASSWORD_KEY = PASSWORD_PSEUDO_ATTRIBUTE.toLowerCase();

export function requestGuard(options: RequestGuardOptions): RequestGuard {
  const { scopes, destination, operationKeys } = options;
  if (options.requireSignature && operationKeys === undefined) throw new TypeError('requiring signatures needs the operation keys');
  return {
    knows: (pipe) => scopes.has(pipe),
    check(request, record) {
      const who = `request ${request.requestId} for ${request.dn}`;
      if (options.requireSignature && operationKeys !== undefined) {
        const signature = verifyOperation(operationKeys, record);
        if (!signature.ok) {
          const refusal = signature.problem === 'unsigned' ? 'unsigned' : 'bad-signature';
          return { refusal, detail: `${who} refused (${refusal}): ${signature.detail}; this writer obeys only requests the mapper signed` };
        }
      }
      const scope = checkWriteRequest(request, scopes, destination);
      if (scope !== null) return scope;
      if (operationKeys !== undefined) return checkBindings(request, destination, operationKeys, who);
      return null;
    },
  };
}

/** Every sealed password must be bound to this request's pipe, destination, DN and source entry. */
function checkBindings(request: WriteRequest, destination: string, keys: Keyring, who: string): RefusedRequest | null {
  const passwords = request.attributes.filter((change) => change.name.toLowerCase() === PASSWORD_KEY);
  if (passwords.length === 0) return null;
  const binding = destinationBinding(request, destination);
  for (const change of passwords) {
    for (const value of change.values) {
      if (!Buffer.isBuffer(value)) return { refusal: 'password-binding', detail: `${who} refused (password-binding): the ${PASSWORD_PSEUDO_ATTRIBUTE} value is text, not a bound envelope` };
      try {
        unbindPassword(value, keys, binding);
      } catch (error) {
        if (!(error instanceof PasswordBindingError)) throw error;
        return { refusal: 'password-binding', detail: `${who} refused (password-binding): ${error.message}` };
      }
    }
  }
  return null;
}
