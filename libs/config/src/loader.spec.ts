import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, referencedVariables } from './loader';
import { runConfigCli } from './cli';

const DEMO = readFileSync(join(__dirname, '..', '..', '..', 'config', 'demo.yaml'), 'utf8');
/** CA files that exist: a configuration naming a file that cannot be read is refused at load. */
const CA_DIR = mkdtempSync(join(tmpdir(), 'idsync-ca-'));
writeFileSync(join(CA_DIR, 'ad-ca.crt'), '-----BEGIN CERTIFICATE-----\n');
writeFileSync(join(CA_DIR, 'ds-ca.crt'), '-----BEGIN CERTIFICATE-----\n');

const STACK_ENV = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  AD_URL: 'ldaps://127.0.0.1:636',
  AD_BASE_DN: 'DC=example,DC=test',
  AD_BIND_DN: 'CN=Administrator,CN=Users,DC=example,DC=test',
  AD_BIND_PASSWORD: 'ad-secret',
  AD_WRITER_BIND_DN: 'CN=idsync-writer,CN=Users,DC=example,DC=test',
  AD_WRITER_PASSWORD: 'ad-writer-secret',
  AD_CA_FILE: join(CA_DIR, 'ad-ca.crt'),
  DS_URL: 'ldaps://127.0.0.1:3636',
  DS_BASE_DN: 'dc=example,dc=com',
  DS_BIND_DN: 'cn=Directory Manager',
  DS_BIND_PASSWORD: 'ds-secret',
  DS_WRITER_BIND_DN: 'uid=idsync-writer,ou=Services,dc=example,dc=com',
  DS_WRITER_PASSWORD: 'ds-writer-secret',
  DS_CA_FILE: join(CA_DIR, 'ds-ca.crt'),
  IDSYNC_PASSWORD_KEY_K1: Buffer.alloc(32, 1).toString('base64'),
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
};

function problemsOf(text: string, env: Record<string, string> = STACK_ENV): readonly string[] {
  try {
    parseConfig(text, 'test.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('configuration loading', () => {
  it('accepts the demo configuration with the local stack environment and applies defaults', () => {
    const config = parseConfig(DEMO, 'demo.yaml', STACK_ENV);
    expect(config.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(config.directories['ad']?.bindPassword).toBe('ad-secret');
    expect(config.directories['ad']?.tls.rejectUnauthorized).toBe(true);
    expect(config.directories['ad']?.tls.serverName).toBeUndefined();
    expect(config.services['ds-writer'].bindDn).toBe('uid=idsync-writer,ou=Services,dc=example,dc=com');
    expect(config.services['ad-writer'].dryRun).toBe(false);
    expect(config.services['ds-writer']).toMatchObject({ connections: 8, concurrency: 8 });
  });

  it('names the path and the variable when a referenced environment variable is not set', () => {
    const { AD_BIND_PASSWORD: _omitted, ...env } = STACK_ENV;
    expect(problemsOf(DEMO, env)).toEqual(['directories.ad.bindPassword: environment variable AD_BIND_PASSWORD is not set']);
  });

  it('refuses plain ldap:// unless StartTLS or an explicit lab override is set', () => {
    const text = DEMO.replace('urls: ["${DS_URL}"]', 'urls: ["ldap://127.0.0.1:3389"]');
    expect(problemsOf(text)).toEqual([
      'directories.ds.urls[0]: is plain ldap:// without StartTLS; use ldaps://, set startTls: true, or set allowInsecure: true for a lab',
    ]);
    expect(() => parseConfig(text.replace('kind: ldap', 'kind: ldap\n    startTls: true'), 't.yaml', STACK_ENV)).not.toThrow();
  });

  it('lists every problem at once, each with its path', () => {
    const text = DEMO.replace('httpPort: 8185', 'httpPort: 8184').replace('destination: ad', 'destination: nowhere').replace('clientId: idsync', 'clientId: idsync\n  colour: blue');
    expect(problemsOf(text)).toEqual(
      expect.arrayContaining([
        'kafka: unknown key(s) colour',
        "services.ad-writer.destination: names directory 'nowhere', which is not defined under directories (defined: ad, ds)",
        'services.ds-writer.httpPort: 8184 is already used by ad-writer',
      ]),
    );
  });

  it('rejects a pipe between directories that are not defined', () => {
    const text = `${DEMO.slice(0, DEMO.indexOf('\npipes:'))}\npipes:\n  - name: ad-to-ldap\n    source: ad\n    destination: ldap\n    syncClasses:\n      - { name: all, evaluationOrder: 1, destinationObjectClasses: [top] }\n`;
    expect(problemsOf(text)).toEqual(["pipes[0].destination: names directory 'ldap', which is not defined under directories (defined: ad, ds)"]);
  });

  it('rejects a detector pointed at the wrong kind of directory', () => {
    const text = DEMO.replace('  ad-detector:\n    httpPort: 8181\n    source: ad', '  ad-detector:\n    httpPort: 8181\n    source: ds');
    expect(problemsOf(text)).toEqual(["services.ad-detector.source: names directory 'ds' of kind ldap; ad-detector needs kind active-directory"]);
  });

  it('reports YAML syntax errors and missing sections', () => {
    expect(problemsOf('kafka: [unclosed')[0]).toMatch(/^YAML syntax: /);
    expect(problemsOf('logLevel: info\n')).toEqual(
      expect.arrayContaining(['kafka: is required', 'directories: is required', 'services: is required']),
    );
  });

  it('says which file cannot be read', () => {
    expect(() => loadConfig({}, '/nonexistent/idsync.yaml')).toThrow('invalid configuration /nonexistent/idsync.yaml:\n  - cannot read the file: ENOENT');
    expect(() => loadConfig({})).toThrow('set IDSYNC_CONFIG to the path of the YAML file');
  });

  it('lists the environment variables a configuration refers to', () => {
    expect(referencedVariables(DEMO)).toEqual(expect.arrayContaining(['AD_BIND_PASSWORD', 'DS_WRITER_PASSWORD', 'KAFKA_BROKERS']));
  });
});

describe('validate-config command', () => {
  const run = (argv: string[], env: Record<string, string> = STACK_ENV) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = runConfigCli(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join(''), err: err.join('') };
  };
  const file = (text: string): string => {
    const path = join(mkdtempSync(join(tmpdir(), 'idsync-config-')), 'config.yaml');
    writeFileSync(path, text);
    return path;
  };

  it('exits 0 and summarises a valid file without printing secrets', () => {
    const result = run(['validate', file(DEMO)]);
    expect(result.code).toBe(0);
    expect(result.out).toContain('valid');
    expect(result.out).not.toContain('ad-secret');
  });

  it('exits 1, before connecting anywhere, when a CA file it names cannot be read', () => {
    const result = run(['validate', file(DEMO)], { ...STACK_ENV, AD_CA_FILE: '/nonexistent/idsync/ad-ca.crt' });
    expect(result.code).toBe(1);
    expect(result.err).toContain('directories.ad.tls.caFile: cannot read /nonexistent/idsync/ad-ca.crt (ENOENT)');
    expect(result.err).not.toContain('directories.ds.tls.caFile');
  });

  it('exits 1 and lists the problems of an invalid file', () => {
    const path = file(DEMO.replace('partitions: 3', 'partitions: 0'));
    const result = run(['validate', path]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`invalid configuration ${path}:`);
    expect(result.err).toContain('kafka.topics.deadLetter.partitions');
  });

  it('exits 2 on a usage error', () => {
    expect(run(['check']).code).toBe(2);
    expect(run([]).err).toContain('usage: validate-config validate <config.yaml>');
  });
});
