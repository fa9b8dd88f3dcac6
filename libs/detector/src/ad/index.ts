/** Active Directory: the DirSync reader, its control and cookie, the entry parser, errors (`@idsync/detector/ad`). */
export { DirSyncReader, readDcIdentity, type DirSyncPage, type DirSyncReadOptions } from './dirsync-reader';
export { DIRSYNC_FLAGS, DIRSYNC_OID, DirSyncControl, decodeDirSyncResponse, encodeDirSyncRequest } from './dirsync-control';
export { DcIdentity, DirSyncCookie, InvalidCookieError } from './dirsync-cookie';
export { AdDetectorError, CookieRejectedError, DirectoryError, ForeignCookieError, isProducerFenced } from './errors';
export { LDAP_ERROR_ACTIONS, classifyLdapError, type LdapErrorAction, type LdapErrorClass } from './ldap-errors';
export { deletesFirst } from './page-order';
export { entryGuid, isSkip, needsRefetch, parseDirSyncEntry, SKIP_REASONS, type ParseContext, type Skip, type SkipReason } from './parse-dirsync-entry';
export { DEFAULT_STREAMING_POLL_SHARE, nextPollDelayMs, type PolledPage, type PollPace } from './poll-pace';
export { AD_BINARY_ATTRIBUTES, fromLdaptsEntry, rawEntryToJson, type LdaptsEntry, type RawEntry, type RawValue } from './raw-entry';
export { Scope } from './scope';
export { AdDetector, DirSyncSource, type AdDetectorOptions, type DetectorStatus } from './dirsync-source';
export { DetectorMetrics } from '../metrics';
export { OwnWrites, receiptValueKey, type OwnWritesOptions, type Recognized, type Settlement } from './own-writes';
export { ReceiptsView, type ReceiptsViewOptions } from './receipts-view';
