import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { HealthModule, type HealthProbe } from './health';
import { type JsonLogger, type LogFields } from './logger';

/** What a service reports once it is up: the state of its source or destination, for operators and the demo. */
export type StartupReport = () => Promise<LogFields>;

const STARTUP = Symbol('STARTUP');

@Injectable()
class StartupReporter implements OnApplicationBootstrap {
  constructor(@Inject(STARTUP) private readonly startup: { logger: JsonLogger; report: StartupReport; event: string }) {}

  async onApplicationBootstrap(): Promise<void> {
    const { logger, report, event } = this.startup;
    try {
      logger.event('info', event, await report());
    } catch (error) {
      // A dependency that is down now is reported by /health; the service stays up and retries.
      logger.event('warn', `${event}.failed`, { error: error instanceof Error ? error.message : String(error) });
    }
  }
}

export interface ServiceModuleOptions {
  readonly logger: JsonLogger;
  /** Readiness (GET /health): the service's dependencies and parts. */
  readonly probes: HealthProbe[];
  /** Liveness (GET /health/live): only what a restart fixes (a stalled or crashed consumer loop). Default none. */
  readonly liveness?: HealthProbe[];
  readonly event: string;
  readonly report: StartupReport;
  readonly providers?: DynamicModule['providers'];
}

@Module({})
export class ServiceModule {
  static create(options: ServiceModuleOptions): DynamicModule {
    return {
      module: ServiceModule,
      imports: [HealthModule.forProbes(options.probes, options.liveness ?? [])],
      providers: [
        { provide: STARTUP, useValue: { logger: options.logger, report: options.report, event: options.event } },
        StartupReporter,
        ...(options.providers ?? []),
      ],
    };
  }
}

/**
 * onFatal for a service whose consumer loop gave up (stopped on a bug, stalled, crashed): logs `<service>.fatal` and
 * exits 1 through the graceful shutdown (SIGTERM, see runService), so the supervisor restarts the service with its
 * offsets uncommitted. A handler that hangs can hold up that shutdown, so the exit is forced after `forceAfterMs` (default
 * 30 s): a stalled service must never stay around silently.
 */
export function exitOnFatal(service: string, logger: JsonLogger, options: { forceAfterMs?: number } = {}): (error: Error) => void {
  const forceAfterMs = options.forceAfterMs ?? 30_000;
  return (error) => {
    logger.event('error', `${service}.fatal`, { error: error.message });
    process.exitCode = 1;
    setTimeout(() => {
      logger.event('error', `${service}.shutdown.forced`, { afterMs: forceAfterMs });
      process.exit(1);
    }, forceAfterMs).unref();
    process.kill(process.pid, 'SIGTERM');
  };
}
