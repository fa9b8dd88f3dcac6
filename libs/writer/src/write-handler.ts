import { decodeWriteRequest, UndecodableRecordError, type WriteRequest } from '@idsync/contracts';
import { type JsonLogger, type LoopRecord, type Metrics, type RecordOutcome as LoopOutcome } from '@idsync/platform';
import { applyRequest, type BoundedRetryOptions, describePlan } from './apply-request';
import { type ApplyResult } from './directory-writer';
import { WriteError } from './errors';

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

export interface WriteHandlerOptions {
  readonly service: 'ad-writer' | 'ds-writer';
  readonly writer: { apply(request: WriteRequest): Promise<ApplyResult>; readonly isDryRun: boolean };
  readonly metrics: Metrics;
  readonly logger: JsonLogger;
  readonly boundedRetry?: BoundedRetryOptions;
}

/**
 * handleBatch for the consumer loop: decode, apply in order (one partition's records keep their order), and say
 * per record done or dead-letter. Outages are thrown (retriable WriteError: the loop backs off and fetches the
 * same records again; replays are harmless since writes are compared first); a refusal of the writer's account
 * is thrown as WriterStoppedError. Logs name requests and DNs, never attribute values (dry-run plans mask passwords).
 */
export function createWriteHandler(options: WriteHandlerOptions): (records: readonly LoopRecord[]) => Promise<LoopOutcome[]> {
  const { service, writer, metrics, logger } = options;
  const requests = metrics.counter('idsync_writer_requests_total', 'Write requests by service and result (applied, no-op, already-applied, dry-run, dead-letter)');
  const retries = metrics.counter('idsync_writer_retries_total', 'Write attempts retried, by service and LDAP result code (none: network)');
  const onRetry = (error: WriteError): void => retries.inc({ service, code: String(error.code ?? 'none') });

  return async (records) => {
    const outcomes: LoopOutcome[] = [];
    for (const record of records) {
      let request: WriteRequest;
      try {
        request = decodeWriteRequest(record.value);
      } catch (error) {
        if (!(error instanceof UndecodableRecordError)) throw error;
        requests.inc({ service, result: 'dead-letter' });
        outcomes.push({ kind: 'dead-letter', reason: error.message });
        continue;
      }
      try {
        const outcome = await applyRequest(writer, request, { ...options.boundedRetry, onRetry });
        if (outcome.kind === 'dead-letter') {
          requests.inc({ service, result: 'dead-letter' });
          outcomes.push({ kind: 'dead-letter', reason: `request ${request.requestId} (entry ${request.sourceEntryId.value}, ${request.dn}): ${outcome.reason}` });
          continue;
        }
        const { result } = outcome;
        requests.inc({ service, result: result.outcome });
        if (result.outcome === 'dry-run') {
          logger.event('info', `${service}.dry-run`, { requestId: request.requestId, dn: request.dn, steps: describePlan(result.plan) });
        }
        outcomes.push({ kind: 'done' });
      } catch (error) {
        if (error instanceof WriteError && error.outcome === 'retry') onRetry(error);
        if (error instanceof WriteError && error.outcome === 'stop') throw new WriterStoppedError(service, error);
        throw error;
      }
    }
    return outcomes;
  };
}
