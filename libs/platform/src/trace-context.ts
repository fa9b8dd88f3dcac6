import { createHash } from 'node:crypto';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) on Kafka records: every record of a change carries a
 * `traceparent` header, so its detector, mapper and writer steps belong to one trace, whose id every log line of the
 * change shows. The trace id comes from the change's event id: the same change read again (a replay, a detector
 * restart) is the same trace. Span ids are made the same way per stage unless OpenTelemetry makes them (tracing.ts).
 */
export const TRACEPARENT_HEADER = 'traceparent';

export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero: the span of the stage that wrote the record. */
  readonly spanId: string;
  readonly sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** A header's trace context; null when it is missing or malformed (a record from another producer is not an error). */
export function parseTraceparent(text: string | undefined): TraceContext | null {
  if (text === undefined) return null;
  const match = TRACEPARENT.exec(text.trim().toLowerCase());
  if (match === null) return null;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has nothing after the flags.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

function digest(text: string, hexDigits: number): string {
  const hex = createHash('sha256').update(text).digest('hex').slice(0, hexDigits);
  // All zeros is invalid; a sha256 prefix of zeros is as good as impossible, but the format must hold.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** The trace of a change: from its event id (deterministic, see above). */
export function eventTraceId(eventId: string): string {
  return digest(`idsync-trace/${eventId}`, 32);
}

/** A stage's span id for one unit of work (`mapper`, an event id), when OpenTelemetry does not make one. */
export function stageSpanId(stage: string, work: string): string {
  return digest(`idsync-span/${stage}/${work}`, 16);
}

/** The context a detector puts on an event's record: the change's trace, the detector's span. */
export function eventTraceContext(detector: string, eventId: string): TraceContext {
  return { traceId: eventTraceId(eventId), spanId: stageSpanId(detector, eventId), sampled: true };
}
