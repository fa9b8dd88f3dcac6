import { Controller, Get, Header, Module, type DynamicModule } from '@nestjs/common';

type Labels = Readonly<Record<string, string>>;

const LABEL_VALUE_UNSAFE = /["\\\n]/;
const LABEL_VALUE_UNSAFE_ALL = /["\\\n]/g;

/** The label set as Prometheus text, names sorted (counted on every request: no intermediate arrays). */
const labelKey = (labels: Labels): string => {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = '';
  for (const name of names) {
    const value = String(labels[name]);
    key += `${key === '' ? '' : ','}${name}="${LABEL_VALUE_UNSAFE.test(value) ? value.replace(LABEL_VALUE_UNSAFE_ALL, '_') : value}"`;
  }
  return key;
};

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
