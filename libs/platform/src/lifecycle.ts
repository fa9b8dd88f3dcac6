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

@Module({})
export class ServiceModule {
  static create(options: { logger: JsonLogger; probes: HealthProbe[]; event: string; report: StartupReport; providers?: DynamicModule['providers'] }): DynamicModule {
    return {
      module: ServiceModule,
      imports: [HealthModule.forProbes(options.probes)],
      providers: [
        { provide: STARTUP, useValue: { logger: options.logger, report: options.report, event: options.event } },
        StartupReporter,
        ...(options.providers ?? []),
      ],
    };
  }
}
