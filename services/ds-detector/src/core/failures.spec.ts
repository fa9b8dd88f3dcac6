import { InvalidCredentialsError, InsufficientAccessError, BusyError, UnavailableError, NoSuchObjectError } from 'ldapts';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { backoffDelay, classifyFailure } from './failures';

describe('classifyFailure: retry or stop', () => {
  it.each([
    ['invalid credentials (49)', 'stop', 'ldap-invalid-credentials', new InvalidCredentialsError()],
    ['insufficient access (50)', 'stop', 'ldap-insufficient-access', new InsufficientAccessError()],
    ['no such object (32): cn=changelog missing', 'stop', 'ldap-no-changelog', new NoSuchObjectError()],
    ['busy (51)', 'retry', 'ldap-busy', new BusyError()],
    ['unavailable (52)', 'retry', 'ldap-unavailable', new UnavailableError()],
  ] as const)('LDAP %s -> %s', (_what, action, kind, error) => {
    expect(classifyFailure(error)).toEqual({ action, kind });
  });

  it('retries when the connection drops or times out', () => {
    expect(classifyFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toEqual({ action: 'retry', kind: 'network' });
    expect(classifyFailure(new Error('Connection closed.'))).toEqual({ action: 'retry', kind: 'network' });
    expect(classifyFailure(new Error('Timeout'))).toEqual({ action: 'retry', kind: 'network' });
  });

  it('believes errors that say whether a retry helps', () => {
    class DirectoryUnavailableError extends Error {
      readonly retriable = true;
    }
    class DirectoryBindError extends Error {
      readonly retriable = false;
    }
    expect(classifyFailure(new DirectoryUnavailableError('down')).action).toBe('retry');
    expect(classifyFailure(new DirectoryBindError('bad password')).action).toBe('stop');
  });

  it('retries Kafka connection trouble, stops when the producer was fenced by a newer instance', () => {
    expect(classifyFailure(new KafkaJSConnectionError('Connection error'))).toEqual({ action: 'retry', kind: 'kafka' });
    expect(classifyFailure(new KafkaJSNonRetriableError('nope'))).toEqual({ action: 'stop', kind: 'kafka' });
    const fenced = new KafkaJSProtocolError('fenced');
    Object.assign(fenced, { type: 'INVALID_PRODUCER_EPOCH' });
    expect(classifyFailure(fenced)).toEqual({ action: 'stop', kind: 'kafka-fenced-or-denied' });
  });

  it('never retries a programming error or something unknown', () => {
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({ action: 'stop', kind: 'programming-error' });
    expect(classifyFailure(new Error('what is this'))).toEqual({ action: 'stop', kind: 'unknown' });
    expect(classifyFailure('a string')).toEqual({ action: 'stop', kind: 'unknown' });
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, 200, 5_000))).toEqual([200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
  });
});
