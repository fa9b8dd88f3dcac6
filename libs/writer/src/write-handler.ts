import { ABSENT_HEADER, decodeWriteRequest, LEAVE_SCOPE_ACTIONS, LEAVE_SCOPE_HEADER, type LeaveScopeAction, SNAPSHOT_HEADER, UndecodableRecordError, type WriteRequest } from '@idsync/contracts';
import {
  type BatchContext,
  eventTraceId,
  type JsonLogger,
  LATENCY_BUCKETS,
  type LoopOutput,
  type LoopRecord,
  type Metrics,
  parseTraceparent,
  type RecordOutcome as LoopOutcome,
  type StageSpan,
  TRACEPARENT_HEADER,
  Tracing,
} from '@idsync/platform';
import { applyRequest, type BoundedRetryOptions, describePlan } from './apply-request';
import { coalesceEntryRequests } from './coalesce';
import { behindWait, DEFAULT_MAX_WAIT_MS, HeldEntries, nextWait, readWait, waitHeaders, type WaitState } from './dependency-wait';
import { type ApplyHints, type ApplyResult } from './directory-writer';
import { WriteError } from './errors';
import { LinkConflictError } from './links';
import { type RequestGuard } from './request-guard';
import { type BreakerTrip, type DeleteBreaker } from './delete-breaker';
import { SYNC_LOG_EVENT, type SyncLogInput, syncLogRecord } from './sync-log';

/**
 * The destination refuses the writer itself (credentials, access rights, transport security): no record can
 * succeed until an operator acts. Deliberately without a `retriable` field: the consumer loop then stops with the
 * offsets uncommitted (and the service exits non-zero) instead of retrying or dead-lettering every record.
 */
export class WriterStoppedError extends Error {
  constructor(
    readonly service: string,
    cause: WriteError,
  ) {
    super(`${service} stopped: ${cause.message}`, { cause });
    this.name = 'WriterStoppedError';
  }
}

export const LINK_CONFLICTS = 'idsync_writer_link_conflicts_total';
export const LINK_CONFLICTS_HELP =
  "Requests whose DN or correlation found another source entry's linked entry, by pipe and resolution (dead-letter: nothing written; created-beside: a create whose correlation matched it created its own entry)";
export const LINK_CONFLICT_LABELS = ['pipe', 'resolution'] as const;

/** The consumer loop aborted the batch (see BatchContext.signal): retried from the first uncommitted record. */
export class BatchAbortedError extends Error {
  readonly retriable = true;
  constructor(readonly service: string) {
    super(`${service}: batch abandoned (its partition was revoked or it stopped progressing); its records are handled again`);
    this.name = 'BatchAbortedError';
  }
}

export interface WriteHandlerOptions {
  readonly service: 'ad-writer' | 'ds-writer';
  readonly writer: { apply(request: WriteRequest, hints?: ApplyHints): Promise<ApplyResult>; readonly isDryRun: boolean };
  readonly metrics: Metrics;
  readonly logger: JsonLogger;
  readonly boundedRetry?: BoundedRetryOptions;
  /** Entries written side by side within one batch (each entry's own requests stay in order). Default 8. */
  readonly concurrency?: number;
  /**
   * How long a create whose DN another source entry's linked entry holds is tried again (that entry's delete or
   * rename may be on its way) before it is dead-lettered. Default 120 s. The partition is paused meanwhile, the
   * others go on.
   */
  readonly conflictWaitMs?: number;
  readonly now?: () => number;
  /** The links the writer records: the batch's new links and removals are published before its offsets are committed. */
  readonly links?: { flush(): Promise<void> };
  /**
   * Object-level refusals (insufficientAccessRights on one entry: an AdminSDHolder-protected account, a delegated
   * OU) dead-letter their record; this many in a row with no write succeeding in between means the account itself
   * lost its rights, and the writer stops (the last record uncommitted). Default 10.
   */
  readonly refusalsBeforeStop?: number;
  /**
   * Dependency waits off the hot path (dependency-wait.ts): a request whose member or parent is not there yet is
   * tried `inlineAttempts` times in line (default 2), then parked on `topic` and tried there for up to `maxWaitMs`
   * (default 15 min) before it is dead-lettered. Without it, such a request is retried in line (boundedRetry) and then
   * dead-lettered.
   */
  readonly waits?: { readonly topic: string; readonly maxWaitMs?: number; readonly inlineAttempts?: number; readonly held?: HeldEntries };
  /**
   * Scope enforcement: a request this says no to is never applied; it is dead-lettered with the reason and counted
   * as a security event (REFUSED_REQUESTS, a warn log without values). See @idsync/mapping write-scope.ts.
   */
  readonly guard?: RequestGuard;
  /**
   * The delete circuit breaker (delete-breaker.ts): past its limit, deletes and unlinks are parked on `topic` (the held
   * topic) until an operator's decision; `onTrip` publishes the trip before the batch's offsets are committed.
   */
  readonly breaker?: { readonly core: DeleteBreaker; readonly topic: string; onTrip(control: BreakerTrip): Promise<void> };
  /**
   * The sync log: one line per request settled (sync-log.ts), on stdout unless `stdout` is false, and on `topic` (the
   * audit topic) when set, sent before the batch's offsets are committed. Default: stdout only.
   */
  readonly syncLog?: { readonly stdout?: boolean; readonly topic?: string };
  /** A span per request, in the trace its record carries (default off; the trace id is logged either way). */
  readonly tracing?: Tracing;
}

/** Header of a held delete: when it was held (epoch milliseconds), which decides the decision that covers it. */
export const HELD_AT_HEADER = 'idsync-held-at';

export const REFUSED_REQUESTS = 'idsync_writer_refused_requests_total';

/** A request to put on the wait topic instead of applying it now. */
interface Parked {
  readonly kind: 'park';
  readonly state: WaitState;
  /** The entry's earlier request it stays behind (it did not fail itself). */
  readonly behind?: string;
  readonly reason: string;
}

const INSUFFICIENT_ACCESS = 50;

/**
 * handleBatch for the consumer loop: decode, apply in order (one partition's records keep their order), and say
 * per record done or dead-letter. Outages are thrown (retriable WriteError: the loop backs off and fetches the
 * same records again; replays are harmless since writes are compared first); a refusal of the writer's account
 * is thrown as WriterStoppedError. Logs name requests and DNs, never attribute values (dry-run plans mask passwords).
 */
export function createWriteHandler(options: WriteHandlerOptions): (records: readonly LoopRecord[], context?: BatchContext) => Promise<LoopOutcome[]> {
  const { service, writer, metrics, logger } = options;
  const requests = metrics.counter(
    'idsync_writer_requests_total',
    'Write requests by result (applied, no-op, already-applied, dry-run, dead-letter; superseded: a later delete of the same entry in the batch made it pointless; merged: written as part of the next modify of the same entry)',
    ['result'],
  );
  const retries = metrics.counter('idsync_writer_retries_total', 'Write attempts retried, by LDAP result code (none: network)', ['code']);
  const onRetry = (error: WriteError): void => retries.inc({ code: String(error.code ?? 'none') });
  const conflicts = metrics.counter(LINK_CONFLICTS, LINK_CONFLICTS_HELP, LINK_CONFLICT_LABELS);
  const endToEnd = metrics.histogram(
    'idsync_writer_end_to_end_latency_seconds',
    'From the source change (its time as the source recorded it: whenChanged in AD, changeTime in the changelog; 1 s resolution) to the write applied, by pipe and operation',
    ['pipe', 'operation'],
    LATENCY_BUCKETS,
  );
  const pipelineLatency = metrics.histogram(
    'idsync_writer_pipeline_latency_seconds',
    'From the detector reading the change to the write applied (detector, Kafka, mapper and writer), by pipe and operation',
    ['pipe', 'operation'],
    LATENCY_BUCKETS,
  );
  /** Latency of a write that changed the destination (applied); no-ops and replays would only blur it. */
  const observeLatency = (request: WriteRequest): void => {
    const at = now();
    const labels = { pipe: request.pipe, operation: request.op };
    if (request.changeTime !== null) endToEnd.observe(labels, Math.max(0, at - request.changeTime) / 1_000);
    pipelineLatency.observe(labels, Math.max(0, at - request.detectedAt) / 1_000);
  };
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const conflictWaitMs = options.conflictWaitMs ?? 120_000;
  const refusalsBeforeStop = Math.max(1, options.refusalsBeforeStop ?? 10);
  /** Object-level refusals since the last write that succeeded (any entry, any lane). */
  let refusedInARow = 0;
  const now = options.now ?? Date.now;
  const waits = options.waits;
  const maxWaitMs = waits?.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  // A hold outlives every request it covers: the last try comes at maxWaitMs, plus a wait partition's queue.
  const held = waits?.held ?? new HeldEntries(maxWaitMs + 5 * 60_000);
  const boundedRetry: BoundedRetryOptions = waits ? { ...options.boundedRetry, attempts: waits.inlineAttempts ?? 2 } : (options.boundedRetry ?? {});
  const waitCounter = metrics.counter(
    'idsync_writer_waits_total',
    'Requests parked on the wait topic, by result (parked: their member or parent is not there yet; behind: an earlier request of the same entry is parked; gave-up: dead-lettered after maxWaitMs)',
    ['result'],
  );
  /** When each create blocked by a link conflict was first tried (dropped once it is done or dead-lettered). */
  const waitingSince = new Map<string, number>();
  const countConflict = (request: WriteRequest, conflict: LinkConflictError): void => {
    conflicts.inc({ pipe: request.pipe, resolution: 'dead-letter' });
    logger.event('warn', `${service}.link.conflict`, {
      requestId: request.requestId,
      traceId: traceIdOf(request),
      pipe: request.pipe,
      sourceId: conflict.sourceId,
      dn: conflict.found.dn,
      foundId: conflict.found.id,
      linkedTo: conflict.linkedTo,
    });
  };

  const staleRenames = metrics.counter(
    'idsync_writer_stale_renames_total',
    'Renames not followed because the linked entry was renamed here since (a late echo in two-way sync, a replay): values applied, the entry not moved back; by pipe',
    ['pipe'],
  );
  const scopeChanges = metrics.counter('idsync_writer_scope_changes_total', "Linked entries whose source entry left the pipe's scope, by pipe and action (delete, unlink)", ['pipe', 'action']);

  const breaker = options.breaker;
  const heldDeletes = metrics.counter(
    'idsync_writer_held_deletes_total',
    'Deletes (and their unlinks) held by the delete circuit breaker, by result (held: parked on the held topic; applied: released by an approval; discarded: dead-lettered by a discard)',
    ['result'],
  );
  const trips = metrics.counter('idsync_writer_breaker_trips_total', 'Times this writer tripped the delete circuit breaker');
  const tracing = options.tracing ?? Tracing.off;
  /** Each decoded request's span, ended when the request is settled (its sync log line). */
  const spans = new WeakMap<WriteRequest, StageSpan>();
  const traceIdOf = (request: WriteRequest): string | undefined => spans.get(request)?.context.traceId;
  const syncLogStdout = options.syncLog?.stdout ?? true;
  const auditTopic = options.syncLog?.topic;
  /** Lines for the audit topic not sent yet (serialized): every call sends what is pending before its offsets are committed. */
  let pendingAudit: { readonly key: string; readonly json: string }[] = [];
  const syncLog = (input: Omit<SyncLogInput, 'service' | 'now' | 'traceId'>): void => {
    const span = spans.get(input.request);
    if (span !== undefined) {
      spans.delete(input.request);
      const failed = input.outcome === 'dead-letter' || input.outcome === 'refused';
      span.end(failed ? new Error(input.reason ?? input.outcome) : undefined);
    }
    if (!syncLogStdout && auditTopic === undefined) return;
    const line = syncLogRecord({ ...input, service, now: now(), ...(span === undefined ? {} : { traceId: span.context.traceId }) });
    // Serialized once, for stdout and the audit topic alike.
    const json = JSON.stringify(line);
    if (syncLogStdout) logger.recordJson(SYNC_LOG_EVENT, json);
    if (auditTopic !== undefined) pendingAudit.push({ key: line.sourceId, json });
  };
  const refused = metrics.counter(
    REFUSED_REQUESTS,
    'Security events: write requests refused by scope enforcement (never applied, dead-lettered), by pipe ((unknown) for a name not in the configuration) and reason',
    ['pipe', 'reason'],
  );

  const decode = (record: LoopRecord): WriteRequest | LoopOutcome => {
    let request: WriteRequest;
    try {
      request = decodeWriteRequest(record.value);
    } catch (error) {
      if (!(error instanceof UndecodableRecordError)) throw error;
      requests.inc({ result: 'dead-letter' });
      return { kind: 'dead-letter', reason: error.message, code: 'undecodable' };
    }
    // The request's trace (from its record; a record without one starts it here, from the change's event id).
    const parent = parseTraceparent(record.headers?.[TRACEPARENT_HEADER]);
    spans.set(
      request,
      tracing.span('write', request.requestId, parent === null ? { root: eventTraceId(request.sourceEventId) } : { parent }, {
        'idsync.request_id': request.requestId,
        'idsync.pipe': request.pipe,
        'idsync.operation': request.op,
      }),
    );
    const refusal = options.guard?.check(request, record) ?? null;
    if (refusal === null) return request;
    const pipe = options.guard?.knows(request.pipe) === true ? request.pipe : '(unknown)';
    refused.inc({ pipe, reason: refusal.refusal });
    requests.inc({ result: 'dead-letter' });
    logger.event('warn', `${service}.request.refused`, {
      reason: refusal.refusal,
      requestId: request.requestId,
      traceId: traceIdOf(request),
      pipe,
      op: request.op,
      dn: request.dn,
      attributes: request.attributes.map((change) => change.name),
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
    });
    syncLog({ request, outcome: 'refused', reason: refusal.refusal });
    return { kind: 'dead-letter', reason: refusal.detail, code: 'refused' };
  };

  /**
   * Applies one request and counts its result (a dead letter only when `countDeadLetter`). With waits, a request
   * whose dependency is still missing comes back parked (`wait`: what its record carried, if it was parked before).
   */
  const applyOne = async (request: WriteRequest, hints: ApplyHints, countDeadLetter = true, wait?: WaitState, covers?: readonly string[]): Promise<LoopOutcome | Parked> => {
    const outcome = await applyAndCount(request, hints, countDeadLetter, wait, covers);
    if (outcome.kind === 'park') syncLog({ request, outcome: 'parked', reason: outcome.reason });
    else if (outcome.kind === 'dead-letter' && countDeadLetter) syncLog({ request, outcome: 'dead-letter', reason: outcome.reason });
    return outcome;
  };

  const applyAndCount = async (request: WriteRequest, hints: ApplyHints, countDeadLetter: boolean, wait: WaitState | undefined, covers?: readonly string[]): Promise<LoopOutcome | Parked> => {
    try {
      const outcome = await applyRequest(writer, request, { ...boundedRetry, onRetry }, hints);
      if (outcome.kind === 'dead-letter' && waits && outcome.error.bounded && outcome.error.exhausted !== 'stop') {
        const decision = nextWait(wait, now(), maxWaitMs);
        if (decision.kind === 'park') return { kind: 'park', state: decision.state, reason: outcome.error.message };
        waitCounter.inc({ result: 'gave-up' });
        if (countDeadLetter) requests.inc({ result: 'dead-letter' });
        return {
          kind: 'dead-letter',
          reason: `request ${request.requestId} (entry ${request.sourceEntryId.value}, ${request.dn}): waited ${Math.round(decision.waitedMs / 1_000)} s for it: ${outcome.error.message}`,
          code: 'wait-exhausted',
        };
      }
      if (outcome.kind === 'dead-letter' && outcome.code === INSUFFICIENT_ACCESS) {
        refusedInARow += 1;
        if (refusedInARow >= refusalsBeforeStop) {
          throw new WriterStoppedError(
            service,
            new WriteError(
              'stop',
              `${refusedInARow} writes in a row refused with insufficientAccessRights (50), none succeeding in between: the writer's account seems to have lost its rights; grant them and restart (the last: ${outcome.reason})`,
              { requestId: request.requestId, dn: request.dn, code: INSUFFICIENT_ACCESS },
            ),
          );
        }
        logger.event('warn', `${service}.refused`, {
          requestId: request.requestId,
          traceId: traceIdOf(request),
          pipe: request.pipe,
          sourceId: request.sourceEntryId.value,
          dn: request.dn,
          code: INSUFFICIENT_ACCESS,
          refusedInARow,
        });
      }
      if (outcome.kind === 'dead-letter') {
        if (countDeadLetter) requests.inc({ result: 'dead-letter' });
        if (countDeadLetter && outcome.error instanceof LinkConflictError) countConflict(request, outcome.error);
        const code = outcome.error instanceof LinkConflictError ? 'link-conflict' : outcome.code === null ? 'write-refused' : `ldap-${outcome.code}`;
        return { kind: 'dead-letter', reason: `request ${request.requestId} (entry ${request.sourceEntryId.value}, ${request.dn}): ${outcome.reason}`, code };
      }
      const { result } = outcome;
      if (result.outcome !== 'dry-run') refusedInARow = 0;
      waitingSince.delete(request.requestId);
      requests.inc({ result: result.outcome });
      if (result.outcome === 'applied') observeLatency(request);
      syncLog({ request, outcome: result.outcome, plan: result.plan, destinationId: result.destinationId, ...(covers === undefined ? {} : { covers }) });
      if (hints.leaveScope !== undefined && result.link === 'removed') scopeChanges.inc({ pipe: request.pipe, action: hints.leaveScope });
      if (result.staleRename === true) {
        staleRenames.inc({ pipe: request.pipe });
        logger.event('info', `${service}.rename.stale`, {
          requestId: request.requestId,
          traceId: traceIdOf(request),
          pipe: request.pipe,
          sourceId: request.sourceEntryId.value,
          at: result.plan.target,
          requested: request.dn,
        });
      }
      if (result.outcome === 'dry-run') {
        logger.event('info', `${service}.dry-run`, { requestId: request.requestId, traceId: traceIdOf(request), dn: request.dn, steps: describePlan(result.plan) });
      }
      return { kind: 'done' };
    } catch (error) {
      if (error instanceof LinkConflictError && error.waits) {
        const since = waitingSince.get(request.requestId) ?? now();
        if (now() - since >= conflictWaitMs) {
          waitingSince.delete(request.requestId);
          requests.inc({ result: 'dead-letter' });
          countConflict(request, error);
          return {
            kind: 'dead-letter',
            reason: `request ${request.requestId} (entry ${request.sourceEntryId.value}, ${request.dn}): waited ${Math.round((now() - since) / 1000)} s: ${error.message}`,
            code: 'link-conflict',
          };
        }
        waitingSince.set(request.requestId, since);
        // Requests that never came back (their partition moved to another instance) are forgotten after a while.
        for (const [id, at] of waitingSince) if (now() - at > 10 * conflictWaitMs) waitingSince.delete(id);
      }
      if (error instanceof WriteError && error.outcome === 'retry') onRetry(error);
      if (error instanceof WriteError && error.outcome === 'stop') throw new WriterStoppedError(service, error);
      throw error;
    }
  };

  /**
   * Whether the breaker holds this request (a delete or unlink fresh from the operations topic): it is then parked on
   * the held topic. Synchronous (the batch's lanes must not yield before their first write); a delete past the limit
   * trips the breaker and comes back as `trip`, to be published before anything is held.
   */
  const breakerHolds = (record: LoopRecord, request: WriteRequest): { readonly hold: boolean; readonly trip?: BreakerTrip } => {
    if (breaker === undefined || (request.op !== 'delete' && request.op !== 'unlink') || record.topic === breaker.topic || record.topic === waits?.topic) return { hold: false };
    let trip: BreakerTrip | undefined;
    const key = record.key?.toString('latin1') ?? request.sourceEntryId.value;
    if (request.op === 'unlink') {
      if (!breaker.core.holdsUnlink(now(), key)) return { hold: false };
    } else {
      const admission = breaker.core.admit(now(), key);
      if (admission.kind === 'apply') return { hold: false };
      if (admission.trips) trip = breaker.core.trip(now(), service, admission.deletes);
    }
    heldDeletes.inc({ result: 'held' });
    syncLog({ request, outcome: 'held' });
    logger.event('info', `${service}.deletes.held`, { requestId: request.requestId, traceId: traceIdOf(request), pipe: request.pipe, op: request.op, dn: request.dn });
    return trip === undefined ? { hold: true } : { hold: true, trip };
  };

  const publishTrip = async (control: BreakerTrip): Promise<void> => {
    await breaker?.onTrip(control);
    trips.inc();
    const { deletes, limit, windowMs } = control;
    logger.event('warn', `${service}.deletes.tripped`, { deletes, limit, windowMs, heldTopic: breaker?.topic, decide: 'idsync deletes approve|discard' });
  };

  /**
   * The positions of a held-topic call's records that a decision covers and applies (those it discards get their dead
   * letter); from the first one still waiting for a decision on, the rest of the call waits (the held topic is a queue).
   */
  const releaseHeld = (core: DeleteBreaker, records: readonly LoopRecord[], outcomes: LoopOutcome[]): number[] => {
    const due: number[] = [];
    for (const [index, record] of records.entries()) {
      const release = core.release(Number(record.headers?.[HELD_AT_HEADER] ?? 0));
      if (release.kind === 'wait') {
        for (let rest = index; rest < records.length; rest++) outcomes[rest] = { kind: 'wait', untilMs: now() + 5_000 };
        break;
      }
      heldDeletes.inc({ result: release.kind === 'apply' ? 'applied' : 'discarded' });
      if (release.kind === 'apply') {
        due.push(index);
        continue;
      }
      requests.inc({ result: 'dead-letter' });
      const { by, at } = release.decision;
      const request = decodedOrNull(record);
      if (request !== null) syncLog({ request, outcome: 'dead-letter', reason: `held delete discarded by ${by}` });
      outcomes[index] = {
        kind: 'dead-letter',
        reason: `${requestIdOf(record)}: a delete held by the delete circuit breaker, discarded by ${by} at ${new Date(at).toISOString()}; re-drive it with idsync dlq redrive once it should apply`,
        code: 'held-discarded',
      };
    }
    return due;
  };

  /**
   * One entry's records of the batch, in order: coalesced (a replayed history skips its intermediate states). Once one
   * is parked (or the entry already has a parked request), the rest are parked behind it, in order.
   */
  const applyEntry = async (records: readonly LoopRecord[], park: (record: LoopRecord, parked: Parked) => void, hold: (record: LoopRecord) => void): Promise<LoopOutcome[]> => {
    const outcomes = new Array<LoopOutcome>(records.length);
    const decoded: { request: WriteRequest; index: number; hints: ApplyHints; wait: WaitState | undefined }[] = [];
    let trip: BreakerTrip | undefined;
    records.forEach((record, index) => {
      const result = decode(record);
      if ('kind' in result) {
        outcomes[index] = result;
        return;
      }
      const held = breakerHolds(record, result);
      trip ??= held.trip;
      if (!held.hold) decoded.push({ request: result, index, hints: hintsOf(record), wait: readWait(record.headers) });
      else {
        hold(record);
        outcomes[index] = { kind: 'done' };
      }
    });
    if (trip !== undefined) await publishTrip(trip);
    const key = records[0]?.key?.toString('latin1');
    // The entry's requests that come back from the wait topic no longer hold it (they are being tried now).
    if (waits && key !== undefined) for (const record of records) if (record.topic === waits.topic) held.release(key);
    let blockedBy: string | undefined = waits && key !== undefined && held.isHeld(key, now()) ? (held.blocker(key) ?? 'an earlier request') : undefined;
    const parkBehind = (position: (typeof decoded)[number]): void => {
      park(records[position.index] as LoopRecord, { kind: 'park', state: behindWait(position.wait, now()), behind: blockedBy ?? '', reason: `behind ${blockedBy ?? ''}` });
      outcomes[position.index] = { kind: 'done' };
    };
    const settle = (position: (typeof decoded)[number], outcome: LoopOutcome | Parked): void => {
      if (outcome.kind !== 'park') {
        outcomes[position.index] = outcome;
        return;
      }
      park(records[position.index] as LoopRecord, outcome);
      outcomes[position.index] = { kind: 'done' };
      blockedBy = position.request.requestId;
    };
    if (blockedBy !== undefined) {
      for (const position of decoded) parkBehind(position);
      return outcomes;
    }
    const part = (position: number): (typeof decoded)[number] => decoded[position] as (typeof decoded)[number];
    const { writes, superseded } = coalesceEntryRequests(decoded.map((d) => d.request));
    for (const position of superseded) {
      outcomes[part(position).index] = { kind: 'done' };
      syncLog({ request: part(position).request, outcome: 'superseded' });
    }
    if (superseded.length > 0) requests.inc({ result: 'superseded' }, superseded.length);
    for (const write of writes) {
      const parts = write.covers.map(part);
      if (blockedBy !== undefined) {
        for (const one of parts) parkBehind(one);
        continue;
      }
      if (parts.length === 1) {
        // A resync's "no such entry at the destination" holds for its own request only, not for a merged one.
        settle(parts[0]!, await applyOne(write.request, parts[0]!.hints, true, parts[0]!.wait));
        continue;
      }
      const outcome = await applyOne(
        write.request,
        {},
        false,
        undefined,
        parts.map((one) => one.request.requestId).filter((id) => id !== write.request.requestId),
      );
      if (outcome.kind !== 'done') {
        // A merged write refused or waiting: apply its requests one by one, so each good one lands and each bad
        // one is dead-lettered (or parked) on its own.
        for (const one of parts) {
          if (blockedBy !== undefined) parkBehind(one);
          else settle(one, await applyOne(one.request, one.hints, true, one.wait));
        }
        continue;
      }
      requests.inc({ result: 'merged' }, parts.length - 1);
      for (const one of parts) outcomes[one.index] = outcome;
    }
    return outcomes;
  };

  return async (records, context) => {
    const outcomes: LoopOutcome[] = new Array<LoopOutcome>(records.length);
    // Parked requests not due yet: they and everything after them in the call wait (a wait partition is a queue).
    const notDue = waits ? records.findIndex((record) => record.topic === waits.topic && (readWait(record.headers)?.due ?? 0) > now()) : -1;
    if (notDue >= 0) {
      const untilMs = readWait(records[notDue]?.headers)?.due ?? now();
      for (let index = notDue; index < records.length; index++) outcomes[index] = { kind: 'wait', untilMs };
    }
    const waiting = notDue >= 0 ? records.slice(0, notDue) : records;
    // Held deletes wait for an operator's decision; those it covers go on as any request.
    const due = breaker !== undefined && records[0]?.topic === breaker.topic ? releaseHeld(breaker.core, waiting, outcomes) : waiting.map((_, index) => index);
    // Deletes the breaker holds in this call, sent to the held topic before the call's offsets are committed.
    const holding: LoopRecord[] = [];
    const hold = (record: LoopRecord): void => void holding.push(record);
    const parked: { record: LoopRecord; parked: Parked }[] = [];
    const park = (record: LoopRecord, p: Parked): void => void parked.push({ record, parked: p });
    // One entry's requests (same key) apply in order; different entries apply side by side, a few at a time.
    const byEntry = new Map<string, number[]>();
    for (const index of due) {
      const record = records[index] as LoopRecord;
      const key = record.key === null ? `#${index}` : record.key.toString('latin1');
      const list = byEntry.get(key);
      if (list) list.push(index);
      else byEntry.set(key, [index]);
    }
    const queue = [...byEntry.values()];
    const lane = async (): Promise<void> => {
      for (let indexes = queue.shift(); indexes !== undefined; indexes = queue.shift()) {
        // The loop gave up on this call (its partition was taken away, or it stopped progressing): stop writing;
        // the records are handled again, and writes compare first, so what was done is not done twice.
        if (context?.signal.aborted) throw new BatchAbortedError(service);
        const results = await applyEntry(
          indexes.map((index) => records[index] as LoopRecord),
          park,
          hold,
        );
        indexes.forEach((index, position) => (outcomes[index] = results[position] as LoopOutcome));
        context?.progress();
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, queue.length) }, lane));
    // Every lane has finished before anything is rethrown; a refusal of our account wins over an outage.
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failures.length > 0) {
      // What did succeed stays true: its links go out now if they can, else with the next batch.
      await options.links?.flush().catch(() => undefined);
      throw failures.find((e) => e instanceof WriterStoppedError) ?? failures[0];
    }
    // Links recorded or removed by this batch reach the topic before its offsets are committed.
    await options.links?.flush();
    // So do the parked requests: acknowledged on the wait topic before the records they come from are committed.
    if (parked.length > 0) await sendParked(parked, context?.output);
    // And the held deletes, on the held topic.
    if (holding.length > 0) await sendHeld(holding, context?.output);
    // And the sync log's lines (this call's, and any another call left), on the audit topic.
    await sendAudit(context?.output);
    return outcomes;
  };

  async function sendAudit(output: LoopOutput | undefined): Promise<void> {
    if (auditTopic === undefined || output === undefined || pendingAudit.length === 0) return;
    const lines = pendingAudit;
    pendingAudit = [];
    try {
      await output.send([{ topic: auditTopic, messages: lines.map((line) => ({ key: line.key, value: Buffer.from(line.json) })) }]);
    } catch (error) {
      // Not sent: they go with the next call (this one's records are not committed, and come again).
      pendingAudit = [...lines, ...pendingAudit];
      throw error;
    }
  }

  async function sendHeld(records: readonly LoopRecord[], output: LoopOutput | undefined): Promise<void> {
    if (breaker === undefined || !output) throw new TypeError('holding a delete needs the held topic and the loop output');
    const at = String(now());
    await output.send([{ topic: breaker.topic, messages: records.map((record) => ({ key: record.key, value: record.value, headers: { ...record.headers, [HELD_AT_HEADER]: at } })) }]);
  }

  async function sendParked(parked: readonly { record: LoopRecord; parked: Parked }[], output: LoopOutput | undefined): Promise<void> {
    if (!waits || !output) throw new TypeError('parking a request needs the wait topic and the loop output');
    const messages = parked.map(({ record, parked: p }) => ({
      key: record.key,
      value: record.value,
      headers: { ...withoutWaitHeaders(record.headers), ...waitHeaders(p.state, p.behind) },
    }));
    await output.send([{ topic: waits.topic, messages }]);
    for (const { record, parked: p } of parked) {
      const key = record.key?.toString('latin1');
      if (key !== undefined) held.hold(key, now(), p.behind === undefined ? requestIdOf(record) : p.behind);
      waitCounter.inc({ result: p.behind === undefined ? 'parked' : 'behind' });
      logger.event(p.behind === undefined ? 'info' : 'debug', `${service}.parked`, {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        requestId: requestIdOf(record),
        attempt: p.state.attempt,
        dueInMs: Math.max(0, p.state.due - now()),
        waitedMs: now() - p.state.since,
        reason: p.reason,
      });
    }
  }
}

function decodedOrNull(record: LoopRecord): WriteRequest | null {
  try {
    return decodeWriteRequest(record.value);
  } catch {
    return null;
  }
}

/** The request id of a record that decoded (parked records always did). */
function requestIdOf(record: LoopRecord): string {
  return decodedOrNull(record)?.requestId ?? `${record.topic}[${record.partition}]@${record.offset}`;
}

function withoutWaitHeaders(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !name.startsWith('idsync-wait-')));
}

/** What record headers tell the writer beyond the request (see @idsync/contracts keys.ts). */
function hintsOf(record: LoopRecord): ApplyHints {
  const leave = record.headers?.[LEAVE_SCOPE_HEADER];
  const hints: { absent?: boolean; leaveScope?: LeaveScopeAction; snapshot?: boolean } = {};
  if (record.headers?.[ABSENT_HEADER] !== undefined) hints.absent = true;
  if (record.headers?.[SNAPSHOT_HEADER] !== undefined) hints.snapshot = true;
  if (leave !== undefined) {
    // An action this writer does not know is treated as the safer one: the entry stays.
    hints.leaveScope = (LEAVE_SCOPE_ACTIONS as readonly string[]).includes(leave) ? (leave as LeaveScopeAction) : 'unlink';
  }
  return hints;
}
