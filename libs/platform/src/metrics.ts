import { Controller, Get, Header, Module, type DynamicModule } from '@nestjs/common';

type Labels = Readonly<Record<string, string>>;

const labelKey = (labels: Labels): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, '_')}"`)
    .join(',');

/** A monotonically increasing count, per label set. */
export class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ''} ${value}`);
    return lines.join('\n');
  }
}

/** Counters a service exposes at GET /metrics (Prometheus text format). Never holds values from events. */
export class Metrics {
  private readonly counters = new Map<string, Counter>();

  counter(name: string, help: string): Counter {
    let counter = this.counters.get(name);
    if (!counter) {
      counter = new Counter(name, help);
      this.counters.set(name, counter);
    }
    return counter;
  }

  render(): string {
    return `${[...this.counters.values()].map((c) => c.render()).join('\n')}\n`;
  }
}

@Module({})
export class MetricsModule {
  static forMetrics(metrics: Metrics): DynamicModule {
    @Controller('metrics')
    class MetricsController {
      @Get()
      @Header('Content-Type', 'text/plain; version=0.0.4')
      render(): string {
        return metrics.render();
      }
    }
    return { module: MetricsModule, controllers: [MetricsController], providers: [{ provide: Metrics, useValue: metrics }], exports: [Metrics] };
  }
}
