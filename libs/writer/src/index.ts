export { AttributeKnowledge, type AttributeKnowledgeOptions, BINARY_ATTRIBUTES, DEFAULT_ATTRIBUTES, DN_VALUED_ATTRIBUTES, VALUE_LEVEL_ATTRIBUTES } from './attributes';
export { type Classification, classifyError, classifyResultCode, WRITE_STEPS, type WriteStep } from './classify';
export { type CorrelationQuery, correlationQueries } from './correlation';
export { type CurrentEntry, currentEntry, diff, type DiffOptions, type EntryAttribute, type Modification, targetValues, valueKey } from './diff';
export { type ApplyHints, type ApplyResult, DirectoryWriter, type DirectoryWriterOptions, FOUND_BY, type FoundBy, modifyStep, passwordKeyring } from './directory-writer';
export { carriesSealedPassword, encodeUnicodePwd, PASSWORD_REFUSALS, type PasswordOptions, type PasswordRefusal, PasswordRefusedError, resolvePasswords } from './passwords';
export { AmbiguousCorrelationError, EntryNotFoundError, InvalidEntryError, WRITE_OUTCOMES, WriteError, type WriteErrorDetails, type WriteOutcome } from './errors';
export { AD_DISABLED_NO_PASSWORD, AD_GLOBAL_SECURITY_GROUP, AD_NORMAL_ACCOUNT, type PlannedStep, type PlanOptions, planUnlink, planWrite, samAccountNameProblem, type WritePlan } from './plan';
export { applyRequest, type BoundedRetryOptions, describePlan, type RequestOutcome } from './apply-request';
export { createWriteHandler, HELD_AT_HEADER, REFUSED_REQUESTS, type WriteHandlerOptions, WriterStoppedError } from './write-handler';
export { SYNC_LOG_EVENT, SYNC_OUTCOMES, type SyncLogRecord, syncLogRecord, type SyncOutcome } from './sync-log';
export { type RefusedRequest, REQUEST_REFUSALS, type RequestGuard, type RequestGuardOptions, requestGuard, type RequestRefusal } from './request-guard';
export { type Coalesced, coalesceEntryRequests, type CoalescedWrite } from './coalesce';
export { WriterService, type WriterServiceName, type WriterServiceOptions } from './writer-service';
export { writerServiceModule } from './writer-module';
export { WRITE_REQUESTS, WRITER_TRANSPORT, WriterController } from './writer-controller';
export { endIn, entryIdOf, idAttribute, type KnownLink, LinkConflictError, otherEnd, type WriterLinks } from './links';
export { parseSearchResultEntry, PostReadControl, type PostReadEntry } from './post-read';
export { behindWait, DEFAULT_MAX_WAIT_MS, HeldEntries, nextWait, readWait, WAIT_HEADERS, WAIT_STEPS_MS, waitHeaders, waitTopicOf, type WaitDecision, type WaitState } from './dependency-wait';
export {
  BREAKER_KEY_PREFIX,
  type BreakerControl,
  type BreakerDecision,
  breakerKey,
  type BreakerTrip,
  type BreakerVerdict,
  DeleteBreaker,
  type DeleteBreakerSettings,
  deleteLimit,
  encodeBreakerControl,
  heldTopicOf,
  operationsTopicOfHeld,
  parseBreakerControl,
} from './delete-breaker';
export { BreakerControlView, readBreakerControl } from './breaker-control';
