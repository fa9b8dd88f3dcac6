import { KafkaJSProtocolError } from 'kafkajs';
import { BATCH_OVERHEAD_BYTES, isRecordTooLarge, recordBytes, RecordLimits, RecordTooLargeError, splitByBytes } from './record-size';

const message = (bytes: number, key = 'k') => ({ key, value: Buffer.alloc(bytes) });

describe('recordBytes: what a record takes in a batch', () => {
  it('counts key, value, header names and values, and the framing', () => {
    const plain = recordBytes({ key: 'abc', value: Buffer.alloc(100) });
    expect(plain).toBeGreaterThanOrEqual(103);
    expect(recordBytes({ key: 'abc', value: Buffer.alloc(100), headers: { 'idsync-pipe': 'ad-to-ds' } })).toBe(plain + 8 + 11 + 8);
    expect(recordBytes({ key: null, value: null })).toBeGreaterThan(0);
    // Characters outside ASCII count in bytes, not characters.
    expect(recordBytes({ key: 'é', value: null }) - recordBytes({ key: 'e', value: null })).toBe(1);
  });
});

describe('splitByBytes: requests under a limit, in order', () => {
  it('keeps everything in one group when it fits', () => {
    const messages = [message(100), message(100), message(100)];
    expect(splitByBytes(messages, 10_000)).toEqual([messages]);
  });

  it('starts a new group when the next record would go over, never reordering', () => {
    const messages = Array.from({ length: 10 }, (_, i) => message(300, `k${i}`));
    const groups = splitByBytes(messages, 1_000);
    expect(groups.flat()).toEqual(messages);
    for (const group of groups) {
      expect(BATCH_OVERHEAD_BYTES + group.reduce((sum, m) => sum + recordBytes(m), 0)).toBeLessThanOrEqual(1_000);
    }
    expect(groups.length).toBeGreaterThan(3);
  });

  it('gives a record over the limit a group of its own (the caller refuses it)', () => {
    const [small, big, after] = [message(10), message(5_000), message(10)];
    expect(splitByBytes([small, big, after], 1_000)).toEqual([[small], [big], [after]]);
  });
});

describe('RecordLimits', () => {
  const limits = new RecordLimits(1_000_000, new Map([['small-topic', 2_000]]));

  it('uses the topic limit the broker gave, else the configured one', () => {
    expect(limits.of('small-topic')).toBe(2_000);
    expect(limits.of('other')).toBe(1_000_000);
  });

  it('refuses a record over its topic limit, naming the topic, the size and the limit', () => {
    expect(() => limits.split('small-topic', [message(10), message(3_000)])).toThrow(RecordTooLargeError);
    expect(() => limits.split('small-topic', [message(3_000)])).toThrow(/a record of \d+ bytes for small-topic is over the limit of 2000 bytes/);
    expect(limits.split('other', [message(3_000)])).toHaveLength(1);
  });
});

describe('isRecordTooLarge: a refusal by size, ours or the broker', () => {
  const broker = (type: string) => new KafkaJSProtocolError(Object.assign(new Error(type), { type, code: 10, retriable: false }));
  it.each([
    ['our own check', new RecordTooLargeError('t', 2, 1), true],
    ['the broker: MESSAGE_TOO_LARGE', broker('MESSAGE_TOO_LARGE'), true],
    ['the broker: RECORD_LIST_TOO_LARGE', broker('RECORD_LIST_TOO_LARGE'), true],
    ['wrapped as a cause', new Error('send failed', { cause: broker('MESSAGE_TOO_LARGE') }), true],
    ['another broker error', broker('NOT_LEADER_FOR_PARTITION'), false],
    ['not an error', 'MESSAGE_TOO_LARGE', false],
  ])('%s -> %s', (_what, error, expected) => {
    expect(isRecordTooLarge(error)).toBe(expected);
  });
});
