/**
 * The `secrets:` block of the configuration file: the password keys, whose bytes come from the environment
 * (a Kubernetes Secret) through `${NAME}` references, never written in the file itself.
 *
 * ```yaml
 * secrets:
 *   passwordKeys:
 *     current: k2
 *     keys:
 *       - { id: k2, key: "${IDSYNC_PASSWORD_KEY_K2}" }   # base64 of 32 random bytes: openssl rand -base64 32
 *       - { id: k1, key: "${IDSYNC_PASSWORD_KEY_K1}" }   # still opens envelopes sealed before the rotation
 * ```
 *
 *
 * `operationKeys` (same shape, other keys) sign write requests and bind sealed passwords to their destination entry;
 * `signOperations: true` makes the writers refuse unsigned requests (operations.ts).
 */
import { z } from 'zod';
import { KEY_ID_PATTERN, KEY_LENGTH } from './envelope';
import { Keyring } from './keyring';

const base64Key = z.string().superRefine((text, ctx) => {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    ctx.addIssue({ code: 'custom', message: 'must be base64 (openssl rand -base64 32)' });
    return;
  }
  const length = Buffer.from(trimmed, 'base64').length;
  if (length !== KEY_LENGTH) ctx.addIssue({ code: 'custom', message: `must decode to ${KEY_LENGTH} bytes (AES-256), not ${length}` });
});

export const passwordKeySchema = z
  .object({
    id: z.string().regex(KEY_ID_PATTERN, 'must be 1-64 letters, digits, dots, underscores or hyphens'),
    key: base64Key,
  })
  .strict();

export const passwordKeysSchema = z
  .object({
    current: z.string().min(1, 'must name one of the keys'),
    keys: z.array(passwordKeySchema).min(1, 'needs at least one key'),
  })
  .strict()
  .superRefine((block, ctx) => {
    const ids = block.keys.map((k) => k.id);
    ids.forEach((id, index) => {
      if (ids.indexOf(id) !== index) ctx.addIssue({ code: 'custom', path: ['keys', index, 'id'], message: `'${id}' appears twice` });
    });
    if (!ids.includes(block.current)) ctx.addIssue({ code: 'custom', path: ['current'], message: `'${block.current}' is not among the keys (${ids.join(', ')})` });
  });

export const secretsSchema = z
  .object({
    /** Seal and open passwords: the ds-detector and the password agent (seal), the writers (open). */
    passwordKeys: passwordKeysSchema.optional(),
    /**
     * Sign write requests and bind sealed passwords to their destination entry (operations.ts): the mapper, the
     * writers and the CLI (resync, dlq redrive). Same shape and rotation as passwordKeys, other keys.
     */
    operationKeys: passwordKeysSchema.optional(),
    /** The mapper (and CLI) sign every write request, and writers refuse records without a valid signature. */
    signOperations: z.boolean().default(false),
  })
  .strict()
  .superRefine((block, ctx) => {
    if (block.signOperations && block.operationKeys === undefined) {
      ctx.addIssue({ code: 'custom', path: ['signOperations'], message: 'needs secrets.operationKeys (the keys that sign write requests)' });
    }
  });

export type PasswordKeysConfig = z.infer<typeof passwordKeysSchema>;
export type SecretsConfig = z.infer<typeof secretsSchema>;

/** The keyring a validated `secrets.passwordKeys` block describes. */
export function keyringFromConfig(block: PasswordKeysConfig): Keyring {
  return new Keyring({ current: block.current, keys: block.keys.map((k) => ({ id: k.id, bytes: Buffer.from(k.key.trim(), 'base64') })) });
}

/** The keyring of `secrets.operationKeys`, if the configuration has one. */
export function operationKeyring(secrets: SecretsConfig | undefined): Keyring | undefined {
  return secrets?.operationKeys === undefined ? undefined : keyringFromConfig(secrets.operationKeys);
}

/** The keyring that signs write requests when the configuration asks for signatures (`signOperations`), else undefined. */
export function signingKeyring(secrets: SecretsConfig | undefined): Keyring | undefined {
  return secrets?.signOperations === true ? operationKeyring(secrets) : undefined;
}
