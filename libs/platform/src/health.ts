import { Controller, Get, Inject, Module, type DynamicModule } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';

/** A dependency a service needs (Kafka, a directory); each adapter contributes its own probe. */
export interface HealthProbe {
  readonly name: string;
  /** Resolves with details when healthy; throws when not. */
  check(): Promise<Record<string, unknown>>;
}

export const HEALTH_PROBES = Symbol('HEALTH_PROBES');

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_PROBES) private readonly probes: HealthProbe[],
  ) {}

  /** Liveness: the process answers. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: every dependency answers. */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check(
      this.probes.map((probe) => async () => {
        const session = this.indicators.check(probe.name);
        try {
          return session.up(await probe.check());
        } catch (error) {
          return session.down({ message: error instanceof Error ? error.message : String(error) });
        }
      }),
    );
  }
}

/** Composes the probes the service's adapters provide; owns no checks of its own. */
@Module({})
export class HealthModule {
  static forProbes(probes: HealthProbe[]): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [{ provide: HEALTH_PROBES, useValue: probes }],
    };
  }
}
