export { afterImageIds, entryImage, lastKnownImage, needsAfterImage, type ReadImage, type SearchEntry, withAfterImages, withLastKnownImages } from './after-image';
export { type AfterImageReadOptions, type IdAttribute, readAfterImages, readsAnything } from './after-image-reader';
export {
  DETECTOR_STATES,
  DetectorCoordinator,
  describeFailure,
  type ChangeSource,
  type CheckpointedPublisher,
  type CoordinatorOptions,
  type CoordinatorStatus,
  type DetectorState,
  type FailureVerdict,
  type PublishingOptions,
  type SourceBatch,
} from './coordinator';
export { DetectorMetrics } from './metrics';
export { entryIdAttribute, snapshotEntry, snapshotEvent, snapshotReading, type SnapshotContext, type SnapshotEntry, type SnapshotReading } from './snapshot';
export { searchAtOnce, searchPages, SnapshotSource, type SnapshotSourceOptions } from './snapshot-reader';
