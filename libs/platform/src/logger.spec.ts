import { JsonLogger } from './logger';
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
