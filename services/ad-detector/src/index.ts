/** The detector as a library (benchmarks, tools); the service itself starts from main.ts. */
export { AdDetector, DETECTOR_STATES, type AdDetectorOptions, type CheckpointedPublisher, type DetectorState, type DetectorStatus } from './stream/ad-detector';
