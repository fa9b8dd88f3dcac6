import { type WriteRequest } from '@idsync/contracts';
import { type WritePlan } from './plan';

/** The `event` field of every sync log line: stable, for log pipelines to select them by. */
export const SYNC_LOG_EVENT = 'sync.write';

/**
 * What became of one write request. Applied or not changed (applied, no-op, already-applied, dry-run), skipped
 * (superseded by a later delete, merged into the entry's next write), deferred (parked until its member or parent
 * exists, held by the delete circuit breaker), or failed (dead-lettered, refused by scope enforcement).
 */
export const SYNC_OUTCOMES = ['applied', 'no-op', 'already-applied', 'dry-run', 'superseded', 'merged', 'parked', 'held', 'dead-letter', 'refused'] as const;
export type SyncOutcome = (typeof SYNC_OUTCOMES)[number];

/**
 * One line of the sync log (PingDataSync's sync log): one per write request a writer settled. Names, ids and DNs,
 * never attribute values; `attributes` are the names the write changed (those the request carried when nothing was
 * sent).
 */
export type SyncLogRecord = {
  readonly event: typeof SYNC_LOG_EVENT;
  readonly at: string;
  readonly service: string;
  readonly pipe: string;
  readonly requestId: string;
  readonly sourceEventId: string;
  readonly sourceId: string;
  readonly destinationId: string | null;
  /** The destination DN the request names (after a rename: the new one). */
  readonly dn: string;
  readonly previousDn: string | null;
  /** Where the writer found the entry, when that is not `dn` (a rename, an entry linked elsewhere). */
  readonly foundAt?: string;
  readonly operation: WriteRequest['op'];
  /** The LDAP operations sent (add, modify, delete, modify-dn); [] when nothing was. */
  readonly changes: readonly string[];
  readonly attributes: readonly string[];
  readonly outcome: SyncOutcome;
  /** From the source change time to now (null when the source did not record it), and from its detection. */
  readonly endToEndMs: number | null;
  readonly pipelineMs: number;
  readonly reason?: string;
  /** A merged write: the requests it carried besides this one. */
  readonly covers?: readonly string[];
  readonly traceId?: string;
};

export interface SyncLogInput {
  readonly service: string;
  readonly request: WriteRequest;
  readonly outcome: SyncOutcome;
  readonly now: number;
  readonly plan?: WritePlan;
  readonly destinationId?: string | null;
  readonly reason?: string;
  readonly covers?: readonly string[];
  readonly traceId?: string;
}

export function syncLogRecord(input: SyncLogInput): SyncLogRecord {
  const { request, plan, now } = input;
  const changes: string[] = [];
  const changed = new Set<string>();
  for (const step of plan?.steps ?? []) {
    changes.push(step.kind);
    if (step.kind === 'add') for (const attribute of step.attributes) changed.add(attribute.name);
    if (step.kind === 'modify') for (const change of step.changes) changed.add(change.name);
  }
  const attributes = changes.length > 0 ? [...changed] : [...new Set(request.attributes.map((change) => change.name))];
  return {
    event: SYNC_LOG_EVENT,
    at: new Date(now).toISOString(),
    service: input.service,
    pipe: request.pipe,
    requestId: request.requestId,
    sourceEventId: request.sourceEventId,
    sourceId: request.sourceEntryId.value,
    destinationId: input.destinationId ?? null,
    dn: request.dn,
    previousDn: request.previousDn,
    ...(plan?.target != null && plan.target !== request.dn ? { foundAt: plan.target } : {}),
    operation: request.op,
    changes,
    attributes,
    outcome: input.outcome,
    endToEndMs: request.changeTime === null ? null : Math.max(0, now - request.changeTime),
    pipelineMs: Math.max(0, now - request.detectedAt),
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.covers === undefined || input.covers.length === 0 ? {} : { covers: input.covers }),
    ...(input.traceId === undefined ? {} : { traceId: input.traceId }),
  };
}
