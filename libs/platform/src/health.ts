import { Controller, Get, Inject, Module, type DynamicModule } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';

/** A dependency a service needs (Kafka, a directory), or a part of it that can fail on its own (its consumer loop). */
export interface HealthProbe {
  readonly name: string;
  /** Resolves with details when healthy; throws when not (a HealthProbeError to report details with the reason). */
  check(): Promise<Record<string, unknown>>;
}

/** Thrown by a probe that is down and has more to say than a message (shown next to it in the health response). */
export class HealthProbeError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HealthProbeError';
  }
}

export const HEALTH_PROBES = Symbol('HEALTH_PROBES');
export const LIVENESS_PROBES = Symbol('LIVENESS_PROBES');

/** GET /health and /health/live over the HEALTH_PROBES and LIVENESS_PROBES its module provides. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(HEALTH_PROBES) private readonly probes: HealthProbe[],
    @Inject(LIVENESS_PROBES) private readonly liveness: HealthProbe[],
  ) {}

  /**
   * Liveness: the process answers and none of its liveness probes fails (503 otherwise, so the supervisor restarts
   * it). Only probes that a restart can fix belong here (a stalled or crashed consumer loop), never a dependency:
   * restarting every service because Kafka is away helps nobody.
   */
  @Get('live')
  @HealthCheck()
  live() {
    return this.run(this.liveness);
  }

  /** Readiness: every dependency answers. */
  @Get()
  @HealthCheck()
  check() {
    return this.run(this.probes);
  }

  private run(probes: HealthProbe[]) {
    return this.health.check(
      probes.map((probe) => async () => {
        const session = this.indicators.check(probe.name);
        try {
          return session.up(await probe.check());
        } catch (error) {
          const details = error instanceof HealthProbeError ? error.details : {};
          return session.down({ message: error instanceof Error ? error.message : String(error), ...details });
        }
      }),
    );
  }
}

/** Composes the probes the service's adapters provide; owns no checks of its own. */
@Module({})
export class HealthModule {
  /** `probes` decide readiness (GET /health), `liveness` liveness (GET /health/live; none: always ok). */
  static forProbes(probes: HealthProbe[], liveness: HealthProbe[] = []): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        { provide: HEALTH_PROBES, useValue: probes },
        { provide: LIVENESS_PROBES, useValue: liveness },
      ],
    };
  }
}
