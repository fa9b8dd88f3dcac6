import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } from 'kafkajs';
import { UndecodableRecordError } from '@idsync/contracts';
import { backoffDelay, classifyFailure, type FailureAction } from './consumer-loop';

class DirectoryBusy extends Error {
  readonly retriable = true;
}
class Unmappable extends Error {
  readonly retriable = false;
}

describe('classifyFailure: what the loop does with an error the handler threw', () => {
  const rows: [string, FailureAction, unknown][] = [
    ['a Kafka connection error', 'retry', new KafkaJSConnectionError('Connection error: ECONNREFUSED')],
    ['Kafka retries exhausted (marked not retriable by kafkajs: still an outage)', 'retry', new KafkaJSNumberOfRetriesExceeded(new Error('timeout'), { retryCount: 5, retryTime: 100 })],
    ['another Kafka client error', 'retry', new KafkaJSNonRetriableError('not the leader')],
    ['an error that says a retry helps', 'retry', new DirectoryBusy('server busy')],
    ['an error that says a retry does not help', 'dead-letter', new Unmappable('no DN map matched')],
    ['an undecodable record', 'dead-letter', new UndecodableRecordError('entry-change', 'magic-byte', 'first byte is 0x7b')],
    ['a TypeError (a bug)', 'stop', new TypeError("Cannot read properties of undefined (reading 'dn')")],
    ['a RangeError (a bug)', 'stop', new RangeError('Invalid array length')],
    ['a plain Error without retriable (unknown: treated as a bug)', 'stop', new Error('unexpected')],
    ['something thrown that is not an Error', 'stop', 'oops'],
  ];
  it.each(rows)('%s -> %s', (_what, action, error) => {
    expect(classifyFailure(error)).toBe(action);
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial wait up to the maximum', () => {
    const options = { initialMs: 100, maxMs: 1_000, factor: 2 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('uses 200 ms to 30 s by default', () => {
    expect(backoffDelay(1)).toBe(200);
    expect(backoffDelay(50)).toBe(30_000);
  });
});
