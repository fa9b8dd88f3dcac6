import { Inject, Injectable, type InjectionToken, Module, type DynamicModule, type OnApplicationBootstrap, type Provider } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HEALTH_PROBES, HealthController, LIVENESS_PROBES, type HealthProbe } from './health';
import { JsonLogger, type LogFields } from './logger';

/** What a service reports once it is up: the state of its source or destination, for operators and the demo. */
export type StartupReport = () => Promise<LogFields>;

const PARTS = Symbol('SERVICE_PARTS');

@Injectable()
class StartupReporter implements OnApplicationBootstrap {
  constructor(
    @Inject(PARTS) private readonly parts: ServiceParts,
    @Inject(JsonLogger) private readonly logger: JsonLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { report, event } = this.parts;
    try {
      this.logger.event('info', event, await report());
    } catch (error) {
      // A dependency that is down now is reported by /health; the service stays up and retries.
      this.logger.event('warn', `${event}.failed`, { error: error instanceof Error ? error.message : String(error) });
    }
  }
}

/** What a service shows of itself: health probes and the report it logs once up. */
export interface ServiceParts {
  /** Readiness (GET /health): the service's dependencies and parts. */
  readonly probes: HealthProbe[];
  /** Liveness (GET /health/live): only what a restart fixes (a stalled or crashed consumer loop). Default none. */
  readonly liveness?: HealthProbe[];
  readonly event: string;
  readonly report: StartupReport;
}

export interface ServiceModuleOptions {
  readonly imports?: DynamicModule['imports'];
  /** The service's classes, made by Nest (useFactory with inject, or @Injectable) from the bootstrap's tokens. */
  readonly providers: Provider[];
  readonly controllers?: DynamicModule['controllers'];
  /** The providers `parts` is made from. */
  readonly inject: InjectionToken[];
  readonly parts: (...providers: never[]) => ServiceParts;
}

/** A service's root module (for runService): its providers, the health endpoints and the start-up report. */
@Module({})
export class ServiceModule {
  static forService(options: ServiceModuleOptions): DynamicModule {
    return {
      module: ServiceModule,
      imports: [TerminusModule.forRoot({ logger: false }), ...(options.imports ?? [])],
      controllers: [HealthController, ...(options.controllers ?? [])],
      providers: [
        ...options.providers,
        { provide: PARTS, inject: options.inject, useFactory: options.parts as (...providers: unknown[]) => ServiceParts },
        { provide: HEALTH_PROBES, inject: [PARTS], useFactory: (parts: ServiceParts) => parts.probes },
        { provide: LIVENESS_PROBES, inject: [PARTS], useFactory: (parts: ServiceParts) => parts.liveness ?? [] },
        StartupReporter,
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
