export { DetectorMetrics } from './detector-metrics';
export { DetectorStoppedError, DsDetector, type DetectorStatus, type DsDetectorOptions, type PollResult } from './ds-detector';
