import { createRequire } from 'node:module';

/** What the patch touches of kafkajs' RequestQueue (one per broker connection). */
interface RequestQueueState {
  pending: unknown[];
  /** When the broker's throttle ends (ms since the epoch); -1 when it never throttled. */
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

/** kafkajs' own delay before a waiting request is tried again when no throttle says how long. */
const RETRY_PENDING_MS = 10;

/**
 * A connection checks its queue again later only while requests wait in it (throttled by the broker, or more in
 * flight than allowed); a request that completes checks the queue itself, and a new one that must wait arms this.
 */
export function scheduleCheckWhilePending(this: RequestQueueState): void {
  if (this.pending.length === 0 || this.throttleCheckTimeoutId !== null) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : RETRY_PENDING_MS,
  );
}

let patched: boolean | undefined;

/**
 * kafkajs 2.2.4 (its last release) re-arms a timer on every connection after each request even when nothing waits:
 * with no throttle its delay is `-1 - Date.now()`, which Node runs after 1 ms, forever (tulios/kafkajs#1556, #1704;
 * the `TimeoutNegativeWarning` at start). Every connection that has sent one request then runs about a thousand
 * timer callbacks a second, idle or not, and a service holds several connections. Replaces that method with one
 * that arms the timer only while requests wait. Another kafkajs, whose method is not the one described, is left as
 * it is. Returns whether the patch is in place.
 */
export function patchKafkaJsRequestQueue(): boolean {
  if (patched !== undefined) return patched;
  const load = createRequire(require.resolve('kafkajs'));
  const RequestQueue = load('./src/network/requestQueue') as { prototype: { scheduleCheckPendingRequests?: unknown } };
  const method = RequestQueue.prototype.scheduleCheckPendingRequests;
  patched = typeof method === 'function' && method.toString().includes('this.throttledUntil - Date.now()') && !method.toString().includes('pending.length === 0');
  if (patched) RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckWhilePending;
  return patched;
}
