import { JsonLogger, stdoutLines } from './logger';
import { SecretRedactor } from './redact';

describe('JsonLogger', () => {
  const capture = (level: 'debug' | 'info' | 'warn' | 'error' = 'info') => {
    const lines: string[] = [];
    const logger = new JsonLogger('ds-writer', level, new SecretRedactor(['s3cret-Passw0rd', 'ab']), (line) => lines.push(line));
    return { logger, lines };
  };

  it('writes one JSON object per line with service, level and fields', () => {
    const { logger, lines } = capture();
    logger.event('info', 'writer.applied', { dn: 'uid=jdoe,ou=People,dc=example,dc=com', changes: 2 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'info', service: 'ds-writer', msg: 'writer.applied', changes: 2 });
  });

  it('masks configured secrets wherever they appear, including inside error messages', () => {
    const { logger, lines } = capture();
    logger.error(new Error('bind failed for password s3cret-Passw0rd'));
    logger.event('warn', 'retry', { error: new Error('s3cret-Passw0rd rejected') });
    expect(lines.join('')).not.toContain('s3cret-Passw0rd');
    expect(lines.join('')).toContain('[REDACTED]');
  });

  it('writes a record serialized beforehand as a line of its own, redacted like every line', () => {
    const { logger, lines } = capture();
    logger.recordJson('sync.write', JSON.stringify({ event: 'sync.write', service: 'ds-writer', dn: 'uid=s3cret-Passw0rd,dc=example,dc=com', changes: ['modify'] }));
    logger.recordJson('sync.write', '{}');
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      ts: expect.any(String),
      level: 'info',
      msg: 'sync.write',
      event: 'sync.write',
      service: 'ds-writer',
      dn: 'uid=[REDACTED],dc=example,dc=com',
      changes: ['modify'],
    });
    expect(JSON.parse(lines[1] ?? '')).toEqual({ ts: expect.any(String), level: 'info', msg: 'sync.write' });
  });

  it('writes to stdout once per turn of the event loop, lines in order', async () => {
    const writes: string[] = [];
    const write = stdoutLines({ write: (text: string) => writes.push(text) });
    write('a\n');
    write('b\n');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    write('c\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\nb\n', 'c\n']);
  });

  it('ignores secrets too short to mask without mangling ordinary words', () => {
    const { logger, lines } = capture();
    logger.event('info', 'about abc');
    expect((JSON.parse(lines[0] ?? '') as { msg: string }).msg).toBe('about abc');
  });

  it('drops messages below the configured level', () => {
    const { logger, lines } = capture('warn');
    logger.event('info', 'chatty');
    logger.debug('chattier');
    logger.warn('kept');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['kept']);
  });
});
