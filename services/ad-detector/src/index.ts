/** The detector as a library (benchmarks, tools); the service itself starts from main.ts. */
export { AdDetector, DETECTOR_STATES, type AdDetectorOptions, type CheckpointedPublisher, type DetectorState, type DetectorStatus } from './stream/ad-detector';
export { DirSyncReader, readDcIdentity, type DirSyncPage } from './ldap/dirsync-reader';
export { DIRSYNC_FLAGS, DIRSYNC_OID, DirSyncControl, decodeDirSyncResponse, encodeDirSyncRequest } from './ldap/dirsync-control';
export { DcIdentity, DirSyncCookie, InvalidCookieError } from './core/dirsync-cookie';
export { AdDetectorError, CookieRejectedError, DirectoryError, ForeignCookieError, isProducerFenced } from './core/errors';
export { parseDirSyncEntry, SKIP_REASONS, type SkipReason } from './core/parse-dirsync-entry';
export { AD_BINARY_ATTRIBUTES } from './core/raw-entry';
export { Scope } from './core/scope';
