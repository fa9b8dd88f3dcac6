import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { canonicalGuid } from '@idsync/contracts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Side, sameDn } from '../e2e/directories';
import { eventually, Pipeline } from '../e2e/pipeline';
import { describeRun, idsync } from './run-cli';

/**
 * `idsync resync` on the local stack, pipe ad-to-ds of the demo configuration, restricted to an OU of its own in
 * AD (--base-dn): the command reads AD and 389-ds, and the real mapper and ds-writer (child processes on isolated
 * topics) apply the snapshot events it publishes.
 */

const config = stackConfig();
const s = uniqueSuffix();
const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
const OU = `rs${s}`;
const adOu = `OU=${OU},OU=Corp,${adBase}`;
const dsOu = `ou=${OU},ou=Corp,${dsBase}`;
const adUser = (cn: string): string => `CN=${cn},${adOu}`;
const dsUser = (cn: string): string => `cn=${cn},${dsOu}`;
const USERS = ['Ann', 'Ben', 'Cat'].map((n) => ({ cn: `${n} ${s}`, login: `${n.toLowerCase()}${s}`.slice(0, 20) }));
const GROUP = `Team ${s}`;

interface Difference {
  dn: string;
  kind: 'create' | 'update' | 'error';
  problem?: string;
  attributes: { attribute: string; current: string[]; add: string[]; remove: string[]; replace: boolean }[];
}
interface ResyncJson {
  sourceEntries: number;
  sourceRead: 'at-once' | 'paged';
  compared: number;
  equal: number;
  create: number;
  update: number;
  published: number;
  alreadyPublished: number;
  deleteCandidates: number;
  deletesPublished: number;
  resumed: boolean;
  differences?: Difference[];
}

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
let stateDir: string;

const resync = async (...args: string[]) => idsync(['resync', '--pipe', 'ad-to-ds', '--base-dn', adOu, '--state-dir', stateDir, ...args], { configFile: pipeline?.configFile ?? '' });
const json = (run: { stdout: string }): ResyncJson => JSON.parse(run.stdout) as ResyncJson;
const byDn = (differences: Difference[] | undefined, dn: string): Difference | undefined => differences?.find((d) => sameDn(d.dn, dn));

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  stateDir = mkdtempSync(join(tmpdir(), `idsync-resync-${s}-`));
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
  for (const u of USERS) {
    await ad.add(adUser(u.cn), {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      sAMAccountName: u.login,
      givenName: u.cn.split(' ')[0] ?? u.cn,
      sn: s,
      mail: `${u.login}@example.test`,
      description: `first ${u.login}`,
    });
  }
  await ad.add(`CN=${GROUP},${adOu}`, { objectClass: ['top', 'group'], sAMAccountName: `team${s}`.slice(0, 20), member: [adUser(USERS[0]?.cn ?? ''), adUser(USERS[1]?.cn ?? '')] });
  // Only the mapper and the ds-writer: the resync publishes the events a detector would.
  pipeline = await Pipeline.start(s, 90_000, { only: ['mapper', 'ds-writer'] });
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 120_000);

describe('idsync resync', () => {
  it('fills an empty destination: every entry of the source OU is created through the pipeline', async () => {
    const dry = await resync('--dry-run', '--json');
    expect(dry.code).toBe(0);
    const plan = json(dry);
    // The OU, three users, one group; nothing exists in 389-ds yet.
    expect(plan).toMatchObject({ sourceEntries: 5, create: 5, update: 0, equal: 0, published: 0 });

    const run = await resync('--json');
    expect({ code: run.code, out: describeRun(run) }).toMatchObject({ code: 0 });
    expect(json(run)).toMatchObject({ create: 5, published: 5 });
    await eventually('the users and the group in 389-ds', () => ds.below(dsOu, '(objectClass=*)', ['member']), (found) => found.size === 4, 60_000);
    const group = await ds.read(dsUser(GROUP), ['member']);
    expect(group?.['member']?.length).toBe(2);

    const again = json(await resync('--dry-run', '--json'));
    expect(again).toMatchObject({ sourceEntries: 5, equal: 5, create: 0, update: 0, sourceRead: 'at-once' });
    // A source larger than --unpaged-limit is counted, then read with the paged-results control: same answer.
    const paged = json(await resync('--dry-run', '--json', '--unpaged-limit', '2', '--page-size', '2'));
    expect(paged).toMatchObject({ sourceEntries: 5, equal: 5, create: 0, update: 0, sourceRead: 'paged' });
  }, 120_000);

  it('lists exactly the damage done in the destination, repairs it, and deletes strays only behind the flag and the threshold', async () => {
    const [ann, ben, cat] = USERS as [(typeof USERS)[number], (typeof USERS)[number], (typeof USERS)[number]];
    await ds.replace(dsUser(ann.cn), 'description', ['damaged']);
    await ds.replace(dsUser(ben.cn), 'mail', []);
    await ds.deleteValue(dsUser(GROUP), 'member', dsUser(ben.cn));
    await ds.del(dsUser(cat.cn));
    await ds.add(dsUser(`Stray ${s}`), { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: `Stray ${s}`, sn: 'stray', uid: `stray${s}` });

    const dry = await resync('--dry-run', '--json');
    expect(dry.code).toBe(0);
    const plan = json(dry);
    const differences = plan.differences ?? [];
    // 389-ds keeps the DN as the writer spelled it (the AD side's RDNs): compare DNs ignoring case.
    expect(differences.map((d) => d.dn.toLowerCase()).sort()).toEqual([dsUser(ann.cn), dsUser(ben.cn), dsUser(cat.cn), dsUser(GROUP), dsUser(`Stray ${s}`)].map((dn) => dn.toLowerCase()).sort());
    expect(byDn(differences, dsUser(ann.cn))).toMatchObject({ kind: 'update', attributes: [{ attribute: 'description', current: ['damaged'], add: [`first ${ann.login}`], replace: true }] });
    expect(byDn(differences, dsUser(ben.cn))).toMatchObject({ kind: 'update', attributes: [{ attribute: 'mail', current: [], add: [`${ben.login}@example.test`] }] });
    expect(byDn(differences, dsUser(GROUP))?.attributes).toEqual([expect.objectContaining({ attribute: 'member', add: [expect.stringMatching(new RegExp(`^CN=${ben.cn},`, 'i'))], remove: [], replace: false })]);
    expect(byDn(differences, dsUser(cat.cn))).toMatchObject({ kind: 'create' });
    expect(byDn(differences, dsUser(`Stray ${s}`))).toMatchObject({ problem: 'not at the source' });
    expect(plan).toMatchObject({ equal: 1, update: 3, create: 1, deleteCandidates: 1 });

    const text = await resync('--dry-run');
    expect(text.stdout.toLowerCase()).toContain(`~ update ${dsUser(ann.cn)}`.toLowerCase());
    expect(text.stdout).toContain('description: "damaged" -> ');
    expect(text.stdout).toMatch(/deleted only with --delete-missing/);

    const repair = await resync('--json');
    expect(repair.code).toBe(0);
    expect(json(repair)).toMatchObject({ published: 4, deletesPublished: 0 });
    await eventually('the damage repaired', async () => json(await resync('--dry-run', '--json')), (p) => p.update === 0 && p.create === 0, 60_000, 1_000);
    expect((await ds.read(dsUser(ann.cn), ['description']))?.['description']).toEqual([`first ${ann.login}`]);
    expect(await ds.read(dsUser(`Stray ${s}`))).not.toBeNull();

    const refused = await resync('--delete-missing', '--max-deletes', '0', '--yes');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/1 destination entries are not at the source, more than --max-deletes 0: nothing was deleted/);
    expect(await ds.read(dsUser(`Stray ${s}`))).not.toBeNull();

    const unconfirmed = await resync('--delete-missing');
    expect(unconfirmed.code).toBe(3);
    expect(await ds.read(dsUser(`Stray ${s}`))).not.toBeNull();

    const deleting = await resync('--delete-missing', '--max-deletes', '5', '--yes', '--json');
    expect(deleting.code).toBe(0);
    expect(json(deleting)).toMatchObject({ deletesPublished: 1, published: 0 });
    await eventually('the stray entry deleted', () => ds.read(dsUser(`Stray ${s}`)), (entry) => entry === null, 30_000);
    expect(await ds.read(dsUser(ann.cn))).not.toBeNull();
  }, 180_000);

  it('resumes an interrupted run: entries already acknowledged are not published again', async () => {
    const [ann, ben] = USERS as [(typeof USERS)[number], (typeof USERS)[number]];
    await ds.replace(dsUser(ann.cn), 'description', ['damaged again']);
    await ds.replace(dsUser(ben.cn), 'description', ['damaged again']);
    // A run that published Ann's event and was then interrupted: its state, as the command leaves it.
    const first = await resync('--json', '--restart');
    expect(json(first)).toMatchObject({ published: 2 });
    await eventually('both repaired', async () => json(await resync('--dry-run', '--json')), (p) => p.update === 0, 30_000, 1_000);
    const stateFile = join(stateDir, 'resync-ad-to-ds.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { runId: string; finished: boolean };
    writeFileSync(stateFile, JSON.stringify({ ...state, finished: false }));
    const guid = await guidOf(adUser(ann.cn));
    writeFileSync(join(stateDir, `resync-${state.runId}.done`), `${guid}\n`);
    await ds.replace(dsUser(ann.cn), 'description', ['damaged a third time']);
    await ds.replace(dsUser(ben.cn), 'description', ['damaged a third time']);

    const resumed = await resync('--json');
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming run ${state.runId}.*1 entries already published`));
    expect(json(resumed)).toMatchObject({ resumed: true, published: 1, alreadyPublished: 1 });
    // Ben is repaired by this run; Ann was skipped as published by the interrupted run, so a new run finds her.
    await eventually('Ben repaired', () => ds.read(dsUser(ben.cn), ['description']), (e) => e?.['description']?.[0] === `first ${ben.login}`, 30_000);
    const after = json(await resync('--dry-run', '--json'));
    expect(after.differences?.map((d) => d.dn.toLowerCase())).toEqual([dsUser(ann.cn).toLowerCase()]);
  }, 120_000);

  it('names what is wrong: an unknown pipe, an unknown class, a bad filter, an unreachable directory', async () => {
    const pipe = await idsync(['resync', '--pipe', 'nope', '--dry-run'], { configFile: pipeline?.configFile ?? '' });
    expect(pipe.code).toBe(2);
    expect(pipe.stderr).toMatch(/no pipe 'nope'.*\n.*pipes: ad-to-ds, ds-to-ad/);
    const cls = await resync('--class', 'printers', '--dry-run');
    expect(cls.code).toBe(2);
    expect(cls.stderr).toMatch(/no sync class 'printers' \(it has: containers, groups, users\)/);
    const filter = await resync('--filter', '(cn=unclosed', '--dry-run');
    expect(filter.code).toBe(2);
    expect(filter.stderr).toMatch(/--filter .* is not an LDAP filter/);
    const down = await idsync(['resync', '--pipe', 'ad-to-ds', '--dry-run'], { configFile: pipeline?.configFile ?? '', env: { DS_URL: 'ldaps://127.0.0.1:1' } });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/unreachable/);
    expect(down.stderr).toMatch(/hint: check that ldaps:\/\/127\.0\.0\.1:1/);
    // Kafka down: said before any directory is read.
    const noKafka = await idsync(['resync', '--pipe', 'ad-to-ds', '--base-dn', adOu], { configFile: pipeline?.configFile ?? '', env: { KAFKA_BROKERS: '127.0.0.1:1' } });
    expect(noKafka.code).toBe(1);
    expect(noKafka.stderr).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1/);
  }, 60_000);
});

async function guidOf(dn: string): Promise<string> {
  const { searchEntries } = await ad.client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
  const raw = searchEntries[0]?.['objectGUID'];
  if (!Buffer.isBuffer(raw)) throw new Error(`no objectGUID for ${dn}`);
  return canonicalGuid(raw);
}
