export { MalformedSyncPasswordsLdifError, parseSyncPasswordsLdif, PasswordHash, type SyncPasswordsObject } from './syncpasswords-ldif';
export { type AgentContext, decidePasswordEvent, fileTimeToMs, type HashSealer, settleDelayMs, type PasswordDecision, SKIP_REASONS, type SkipReason } from './password-event';
