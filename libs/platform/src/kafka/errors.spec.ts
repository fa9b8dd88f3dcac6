import { KafkaJSAggregateError, KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from 'kafkajs';
import { classifyKafkaFailure, isProducerFenced } from './errors';
import { RecordTooLargeError } from './record-size';

/** A protocol error as kafkajs builds it from a broker's error code. */
const protocolError = (type: string, code: number): KafkaJSProtocolError => Object.assign(new KafkaJSProtocolError(`broker says ${type}`), { type, code, retriable: false });

describe("classifyKafkaFailure: the product's Kafka table", () => {
  it.each([
    ['a connection refused (broker down)', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), 'retry', 'kafka'],
    ['kafkajs giving up after its retries: still an outage', new KafkaJSNonRetriableError(new KafkaJSConnectionError('Connection error')), 'retry', 'kafka'],
    ['retries exceeded', new KafkaJSNumberOfRetriesExceeded(new Error('Request timed out'), { retryCount: 5, retryTime: 100 }), 'retry', 'kafka'],
    ['a leader moving', protocolError('NOT_LEADER_OR_FOLLOWER', 6), 'retry', 'kafka'],
    ['an old producer epoch: fenced', protocolError('INVALID_PRODUCER_EPOCH', 47), 'fenced', 'kafka-fenced'],
    ['PRODUCER_FENCED (unknown to kafkajs 2.2.4)', Object.assign(new KafkaJSProtocolError('Unknown error code 90'), { type: 'KAFKAJS_UNKNOWN_ERROR_CODE' }), 'fenced', 'kafka-fenced'],
    ['fenced, wrapped by a retrier', Object.assign(new KafkaJSNonRetriableError('retries exhausted'), { cause: protocolError('INVALID_PRODUCER_EPOCH', 47) }), 'fenced', 'kafka-fenced'],
    ['a transactional id the account may not use', protocolError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 53), 'stop', 'kafka-denied'],
    ['a topic the account may not write', protocolError('TOPIC_AUTHORIZATION_FAILED', 29), 'stop', 'kafka-denied'],
    ['a group the account may not use', protocolError('GROUP_AUTHORIZATION_FAILED', 30), 'stop', 'kafka-denied'],
    ['a wrong SASL password', Object.assign(new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'), { name: 'KafkaJSSASLAuthenticationError' }), 'stop', 'kafka-denied'],
    [
      'creating a topic the account may not create (an aggregate of per-topic errors)',
      new KafkaJSAggregateError('Topic creation errors', [Object.assign(protocolError('TOPIC_AUTHORIZATION_FAILED', 29), { name: 'KafkaJSCreateTopicError', topic: 'idsync.ad.changes' })]),
      'stop',
      'kafka-denied',
    ],
    ['a record over the broker limit', protocolError('MESSAGE_TOO_LARGE', 10), 'dead-letter', 'kafka-too-large'],
    ['a batch over the broker limit', protocolError('RECORD_LIST_TOO_LARGE', 18), 'dead-letter', 'kafka-too-large'],
    ['a record over our own limit', new RecordTooLargeError('t', 2_000_000, 1_000_000), 'dead-letter', 'kafka-too-large'],
  ])('%s -> %s', (_what, error, action, kind) => {
    expect(classifyKafkaFailure(error)).toEqual({ action, kind });
  });

  it('has no verdict on what is not a Kafka client error', () => {
    expect(classifyKafkaFailure(new Error('LDAP busy'))).toBeUndefined();
    expect(classifyKafkaFailure(Object.assign(new Error('x'), { type: 'INVALID_PRODUCER_EPOCH' }))).toBeUndefined();
    expect(classifyKafkaFailure('KafkaJSConnectionError')).toBeUndefined();
  });

  it('isProducerFenced does not take other unknown codes for a fence', () => {
    expect(isProducerFenced(Object.assign(new KafkaJSProtocolError('Unknown error code 91'), { type: 'KAFKAJS_UNKNOWN_ERROR_CODE' }))).toBe(false);
    expect(isProducerFenced(new KafkaJSConnectionError('Connection error'))).toBe(false);
  });
});
