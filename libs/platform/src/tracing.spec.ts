import { formatTraceparent, parseTraceparent, stageSpanId } from './trace-context';
import { Tracing } from './tracing';

describe('Tracing off (tracing.exporter: none)', () => {
  it("continues the record's trace, with the stage's derived span id", async () => {
    const tracing = await Tracing.start(undefined, 'mapper');
    const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: false };
    const { context } = tracing.span('map', 'e1', { parent });
    expect(context.traceId).toBe(parent.traceId);
    expect(context.sampled).toBe(false);
    expect(context.spanId).toBe(stageSpanId('mapper', 'e1'));
    // What a stage puts on its records, and what a copy of the context holds.
    expect(parseTraceparent(formatTraceparent(context))).toEqual({ traceId: parent.traceId, spanId: stageSpanId('mapper', 'e1'), sampled: false });
    expect({ ...context }).toEqual({ traceId: parent.traceId, spanId: stageSpanId('mapper', 'e1'), sampled: false });
  });

  it('starts a sampled trace from a root, each stage and unit of work with its own span id', async () => {
    const writer = await Tracing.start({ exporter: 'none', endpoint: 'http://127.0.0.1:4318/v1/traces', sampleRatio: 1 }, 'ds-writer');
    const first = writer.span('write', 'r1', { root: 'a'.repeat(32) }).context;
    expect(first).toEqual({ traceId: 'a'.repeat(32), spanId: stageSpanId('ds-writer', 'r1'), sampled: true });
    expect(writer.span('write', 'r2', { root: 'a'.repeat(32) }).context.spanId).not.toBe(first.spanId);
    expect((await Tracing.start(undefined, 'ad-writer')).span('write', 'r1', { root: 'a'.repeat(32) }).context.spanId).not.toBe(first.spanId);
  });
});
