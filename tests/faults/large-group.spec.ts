import { type DirectoryConfig } from '@idsync/config';
import { openLdapSession, searchAllValues, writerCredentials } from '@idsync/platform';
import { Attribute, Change } from 'ldapts';
import { describeRun, idsync } from '../integration/cli/run-cli';
import { Side } from '../integration/e2e/directories';
import { eventually } from '../integration/e2e/pipeline';
import { AdRangeProxy, sambaPlainLdap } from '../integration/support/ad-range-proxy';
import { FaultRun } from './support/fault-run';

/**
 * A 3,000-member group, both pipes running, with AD answering as Active Directory does over MaxValRange (1,500):
 * every service and the `idsync` command reach Samba through AdRangeProxy, so a read of `member` gets
 * `member;range=0-1499` and must ask for the rest. The group created in AD arrives whole in 389-ds and follows a
 * removal; `idsync resync` reads it whole (equal, nothing to do) and repairs it when members went missing at the
 * destination; a 3,000-member group created in 389-ds reaches AD, and a removal there is applied by an ad-writer
 * that must read AD's slices to see the members it removes. Both trees are equal at the end.
 */

const MEMBERS = 3_000;
/** Member values per modify when the AD group is filled. */
const MODIFY_BATCH = 500;
/** AD connections creating the users side by side. */
const CONNECTIONS = 4;

let proxy: AdRangeProxy | undefined;
beforeAll(async () => {
  const ad = run.config.directories['ad'] as DirectoryConfig;
  proxy = await AdRangeProxy.start({ target: sambaPlainLdap(ad.urls[0] ?? ''), maxValRange: 1_500, attributes: ['member'] });
});
// Removing 3,000 users from Samba takes a minute or two on a quiet stack, far longer while other tests load it.
const run = new FaultRun('lg', async () => undefined, { pipeline: () => ({ directoryUrls: { ad: started(proxy).url } }), cleanupTimeoutMs: 900_000 });
afterAll(async () => {
  await proxy?.close();
}, 30_000);

const step = run.scenario.step;
const s = run.suffix;
const user = (i: number): { cn: string; sam: string } => ({ cn: `g${i} ${s}`, sam: `g${i}-${s}`.slice(0, 20) });
const adUser = (i: number): string => `CN=${user(i).cn},${run.adOu}`;
const dsUser = (i: number): string => `cn=${user(i).cn},${run.dsOu}`;
/** Also their sAMAccountName (at most 20 characters), which pipe ds-to-ad maps from cn. */
const AD_GROUP = `Big AD ${s}`;
const DS_GROUP = `Big DS ${s}`;
const adDn = (cn: string): string => `CN=${cn},${run.adOu}`;
const dsDn = (cn: string): string => `cn=${cn},${run.dsOu}`;
const all = Array.from({ length: MEMBERS }, (_, i) => i);

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('not started');
  return value;
}

/** Members of a group as read straight from the server (Samba answers plain searches in full). */
async function memberCount(side: Side, dn: string): Promise<number> {
  return (await side.read(dn, ['member']))?.['member']?.length ?? 0;
}

async function membersArrive(side: Side, dn: string, count: number, timeoutMs = 90_000): Promise<void> {
  await eventually(
    `${dn} with ${count} members`,
    () => memberCount(side, dn),
    (n) => n === count,
    timeoutMs,
    1_000,
  );
}

const resync = (pipe: 'ad-to-ds' | 'ds-to-ad', ...args: string[]) =>
  idsync(['resync', '--pipe', pipe, '--base-dn', pipe === 'ad-to-ds' ? run.adOu : run.dsOu, '--state-dir', run.live.dir, ...args], { configFile: run.live.configFile, timeoutMs: 120_000 });

/**
 * A dry run's summary, once `settled` holds (for up to 30 s: the echo of a change made a moment ago in two-way
 * sync may still be on its way, as in the resync tests).
 */
async function dryRun(pipe: 'ad-to-ds' | 'ds-to-ad', settled: (summary: ResyncSummary) => boolean): Promise<ResyncSummary> {
  return eventually(
    `a dry run of ${pipe} with nothing to do`,
    async () => {
      const dry = await resync(pipe, '--dry-run', '--json');
      if (dry.code !== 0) throw new Error(describeRun(dry));
      return JSON.parse(dry.stdout) as ResyncSummary;
    },
    settled,
    30_000,
    2_000,
  );
}

interface ResyncSummary {
  sourceEntries: number;
  equal: number;
  create: number;
  update: number;
  errors: number;
  unmappable: number;
  published: number;
}

describe(`a ${MEMBERS}-member group through live sync and resync, AD answering in slices (run ${s})`, () => {
  step(
    `${MEMBERS} users created in AD reach 389-ds`,
    async () => {
      await run.createOu();
      const ad = run.config.directories['ad'] as DirectoryConfig;
      const sessions = await Promise.all(Array.from({ length: CONNECTIONS }, () => openLdapSession('ad', ad)));
      try {
        let next = 0;
        await Promise.all(
          sessions.map(async ({ client }) => {
            for (let i = next++; i < MEMBERS; i = next++) {
              await client.add(adUser(i), { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: user(i).cn, sAMAccountName: user(i).sam, sn: s });
            }
          }),
        );
      } finally {
        await Promise.all(sessions.map(({ client }) => client.unbind().catch(() => undefined)));
      }
      await run.waitForUsersInDirectory(MEMBERS, 180_000);
    },
    300_000,
  );

  step(
    `a group of ${MEMBERS} created in AD arrives in 389-ds with every member (DNs mapped); AD's readers see all of them`,
    async () => {
      // groupOfNames needs a member: the group starts with its first batch, the others are added as an admin would.
      await run.ad.add(adDn(AD_GROUP), { objectClass: ['top', 'group'], cn: AD_GROUP, sAMAccountName: AD_GROUP, member: all.slice(0, MODIFY_BATCH).map(adUser) });
      for (let from = MODIFY_BATCH; from < MEMBERS; from += MODIFY_BATCH) {
        await run.ad.client.modify(adDn(AD_GROUP), new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: all.slice(from, from + MODIFY_BATCH).map(adUser) }) }));
      }
      await membersArrive(run.directory, dsDn(AD_GROUP), MEMBERS);
      const arrived = (await run.directory.read(dsDn(AD_GROUP), ['member']))?.['member'] ?? [];
      expect(new Set(arrived.map((dn) => dn.toLowerCase()))).toEqual(new Set(all.map((i) => dsUser(i).toLowerCase())));

      // Through the proxy, as AD answers: the first 1,500 only, unless the reader asks for the rest.
      const sliced = await openLdapSession('ad', { ...(run.config.directories['ad'] as DirectoryConfig), urls: [started(proxy).url], startTls: false, allowInsecure: true });
      try {
        const plain = (await sliced.client.search(adDn(AD_GROUP), { scope: 'base', attributes: ['member'] })).searchEntries[0];
        expect(plain?.['member;range=0-1499']).toHaveLength(1_500);
        const whole = (await searchAllValues(sliced.client, adDn(AD_GROUP), { scope: 'base', attributes: ['member'] })).searchEntries[0];
        expect(whole?.['member']).toHaveLength(MEMBERS);
      } finally {
        await sliced.client.unbind();
      }
    },
    180_000,
  );

  step(
    'resync reads the group whole: nothing to do; with 1,000 members gone at the destination, it puts them back',
    async () => {
      // The OU, the users and the group, all equal.
      const dry = await dryRun('ad-to-ds', (summary) => summary.equal === MEMBERS + 2);
      expect(dry).toMatchObject({ sourceEntries: MEMBERS + 2, equal: MEMBERS + 2, update: 0, create: 0, errors: 0 });

      // Members lost at the destination, made with the ds-writer's account: its changes are not sent back to AD.
      const asWriter = await Side.open(run.config, 'ds', writerCredentials(run.config, 'ds-writer'));
      try {
        const lost = all.slice(1_000, 2_000).map(dsUser);
        await asWriter.client.modify(dsDn(AD_GROUP), new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: lost }) }));
      } finally {
        await asWriter.close();
      }
      expect(await memberCount(run.directory, dsDn(AD_GROUP))).toBe(MEMBERS - 1_000);

      const repair = await resync('ad-to-ds', '--json');
      expect({ code: repair.code, out: describeRun(repair) }).toMatchObject({ code: 0 });
      expect(JSON.parse(repair.stdout) as ResyncSummary).toMatchObject({ update: 1, published: 1, errors: 0 });
      await membersArrive(run.directory, dsDn(AD_GROUP), MEMBERS, 60_000);
      expect(await memberCount(run.ad, adDn(AD_GROUP))).toBe(MEMBERS);
    },
    240_000,
  );

  step(
    '10 members removed in AD are removed in 389-ds: 2,990 left',
    async () => {
      await run.ad.client.modify(adDn(AD_GROUP), new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: all.slice(0, 10).map(adUser) }) }));
      await membersArrive(run.directory, dsDn(AD_GROUP), MEMBERS - 10, 60_000);
    },
    120_000,
  );

  step(
    `a group of ${MEMBERS} created in 389-ds reaches AD; 10 members removed there are removed in AD`,
    async () => {
      await run.directory.add(dsDn(DS_GROUP), { objectClass: ['top', 'groupOfNames'], cn: DS_GROUP, member: all.map(dsUser) });
      await membersArrive(run.ad, adDn(DS_GROUP), MEMBERS, 120_000);
      // The ad-writer reads the AD group's members (AD answers in slices) to find the ones to remove.
      await run.directory.client.modify(dsDn(DS_GROUP), new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: all.slice(-10).map(dsUser) }) }));
      await membersArrive(run.ad, adDn(DS_GROUP), MEMBERS - 10, 60_000);

      // The reverse pipe's resync reads AD as its destination, in slices too: nothing differs.
      const dry = await dryRun('ds-to-ad', (summary) => summary.update === 0);
      expect(dry).toMatchObject({ sourceEntries: MEMBERS + 3, update: 0, create: 0, errors: 0 });
    },
    240_000,
  );

  step(
    'both directories are equal in full: every user, both groups',
    async () => {
      await run.expectTreesEqual(MEMBERS + 2);
    },
    120_000,
  );
});
