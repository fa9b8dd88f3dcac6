import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { isProducerFenced } from './errors';

/** A protocol error as kafkajs builds it from a broker's error code. */
const protocolError = (type: string, code: number, message: string): KafkaJSProtocolError => Object.assign(new KafkaJSProtocolError(message), { type, code, retriable: false });

describe('isProducerFenced: another producer took over the transactional id', () => {
  it('recognises what kafkajs 2.2.4 raises against Kafka 4 (INVALID_PRODUCER_EPOCH)', () => {
    // tests/integration/cli/set-startpoint.spec.ts checks this against the real broker.
    expect(isProducerFenced(protocolError('INVALID_PRODUCER_EPOCH', 47, 'Producer attempted an operation with an old epoch'))).toBe(true);
  });

  it('recognises PRODUCER_FENCED, which kafkajs 2.2.4 only knows as an unknown code 90', () => {
    expect(isProducerFenced(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 90'))).toBe(true);
    expect(isProducerFenced(protocolError('KAFKAJS_UNKNOWN_ERROR_CODE', -99, 'Unknown error code 91'))).toBe(false);
  });

  it('looks through a retrier that wrapped it', () => {
    const fenced = protocolError('INVALID_PRODUCER_EPOCH', 47, 'old epoch');
    expect(isProducerFenced(Object.assign(new KafkaJSNonRetriableError('retries exhausted'), { cause: fenced }))).toBe(true);
  });

  it('leaves every other failure to the usual classification', () => {
    expect(isProducerFenced(new KafkaJSConnectionError('Connection error'))).toBe(false);
    expect(isProducerFenced(protocolError('TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 53, 'denied'))).toBe(false);
    expect(isProducerFenced(Object.assign(new Error('busy'), { code: 51 }))).toBe(false);
    expect(isProducerFenced('fenced')).toBe(false);
  });
});
