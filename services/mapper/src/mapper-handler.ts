import {
  DONE,
  deadLetter,
  eventTraceId,
  formatTraceparent,
  parseTraceparent,
  recordBytes,
  type BatchContext,
  type JsonLogger,
  type LoopRecord,
  type Metrics,
  type RecordOutcome,
  type StageSpan,
  TRACEPARENT_HEADER,
  Tracing,
} from '@idsync/platform';
import { ABSENT_HEADER, PIPE_HEADER } from '@idsync/contracts';
import { type Keyring, withSignature } from '@idsync/secrets';
import { type OutputRecord, type RecordMapper } from './record-mapper';

export interface MapperHandlerOptions {
  readonly mapper: RecordMapper;
  readonly metrics: Metrics;
  readonly logger: JsonLogger;
  /** Signs every write request (secrets.signOperations): writers then refuse what the mapper did not make. */
  readonly signingKeys?: Keyring | undefined;
  /** A span per event mapped, in the trace its record carries (default off). */
  readonly tracing?: Tracing;
  /**
   * Paused pipes (idsync pipe pause): a record with a request for one waits, and so does everything after it on its
   * partition (per-entry order), until the pipe is resumed; nothing is produced for it meanwhile.
   */
  readonly pipes?: { isPaused(pipe: string): boolean };
  readonly now?: () => number;
}

/** How long a record held by a paused pipe waits before the mapper looks at it again. */
export const PAUSED_PIPE_RECHECK_MS = 1_000;

/**
 * The consumer loop's handler: maps every record of the chunk and produces all their write requests in one batch
 * through the loop's output, the chunk's Kafka transaction (the mapper's loop runs exactly-once): the requests become
 * visible to the writers together with the input offsets, or not at all. A failed send throws (a Kafka error, retried
 * by the loop with the same records, the transaction aborted).
 */
export function mapperHandler(options: MapperHandlerOptions): (records: readonly LoopRecord[], context: BatchContext) => Promise<RecordOutcome[]> {
  const { mapper, metrics, logger } = options;
  const tracing = options.tracing ?? Tracing.off;
  const dropped = metrics.counter('idsync_mapper_events_dropped_total', 'Events that produced no write request for a pipe, by pipe and reason', ['pipe', 'reason']);
  const produced = metrics.counter('idsync_mapper_requests_total', 'Write requests produced, by pipe and operation', ['pipe', 'operation']);
  const scope = metrics.counter('idsync_mapper_scope_changes_total', "Entries that left or entered a pipe's sync classes (by a rename or a modify), by pipe and change", ['pipe', 'change']);

  return async (records, context) => {
    const outcomes: RecordOutcome[] = [];
    const byTopic = new Map<string, Message[]>();
    const counts: { pipe: string; op: string }[] = [];
    const moves: { pipe: string; change: string }[] = [];
    const spans: StageSpan[] = [];
    for (const [index, record] of records.entries()) {
      const result = mapper.map(record.value, record.headers?.[PIPE_HEADER]);
      if (result.kind === 'dead-letter') {
        outcomes.push(deadLetter(result.reason, result.code));
        continue;
      }
      const held = result.requests.find((request) => options.pipes?.isPaused(request.pipe) === true);
      if (held !== undefined) {
        // Held where it is: this record and the rest of the call come again once the pipe runs (nothing committed).
        const untilMs = (options.now ?? Date.now)() + PAUSED_PIPE_RECHECK_MS;
        for (let rest = index; rest < records.length; rest++) outcomes.push({ kind: 'wait', untilMs });
        logger.event('debug', 'mapper.held', { eventId: result.eventId, pipe: held.pipe, topic: record.topic, partition: record.partition, offset: record.offset });
        break;
      }
      // The event's trace (from its record; a record without one, e.g. a resync's snapshot, starts it here).
      const parent = parseTraceparent(record.headers?.[TRACEPARENT_HEADER]);
      const span = tracing.span('map', result.eventId, parent === null ? { root: eventTraceId(result.eventId) } : { parent }, {
        'idsync.event_id': result.eventId,
        'idsync.requests': result.records.length,
      });
      spans.push(span);
      const ids = { eventId: result.eventId, traceId: span.context.traceId };
      for (const drop of result.drops) {
        dropped.inc({ pipe: drop.pipe, reason: drop.reason });
        logger.event('debug', 'mapper.dropped', { ...ids, pipe: drop.pipe, reason: drop.reason, detail: drop.detail });
      }
      for (const warning of result.warnings) {
        // Warnings name attributes and DNs, never password values (the core never reads those).
        logger.event('warn', 'mapper.warning', { ...ids, ...warning });
      }
      if (result.records.length > 0 && logger.enabled('debug')) logger.event('debug', 'mapper.mapped', { ...ids, requests: result.requests.map((r) => `${r.pipe} ${r.op}`) });
      // A resync's "absent at the destination" travels with the request of its pipe; the signature covers it too, and
      // the trace context (the mapper's span the writer continues).
      const absent = record.headers?.[ABSENT_HEADER];
      const outputs = result.records.map((r) => finalRecord(r, absent, formatTraceparent(span.context), options.signingKeys));
      const oversized = outputs.map((r) => ({ topic: r.topic, bytes: recordBytes(r) })).find((r) => r.bytes > context.output.limit(r.topic));
      if (oversized) {
        // The broker would refuse it however often it is tried: the event is dead-lettered alone, the others go on.
        const limit = context.output.limit(oversized.topic);
        outcomes.push(
          deadLetter(
            `event ${result.eventId}: its write request for ${oversized.topic} is ${oversized.bytes} bytes, over the limit of ${limit} bytes (kafka.maxRecordBytes, the topic's max.message.bytes)`,
            'too-large',
          ),
        );
        continue;
      }
      addAll(byTopic, outputs);
      counts.push(...result.requests);
      moves.push(...result.scopeChanges);
      outcomes.push(DONE);
    }
    try {
      await context.output.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    } catch (error) {
      for (const span of spans) span.end(error);
      throw error;
    }
    for (const span of spans) span.end();
    for (const { pipe, op } of counts) produced.inc({ pipe, operation: op });
    for (const { pipe, change } of moves) scope.inc({ pipe, change });
    return outcomes;
  };
}

type Message = { key: string; value: Buffer; headers?: Record<string, string> };

/** An output record with its headers as produced: the resync's absent mark, and the signature when signing. */
function finalRecord(record: OutputRecord, absent: string | undefined, traceparent: string, signingKeys: Keyring | undefined): OutputRecord {
  const headers = { ...(absent === undefined ? {} : { [ABSENT_HEADER]: absent }), ...record.headers, [TRACEPARENT_HEADER]: traceparent };
  if (signingKeys !== undefined) return { ...record, headers: withSignature(signingKeys, { key: record.key, value: record.value, headers }) };
  return { ...record, headers };
}

function addAll(byTopic: Map<string, Message[]>, records: readonly OutputRecord[]): void {
  for (const { topic, key, value, headers } of records) {
    let messages = byTopic.get(topic);
    if (!messages) {
      messages = [];
      byTopic.set(topic, messages);
    }
    messages.push(headers === undefined ? { key, value } : { key, value, headers: { ...headers } });
  }
}
