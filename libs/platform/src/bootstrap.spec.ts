import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_STATUS, startupDecision } from './bootstrap';

const DEMO = join(__dirname, '..', '..', '..', 'config', 'demo.yaml');
const ENV = {
  IDSYNC_CONFIG: DEMO,
  KAFKA_BROKERS: '127.0.0.1:9092',
  AD_URL: 'ldaps://127.0.0.1:636',
  AD_BASE_DN: 'DC=example,DC=test',
  AD_BIND_DN: 'CN=Administrator,CN=Users,DC=example,DC=test',
  AD_BIND_PASSWORD: 'ad-secret',
  AD_CA_FILE: '/dev/null',
  AD_WRITER_BIND_DN: 'CN=idsync-writer,CN=Users,DC=example,DC=test',
  DS_WRITER_BIND_DN: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
  DS_URL: 'ldaps://127.0.0.1:3636',
  DS_BASE_DN: 'dc=example,dc=com',
  DS_BIND_DN: 'cn=Directory Manager',
  DS_BIND_PASSWORD: 'ds-secret',
  DS_CA_FILE: '/dev/null',
  KAFKA_CA_FILE: '/dev/null',
  KAFKA_MAPPER_PASSWORD: 'kafka-mapper-secret',
  KAFKA_PASSWORD_AGENT_PASSWORD: 'kafka-password-agent-secret',
  IDSYNC_PASSWORD_KEY_K1: Buffer.alloc(32, 1).toString('base64'),
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
};
const FULL_PASS = { parse: (argv: readonly string[]) => (argv.every((a) => a === '--full-pass') ? { fullPass: argv.length > 0 } : null), usage: 'usage: agent [--full-pass]' };

describe('start-up decision (before anything connects)', () => {
  it('starts with a valid configuration and the parsed command line', () => {
    const decision = startupDecision('password-agent', ENV, ['--full-pass'], { args: FULL_PASS });
    expect(decision).toMatchObject({ kind: 'start', file: DEMO, args: { fullPass: true } });
  });

  it('refuses arguments the service does not take with the usage, status 2, before reading the configuration', () => {
    expect(startupDecision('password-agent', {}, ['--bogus'], { args: FULL_PASS })).toEqual({ kind: 'exit', status: EXIT_STATUS.usage, message: FULL_PASS.usage });
  });

  it('ignores the command line of a service that takes none', () => {
    expect(startupDecision('mapper', ENV, ['--anything']).kind).toBe('start');
  });

  it('exits 1 naming the service on an invalid or missing configuration', () => {
    expect(startupDecision('mapper', { ...ENV, IDSYNC_CONFIG: undefined }, [])).toEqual({ kind: 'exit', status: EXIT_STATUS.failed, message: expect.stringMatching(/^mapper: [^]*IDSYNC_CONFIG/) });
    expect(startupDecision('mapper', { ...ENV, KAFKA_MAPPER_PASSWORD: undefined }, [])).toEqual({
      kind: 'exit',
      status: EXIT_STATUS.failed,
      message: expect.stringContaining('KAFKA_MAPPER_PASSWORD'),
    });
  });

  it("exits 1 with the service's own check's message", () => {
    const decision = startupDecision('password-agent', ENV, [], { args: FULL_PASS, checkConfig: (_config, file) => `${file} has no secrets.passwordKeys` });
    expect(decision).toEqual({ kind: 'exit', status: EXIT_STATUS.failed, message: `password-agent: ${DEMO} has no secrets.passwordKeys` });
  });

  it("exits 1 when the service has no block of its own (the password agent's is optional)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'idsync-bootstrap-'));
    const file = join(dir, 'no-agent.yaml');
    writeFileSync(file, readFileSync(DEMO, 'utf8').replace(/^ {2}password-agent:\n( {4}.*\n)+/m, ''));
    const decision = startupDecision('password-agent', { ...ENV, IDSYNC_CONFIG: file }, [], { args: FULL_PASS });
    expect(decision).toEqual({ kind: 'exit', status: EXIT_STATUS.failed, message: `password-agent: ${file} has no services.password-agent block` });
  });
});
