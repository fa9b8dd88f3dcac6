import { Controller, Get, Header, Module, Query, type DynamicModule } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Pushgateway, Registry } from 'prom-client';

export { Counter, Gauge, Histogram } from 'prom-client';

/**
 * The stages a metric name starts with: `idsync_<stage>_<what>_<unit>` (base units: seconds, bytes; `_total` for
 * counters). `consumer` and `ldap` are the parts several services share (the record loop, LDAP connections), `process`
 * the process itself (its memory by part); the `service` label (every series has it) says which service a series comes
 * from.
 */
export const METRIC_STAGES = ['detector', 'mapper', 'writer', 'consumer', 'ldap', 'password_agent', 'resync', 'process'] as const;

const METRIC_NAME = new RegExp(`^idsync_(${METRIC_STAGES.join('|')})_[a-z][a-z0-9_]*$`);
const BASE_UNIT = /_(seconds|bytes)$/;

/** Source change → applied: seconds to an hour (an outage or a replay shows in the top buckets). */
export const LATENCY_BUCKETS: readonly number[] = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600];
/** One LDAP operation: a millisecond to the longest operation timeout. */
export const OPERATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type Kind = 'counter' | 'gauge' | 'histogram';
type AnyMetric = Counter | Gauge | Histogram;

/** A name outside the scheme is a programming error: the service does not start with it. */
export class MetricNameError extends TypeError {
  constructor(name: string, rule: string) {
    super(`metric ${name}: ${rule} (scheme: idsync_<${METRIC_STAGES.join('|')}>_<what>_<unit>, counters end in _total, histograms in _seconds or _bytes)`);
    this.name = 'MetricNameError';
  }
}

export interface MetricsOptions {
  /** Added to every series as `service` (the service the process runs). */
  readonly service?: string;
  /** Node.js process metrics (CPU, memory, event loop lag, GC): on in services, off in tests. */
  readonly defaultMetrics?: boolean;
}

/**
 * The metrics a service exposes at GET /metrics (prom-client, Prometheus text format): one registry per service, so
 * tests and tools that run several stages in one process keep them apart. Never holds values from events: labels
 * are bounded sets (pipes, operations, results, reasons).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly kinds = new Map<string, { kind: Kind; labels: string; metric: AnyMetric }>();

  constructor(options: MetricsOptions = {}) {
    if (options.service !== undefined) this.registry.setDefaultLabels({ service: options.service });
    if (options.defaultMetrics === true) {
      collectDefaultMetrics({ register: this.registry });
      // process.memoryUsage() as one series per part: the resident set against what V8's heap, the memory V8 is told
      // of (Buffers, ldapts and kafkajs frames) and ArrayBuffers hold (prom-client has no arrayBuffers). A resident set
      // far above heapTotal + external is the allocator's (malloc arenas, fragmentation), not the program's.
      this.gauge('idsync_process_memory_bytes', 'process.memoryUsage() of the process, by part (rss, heapTotal, heapUsed, external, arrayBuffers)', ['part'], (gauge) => {
        const usage: Record<string, number> = { ...process.memoryUsage() };
        for (const [part, bytes] of Object.entries(usage)) gauge.set({ part }, bytes);
      });
    }
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    if (!name.endsWith('_total')) throw new MetricNameError(name, 'a counter ends in _total');
    return this.register('counter', name, labelNames, () => new Counter<L>({ name, help, labelNames, registers: [this.registry] }));
  }

  /** A value that goes up and down; `collect` sets it when it is scraped (a lag, an age). */
  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], collect?: (gauge: Gauge<L>) => void | Promise<void>): Gauge<L> {
    if (name.endsWith('_total')) throw new MetricNameError(name, 'a gauge does not end in _total');
    return this.register(
      'gauge',
      name,
      labelNames,
      () =>
        new Gauge<L>({
          name,
          help,
          labelNames,
          registers: [this.registry],
          ...(collect
            ? {
                collect(this: Gauge<L>) {
                  return collect(this);
                },
              }
            : {}),
        }),
    );
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    if (!BASE_UNIT.test(name)) throw new MetricNameError(name, 'a histogram is in seconds or bytes');
    return this.register('histogram', name, labelNames, () => new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] }));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The registry in the text format; with `names`, only those metrics (names it does not hold are left out): a poller
   * that follows one counter several times a second does not make the service render and the poller parse them all.
   */
  async render(names?: readonly string[]): Promise<string> {
    if (names === undefined || names.length === 0) return this.registry.metrics();
    const known = [...new Set(names)].filter((name) => this.registry.getSingleMetric(name) !== undefined);
    const parts = await Promise.all(known.map((name) => this.registry.getSingleMetricAsString(name)));
    return parts.map((part) => `${part}\n`).join('');
  }

  /**
   * Replaces what a Prometheus Pushgateway holds for `job` and `groupings` with these metrics (a batch job such as the
   * nightly resync dry run, which Prometheus cannot scrape). Rejects with the gateway's answer when it refuses.
   */
  async push(url: string, job: string, groupings: Readonly<Record<string, string>> = {}): Promise<void> {
    const gateway = new Pushgateway(url, { timeout: 10_000 }, this.registry);
    const { resp } = await gateway.push({ jobName: job, groupings: { ...groupings } });
    const status = (resp as { statusCode?: number } | undefined)?.statusCode;
    if (status !== undefined && (status < 200 || status >= 300)) throw new Error(`the Pushgateway at ${url} answered ${status}`);
  }

  /**
   * The sum of a metric's series whose labels include `labels` (a histogram: its observation count); 0 when none.
   * For tests and tools; Prometheus reads render().
   */
  async value(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const metric = this.kinds.get(name);
    if (metric === undefined) return 0;
    const { values } = await metric.metric.get();
    const wanted = metric.kind === 'histogram' ? `${name}_count` : name;
    let sum = 0;
    for (const sample of values) {
      const sampleName = (sample as { metricName?: string }).metricName ?? name;
      if (sampleName !== wanted) continue;
      const sampleLabels = sample.labels as Record<string, string | number | undefined>;
      if (Object.entries(labels).every(([key, value]) => String(sampleLabels[key]) === value)) sum += sample.value;
    }
    return sum;
  }

  /** One metric per name: registering it again (two parts of a service count the same thing) returns the first. */
  private register<M extends AnyMetric>(kind: Kind, name: string, labelNames: readonly string[], create: () => M): M {
    if (!METRIC_NAME.test(name)) throw new MetricNameError(name, 'not in the naming scheme');
    const labels = [...labelNames].sort().join(',');
    const known = this.kinds.get(name);
    if (known !== undefined) {
      if (known.kind !== kind || known.labels !== labels) throw new MetricNameError(name, `registered before as a ${known.kind} with labels [${known.labels}]`);
      return known.metric as M;
    }
    const metric = create();
    this.kinds.set(name, { kind, labels, metric });
    return metric;
  }
}

@Module({})
export class MetricsModule {
  static forMetrics(metrics: Metrics): DynamicModule {
    @Controller('metrics')
    class MetricsController {
      /** GET /metrics, or GET /metrics?name=a&name=b for those metrics only. */
      @Get()
      @Header('Content-Type', metrics.contentType)
      render(@Query('name') name?: string | string[]): Promise<string> {
        return metrics.render(name === undefined ? undefined : [name].flat());
      }
    }
    return { module: MetricsModule, controllers: [MetricsController], providers: [{ provide: Metrics, useValue: metrics }], exports: [Metrics] };
  }
}
