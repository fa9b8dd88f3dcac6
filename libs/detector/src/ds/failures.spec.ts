import { InvalidCredentialsError, InsufficientAccessError, BusyError, UnavailableError, NoSuchObjectError } from 'ldapts';
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { classifyFailure, isProducerFenced } from './failures';

/** A protocol error as kafkajs builds it from a broker's error code. */
const protocolError = (type: string, code: number, message: string): KafkaJSProtocolError => Object.assign(new KafkaJSProtocolError(message), { type, code, retriable: false });

describe('classifyFailure: retry or stop', () => {
  it.each([
    ['invalid credentials (49)', 'stop', 'ldap-invalid-credentials', new InvalidCredentialsError()],
    ['insufficient access (50)', 'stop', 'ldap-insufficient-access-rights', new InsufficientAccessError()],
    ['no such object (32): cn=changelog missing', 'stop', 'ldap-no-such-object', new NoSuchObjectError()],
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

  it('retries Kafka connection trouble, even once kafkajs gave up on it (a broker restart); stops when the account may not use Kafka', () => {
    expect(classifyFailure(new KafkaJSConnectionError('Connection error'))).toEqual({ action: 'retry', kind: 'kafka' });
    // What kafkajs throws after its own retries while the broker is down (seen in tests/faults/broker-killed.spec.ts).
    const gaveUp = new KafkaJSNonRetriableError(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    expect(classifyFailure(gaveUp)).toEqual({ action: 'retry', kind: 'kafka' });
    const denied = protocolError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 53, 'Not authorized to use this transactional id');
    expect(classifyFailure(denied)).toEqual({ action: 'stop', kind: 'kafka-denied' });
  });

  it('reconnects (and re-reads the checkpoint) when another producer fenced it: a new instance or idsync set-startpoint', () => {
    // What kafkajs 2.2.4 raises against Kafka 4 (tests/integration/cli/set-startpoint.spec.ts checks it for real).
    const epoch = protocolError('INVALID_PRODUCER_EPOCH', 47, 'Producer attempted an operation with an old epoch');
    expect(classifyFailure(epoch)).toEqual({ action: 'retry', kind: 'kafka-fenced' });
    // PRODUCER_FENCED (90) is not in kafkajs 2.2.4's table.
    const unknown = protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 90');
    expect(classifyFailure(unknown)).toEqual({ action: 'retry', kind: 'kafka-fenced' });
    // Wrapped by a retrier.
    expect(classifyFailure(Object.assign(new KafkaJSNonRetriableError('retries exhausted'), { cause: epoch }))).toEqual({ action: 'retry', kind: 'kafka-fenced' });
    expect(isProducerFenced(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 91'))).toBe(false);
  });

  it('never retries a programming error; retries something unknown a limited number of times (then the detector stops)', () => {
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({ action: 'stop', kind: 'programming-error' });
    expect(classifyFailure(new Error('what is this'))).toEqual({ action: 'retry', kind: 'unknown', limited: true });
    expect(classifyFailure(Object.assign(new Error('LDAP result 4711'), { code: 4711 }))).toEqual({ action: 'retry', kind: 'ldap-unknown-4711', limited: true });
    expect(classifyFailure('a string')).toEqual({ action: 'stop', kind: 'unknown' });
  });
});
