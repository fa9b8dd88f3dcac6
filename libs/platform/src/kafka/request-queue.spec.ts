import { createRequire } from 'node:module';
import { patchKafkaJsRequestQueue } from './request-queue';

interface PushedRequest {
  entry: { correlationId: number; apiName: string; apiKey: number; apiVersion: number; resolve: () => void; reject: () => void };
  expectResponse: boolean;
  sendRequest: () => void;
}

interface Queue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  push(request: PushedRequest): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  checkPendingRequests(): void;
  destroy(): void;
}

// kafkajs' own RequestQueue (one per broker connection), as its connections make it.
const RequestQueue = createRequire(require.resolve('kafkajs'))('./src/network/requestQueue') as new (options: object) => Queue;
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const newQueue = (maxInFlightRequests: number | null = null): Queue =>
  new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'localhost:9092', logger: silent });
/** A request that records its sending in `sent`. */
const request = (correlationId: number, sent: number[], expectResponse = false): PushedRequest => ({
  entry: { correlationId, apiName: 'Metadata', apiKey: 3, apiVersion: 6, resolve: () => undefined, reject: () => undefined },
  expectResponse,
  sendRequest: () => void sent.push(correlationId),
});

describe('kafkajs request queue patch', () => {
  let queue: Queue | undefined;
  afterEach(() => {
    queue?.destroy();
    queue = undefined;
  });

  it('is in place for the kafkajs the product depends on', () => {
    expect(patchKafkaJsRequestQueue()).toBe(true);
  });

  it('arms no timer on a connection with nothing waiting (kafkajs re-armed a 1 ms timer after every request, forever)', () => {
    patchKafkaJsRequestQueue();
    queue = newQueue();
    const sent: number[] = [];
    queue.push(request(1, sent));
    queue.checkPendingRequests(); // what a completed request does
    expect(sent).toEqual([1]);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('still sends a request held back by a broker throttle once the throttle ends', async () => {
    patchKafkaJsRequestQueue();
    queue = newQueue();
    queue.throttledUntil = Date.now() + 50;
    const sent: number[] = [];
    queue.push(request(7, sent));
    expect(sent).toEqual([]);
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
    for (let waited = 0; sent.length === 0 && waited < 2_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent).toEqual([7]);
    expect(queue.pending).toHaveLength(0);
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('retries a request held back by too many in flight when one of them completes', () => {
    patchKafkaJsRequestQueue();
    queue = newQueue(1);
    const sent: number[] = [];
    queue.push(request(1, sent, true));
    queue.push(request(2, sent, true));
    expect(sent).toEqual([1]);
    queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1, 2]);
  });
});
