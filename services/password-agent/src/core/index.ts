export { MalformedSyncPasswordsLdifError, parseSyncPasswordsLdif, PasswordHash, type SyncPasswordsObject } from './syncpasswords-ldif';
export { type AgentContext, decidePasswordEvent, fileTimeToMs, type HashSealer, settleDelayMs, type PasswordDecision, SKIP_REASONS, type SkipReason } from './password-event';
export { type AccountOutcome, type PassCounts, PassSummary } from './pass-summary';
export { decideStart, type DirSyncCookieFields, parseDirSyncCookie, parseLdbTime, type StartMode, SyncPosition, UnreadablePositionError } from './sync-position';
