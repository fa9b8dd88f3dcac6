import { Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type HealthProbe, type JsonLogger } from '@idsync/platform';
import { DetectorStoppedError, type DsDetector } from './detector';

/** Exit status when the detector stops for good (bad credentials, purged checkpoint...): non-zero, so a supervisor notices. */
export const EXIT_DETECTOR_STOPPED = 3;

/** Starts the loop with the application and, on SIGTERM, lets the batch in flight finish and commit. */
export function detectorRunnerModule(detector: DsDetector, logger: JsonLogger): DynamicModule {
  @Injectable()
  class DetectorRunner implements OnApplicationBootstrap, OnApplicationShutdown {
    onApplicationBootstrap(): void {
      detector.run().catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        const resync = error instanceof DetectorStoppedError && error.resyncNeeded;
        logger.event('error', 'ds-detector.exit', { exitCode: EXIT_DETECTOR_STOPPED, resyncNeeded: resync, error: message });
        process.stderr.write(`ds-detector: ${message}\n`);
        process.exit(EXIT_DETECTOR_STOPPED);
      });
    }

    async onApplicationShutdown(): Promise<void> {
      await detector.stop();
      logger.event('info', 'ds-detector.shutdown', { ...detector.status() });
    }
  }

  @Module({})
  class DetectorRunnerModule {}
  return { module: DetectorRunnerModule, providers: [DetectorRunner] };
}

/** Health detail of the loop: checkpoint, last change number published, lag; down once it stopped for good. */
export function detectorProbe(detector: DsDetector): HealthProbe {
  return {
    name: 'detector',
    async check() {
      const status = detector.status();
      if (status.state === 'failed') throw new Error(status.error ?? 'detector stopped');
      return { ...status };
    },
  };
}
