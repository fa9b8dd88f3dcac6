/** 389-ds (and other servers with the draft changelog): the changelog reader, change numbers, positions, LDIF, parsing (`@idsync/detector/ds`). */
export { ChangeNumber, InvalidChangeNumberError } from './change-number';
export {
  CLEAR_PASSWORD_ATTRIBUTE,
  EntryIdUnknownError,
  MalformedChangelogEntryError,
  OPERATIONAL_ATTRIBUTES,
  dnAfterModRdn,
  normalizeEntryUuid,
  parseChangelogEntry,
  parseGeneralizedTime,
  rdnValueChanges,
  readChangelogRecord,
  toEntryChangeEvent,
  type ChangeContext,
  type ChangeType,
  type ChangelogRecord,
  type RawChangelogEntry,
  type ReadOptions,
  type ResolvedEntry,
} from './changelog-entry';
export { ClearPassword, type DecryptChangelogPassword, ENCRYPTED_PASSWORD_ATTRIBUTE, NO_PASSWORD, type PasswordFacts, type PasswordSealer } from './passwords';
export { changelogAnchor, checkAnchor, type AnchorCheck } from './changelog-anchor';
export { FAILURE_ACTIONS, classifyFailure, isProducerFenced, type FailureAction, type FailureClass } from './failures';
export { IGNORE_REASONS, IncludeRules, type ChangeFacts, type IgnoreReason, type IncludeRulesOptions } from './include-rules';
export { MalformedLdifError, parseLdifContent, parseLdifModifications, type LdifAttribute, type LdifModification } from './ldif';
export { START_DECISIONS, decidePosition, nextRange, settleBatch, type ChangelogWindow, type PendingGap, type SettledBatch, type StartDecision, type StartDecisionKind } from './position';
export { ObjectClassMemory } from './object-class-memory';
export { enteredScopeSnapshot, type ReadEntry, SNAPSHOT_BINARY_ATTRIBUTES } from './entered-scope';
export { ChangelogMissingError, ChangelogReader, changeNumberOf, type EntryFacts } from './changelog-reader';
export { ChangelogSource, DetectorStoppedError, DsDetector, type DetectorStatus, type DsDetectorOptions } from './changelog-source';
export { DetectorMetrics } from '../metrics';
