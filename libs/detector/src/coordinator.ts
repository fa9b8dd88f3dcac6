import { type EntryChangeEvent } from '@idsync/contracts';
import { backoffDelay, ChangePublisher, releaseMemory, eventTraceId, type JsonLogger, type KafkaClient, type StageSpan, type StoredCheckpoint, type TraceContext, Tracing } from '@idsync/platform';

/**
 * What both detectors do the same way around their directory: connect Kafka and the source, resume from the committed
 * checkpoint, publish each batch with the checkpoint after it in one Kafka transaction, back off and reconnect after
 * a failure, pause longer when fenced again and again, stop for an operator on a failure no retry can fix, and say
 * where they stand. What differs (DirSync or cn=changelog, cookies or change numbers) is a ChangeSource.
 */

/** Where events and the checkpoint go: ChangePublisher, or a wrapper of it in tests. */
export interface CheckpointedPublisher {
  readonly checkpointGroup: string;
  connect(): Promise<void>;
  readCheckpoint(): Promise<StoredCheckpoint | null>;
  /** `traces`: each event's trace context by event id (its traceparent header); missing: derived from the event id. */
  publish(events: readonly EntryChangeEvent[], checkpoint: StoredCheckpoint, stateOnly?: readonly EntryChangeEvent[], traces?: ReadonlyMap<string, TraceContext>): Promise<void>;
  disconnect(): Promise<void>;
}

/** One read from the source, ready to publish. */
export interface SourceBatch {
  readonly events: readonly EntryChangeEvent[];
  /** Entries whose state changed without an event to publish (the writers' own changes): state topic only. */
  readonly stateOnly?: readonly EntryChangeEvent[];
  /** The checkpoint after the batch; null: nothing to commit (the position moves in memory only, or not at all). */
  readonly checkpoint: StoredCheckpoint | null;
  /** Called once the batch is committed (or at once when there is nothing to commit): the source's position moves. */
  readonly committed: () => void;
  /** The pause before the next read, asked after the commit (0: read again at once). */
  readonly pauseMs: () => number;
  /** The read reached the end of what the source had (the lag metric starts over). */
  readonly caughtUp: boolean;
}

export interface FailureVerdict {
  readonly action: 'retry' | 'fenced' | 'stop';
  /** For the logs and the error counter. */
  readonly kind: string;
  /** A failure the product does not know: retried a limited number of times in a row, then the detector stops. */
  readonly limited?: boolean;
}

/** A directory's change stream, as the coordinator drives it: connect, read batch after batch, disconnect. */
export interface ChangeSource {
  /** The directory's address once connected (for the status). */
  readonly url: string | null;
  /**
   * Opens the directory and settles the read position from `stored` (checked against the server), or from a first
   * pass that publishes only a checkpoint (through `publisher`). False when `signal` aborted it.
   */
  connect(stored: StoredCheckpoint | null, publisher: CheckpointedPublisher, signal: AbortSignal): Promise<boolean>;
  /** The next batch from the position. */
  read(publisher: CheckpointedPublisher): Promise<SourceBatch>;
  /** Closes the directory connection; also called abruptly (kill) while a read is in flight. */
  disconnect(): Promise<void>;
  classify(error: unknown): FailureVerdict;
  /** The error the detector stops with (logged by the source as it likes), from the failure that stopped it (`why` says it in words). */
  stoppedError(error: unknown, verdict: FailureVerdict, why: string): Error;
  /** The position, as the logs show it. */
  describePosition(): string | null;
}

export const DETECTOR_STATES = ['starting', 'baseline', 'streaming', 'retrying', 'stopped', 'failed'] as const;
export type DetectorState = (typeof DETECTOR_STATES)[number];

export interface CoordinatorStatus {
  readonly state: DetectorState;
  readonly server: string | null;
  readonly lastPublishAt: number | null;
  readonly eventsPublished: number;
  readonly lastError: string | null;
  /** When the coordinator started (epoch ms). */
  readonly startedAt: number;
  /** The last time a read found nothing more to read (the source paused before its next poll); null: not yet. */
  readonly caughtUpAt: number | null;
}

/** What every detector is told about publishing and retrying (the coordinator's part of its options). */
export interface PublishingOptions {
  readonly kafka: KafkaClient;
  readonly eventsTopic: string;
  readonly checkpointTopic: string;
  /** The source's state topic (compacted): each entry's latest after-image, published with the events. */
  readonly stateTopic?: string;
  /** Where an event too large to publish goes, as a dead letter with a reference (ChangePublisherOptions). */
  readonly deadLetterTopic?: string;
  /** kafka.maxRecordBytes. */
  readonly maxRecordBytes?: number;
  /** Run before the first connection succeeds (creating missing topics); retried like any connection failure. */
  readonly prepare?: () => Promise<void>;
  /** Backoff after a retriable failure: doubles from initial to max. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Attempts in a row for a failure the product does not know (a TLS error, a missing file) before it stops. Default 8. */
  readonly unknownFailureAttempts?: number;
  /** A span per change published (its trace starts here); default off. */
  readonly tracing?: Tracing;
  /** Default: a ChangePublisher for (detector, checkpoint source). Tests wrap it to cut a publish short. */
  readonly publisherFactory?: () => CheckpointedPublisher;
}

export interface CoordinatorOptions extends PublishingOptions {
  /** `ad-detector`, `ds-detector`: the log events' prefix and the transactional id's. */
  readonly detector: string;
  /** The checkpoint's identity (the source directory's name). */
  readonly checkpointSource: string;
  readonly logger?: JsonLogger;
  /** Each failure as classified, with `givenUp` when it stops the detector (for the error counter). */
  readonly onFailure?: (verdict: FailureVerdict, givenUp: boolean) => void;
  readonly clock?: () => number;
  /**
   * After a batch of at least this many events (and state records) is committed and dropped, the memory it took is
   * given back to the system (releaseMemory: a full collection, tens of milliseconds). Samba answers a whole backlog
   * in one DirSync page, which the detector holds at once; V8 keeps what such a spike freed otherwise. 0: never.
   * Default 1000.
   */
  readonly releaseMemoryAfter?: number;
  /** Default: @idsync/platform's releaseMemory. */
  readonly releaseMemory?: () => void;
}

/** Attempts in a row for an unknown failure before the detector stops (about 2 minutes with the default backoff). */
const UNKNOWN_FAILURE_ATTEMPTS = 8;
/** Fenced again within this time after the last fencing: another instance is running, back off further. */
const FENCED_AGAIN_WITHIN_MS = 60_000;

export class DetectorCoordinator {
  private readonly clock: () => number;
  private readonly abort = new AbortController();
  private publisher: CheckpointedPublisher | null = null;
  private connected = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private prepared = false;
  private fencedInARow = 0;
  private lastFencedAt = Number.NEGATIVE_INFINITY;
  private current: CoordinatorStatus;

  constructor(
    private readonly source: ChangeSource,
    private readonly options: CoordinatorOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.current = { state: 'starting', server: null, lastPublishAt: null, eventsPublished: 0, lastError: null, startedAt: this.clock(), caughtUpAt: null };
  }

  status(): CoordinatorStatus {
    return this.current;
  }

  /** Marks the first pass (no checkpoint yet): the source calls it while it reads to the end without publishing. */
  enterBaseline(): void {
    this.set({ state: 'baseline' });
  }

  /** Runs until stop() or `signal` (resolves), or a failure no retry can fix (rejects with the source's stopped error). */
  run(signal?: AbortSignal): Promise<void> {
    if (signal) {
      if (signal.aborted) void this.stop();
      else signal.addEventListener('abort', () => void this.stop(), { once: true });
    }
    this.running ??= this.loop();
    return this.running;
  }

  /** Graceful: the batch in flight is finished and committed, then connections close. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.running?.catch(() => undefined);
  }

  /** Abrupt, like a killed process: connections dropped at once, whatever is in flight is lost (and never committed). */
  async kill(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.disconnect();
    await this.running?.catch(() => undefined);
  }

  private get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  private set(update: Partial<CoordinatorStatus>): void {
    this.current = { ...this.current, ...update };
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let unknownInARow = 0;
    const releaseAfter = this.options.releaseMemoryAfter ?? 1_000;
    /** The last batch was large: its memory is given back once nothing holds it (the next turn of the loop). */
    let releaseDue = false;
    try {
      while (!this.stopping) {
        if (releaseDue) {
          releaseDue = false;
          (this.options.releaseMemory ?? releaseMemory)();
        }
        try {
          const publisher = await this.connect();
          if (publisher === null) break;
          const batch = await this.source.read(publisher);
          if (batch.checkpoint !== null) {
            const spans = this.startSpans(batch.events);
            try {
              await publisher.publish(batch.events, batch.checkpoint, batch.stateOnly ?? [], new Map([...spans].map(([id, span]) => [id, span.context])));
            } catch (error) {
              for (const span of spans.values()) span.end(error);
              throw error;
            }
            for (const span of spans.values()) span.end();
            this.logPublished(batch.events, spans);
            this.set({ lastPublishAt: this.clock(), eventsPublished: this.current.eventsPublished + batch.events.length });
          }
          batch.committed();
          releaseDue = releaseAfter > 0 && batch.events.length + (batch.stateOnly?.length ?? 0) >= releaseAfter;
          failures = 0;
          unknownInARow = 0;
          if (this.current.state !== 'streaming') this.set({ state: 'streaming', lastError: null });
          const pause = batch.pauseMs();
          if (batch.caughtUp) this.set({ caughtUpAt: this.clock() });
          if (pause > 0) await this.sleep(pause);
        } catch (error) {
          if (this.stopping) break;
          const verdict = this.source.classify(error);
          // An unknown failure is retried a few times in a row (it may pass), then the detector stops for an operator.
          unknownInARow = verdict.limited === true ? unknownInARow + 1 : 0;
          const givenUp = unknownInARow >= (this.options.unknownFailureAttempts ?? UNKNOWN_FAILURE_ATTEMPTS);
          this.options.onFailure?.(verdict, givenUp);
          // Start both edges over: the session may be on a dead server, the producer inside a broken transaction. The
          // next connect reads the committed checkpoint again; the in-memory position is dropped.
          await this.disconnect();
          if (verdict.action === 'stop' || givenUp) {
            const why = givenUp ? `still failing after ${unknownInARow} attempts: ${describeFailure(error)}` : describeFailure(error);
            const stopped = this.source.stoppedError(error, verdict, why);
            this.set({ state: 'failed', lastError: stopped.message });
            throw stopped;
          }
          this.set({ state: 'retrying', lastError: describeFailure(error) });
          if (verdict.action === 'fenced') {
            await this.sleep(this.noteFenced(error));
            continue;
          }
          failures += 1;
          const delayMs = backoffDelay(failures, { initialMs: this.options.retryInitialMs ?? 500, maxMs: this.options.retryMaxMs ?? 30_000, factor: 2, jitter: 0.5 });
          this.options.logger?.event('warn', `${this.options.detector}.retry`, { kind: verdict.kind, attempt: failures, delayMs, error: describeFailure(error) });
          await this.sleep(delayMs);
        }
      }
    } finally {
      await this.disconnect();
      if (this.current.state !== 'failed') this.set({ state: 'stopped' });
    }
  }

  /** Each event's span: a new trace, with the change's own trace id (trace-context.ts). */
  private startSpans(events: readonly EntryChangeEvent[]): Map<string, StageSpan> {
    const tracing = this.options.tracing ?? Tracing.off;
    return new Map(
      events.map((event) => [
        event.eventId,
        tracing.span('detect', event.eventId, { root: eventTraceId(event.eventId) }, { 'idsync.event_id': event.eventId, 'idsync.operation': event.op, 'idsync.entry_id': event.entryId.value }),
      ]),
    );
  }

  /** One debug line per change published: its ids, so its trace can be followed through the stages' logs. */
  private logPublished(events: readonly EntryChangeEvent[], spans: ReadonlyMap<string, StageSpan>): void {
    const logger = this.options.logger;
    if (logger === undefined || !logger.enabled('debug')) return;
    for (const event of events) {
      logger.event('debug', `${this.options.detector}.published`, {
        eventId: event.eventId,
        traceId: spans.get(event.eventId)?.context.traceId,
        op: event.op,
        entryId: event.entryId.value,
        dn: event.dn,
      });
    }
  }

  /** Kafka, then the source with the committed checkpoint. Null when stopped meanwhile. */
  private async connect(): Promise<CheckpointedPublisher | null> {
    if (this.connected && this.publisher) return this.publisher;
    await this.disconnect();
    if (!this.prepared && this.options.prepare) {
      await this.options.prepare();
      this.prepared = true;
    }
    const publisher = this.options.publisherFactory?.() ?? this.newPublisher();
    this.publisher = publisher;
    await publisher.connect();
    const stored = await publisher.readCheckpoint();
    const started = await this.source.connect(stored, publisher, this.abort.signal);
    if (!started) return null;
    this.connected = true;
    this.set({ server: this.source.url });
    return publisher;
  }

  private newPublisher(): ChangePublisher {
    const o = this.options;
    return new ChangePublisher(o.kafka, {
      detector: o.detector,
      source: o.checkpointSource,
      eventsTopic: o.eventsTopic,
      checkpointTopic: o.checkpointTopic,
      ...(o.stateTopic === undefined ? {} : { stateTopic: o.stateTopic }),
      ...(o.deadLetterTopic === undefined ? {} : { deadLetterTopic: o.deadLetterTopic }),
      ...(o.maxRecordBytes === undefined ? {} : { maxRecordBytes: o.maxRecordBytes }),
    });
  }

  private async disconnect(): Promise<void> {
    const publisher = this.publisher;
    this.publisher = null;
    this.connected = false;
    await Promise.allSettled([this.source.disconnect(), publisher?.disconnect()]);
  }

  /**
   * Another producer took over the transactional id: `idsync set-startpoint` moved the start point, or a second
   * instance runs for the same source. The batch in flight was not published; the next connect re-reads the committed
   * checkpoint. Fenced again soon after means two instances take turns: each time the pause doubles, so they do not
   * spin. Returns the pause.
   */
  private noteFenced(error: unknown): number {
    const now = this.clock();
    const max = this.options.retryMaxMs ?? 30_000;
    this.fencedInARow = now - this.lastFencedAt < FENCED_AGAIN_WITHIN_MS ? this.fencedInARow + 1 : 1;
    this.lastFencedAt = now;
    const delayMs = backoffDelay(this.fencedInARow, { initialMs: Math.min(max, Math.max(1_000, this.options.retryInitialMs ?? 500)), maxMs: max, factor: 2, jitter: 0.5 });
    this.options.logger?.event('warn', `${this.options.detector}.fenced`, {
      transactionalId: `idsync.${this.options.detector}.${this.options.checkpointSource}`,
      position: this.source.describePosition(),
      fencedInARow: this.fencedInARow,
      delayMs,
      error: describeFailure(error),
      note: 'another producer took over this detector: `idsync set-startpoint` moved its start point, or another instance runs for the same source. The batch in flight was not published; reconnecting and continuing from the committed checkpoint',
    });
    return delayMs;
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = wake;
    });
  }
}

/** An error as the logs and the status say it: name, message, and the LDAP or Kafka code when there is one. */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // LDAP result codes and Kafka error codes are numbers, Node's system error codes strings.
  const code = (error as { code?: string | number }).code;
  return code === undefined ? `${error.name}: ${error.message}` : `${error.name}: ${error.message} (code ${String(code)})`;
}
