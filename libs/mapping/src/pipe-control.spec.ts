import { encodePipeControl, parsePipeControl, pipeControlKey, PipeControls } from './pipe-control';

describe('pipe control records', () => {
  it('round-trips a pause and a resume through the topic format', () => {
    const paused = { pipe: 'ad-to-ds', state: 'paused' as const, at: Date.parse('2026-12-01T10:00:00Z'), by: 'alice', reason: 'migration' };
    expect(parsePipeControl(pipeControlKey('ad-to-ds'), encodePipeControl(paused))).toEqual(paused);
    const running = { pipe: 'ad-to-ds', state: 'running' as const, at: paused.at + 1, by: 'bob' };
    expect(parsePipeControl(Buffer.from('pipe-control/ad-to-ds'), encodePipeControl(running))).toEqual(running);
  });

  it('ignores other keys, garbage, and a record whose pipe is not its key', () => {
    const control = encodePipeControl({ pipe: 'ad-to-ds', state: 'paused', at: 1, by: 'x' });
    expect(parsePipeControl('delete-breaker/ds', control)).toBeNull();
    expect(parsePipeControl('pipe-control/ds-to-ad', control)).toBeNull();
    expect(parsePipeControl('pipe-control/ad-to-ds', 'not json')).toBeNull();
    expect(parsePipeControl('pipe-control/ad-to-ds', JSON.stringify({ pipe: 'ad-to-ds', state: 'stopped', at: '2026-12-01T10:00:00Z' }))).toBeNull();
    expect(parsePipeControl('pipe-control/ad-to-ds', null)).toBeNull();
  });

  it('keeps the latest decision per pipe, whatever order the records come in', () => {
    const controls = new PipeControls();
    expect(controls.observe({ pipe: 'ad-to-ds', state: 'paused', at: 10, by: 'a' })).toBe(true);
    expect(controls.isPaused('ad-to-ds')).toBe(true);
    expect(controls.isPaused('ds-to-ad')).toBe(false);
    // An older resume (a replica reading late) changes nothing.
    expect(controls.observe({ pipe: 'ad-to-ds', state: 'running', at: 5, by: 'b' })).toBe(false);
    expect(controls.paused.map((c) => c.pipe)).toEqual(['ad-to-ds']);
    expect(controls.observe({ pipe: 'ad-to-ds', state: 'running', at: 20, by: 'b' })).toBe(true);
    expect(controls.paused).toEqual([]);
  });
});
