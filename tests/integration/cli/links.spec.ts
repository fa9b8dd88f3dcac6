import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Admin, type Kafka } from 'kafkajs';
import { loadConfig, type SyncConfig } from '@idsync/config';
import { canonicalGuid, encodeLink, type EntryLink, linkKey } from '@idsync/contracts';
import { type KafkaClient, type RecordProducer } from '@idsync/platform';
import { grantRunAcls, testKafka } from '../support/kafka';
import { sameDn, Side } from '../e2e/directories';
import { isolatedConfig } from '../e2e/pipeline';
import { requireStackServers, stackConfig, stackEnv, uniqueSuffix } from '../support/stack';
import { describeRun, idsync, type CliRun } from './run-cli';

/**
 * `idsync links` against the real stack: a configuration of its own (isolated topics and directory names, no
 * service started), entries made in both directories in a test OU outside OU=Corp (no pipeline of another run
 * syncs them), and link records produced by hand on the run's fresh links topic: a two-way pair, a link replaced by
 * a newer record, a link removed by a tombstone, a link to entries that do not exist, and a value that is no link.
 */

const config = stackConfig();
const s = uniqueSuffix();
const ROOT = join(__dirname, '..', '..', '..');

const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const adOu = `OU=lk${s},${adBase}`;
const dsOu = `ou=lk${s},${dsBase}`;
const adDn = (name: string): string => `CN=${name}${s},${adOu}`;
const dsDn = (name: string): string => `cn=${name}${s},${dsOu}`;

// The isolated configuration names its directories ad<suffix> and ds<suffix>; links name them so.
const { yaml, topics, directories } = isolatedConfig(readFileSync(join(ROOT, 'config', 'demo.yaml'), 'utf8'), s, {
  'ad-detector': 18_181,
  'ds-detector': 18_182,
  mapper: 18_183,
  'ad-writer': 18_184,
  'ds-writer': 18_185,
});
const AD = directories['ad'] as string;
const DS = directories['ds'] as string;
const TOPIC = topics['links'] as string;

const dir = mkdtempSync(join(tmpdir(), `idsync-links-${s}-`));
const configFile = join(dir, 'config.yaml');
writeFileSync(configFile, yaml);

let ad: Side | undefined;
let ds: Side | undefined;
let client: KafkaClient;
let kafka: Kafka;
let admin: Admin | undefined;
let producer: RecordProducer | undefined;
/** Every run's output, checked for secrets at the end. */
const runs: CliRun[] = [];

async function cli(args: string[], env?: Record<string, string>): Promise<CliRun> {
  const run = await idsync(args, { configFile, ...(env ? { env } : {}) });
  runs.push(run);
  return run;
}

function expectRun(run: CliRun, code: number): void {
  if (run.code !== code) throw new Error(`expected exit ${code}\n${describeRun(run)}`);
}

const ids = { adA: '', adB: '', dsA: '', dsB: '' };
const gone = { ad: randomUUID(), ds: randomUUID(), removed: randomUUID() };
const T0 = Date.UTC(2026, 10, 25, 10, 0, 0, 0);

const link = (pipe: 'ad-to-ds' | 'ds-to-ad', source: string, destination: string, origin: EntryLink['origin'], linkedAt: number): EntryLink => ({
  pipe,
  source: pipe === 'ad-to-ds' ? { directory: AD, kind: 'objectGUID', value: source } : { directory: DS, kind: 'entryUUID', value: source },
  destination: pipe === 'ad-to-ds' ? { directory: DS, kind: 'entryUUID', value: destination } : { directory: AD, kind: 'objectGUID', value: destination },
  origin,
  linkedAt,
  linkedBy: pipe === 'ad-to-ds' ? 'ds-writer' : 'ad-writer',
});

// Filled once the entries exist.
let aToDs: EntryLink;
let aToAd: EntryLink;
let bFirst: EntryLink;
let bNow: EntryLink;
let removed: EntryLink;
let orphan: EntryLink;
let producedAt = 0;

interface ShowJson {
  topic: string;
  id: string;
  entry: { directory: string; dn: string } | null;
  links: {
    key: string;
    pipe: string;
    source: { directory: string; kind: string; value: string; dn: string | null; dnProblem: string | null };
    destination: { directory: string; kind: string; value: string; dn: string | null; dnProblem: string | null };
    origin: string;
    linkedAt: string;
    linkedBy: string;
  }[];
  removed: { key: string; pipe: string; source: string; destination: string; removedAt: string | null }[];
}

async function showJson(args: string[], env?: Record<string, string>): Promise<ShowJson> {
  const run = await cli(['links', 'show', ...args, '--json'], env);
  expectRun(run, 0);
  return JSON.parse(run.stdout) as ShowJson;
}

async function adGuid(dn: string): Promise<string> {
  const { searchEntries } = await (ad as Side).client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
  const value = searchEntries[0]?.['objectGUID'];
  if (!Buffer.isBuffer(value)) throw new Error(`no objectGUID read for ${dn}`);
  return canonicalGuid(value);
}

async function dsUuid(dn: string): Promise<string> {
  const value = (await (ds as Side).read(dn, ['entryUUID']))?.['entryuuid']?.[0];
  if (value === undefined) throw new Error(`no entryUUID read for ${dn}`);
  return value.toLowerCase();
}

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `lk${s}` });
  await ds.add(dsOu, { objectClass: ['top', 'organizationalUnit'], ou: `lk${s}` });
  for (const name of ['Lk A', 'Lk B']) {
    await ad.add(adDn(name), {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn: `${name}${s}`,
      sAMAccountName: `${name.replace(' ', '').toLowerCase()}${s}`.slice(0, 20),
      sn: 'Links',
    });
    await ds.add(dsDn(name), { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: `${name}${s}`, sn: 'Links' });
  }
  ids.adA = await adGuid(adDn('Lk A'));
  ids.adB = await adGuid(adDn('Lk B'));
  ids.dsA = await dsUuid(dsDn('Lk A'));
  ids.dsB = await dsUuid(dsDn('Lk B'));
  aToDs = link('ad-to-ds', ids.adA, ids.dsA, 'created', T0);
  aToAd = link('ds-to-ad', ids.dsA, ids.adA, 'correlation', T0 + 1_000);
  bFirst = link('ad-to-ds', ids.adB, ids.dsB, 'created', T0 + 2_000);
  bNow = { ...bFirst, origin: 'dn', linkedAt: T0 + 3_000 };
  removed = link('ad-to-ds', ids.adA, gone.removed, 'previous-dn', T0 - 60_000);
  orphan = link('ad-to-ds', gone.ad, gone.ds, 'resync', T0 + 4_000);
  ({ client, kafkajs: kafka } = testKafka(config.kafka, `idsync-links-cli-test-${s}`, 'tool'));
  admin = kafka.admin();
  await admin.connect();
  // The CLI connects with its own Kafka account: the ACLs `idsync kafka-acls` gives it for this configuration.
  await grantRunAcls(runConfig());
}, 60_000);

const runConfig = (): SyncConfig => loadConfig({ ...stackEnv() }, configFile).config;

afterAll(async () => {
  await grantRunAcls(runConfig(), true).catch(() => undefined);
  await producer?.disconnect().catch(() => undefined);
  await admin?.deleteTopics({ topics: [TOPIC] }).catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe(`idsync links on the real stack (run ${s})`, () => {
  it('says which links topic is missing and that the writers create it', async () => {
    for (const args of [
      ['links', 'export'],
      ['links', 'show', randomUUID()],
      ['links', 'stats'],
    ]) {
      const run = await cli(args);
      expectRun(run, 1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`the links topic ${TOPIC} does not exist`);
      expect(run.stderr).toContain('the writers (ad-writer, ds-writer) create it when they start');
    }
  });

  it('refuses a wrong subcommand, an argument that is neither an id nor a DN, and DNs it cannot place, with exit 2', async () => {
    expectRun(await cli(['links']), 2);
    const wrong = await cli(['links', 'list']);
    expectRun(wrong, 2);
    expect(wrong.stderr).toContain("unknown subcommand 'list'");
    const word = await cli(['links', 'show', 'jdoe']);
    expectRun(word, 2);
    expect(word.stderr).toContain("'jdoe' is neither an entry id (a UUID) nor a DN");
    const outside = await cli(['links', 'show', 'cn=Someone,dc=elsewhere,dc=org']);
    expectRun(outside, 2);
    expect(outside.stderr).toContain('the DN is under the baseDn of no configured directory: cn=Someone,dc=elsewhere,dc=org');
    expect(outside.stderr).toContain(`${DS} (${dsBase})`);
    const nobody = await cli(['links', 'show', dsDn('Nobody')]);
    expectRun(nobody, 2);
    expect(nobody.stderr).toContain(`no entry ${dsDn('Nobody')} in directory '${DS}'`);
    const format = await cli(['links', 'export', '--format', 'xml']);
    expectRun(format, 2);
    expect(format.stderr).toContain("no export format 'xml'");
    const pipe = await cli(['links', 'export', '--pipe', 'nope']);
    expectRun(pipe, 2);
    expect(pipe.stderr).toContain("no pipe 'nope'");
  });

  it('shows the live links of an entry by id: both pipes, both ends with their current DNs, origin, time, service, and the removed pair', async () => {
    await admin?.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
    producer = client.producer();
    await producer.connect();
    producedAt = Date.now();
    await producer.send({
      topic: TOPIC,
      messages: [
        ...[aToDs, aToAd, bFirst, removed, bNow, orphan].map((l) => ({ key: linkKey(l), value: encodeLink(l) })),
        { key: linkKey(removed), value: null },
        { key: 'not-a-link', value: Buffer.from('{"json":true}') },
      ],
    });

    const run = await cli(['links', 'show', ids.adA.toUpperCase()]);
    expectRun(run, 0);
    const out = run.stdout;
    expect(out.split('\n')[0]).toBe(`2 live links of ${ids.adA} on ${TOPIC}`);
    const block = (key: string): string => {
      const start = out.indexOf(`link ${key}\n`);
      if (start < 0) throw new Error(`no block for ${key} in\n${out}`);
      const end = out.indexOf('\n\n', start);
      return out.slice(start, end < 0 ? undefined : end);
    };
    const first = block(linkKey(aToDs));
    expect(first).toMatch(/^ {2}pipe +ad-to-ds$/m);
    expect(first).toMatch(new RegExp(`^  source +${AD} objectGUID ${ids.adA} \\(this entry\\)$`, 'm'));
    expect(first.toLowerCase()).toMatch(new RegExp(`^  source dn +${adDn('Lk A').toLowerCase()}$`, 'm'));
    expect(first).toMatch(new RegExp(`^  destination +${DS} entryUUID ${ids.dsA}$`, 'm'));
    expect(first.toLowerCase()).toMatch(new RegExp(`^  destination dn +${dsDn('Lk A').toLowerCase()}$`, 'm'));
    expect(first).toMatch(/^ {2}origin +created$/m);
    expect(first).toMatch(/^ {2}linked at +2026-11-25T10:00:00\.000Z$/m);
    expect(first).toMatch(/^ {2}linked by +ds-writer$/m);
    const second = block(linkKey(aToAd));
    expect(second).toMatch(/^ {2}pipe +ds-to-ad$/m);
    expect(second).toMatch(new RegExp(`^  destination +${AD} objectGUID ${ids.adA} \\(this entry\\)$`, 'm'));
    expect(second).toMatch(/^ {2}origin +correlation$/m);
    expect(second).toMatch(/^ {2}linked by +ad-writer$/m);
    // The newest link first.
    expect(out.indexOf(linkKey(aToAd))).toBeLessThan(out.indexOf(linkKey(aToDs)));
    expect(out).toContain(`removed recently (tombstones still on ${TOPIC}):\n  ${linkKey(removed)}  removed at `);
    expect(out).not.toContain(`link ${linkKey(removed)}`);

    const json = await showJson([ids.adA]);
    const [tombstone] = json.removed;
    expect(tombstone).toMatchObject({ key: linkKey(removed), pipe: 'ad-to-ds', source: ids.adA, destination: gone.removed });
    // The tombstone's own time (when it was produced), not when the command read it.
    const removedAt = Date.parse(tombstone?.removedAt ?? '');
    expect(removedAt).toBeGreaterThanOrEqual(producedAt - 1_000);
    expect(removedAt).toBeLessThanOrEqual(Date.now());
  });

  it('shows the links of an entry given by its DN in either directory, read from that directory for its id', async () => {
    const byDsDn = await showJson([dsDn('Lk A')]);
    expect(byDsDn.id).toBe(ids.dsA);
    expect(byDsDn.entry?.directory).toBe(DS);
    expect(sameDn(byDsDn.entry?.dn ?? '', dsDn('Lk A'))).toBe(true);
    expect(byDsDn.links.map((l) => l.key).sort()).toEqual([linkKey(aToDs), linkKey(aToAd)].sort());
    const ds2ad = byDsDn.links.find((l) => l.pipe === 'ds-to-ad');
    expect(ds2ad).toMatchObject({ origin: 'correlation', linkedAt: new Date(T0 + 1_000).toISOString(), linkedBy: 'ad-writer' });
    expect(ds2ad?.source).toMatchObject({ directory: DS, kind: 'entryUUID', value: ids.dsA, dnProblem: null });
    expect(sameDn(ds2ad?.source.dn ?? '', dsDn('Lk A'))).toBe(true);
    expect(sameDn(ds2ad?.destination.dn ?? '', adDn('Lk A'))).toBe(true);
    expect(byDsDn.removed).toEqual([]);

    const text = await cli(['links', 'show', dsDn('Lk A')]);
    expectRun(text, 0);
    expect(text.stdout.split('\n')[0]?.toLowerCase()).toBe(`2 live links of ${ids.dsA} (${dsDn('Lk A')} in ${DS}) on ${TOPIC}`.toLowerCase());

    // AD, with the DN in another case: the newer record of B's link replaced the first one.
    const byAdDn = await showJson([adDn('Lk B').toLowerCase()]);
    expect(byAdDn.id).toBe(ids.adB);
    expect(byAdDn.entry?.directory).toBe(AD);
    expect(byAdDn.links).toHaveLength(1);
    expect(byAdDn.links[0]).toMatchObject({ key: linkKey(bNow), origin: 'dn', linkedAt: new Date(T0 + 3_000).toISOString() });
    expect(sameDn(byAdDn.links[0]?.destination.dn ?? '', dsDn('Lk B'))).toBe(true);
  });

  it('says when an end has no entry any more, and when a directory cannot be reached, still showing the links', async () => {
    const orphaned = await showJson([gone.ad]);
    expect(orphaned.links).toHaveLength(1);
    expect(orphaned.links[0]?.source).toMatchObject({ value: gone.ad, dn: null, dnProblem: 'no entry with this id' });
    expect(orphaned.links[0]?.destination).toMatchObject({ value: gone.ds, dn: null, dnProblem: 'no entry with this id' });
    const text = await cli(['links', 'show', gone.ad]);
    expectRun(text, 0);
    expect(text.stdout).toMatch(/^ {2}source dn +\(no entry with this id: deleted\?\)$/m);

    // AD on a port nothing listens on: its ends' DNs are unknown, the directory's DNs still shown.
    const offline = await showJson([ids.dsA], { AD_URL: 'ldaps://127.0.0.1:1' });
    const link = offline.links.find((l) => l.pipe === 'ad-to-ds');
    expect(link?.source).toMatchObject({ value: ids.adA, dn: null });
    expect(link?.source.dnProblem).toContain(`directory '${AD}' is unreachable: ldaps://127.0.0.1:1`);
    expect(sameDn(link?.destination.dn ?? '', dsDn('Lk A'))).toBe(true);
  });

  it('exits 1 naming the entry when it has no live links, listing a pair removed recently', async () => {
    const none = randomUUID();
    const nothing = await cli(['links', 'show', none]);
    expectRun(nothing, 1);
    expect(nothing.stdout).toBe('');
    expect(nothing.stderr).toContain(`no live links of ${none} on ${TOPIC}`);
    expect(nothing.stderr).toContain('the writers record a link when they create or find the counterpart');

    const unlinked = await cli(['links', 'show', gone.removed]);
    expectRun(unlinked, 1);
    expect(unlinked.stdout.split('\n')[0]).toBe(`no live links of ${gone.removed} on ${TOPIC}`);
    expect(unlinked.stdout).toContain(`removed recently (tombstones still on ${TOPIC}):\n  ${linkKey(removed)}  removed at `);
    expect(unlinked.stderr).toContain('its links were removed recently');
  });

  it('exports every live link as JSON lines, the summary on stderr', async () => {
    const run = await cli(['links', 'export']);
    expectRun(run, 0);
    const lines = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { key: string; origin: string; linkedAt: string; source: unknown });
    expect(lines.map((l) => l.key).sort()).toEqual([aToDs, aToAd, bNow, orphan].map(linkKey).sort());
    const b = lines.find((l) => l.key === linkKey(bNow));
    expect(b).toEqual({
      key: linkKey(bNow),
      pipe: 'ad-to-ds',
      source: { directory: AD, kind: 'objectGUID', value: ids.adB },
      destination: { directory: DS, kind: 'entryUUID', value: ids.dsB },
      origin: 'dn',
      linkedAt: new Date(T0 + 3_000).toISOString(),
      linkedBy: 'ds-writer',
    });
    expect(run.stderr).toBe(`4 links exported from ${TOPIC}; 1 removed link (tombstones) still on the topic; 1 record skipped (not a link)\n`);
  });

  it('exports one pipe as CSV', async () => {
    const run = await cli(['links', 'export', '--format', 'csv', '--pipe', 'ds-to-ad']);
    expectRun(run, 0);
    expect(run.stdout).toBe(
      'pipe,source_directory,source_kind,source_id,destination_directory,destination_kind,destination_id,origin,linked_at,linked_by\n' +
        `ds-to-ad,${DS},entryUUID,${ids.dsA},${AD},objectGUID,${ids.adA},correlation,2026-11-25T10:00:01.000Z,ad-writer\n`,
    );
    expect(run.stderr).toContain(`1 link of pipe ds-to-ad exported from ${TOPIC}; 0 removed links of pipe ds-to-ad`);
  });

  it('counts links per pipe and origin, and the removed ones', async () => {
    const run = await cli(['links', 'stats', '--json']);
    expectRun(run, 0);
    const stats = JSON.parse(run.stdout) as {
      topic: string;
      pipes: { pipe: string; links: number; removed: number; byOrigin: Record<string, number>; otherDirectories: number }[];
      total: unknown;
      skipped: number;
    };
    expect(stats.topic).toBe(TOPIC);
    expect(stats.pipes.map((p) => [p.pipe, p.links, p.removed, p.otherDirectories])).toEqual([
      ['ad-to-ds', 3, 1, 0],
      ['ds-to-ad', 1, 0, 0],
    ]);
    expect(stats.pipes[0]?.byOrigin).toEqual({ created: 1, dn: 1, 'previous-dn': 0, correlation: 0, resync: 1 });
    expect(stats.total).toEqual({ links: 4, removed: 1 });
    expect(stats.skipped).toBe(1);

    const text = await cli(['links', 'stats']);
    expectRun(text, 0);
    expect(text.stdout).toMatch(new RegExp(`^ad-to-ds +${AD} -> ${DS} +3 +1 +0 +created 1, dn 1, resync 1$`, 'm'));
    expect(text.stdout).toMatch(/^total +4 +1$/m);
    expect(text.stdout).toContain(`4 live links on ${TOPIC}, 1 removed (tombstones still on the topic); 1 record skipped (not a link)`);
  });

  it('never prints a password', () => {
    const env = stackEnv();
    const secrets = [env['AD_BIND_PASSWORD'], env['DS_BIND_PASSWORD']].filter((p): p is string => p !== undefined && p.length > 0);
    expect(secrets.length).toBe(2);
    expect(runs.length).toBeGreaterThan(10);
    for (const run of runs) for (const secret of secrets) expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
  });
});
