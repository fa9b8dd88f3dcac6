import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { canonicalGuid, decodeEntryState, encodeLink, type EntryLink, type EntryState, linkKey } from '@idsync/contracts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Side, sameDn } from '../e2e/directories';
import { eventually, Pipeline } from '../e2e/pipeline';
import { describeRun, idsync } from './run-cli';

/**
 * `idsync resync` on the local stack, pipe ad-to-ds of the demo configuration, restricted to an OU of its own in
 * AD (--base-dn): the command reads AD, 389-ds and the run's links topic, and the real mapper and ds-writer (child
 * processes on isolated topics) apply the snapshot events it publishes and record the links.
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
/** Directory names in the run's configuration (the pipeline renames them: `ad<suffix>`, `ds<suffix>`). */
const AD = `ad${s}`;
const DS = `ds${s}`;
/** A sibling OU in AD, outside the resync's --base-dn. */
const adOther = `OU=${OU}x,OU=Corp,${adBase}`;

interface Difference {
  dn: string;
  sourceDn: string;
  kind: 'create' | 'update' | 'equal' | 'error' | 'delete';
  foundBy: 'link' | 'dn' | 'correlation' | 'none';
  link: 'linked' | 'unlinked' | 'dangling' | 'none';
  move: { from: string; to: string } | null;
  problem?: string;
  linkedTo?: string[];
  attributes: { attribute: string; current: string[]; add: string[]; remove: string[]; replace: boolean }[];
}
interface ResyncJson {
  sourceEntries: number;
  unmappable: number;
  sourceRead: 'at-once' | 'paged';
  compared: number;
  equal: number;
  create: number;
  update: number;
  errors: number;
  foundByLink: number;
  moved: number;
  unlinked: number;
  published: number;
  alreadyPublished: number;
  deleteCandidates: number;
  deletesPublished: number;
  notLinked: number;
  notLinkedSample: string[];
  linkedElsewhere: number;
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
  await ad?.deleteTree(adOther).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  // Where another pipeline's detector, running on the same servers, may have copied the sibling OU.
  await ds?.deleteTree(`ou=${OU}x,ou=Corp,${dsBase}`).catch(() => undefined);
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
    await eventually(
      'the users and the group in 389-ds',
      () => ds.below(dsOu, '(objectClass=*)', ['member']),
      (found) => found.size === 4,
      60_000,
    );
    const group = await ds.read(dsUser(GROUP), ['member']);
    expect(group?.['member']?.length).toBe(2);

    // The ds-writer linked what it created: the next run finds every entry by its link.
    const again = await eventually(
      'every entry linked',
      async () => json(await resync('--dry-run', '--json')),
      (p) => p.foundByLink === 5,
      30_000,
      1_000,
    );
    expect(again).toMatchObject({ sourceEntries: 5, equal: 5, create: 0, update: 0, unlinked: 0, sourceRead: 'at-once' });
    // A source larger than --unpaged-limit is counted, then read with the paged-results control: same answer.
    const paged = json(await resync('--dry-run', '--json', '--unpaged-limit', '2', '--page-size', '2'));
    expect(paged).toMatchObject({ sourceEntries: 5, equal: 5, create: 0, update: 0, sourceRead: 'paged' });
  }, 120_000);

  it('lists exactly the damage done in the destination and repairs it; an entry of the directory’s own is left alone', async () => {
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
    expect(differences.map((d) => d.dn.toLowerCase()).sort()).toEqual([dsUser(ann.cn), dsUser(ben.cn), dsUser(cat.cn), dsUser(GROUP)].map((dn) => dn.toLowerCase()).sort());
    expect(byDn(differences, dsUser(ann.cn))).toMatchObject({
      kind: 'update',
      foundBy: 'link',
      attributes: [{ attribute: 'description', current: ['damaged'], add: [`first ${ann.login}`], replace: true }],
    });
    expect(byDn(differences, dsUser(ben.cn))).toMatchObject({ kind: 'update', attributes: [{ attribute: 'mail', current: [], add: [`${ben.login}@example.test`] }] });
    expect(byDn(differences, dsUser(GROUP))?.attributes).toEqual([
      expect.objectContaining({ attribute: 'member', add: [expect.stringMatching(new RegExp(`^CN=${ben.cn},`, 'i'))], remove: [], replace: false }),
    ]);
    // Cat's link names an entry that is gone: created again (the writer looks the link up first, then links anew).
    expect(byDn(differences, dsUser(cat.cn))).toMatchObject({ kind: 'create', link: 'dangling' });
    // Stray was made in the directory, linked to nothing: no source entry maps to it, and it is not the resync's.
    expect(plan).toMatchObject({ equal: 1, update: 3, create: 1, deleteCandidates: 0, notLinked: 1 });
    expect(plan.notLinkedSample.map((dn) => dn.toLowerCase())).toEqual([dsUser(`Stray ${s}`).toLowerCase()]);

    const text = await resync('--dry-run');
    expect(text.stdout.toLowerCase()).toContain(`~ update ${dsUser(ann.cn)}  [users, found by link]`.toLowerCase());
    expect(text.stdout).toContain('description: "damaged" -> ');
    expect(text.stdout).toMatch(/1 destination entries are not linked to any source entry: left alone \(cn=Stray/i);
    expect(text.stdout).not.toMatch(/deleted only with --delete-missing/);

    const repair = await resync('--json');
    expect(repair.code).toBe(0);
    expect(json(repair)).toMatchObject({ published: 4, deletesPublished: 0 });
    await eventually(
      'the damage repaired',
      async () => json(await resync('--dry-run', '--json')),
      (p) => p.update === 0 && p.create === 0 && p.unlinked === 0,
      60_000,
      1_000,
    );
    expect((await ds.read(dsUser(ann.cn), ['description']))?.['description']).toEqual([`first ${ann.login}`]);
    expect(await ds.read(dsUser(`Stray ${s}`))).not.toBeNull();
  }, 180_000);

  it('--publish-state fills the state topic with every source entry as the detector reads it, equal to AD', async () => {
    const run = await resync('--publish-state', '--json');
    expect({ code: run.code, out: describeRun(run) }).toMatchObject({ code: 0 });
    const report = JSON.parse(run.stdout) as { state: { topic: string; records: number } | null };
    expect(report.state).toMatchObject({ topic: pipeline?.topics['adState'], records: 5 });
    const states = new Map<string, EntryState>();
    for (const record of await (pipeline as Pipeline).records('adState')) {
      if (record.value !== null) states.set(record.key?.toString() ?? '', decodeEntryState(record.value));
    }
    const ann = USERS[0] as (typeof USERS)[number];
    const annState = [...states.values()].find((state) => sameDn(state.dn, adUser(ann.cn)));
    const annInAd = await ad.read(adUser(ann.cn), ['objectGUID', 'mail', 'description', 'sAMAccountName']);
    expect(annState?.entryId.value).toBe(canonicalGuid(Buffer.from(annInAd?.['objectguid']?.[0] ?? '', 'hex')));
    const value = (name: string) => annState?.attributes.find((attribute) => attribute.name.toLowerCase() === name)?.values.map(String);
    expect({ mail: value('mail'), description: value('description'), login: value('samaccountname') }).toEqual({
      mail: annInAd?.['mail'],
      description: annInAd?.['description'],
      login: annInAd?.['samaccountname'],
    });
    expect(annState?.attributes.map((attribute) => attribute.name.toLowerCase())).not.toContain('unicodepwd');
  }, 120_000);

  it('resumes an interrupted run: entries already acknowledged are not published again', async () => {
    const [ann, ben] = USERS as [(typeof USERS)[number], (typeof USERS)[number]];
    await ds.replace(dsUser(ann.cn), 'description', ['damaged again']);
    await ds.replace(dsUser(ben.cn), 'description', ['damaged again']);
    // A run that published Ann's event and was then interrupted: its state, as the command leaves it.
    const first = await resync('--json', '--restart');
    expect(json(first)).toMatchObject({ published: 2 });
    await eventually(
      'both repaired',
      async () => json(await resync('--dry-run', '--json')),
      (p) => p.update === 0,
      30_000,
      1_000,
    );
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
    await eventually(
      'Ben repaired',
      () => ds.read(dsUser(ben.cn), ['description']),
      (e) => e?.['description']?.[0] === `first ${ben.login}`,
      30_000,
    );
    const after = json(await resync('--dry-run', '--json'));
    expect(after.differences?.map((d) => d.dn.toLowerCase())).toEqual([dsUser(ann.cn).toLowerCase()]);
  }, 120_000);

  it('moves a linked entry renamed at the destination back to its mapped DN (found by its link, not by DN or correlation)', async () => {
    const gus = { cn: `Gus ${s}`, login: `gus${s}`.slice(0, 20) };
    await ad.add(adUser(gus.cn), { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: gus.login, givenName: 'Gus', sn: s, mail: `${gus.login}@example.test` });
    // Its counterpart, renamed out of band (its uid and mail too: neither DN nor correlation finds it), and linked.
    const moved = dsUser(`Gus Moved ${s}`);
    await ds.add(moved, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: `Gus Moved ${s}`, sn: s, uid: `gusmoved${s}`, mail: `gusmoved${s}@example.test` });
    const uuid = await uuidOf(moved);
    await produceLink({ pipe: 'ad-to-ds', source: { directory: AD, kind: 'objectGUID', value: await guidOf(adUser(gus.cn)) }, destination: { directory: DS, kind: 'entryUUID', value: uuid } });

    const plan = json(await resync('--dry-run', '--json'));
    const difference = plan.differences?.find((d) => sameDn(d.dn, moved));
    expect(difference).toMatchObject({ kind: 'update', foundBy: 'link', link: 'linked' });
    expect(sameDn(difference?.move?.from ?? '', moved) && sameDn(difference?.move?.to ?? '', dsUser(gus.cn))).toBe(true);
    expect(difference?.attributes).toEqual(expect.arrayContaining([expect.objectContaining({ attribute: 'uid', current: [`gusmoved${s}`], add: [gus.login] })]));
    expect(plan).toMatchObject({ moved: 1, create: 0, notLinked: 1 });
    const text = await resync('--dry-run');
    expect(text.stdout.toLowerCase()).toContain(`dn: ${moved} -> ${dsUser(gus.cn)}`.toLowerCase());

    const run = await resync('--json', '--filter', `(sAMAccountName=${gus.login})`);
    expect({ code: run.code, out: describeRun(run) }).toMatchObject({ code: 0 });
    expect(json(run)).toMatchObject({ moved: 1, published: 1 });
    await eventually(
      'the entry moved back, same entryUUID',
      () => ds.read(dsUser(gus.cn), ['entryUUID', 'uid']),
      (e) => e?.['entryuuid']?.[0] === uuid && e['uid']?.[0] === gus.login,
      30_000,
    );
    expect(await ds.read(moved)).toBeNull();
    const after = json(await resync('--dry-run', '--json', '--filter', `(sAMAccountName=${gus.login})`));
    expect(after).toMatchObject({ equal: 1, moved: 0, foundByLink: 1 });
  }, 120_000);

  it('publishes an equal entry that is not linked, and the writer links it', async () => {
    const ben = USERS[1] as (typeof USERS)[number];
    const guid = await guidOf(adUser(ben.cn));
    const current = [...(await started().links()).values()].filter((l) => l.pipe === 'ad-to-ds' && l.source.value === guid);
    expect(current).toHaveLength(1);
    // Its link removed, as on a deployment whose links topic started empty.
    await started().produce(
      'links',
      current.map((l) => ({ key: linkKey(l), value: null })),
    );

    const plan = json(await resync('--dry-run', '--json', '--filter', `(sAMAccountName=${ben.login})`));
    expect(plan).toMatchObject({ equal: 1, unlinked: 1, foundByLink: 0 });
    expect(byDn(plan.differences, dsUser(ben.cn))).toMatchObject({ kind: 'equal', foundBy: 'dn', link: 'unlinked', attributes: [] });
    const text = await resync('--dry-run', '--filter', `(sAMAccountName=${ben.login})`);
    expect(text.stdout.toLowerCase()).toContain(`= equal ${dsUser(ben.cn)}  [users, found by dn; unlinked (will be linked)]`.toLowerCase());
    expect(text.stdout).toContain('links: 0 found by link, 1 unlinked (will be linked)');

    const run = await resync('--json', '--filter', `(sAMAccountName=${ben.login})`);
    expect(json(run)).toMatchObject({ unlinked: 1, published: 1 });
    const relinked = await eventually(
      'Ben linked again',
      async () => [...(await started().links()).values()].filter((l) => l.pipe === 'ad-to-ds' && l.source.value === guid),
      (l) => l.length === 1,
      30_000,
      1_000,
    );
    expect(relinked[0]).toMatchObject({ origin: 'dn', destination: { value: current[0]?.destination.value } });
    expect(json(await resync('--dry-run', '--json', '--filter', `(sAMAccountName=${ben.login})`))).toMatchObject({ unlinked: 0, foundByLink: 1 });
  }, 120_000);

  it('offers for deletion only entries linked to a source entry that is gone, behind the flag and the threshold', async () => {
    const gone = ['Del1', 'Del2'].map((n) => ({ cn: `${n} ${s}`, login: `${n.toLowerCase()}${s}`.slice(0, 20) }));
    for (const u of gone) await ad.add(adUser(u.cn), { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: u.login, givenName: u.cn.split(' ')[0] ?? u.cn, sn: s });
    // Created in the destination by the resync (and linked by the writer).
    expect((await resync('--json')).code).toBe(0);
    await eventually(
      'both created and linked',
      async () => json(await resync('--dry-run', '--json')),
      (p) => p.create === 0 && p.update === 0 && p.unlinked === 0,
      60_000,
      1_000,
    );
    const guids = await Promise.all(gone.map((u) => guidOf(adUser(u.cn))));
    // An entry created in the directory and synced to AD by ds-to-ad, into an OU this resync does not read.
    const ivy = { cn: `Ivy ${s}`, login: `ivy${s}`.slice(0, 20) };
    await ds.add(dsUser(ivy.cn), { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: ivy.cn, sn: s, uid: `ivyds${s}` });
    await ad.add(adOther, { objectClass: ['top', 'organizationalUnit'], ou: `${OU}x` });
    await ad.add(`CN=${ivy.cn},${adOther}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: ivy.login, sn: s });
    await produceLink({
      pipe: 'ds-to-ad',
      source: { directory: DS, kind: 'entryUUID', value: await uuidOf(dsUser(ivy.cn)) },
      destination: { directory: AD, kind: 'objectGUID', value: await guidOf(`CN=${ivy.cn},${adOther}`) },
    });
    for (const u of gone) await ad.del(adUser(u.cn));

    const dry = await resync('--dry-run', '--json', '--delete-missing');
    expect(dry.code).toBe(0);
    const plan = json(dry);
    const offered = (plan.differences ?? []).filter((d) => d.kind === 'delete');
    expect(offered.map((d) => d.dn.toLowerCase()).sort()).toEqual(gone.map((u) => dsUser(u.cn).toLowerCase()).sort());
    expect(offered.flatMap((d) => d.linkedTo ?? []).sort()).toEqual([...guids].sort());
    // Stray (linked to nothing) and Ivy (linked by ds-to-ad to an AD entry that exists) are left alone.
    expect(plan).toMatchObject({ deleteCandidates: 2, notLinked: 1, linkedElsewhere: 1 });
    const text = await resync('--dry-run', '--delete-missing');
    expect(text.stdout.toLowerCase()).toContain(`- ${dsUser(gone[0]?.cn ?? '')}  (linked to source entry ${guids[0]}, which is not at the source)`.toLowerCase());
    expect(text.stdout).toMatch(/1 destination entries are not linked to any source entry: left alone \(cn=Stray/i);
    expect(text.stdout).toMatch(/1 destination entries are linked to source entries that still exist outside this resync's read: left alone/);

    const refused = await resync('--delete-missing', '--max-deletes', '1', '--yes');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/2 destination entries are linked to source entries gone from the source, more than --max-deletes 1: nothing was deleted/);
    const unconfirmed = await resync('--delete-missing');
    expect(unconfirmed.code).toBe(3);
    expect(await ds.read(dsUser(gone[0]?.cn ?? ''))).not.toBeNull();

    const deleting = await resync('--delete-missing', '--max-deletes', '5', '--yes', '--json');
    expect({ code: deleting.code, out: describeRun(deleting) }).toMatchObject({ code: 0 });
    expect(json(deleting)).toMatchObject({ deletesPublished: 2, published: 0 });
    for (const u of gone)
      await eventually(
        `${u.cn} deleted`,
        () => ds.read(dsUser(u.cn)),
        (entry) => entry === null,
        30_000,
      );
    expect(await ds.read(dsUser(`Stray ${s}`))).not.toBeNull();
    expect(await ds.read(dsUser(ivy.cn))).not.toBeNull();
    expect(await ds.read(dsUser(USERS[0]?.cn ?? ''))).not.toBeNull();
    // The writer removed their links with them.
    const links = [...(await started().links()).values()];
    expect(links.filter((l) => guids.includes(l.source.value))).toEqual([]);
  }, 180_000);

  it('reports an entry the pipe cannot map (stderr, summary, exit 1) and still compares and publishes the others', async () => {
    // Pipe ad-to-ds as an operator might narrow it: its DN maps take the OU and its direct children only, while its
    // sync classes still take the whole subtree. An entry one level deeper has no destination DN.
    const doc = parse(readFileSync(pipeline?.configFile ?? '', 'utf8')) as { pipes: { name: string; dnMaps: { from: string; to: string }[] }[] };
    const pipe = doc.pipes.find((p) => p.name === 'ad-to-ds');
    if (pipe === undefined) throw new Error('no pipe ad-to-ds in the run configuration');
    pipe.dnMaps = [
      { from: `*,${adOu}`, to: `{1},${dsOu}` },
      { from: `*,OU=Corp,${adBase}`, to: `{1},ou=Corp,${dsBase}` },
    ];
    const narrowed = join(stateDir, 'narrowed.yaml');
    writeFileSync(narrowed, stringify(doc));
    const narrowResync = (...args: string[]) => idsync(['resync', '--pipe', 'ad-to-ds', '--base-dn', adOu, '--state-dir', stateDir, ...args], { configFile: narrowed });
    const deepOu = `OU=Deep,${adOu}`;
    const deep = `CN=Deep ${s},${deepOu}`;
    await ad.add(deepOu, { objectClass: ['top', 'organizationalUnit'], ou: 'Deep' });
    await ad.add(deep, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `deep${s}`.slice(0, 20), sn: s });
    const ann = USERS[0] as (typeof USERS)[number];
    await ds.replace(dsUser(ann.cn), 'description', ['damaged beside an unmappable entry']);

    const dry = await narrowResync('--dry-run', '--json');
    expect({ code: dry.code, out: describeRun(dry) }).toMatchObject({ code: 1 });
    const plan = json(dry);
    expect(plan.unmappable).toBe(1);
    expect(plan.differences?.find((d) => sameDn(d.sourceDn, deep))).toMatchObject({ kind: 'error', problem: expect.stringMatching(/^cannot be mapped: no DN map matched/) });
    expect(byDn(plan.differences, dsUser(ann.cn))).toMatchObject({ kind: 'update' });

    const run = await narrowResync('--json');
    expect({ code: run.code, out: describeRun(run) }).toMatchObject({ code: 1 });
    expect(run.stderr).toContain(`! ${deep}: cannot be mapped: no DN map matched`);
    // Ann's repair and the new OU: published and applied all the same.
    expect(json(run)).toMatchObject({ unmappable: 1, published: 2 });
    await eventually(
      'Ann repaired',
      () => ds.read(dsUser(ann.cn), ['description']),
      (e) => e?.['description']?.[0] === `first ${ann.login}`,
      30_000,
    );
    const text = await narrowResync('--dry-run');
    expect(text.stdout).toContain(`! ${deep}\n    cannot be mapped: no DN map matched`);
    expect(text.stdout).toContain('1 source entries could not be mapped (listed above; the others were compared)');
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
    // Entries the filter leaves out of the read are not missing.
    const deleteFiltered = await resync('--delete-missing', '--filter', '(department=Sales)', '--dry-run');
    expect(deleteFiltered.code).toBe(2);
    expect(deleteFiltered.stderr).toMatch(/--delete-missing does not go with --filter: the entries the filter leaves out of the read are not missing/);
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

function started(): Pipeline {
  if (pipeline === undefined) throw new Error('the pipeline did not start');
  return pipeline;
}

async function uuidOf(dn: string): Promise<string> {
  const uuid = (await ds.read(dn, ['entryUUID']))?.['entryuuid']?.[0];
  if (uuid === undefined) throw new Error(`no entryUUID for ${dn}`);
  return uuid.toLowerCase();
}

/** A link record on the run's links topic, as a writer would have recorded it. */
async function produceLink(link: Pick<EntryLink, 'pipe' | 'source' | 'destination'>): Promise<void> {
  const full: EntryLink = { ...link, origin: 'dn', linkedAt: Date.now(), linkedBy: 'ds-writer' };
  await started().produce('links', [{ key: linkKey(full), value: encodeLink(full) }]);
}

async function guidOf(dn: string): Promise<string> {
  const { searchEntries } = await ad.client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
  const raw = searchEntries[0]?.['objectGUID'];
  if (!Buffer.isBuffer(raw)) throw new Error(`no objectGUID for ${dn}`);
  return canonicalGuid(raw);
}
