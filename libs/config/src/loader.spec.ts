import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ConfigReader, loadConfig, parseConfig, parseConfigFor, referencedVariables, withheldVariable } from './loader';
import { runConfigCli } from './cli';

const DEMO = readFileSync(join(__dirname, '..', '..', '..', 'config', 'demo.yaml'), 'utf8');
/** CA files that exist: a configuration naming a file that cannot be read is refused at load. */
const CA_DIR = mkdtempSync(join(tmpdir(), 'idsync-ca-'));
writeFileSync(join(CA_DIR, 'ad-ca.crt'), '-----BEGIN CERTIFICATE-----\n');
writeFileSync(join(CA_DIR, 'ds-ca.crt'), '-----BEGIN CERTIFICATE-----\n');
writeFileSync(join(CA_DIR, 'kafka-ca.crt'), '-----BEGIN CERTIFICATE-----\n');

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
  KAFKA_CA_FILE: join(CA_DIR, 'kafka-ca.crt'),
  KAFKA_AD_DETECTOR_PASSWORD: 'kafka-ad-detector-secret',
  KAFKA_DS_DETECTOR_PASSWORD: 'kafka-ds-detector-secret',
  KAFKA_MAPPER_PASSWORD: 'kafka-mapper-secret',
  KAFKA_AD_WRITER_PASSWORD: 'kafka-ad-writer-secret',
  KAFKA_DS_WRITER_PASSWORD: 'kafka-ds-writer-secret',
  KAFKA_PASSWORD_AGENT_PASSWORD: 'kafka-password-agent-secret',
  KAFKA_CLI_PASSWORD: 'kafka-cli-secret',
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

  it('paces the ad-detector by a share of the time, refusing a share outside (0, 1] and the option on the ds-detector', () => {
    expect(parseConfig(DEMO, 'demo.yaml', STACK_ENV).services['ad-detector'].streamingPollShare).toBe(0.25);
    const share = (value: string) => DEMO.replace('  ad-detector:\n    httpPort: 8181', `  ad-detector:\n    httpPort: 8181\n    streamingPollShare: ${value}`);
    expect(parseConfig(share('1'), 't.yaml', STACK_ENV).services['ad-detector'].streamingPollShare).toBe(1);
    expect(problemsOf(share('0'))).toEqual([expect.stringMatching(/^services\.ad-detector\.streamingPollShare: /)]);
    expect(problemsOf(share('1.5'))).toEqual([expect.stringMatching(/^services\.ad-detector\.streamingPollShare: /)]);
    const onDs = DEMO.replace('  ds-detector:\n    httpPort: 8182', '  ds-detector:\n    httpPort: 8182\n    streamingPollShare: 0.5');
    expect(problemsOf(onDs)).toEqual(['services.ds-detector: unknown key(s) streamingPollShare']);
  });

  it("keeps kafkajs' 30 s consumer session by default, and refuses one shorter than the broker's 6 s minimum", () => {
    expect(parseConfig(DEMO, 'demo.yaml', STACK_ENV).kafka.consumerSessionTimeoutMs).toBe(30_000);
    const session = (value: string) => DEMO.replace(/^kafka:\n/m, `kafka:\n  consumerSessionTimeoutMs: ${value}\n`);
    expect(parseConfig(session('10000'), 't.yaml', STACK_ENV).kafka.consumerSessionTimeoutMs).toBe(10_000);
    expect(problemsOf(session('5000'))).toEqual([expect.stringMatching(/^kafka\.consumerSessionTimeoutMs: /)]);
  });

  it('reads after-images by default, and refuses an exclude list that removes what a pipe needs, naming the pipe', () => {
    expect(parseConfig(DEMO, 'demo.yaml', STACK_ENV).services['ad-detector'].afterImage).toEqual({ enabled: true, include: [], exclude: [] });
    const afterImage = (value: string) => DEMO.replace('  ad-detector:\n    httpPort: 8181', `  ad-detector:\n    httpPort: 8181\n    afterImage: ${value}`);
    expect(parseConfig(afterImage('{ include: [title], exclude: [jpegPhoto] }'), 't.yaml', STACK_ENV).services['ad-detector'].afterImage).toEqual({
      enabled: true,
      include: ['title'],
      exclude: ['jpegPhoto'],
    });
    expect(problemsOf(afterImage('{ exclude: [sAMAccountName] }'))).toEqual([
      expect.stringMatching(/^services\.ad-detector\.afterImage\.exclude: removes attributes the sync pipes need: sAMAccountName \(pipe ad-to-ds, class \w+: mapping to uid\)/),
    ]);
  });

  it('takes a schema registry (registering by default), and refuses a URL that is not http(s) or a user without a password', () => {
    const registry = (block: string) => DEMO.replace('  clientId: idsync\n', `  clientId: idsync\n  schemaRegistry: ${block}\n`);
    expect(parseConfig(DEMO, 'demo.yaml', STACK_ENV).kafka.schemaRegistry).toBeUndefined();
    expect(parseConfig(registry('{ url: "https://registry:8081", username: idsync, password: s3cret }'), 't.yaml', STACK_ENV).kafka.schemaRegistry).toEqual({
      url: 'https://registry:8081',
      username: 'idsync',
      password: 's3cret',
      autoRegister: true,
    });
    expect(problemsOf(registry('{ url: "ftp://registry" }'))).toEqual(['kafka.schemaRegistry.url: must be an http:// or https:// URL']);
    expect(problemsOf(registry('{ url: "http://registry", username: idsync }'))).toEqual(['kafka.schemaRegistry: username and password go together']);
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

/** The credentials each program is given in k8s/ (one Secret each) and docker-compose.yml. */
const CREDENTIALS = [
  'AD_BIND_PASSWORD',
  'DS_BIND_PASSWORD',
  'AD_WRITER_PASSWORD',
  'DS_WRITER_PASSWORD',
  'IDSYNC_PASSWORD_KEY_K1',
  'IDSYNC_OPERATION_KEY_O1',
  'KAFKA_AD_DETECTOR_PASSWORD',
  'KAFKA_DS_DETECTOR_PASSWORD',
  'KAFKA_MAPPER_PASSWORD',
  'KAFKA_AD_WRITER_PASSWORD',
  'KAFKA_DS_WRITER_PASSWORD',
  'KAFKA_PASSWORD_AGENT_PASSWORD',
  'KAFKA_CLI_PASSWORD',
] as const;
const GIVEN: Record<ConfigReader, readonly (typeof CREDENTIALS)[number][]> = {
  'ad-detector': ['AD_BIND_PASSWORD', 'KAFKA_AD_DETECTOR_PASSWORD'],
  'ds-detector': ['DS_BIND_PASSWORD', 'IDSYNC_PASSWORD_KEY_K1', 'KAFKA_DS_DETECTOR_PASSWORD'],
  mapper: ['IDSYNC_OPERATION_KEY_O1', 'KAFKA_MAPPER_PASSWORD'],
  'ad-writer': ['AD_WRITER_PASSWORD', 'IDSYNC_PASSWORD_KEY_K1', 'IDSYNC_OPERATION_KEY_O1', 'KAFKA_AD_WRITER_PASSWORD'],
  'ds-writer': ['DS_WRITER_PASSWORD', 'IDSYNC_PASSWORD_KEY_K1', 'IDSYNC_OPERATION_KEY_O1', 'KAFKA_DS_WRITER_PASSWORD'],
  'password-agent': ['IDSYNC_PASSWORD_KEY_K1', 'KAFKA_PASSWORD_AGENT_PASSWORD'],
  cli: ['AD_BIND_PASSWORD', 'DS_BIND_PASSWORD', 'IDSYNC_OPERATION_KEY_O1', 'KAFKA_CLI_PASSWORD'],
};
/** The stack's environment with only `reader`'s credentials (the settings, URLs and DNs, are shared). */
const envFor = (reader: ConfigReader, without: readonly string[] = []): Record<string, string> =>
  Object.fromEntries(Object.entries(STACK_ENV).filter(([name]) => ((CREDENTIALS as readonly string[]).includes(name) ? GIVEN[reader].includes(name as never) : true) && !without.includes(name)));
const WHERE: Record<(typeof CREDENTIALS)[number], string> = {
  AD_BIND_PASSWORD: 'directories.ad.bindPassword',
  DS_BIND_PASSWORD: 'directories.ds.bindPassword',
  AD_WRITER_PASSWORD: 'services.ad-writer.bindPassword',
  DS_WRITER_PASSWORD: 'services.ds-writer.bindPassword',
  IDSYNC_PASSWORD_KEY_K1: 'secrets.passwordKeys.keys[0].key',
  IDSYNC_OPERATION_KEY_O1: 'secrets.operationKeys.keys[0].key',
  KAFKA_AD_DETECTOR_PASSWORD: 'kafka.sasl.principals.ad-detector.password',
  KAFKA_DS_DETECTOR_PASSWORD: 'kafka.sasl.principals.ds-detector.password',
  KAFKA_MAPPER_PASSWORD: 'kafka.sasl.principals.mapper.password',
  KAFKA_AD_WRITER_PASSWORD: 'kafka.sasl.principals.ad-writer.password',
  KAFKA_DS_WRITER_PASSWORD: 'kafka.sasl.principals.ds-writer.password',
  KAFKA_PASSWORD_AGENT_PASSWORD: 'kafka.sasl.principals.password-agent.password',
  KAFKA_CLI_PASSWORD: 'kafka.sasl.principals.cli.password',
};

describe('configuration loaded by one program (a Secret per service)', () => {
  const readers = Object.keys(GIVEN) as ConfigReader[];

  it.each(readers)('starts %s with only its own credentials and withholds the others', (reader) => {
    const { config, withheld } = parseConfigFor(DEMO, 'demo.yaml', envFor(reader), { reader });
    expect(withheld).toEqual(CREDENTIALS.filter((name) => !GIVEN[reader].includes(name)).sort());
    const passwordKeys = GIVEN[reader].includes('IDSYNC_PASSWORD_KEY_K1');
    const operationKeys = GIVEN[reader].includes('IDSYNC_OPERATION_KEY_O1');
    expect(config.secrets?.passwordKeys?.keys[0]?.key).toBe(passwordKeys ? STACK_ENV.IDSYNC_PASSWORD_KEY_K1 : undefined);
    expect(config.secrets?.operationKeys?.keys[0]?.key).toBe(operationKeys ? STACK_ENV.IDSYNC_OPERATION_KEY_O1 : undefined);
    // Without operation keys a program neither signs nor verifies; the programs that do keep the file's setting.
    expect(config.secrets?.signOperations).toBe(operationKeys);
    for (const [name, value] of [
      ['AD_BIND_PASSWORD', config.directories['ad']?.bindPassword],
      ['DS_BIND_PASSWORD', config.directories['ds']?.bindPassword],
      ['AD_WRITER_PASSWORD', config.services['ad-writer'].bindPassword],
      ['DS_WRITER_PASSWORD', config.services['ds-writer'].bindPassword],
      ['KAFKA_MAPPER_PASSWORD', config.kafka.sasl?.principals?.mapper?.password],
      ['KAFKA_CLI_PASSWORD', config.kafka.sasl?.principals?.cli?.password],
    ] as const) {
      if (GIVEN[reader].includes(name)) expect(value).toBe(STACK_ENV[name]);
      else expect(withheldVariable(value)).toBe(name);
    }
  });

  it.each(readers.flatMap((reader) => GIVEN[reader].filter((name) => reader !== 'cli' || !name.endsWith('_BIND_PASSWORD')).map((name) => [reader, name] as const)))(
    '%s without its own %s does not start, and the message names the variable',
    (reader, name) => {
      expect(() => parseConfig(DEMO, 'demo.yaml', envFor(reader, [name]), { reader })).toThrow(ConfigError);
      expect(problemsOfFor(reader, envFor(reader, [name]))).toEqual([`${WHERE[name]}: environment variable ${name} is not set (${reader} needs it)`]);
    },
  );

  it('lets the CLI start without a directory password: only the commands that bind there need it (refused then)', () => {
    const { config, withheld } = parseConfigFor(DEMO, 'demo.yaml', envFor('cli', ['DS_BIND_PASSWORD']), { reader: 'cli' });
    expect(withheld).toContain('DS_BIND_PASSWORD');
    expect(withheldVariable(config.directories['ds']?.bindPassword)).toBe('DS_BIND_PASSWORD');
    expect(config.directories['ad']?.bindPassword).toBe('ad-secret');
  });

  it("needs a writer's directory account when the writer has none of its own", () => {
    const text = DEMO.replace('    bindDn: "${DS_WRITER_BIND_DN}"\n    bindPassword: "${DS_WRITER_PASSWORD}"\n', '');
    expect(text).not.toBe(DEMO);
    expect(problemsOfFor('ds-writer', envFor('ds-writer'), text)).toEqual(['directories.ds.bindPassword: environment variable DS_BIND_PASSWORD is not set (ds-writer needs it)']);
    expect(() => parseConfig(text, 't.yaml', { ...envFor('ds-writer'), DS_BIND_PASSWORD: 'ds-secret' }, { reader: 'ds-writer' })).not.toThrow();
  });

  it('follows the directory a detector names, not its name', () => {
    const text = DEMO.replace('  ds:\n    kind: ldap', '  corp-ldap:\n    kind: ldap').replace(/^(\s+-?\s*)(source|destination): ds$/gm, '$1$2: corp-ldap');
    expect(problemsOfFor('ds-detector', envFor('ds-detector', ['DS_BIND_PASSWORD']), text)).toEqual([
      'directories.corp-ldap.bindPassword: environment variable DS_BIND_PASSWORD is not set (ds-detector needs it)',
    ]);
  });

  it('still requires every setting that is not a credential, whoever reads it', () => {
    expect(problemsOfFor('mapper', envFor('mapper', ['AD_URL']))).toEqual(['directories.ad.urls[0]: environment variable AD_URL is not set']);
  });

  it('requires every credential when no program is named (validate-config without --service)', () => {
    const missing = CREDENTIALS.filter((name) => !GIVEN.mapper.includes(name));
    expect([...problemsOf(DEMO, envFor('mapper'))].sort()).toEqual(missing.map((name) => `${WHERE[name]}: environment variable ${name} is not set`).sort());
  });
});

function problemsOfFor(reader: ConfigReader, env: Record<string, string>, text = DEMO): readonly string[] {
  try {
    parseConfig(text, 'test.yaml', env, { reader });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

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
    expect(run(['validate', file(DEMO), '--service', 'printer']).err).toContain("unknown service 'printer'");
    expect(run(['validate', file(DEMO), '--service']).code).toBe(2);
  });

  it('checks the file as one service loads it with --service, every credential without', () => {
    const path = file(DEMO);
    const env = envFor('mapper');
    const mapper = run(['validate', path, '--service', 'mapper'], env);
    expect(mapper.code).toBe(0);
    expect(mapper.out).toContain(`${path}: valid for mapper`);
    expect(mapper.out).toContain('not set, not used by mapper: AD_BIND_PASSWORD, AD_WRITER_PASSWORD, DS_BIND_PASSWORD, DS_WRITER_PASSWORD, IDSYNC_PASSWORD_KEY_K1');
    const writer = run(['validate', path, '--service', 'ad-writer'], env);
    expect(writer.code).toBe(1);
    expect(writer.err).toContain('services.ad-writer.bindPassword: environment variable AD_WRITER_PASSWORD is not set (ad-writer needs it)');
    const all = run(['validate', path], env);
    expect(all.code).toBe(1);
    expect(all.err).toContain('directories.ad.bindPassword: environment variable AD_BIND_PASSWORD is not set');
  });
});
