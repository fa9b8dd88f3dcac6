import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaAcls, type KafkaAcl } from './kafka-acls';
import { ConfigError, parseConfig } from './loader';
import { type Program } from './schema';

const DEMO = readFileSync(join(__dirname, '..', '..', '..', 'config', 'demo.yaml'), 'utf8');
const ENV: Record<string, string> = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  KAFKA_CA_FILE: '/dev/null',
  AD_URL: 'ldaps://127.0.0.1:636',
  AD_BASE_DN: 'DC=example,DC=test',
  AD_BIND_DN: 'CN=a,DC=example,DC=test',
  AD_BIND_PASSWORD: 'x',
  AD_WRITER_BIND_DN: 'CN=w,DC=example,DC=test',
  AD_WRITER_PASSWORD: 'x',
  AD_CA_FILE: '/dev/null',
  DS_URL: 'ldaps://127.0.0.1:3636',
  DS_BASE_DN: 'dc=example,dc=com',
  DS_BIND_DN: 'cn=Directory Manager',
  DS_BIND_PASSWORD: 'x',
  DS_WRITER_BIND_DN: 'uid=w,dc=example,dc=com',
  DS_WRITER_PASSWORD: 'x',
  DS_CA_FILE: '/dev/null',
  IDSYNC_PASSWORD_KEY_K1: Buffer.alloc(32, 1).toString('base64'),
  IDSYNC_OPERATION_KEY_O1: Buffer.alloc(32, 2).toString('base64'),
  ...Object.fromEntries(['AD_DETECTOR', 'DS_DETECTOR', 'MAPPER', 'AD_WRITER', 'DS_WRITER', 'PASSWORD_AGENT', 'CLI'].map((p) => [`KAFKA_${p}_PASSWORD`, `pw-${p}`])),
};
const config = parseConfig(DEMO, 'demo.yaml', ENV);
const acls = kafkaAcls(config);
const T = config.kafka.topics;

/** The topics `program` may do `operation` on. */
const topicsFor = (program: Program, operation: KafkaAcl['operation']): string[] =>
  acls.filter((a) => a.program === program && a.resource === 'topic' && a.operation === operation).map((a) => a.name).sort();

describe('kafkaAcls: what each program may do on Kafka, from the configuration', () => {
  it('gives each program its own principal and nothing on the cluster', () => {
    expect(new Set(acls.map((a) => `${a.program}=${a.principal}`))).toEqual(
      new Set(['ad-detector', 'ds-detector', 'mapper', 'ad-writer', 'ds-writer', 'password-agent', 'cli'].map((p) => `${p}=User:idsync-${p}`)),
    );
    expect(acls.map((a) => a.resource)).not.toContain('cluster');
    // Only allows: no ALL, ALTER or ALTER_CONFIGS anywhere.
    expect(new Set(acls.map((a) => a.operation))).toEqual(new Set(['read', 'write', 'create', 'delete', 'describe', 'describe-configs']));
  });

  it('a detector writes its own change and state topics, its checkpoint and dead letters; the ad-detector also reads the ad-writer’s receipts', () => {
    expect(topicsFor('ad-detector', 'write')).toEqual([T.adChanges.name, T.adState?.name, T.checkpoints.name, T.deadLetter.name].sort());
    expect(topicsFor('ds-detector', 'write')).toEqual([T.dsChanges.name, T.dsState?.name, T.checkpoints.name, T.deadLetter.name].sort());
    expect(topicsFor('ad-detector', 'read')).toEqual([`${T.adOperations.name}.receipts`, T.checkpoints.name]);
    expect(topicsFor('ds-detector', 'read')).toEqual([T.checkpoints.name]);
    expect(acls.filter((a) => a.program === 'ad-detector' && a.resource === 'group').map((a) => `${a.pattern}:${a.name}`)).toContain('prefixed:idsync-ad-detector-receipts-');
    expect(acls.filter((a) => a.program === 'ad-detector' && a.resource === 'transactional-id').map((a) => `${a.pattern}:${a.name}`)).toEqual([
      `literal:idsync.ad-detector.${config.services['ad-detector'].source}`,
      `literal:idsync.ad-detector.${config.services['ad-detector'].source}`,
    ]);
  });

  it('the mapper reads both change topics (and the pipes\' pause state on the checkpoints topic) and writes both operations topics, nothing else', () => {
    expect(topicsFor('mapper', 'read')).toEqual([T.adChanges.name, T.dsChanges.name, T.checkpoints.name].sort());
    expect(topicsFor('mapper', 'write')).toEqual([T.adOperations.name, T.dsOperations.name, T.deadLetter.name].sort());
    expect(acls.filter((a) => a.program === 'mapper' && a.resource === 'group').map((a) => `${a.pattern}:${a.name}:${a.operation}`)).toEqual(['prefixed:idsync-mapper:read']);
  });

  it('each writer reads only its own operations topic; neither may write any operations or change topic', () => {
    expect(topicsFor('ad-writer', 'read')).toContain(T.adOperations.name);
    expect(topicsFor('ad-writer', 'read')).not.toContain(T.dsOperations.name);
    expect(topicsFor('ds-writer', 'read')).toContain(T.dsOperations.name);
    expect(topicsFor('ds-writer', 'read')).not.toContain(T.adOperations.name);
    for (const writer of ['ad-writer', 'ds-writer'] as const) {
      for (const name of [T.adOperations.name, T.dsOperations.name, T.adChanges.name, T.dsChanges.name]) expect(topicsFor(writer, 'write')).not.toContain(name);
      expect(topicsFor(writer, 'read')).not.toContain(T.adChanges.name);
    }
    expect(topicsFor('ad-writer', 'write')).toEqual([`${T.adOperations.name}.held`, `${T.adOperations.name}.receipts`, `${T.adOperations.name}.wait`, T.links.name, T.checkpoints.name, T.deadLetter.name, T.audit?.name].sort());
    // The sync log's audit topic: written by both writers, read by no service.
    expect(topicsFor('ds-writer', 'write')).toContain(T.audit?.name);
    for (const program of ['ad-detector', 'ds-detector', 'mapper', 'ad-writer', 'ds-writer'] as const) expect(topicsFor(program, 'read')).not.toContain(T.audit?.name);
    expect(topicsFor('ds-writer', 'write')).not.toContain(`${T.adOperations.name}.receipts`);
  });

  it('the password agent writes AD\'s change topic only', () => {
    expect(topicsFor('password-agent', 'write')).toEqual([T.adChanges.name]);
    expect(topicsFor('password-agent', 'read')).toEqual([]);
  });

  it('has no ACLs without SASL accounts, and one shared account gets the union', () => {
    const { sasl: _sasl, ...kafka } = config.kafka;
    expect(kafkaAcls({ ...config, kafka })).toEqual([]);
    const shared = kafkaAcls({ ...config, kafka: { ...config.kafka, sasl: { mechanism: 'scram-sha-512', username: 'idsync', password: 'x' } } });
    expect(new Set(shared.map((a) => a.principal))).toEqual(new Set(['User:idsync']));
    expect(shared.length).toBeLessThan(acls.length);
  });
});

describe('kafka.sasl: accounts per program', () => {
  const problems = (text: string, env = ENV): string[] => {
    try {
      parseConfig(text, 't.yaml', env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
  };

  it('refuses two programs sharing one account', () => {
    expect(problems(DEMO.replace('mapper: { username: idsync-mapper', 'mapper: { username: idsync-cli'))).toEqual([
      expect.stringMatching(/kafka\.sasl\.principals\.cli\.username: idsync-cli is already mapper's: each program needs its own account/),
    ]);
  });

  it('refuses a program with no account', () => {
    expect(problems(DEMO.replace(/^ {6}ds-writer: \{ username: idsync-ds-writer.*\n/m, ''))).toEqual([expect.stringMatching(/^kafka\.sasl\.principals\.ds-writer: is missing/)]);
  });

  it('refuses a shared account next to principals', () => {
    expect(problems(DEMO.replace('    mechanism: scram-sha-512\n', '    mechanism: scram-sha-512\n    username: idsync\n    password: x\n'))).toEqual([
      expect.stringMatching(/either username and password .* or principals/),
    ]);
  });
});
