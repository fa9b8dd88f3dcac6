import { type TracingConfig } from '@idsync/config';
import { type JsonLogger } from './logger';
import { stageSpanId, type TraceContext } from './trace-context';

/** One stage's span for one change: the context to put on the records it produces, and its end. */
export interface StageSpan {
  readonly context: TraceContext;
  end(error?: unknown): void;
}

type Attributes = Readonly<Record<string, string | number | boolean>>;

/** Where a span belongs: the record's trace context, or (a detector, a change read from the source) a new trace. */
export type SpanParent = { readonly parent: TraceContext } | { readonly root: string };

/**
 * A service's tracing. Off (the default: `tracing.exporter: none`), spans cost nothing: the trace id travels on the
 * records and span ids are derived (trace-context.ts), so logs still join a change's stages. On, OpenTelemetry's SDK
 * (loaded only then) records a span per stage and change and exports them over OTLP/HTTP (or to stdout: `console`),
 * with the same trace ids.
 */
export class Tracing {
  static readonly off = new Tracing(undefined, 'off');

  private constructor(
    private readonly sdk: OtelSdk | undefined,
    private readonly service: string,
  ) {}

  static async start(config: TracingConfig | undefined, service: string, logger?: JsonLogger): Promise<Tracing> {
    if (config === undefined || config.exporter === 'none') return new Tracing(undefined, service);
    const sdk = await OtelSdk.start(config, service);
    logger?.event('info', 'tracing.started', { exporter: config.exporter, ...(config.exporter === 'otlp' ? { endpoint: config.endpoint } : {}), sampleRatio: config.sampleRatio });
    return new Tracing(sdk, service);
  }

  get enabled(): boolean {
    return this.sdk !== undefined;
  }

  /** Starts this stage's span of one change (`work`: what makes it unique here, e.g. the event id). */
  span(name: string, work: string, at: SpanParent, attributes: Attributes = {}): StageSpan {
    if (this.sdk !== undefined) return this.sdk.span(name, at, attributes);
    return { context: derivedContext(at, this.service, work), end: () => undefined };
  }

  /** Exports what is left (graceful stop). */
  async shutdown(): Promise<void> {
    await this.sdk?.shutdown();
  }
}

/**
 * A span's context with tracing off. Its span id (a sha256) is derived when first read: only a stage that puts a
 * traceparent on the records it produces reads it; a writer, which produces none, never does.
 */
function derivedContext(at: SpanParent, service: string, work: string): TraceContext {
  let spanId: string | undefined;
  return {
    traceId: 'parent' in at ? at.parent.traceId : at.root,
    get spanId(): string {
      return (spanId ??= stageSpanId(service, work));
    },
    sampled: 'parent' in at ? at.parent.sampled : true,
  };
}

/** What the tracer needs of @opentelemetry/api (loaded on demand, so typed here: its ESM and CJS types differ). */
interface OtelApi {
  readonly ROOT_CONTEXT: unknown;
  readonly trace: { setSpanContext(context: unknown, spanContext: { traceId: string; spanId: string; traceFlags: number; isRemote: boolean }): unknown };
}
interface OtelSpan {
  spanContext(): { traceId: string; spanId: string; traceFlags: number };
  setStatus(status: { code: number; message?: string }): void;
  end(): void;
}
interface OtelTracer {
  startSpan(name: string, options: { kind: number; attributes: Attributes }, context: unknown): OtelSpan;
}
/** @opentelemetry/api's TraceFlags.SAMPLED, SpanKind.CONSUMER, SpanStatusCode.ERROR (stable values of the API). */
const SAMPLED = 1;
const CONSUMER = 4;
const ERROR = 2;

/** A failure as a span's status says it. */
const failureMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** The OpenTelemetry SDK, loaded on demand (a service without tracing does not carry it in memory). */
class OtelSdk {
  private constructor(
    private readonly api: OtelApi,
    private readonly tracer: OtelTracer,
    private readonly ids: PlannedIds,
    private readonly provider: { shutdown(): Promise<void> },
  ) {}

  static async start(config: TracingConfig, service: string): Promise<OtelSdk> {
    const api = (await import('@opentelemetry/api')) as unknown as OtelApi;
    const sdk = await import('@opentelemetry/sdk-trace');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    const exporter = config.exporter === 'console' ? new sdk.ConsoleSpanExporter() : new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter({ url: config.endpoint });
    const ids = new PlannedIds(new sdk.RandomIdGenerator());
    const provider = new sdk.TracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'service.namespace': 'idsync' }),
      idGenerator: ids,
      sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: [new sdk.BatchSpanProcessor({ exporter, scheduledDelayMillis: 1_000 })],
    });
    return new OtelSdk(api, provider.getTracer('idsync'), ids, provider);
  }

  span(name: string, at: SpanParent, attributes: Attributes): StageSpan {
    let context = this.api.ROOT_CONTEXT;
    if ('parent' in at) {
      const { traceId, spanId, sampled } = at.parent;
      context = this.api.trace.setSpanContext(context, { traceId, spanId, traceFlags: sampled ? SAMPLED : 0, isRemote: true });
    } else {
      // A new trace, with the change's own trace id (the SDK asks the id generator for it, synchronously, right here).
      this.ids.nextTraceId = at.root;
    }
    const span = this.tracer.startSpan(name, { kind: CONSUMER, attributes }, context);
    this.ids.nextTraceId = undefined;
    const { traceId, spanId, traceFlags } = span.spanContext();
    return {
      context: { traceId, spanId, sampled: (traceFlags & SAMPLED) === SAMPLED },
      end: (error?: unknown) => {
        if (error !== undefined) span.setStatus({ code: ERROR, message: failureMessage(error) });
        span.end();
      },
    };
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/** The SDK's id generator, but a new trace takes the id planned for it (the change's trace id). */
class PlannedIds {
  nextTraceId: string | undefined;
  constructor(private readonly random: { generateTraceId(): string; generateSpanId(): string }) {}
  generateTraceId(): string {
    return this.nextTraceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}
