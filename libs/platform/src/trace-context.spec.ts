import { eventTraceContext, eventTraceId, formatTraceparent, parseTraceparent, stageSpanId } from './trace-context';

describe('trace context (W3C traceparent on records)', () => {
  it('reads a valid header and writes it back the same', () => {
    const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const context = parseTraceparent(header);
    expect(context).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true });
    expect(formatTraceparent(context!)).toBe(header);
    expect(parseTraceparent('00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00')?.sampled).toBe(false);
  });

  it('ignores what is not a trace context: missing, malformed, zero ids, version ff, extra fields on version 00', () => {
    for (const bad of [
      undefined,
      '',
      'hello',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ]) {
      expect(parseTraceparent(bad)).toBeNull();
    }
    // A later version may add fields: its first four are read.
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more')?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('gives a change the same trace however often it is read, and each stage its own span', () => {
    expect(eventTraceId('ad/9f2c:1234')).toBe(eventTraceId('ad/9f2c:1234'));
    expect(eventTraceId('ad/9f2c:1234')).not.toBe(eventTraceId('ad/9f2c:1235'));
    expect(eventTraceId('x')).toMatch(/^[0-9a-f]{32}$/);
    expect(stageSpanId('mapper', 'e1')).toMatch(/^[0-9a-f]{16}$/);
    expect(stageSpanId('mapper', 'e1')).not.toBe(stageSpanId('ad-detector', 'e1'));
    const context = eventTraceContext('ad-detector', 'e1');
    expect(parseTraceparent(formatTraceparent(context))).toEqual(context);
  });
});
