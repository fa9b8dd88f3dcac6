export {
  ENVELOPE_MAGIC,
  ENVELOPE_PROBLEMS,
  ENVELOPE_VERSION,
  type EnvelopeProblem,
  envelopeKeyId,
  isSealedPassword,
  KEY_LENGTH,
  type OpenedPassword,
  openPassword,
  PASSWORD_FORMS,
  type PasswordBinding,
  PasswordEnvelopeError,
  type PasswordForm,
  sealPassword,
  type SealOptions,
} from './envelope';
export { Keyring, type KeyringOptions, type PasswordKey } from './keyring';
export { keyringFromConfig, passwordKeySchema, passwordKeysSchema, type PasswordKeysConfig, secretsSchema, type SecretsConfig } from './config';
