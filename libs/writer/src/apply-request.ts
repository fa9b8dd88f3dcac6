import { type WriteRequest } from '@idsync/contracts';
import { backoffDelay } from '@idsync/platform';
import { type AttributeKnowledge, DEFAULT_ATTRIBUTES } from './attributes';
import { type ApplyHints, type ApplyResult } from './directory-writer';
import { WriteError } from './errors';
import { type WritePlan } from './plan';

/** What became of one request: done (applied, no-op, already applied, dry run) or dead-lettered with a reason. */
export type RequestOutcome =
  | { readonly kind: 'done'; readonly result: ApplyResult; readonly attempts: number }
  | { readonly kind: 'dead-letter'; readonly reason: string; readonly code: number | null; readonly attempts: number; readonly error: WriteError };

export interface BoundedRetryOptions {
  /** Attempts for a failure that may resolve itself (a member or parent not there yet). Default 5. */
  readonly attempts?: number;
  /** First delay, doubled each time (with jitter: between half and all of it). Default 500 ms. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called before each bounded retry (metrics by code). */
  readonly onRetry?: (error: WriteError, attempt: number) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies one request for a consumer: bounded retries (with backoff) for failures that may resolve themselves,
 * then dead-letter (a dependency that never came) or stop (an unknown failure, thrown as a `stop` WriteError);
 * dead-letter outcomes returned with their reason. Outages (busy, unavailable, network: unbounded
 * retries) and `stop` are thrown as the WriteError, for the consumer loop to back off (retriable) or halt (not):
 * the record's offset must not be committed in either case.
 */
export async function applyRequest(
  writer: { apply(request: WriteRequest, hints?: ApplyHints): Promise<ApplyResult> },
  request: WriteRequest,
  options: BoundedRetryOptions = {},
  hints: ApplyHints = {},
): Promise<RequestOutcome> {
  const attempts = options.attempts ?? 5;
  const sleep = options.sleep ?? pause;
  const backoff = { initialMs: options.initialDelayMs ?? 500, maxMs: options.maxDelayMs ?? 10_000, factor: 2, jitter: 0.5 };
  for (let attempt = 1; ; attempt++) {
    try {
      return { kind: 'done', result: await writer.apply(request, hints), attempts: attempt };
    } catch (error) {
      if (!(error instanceof WriteError)) throw error;
      if (error.outcome === 'dead-letter') return { kind: 'dead-letter', reason: error.message, code: error.code, attempts: attempt, error };
      if (error.outcome !== 'retry' || !error.bounded) throw error;
      if (attempt >= attempts) {
        // An unknown failure says nothing about the record: the writer stops for an operator, the record stays.
        if (error.exhausted === 'stop') {
          throw new WriteError('stop', `still failing after ${attempt} attempts: ${error.message}`, { requestId: error.requestId, dn: error.dn, code: error.code }, { cause: error });
        }
        return { kind: 'dead-letter', reason: `gave up after ${attempt} attempts: ${error.message}`, code: error.code, attempts: attempt, error };
      }
      options.onRetry?.(error, attempt);
      await sleep(backoffDelay(attempt, backoff));
    }
  }
}

/** A plan as text for logs and dry runs: attribute names and values, password values masked. */
export function describePlan(plan: WritePlan, knowledge: AttributeKnowledge = DEFAULT_ATTRIBUTES): string[] {
  const show = (name: string, values: readonly (string | Buffer)[]): string =>
    `${name}: ${values.length === 0 ? '(none)' : values.map((v) => (knowledge.isPassword(name) ? '***' : Buffer.isBuffer(v) ? `<${v.length} bytes>` : v)).join(' | ')}`;
  return plan.steps.map((step) => {
    switch (step.kind) {
      case 'add':
        return `add ${step.dn} {${step.attributes.map((a) => show(a.name, a.values)).join('; ')}}`;
      case 'modify':
        return `modify ${step.dn} {${step.changes.map((c) => `${c.op} ${show(c.name, c.values)}`).join('; ')}}`;
      case 'delete':
        return `delete ${step.dn}`;
      case 'modify-dn':
        return `modify-dn ${step.dn} -> ${step.newDn}${step.newSuperior === null ? '' : ` (newSuperior ${step.newSuperior})`}`;
    }
  });
}
