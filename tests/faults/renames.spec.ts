import { eventually } from '../integration/e2e/pipeline';
import { adUser, dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * Renames and moves on the demo pipes, both running, made while the detector of their side is stopped (a rename
 * read after a restart has no previous DN: the writer finds the entry by its link), and two entries swapping their
 * DNs. Each step ends with both directories compared in full and nothing dead-lettered.
 */

const run = new FaultRun('rn', async () => {
  for (const name of ['ad-detector', 'ds-detector'] as const) if (!run.live.isRunning(name)) await run.live.startService(name);
  await run.ad.deleteTree(adOutside()).catch(() => undefined);
  await run.ds?.deleteTree(dsOutside()).catch(() => undefined);
});
/** Containers outside the synchronized subtrees (OU=Corp / ou=Corp), for moves out of scope. */
const adOutside = (): string => `OU=Outside ${run.suffix},${run.config.directories['ad']?.baseDn ?? ''}`;
const dsOutside = (): string => `ou=Outside${run.suffix},${run.config.directories['ds']?.baseDn ?? ''}`;
const step = run.scenario.step;

async function gone(side: 'ad' | 'ds', dn: string): Promise<void> {
  const read = (): ReturnType<typeof run.ad.read> => (side === 'ad' ? run.ad : run.directory).read(dn, ['1.1']);
  expect(await read()).toBeNull();
}

describe(`renames and moves while a detector is stopped, both pipes running (run ${run.suffix})`, () => {
  const s = run.suffix;
  const adSub = (): string => `OU=Moved,${run.adOu}`;
  const dsSub = (): string => `ou=Moved,${run.dsOu}`;
  let users = 0;

  step(
    'the OU, a sub-OU and four users (two from each side) reach the other side',
    async () => {
      await run.createOu();
      await run.ad.add(adSub(), { objectClass: ['top', 'organizationalUnit'], ou: 'Moved' });
      await eventually(
        'the sub-OU in 389-ds',
        () => run.directory.read(dsSub(), ['1.1']),
        (e) => e !== null,
        30_000,
      );
      await run.ad.add(`CN=Ann ${s},${run.adOu}`, adUser(`Ann ${s}`, `ann${s}`.slice(0, 20), 'ann'));
      await run.ad.add(`CN=Carl ${s},${run.adOu}`, adUser(`Carl ${s}`, `carl${s}`.slice(0, 20), 'carl'));
      await run.directory.add(`cn=Bea ${s},${run.dsOu}`, dsPerson(`Bea ${s}`, `bea${s}`.slice(0, 20), 'bea'));
      await run.directory.add(`cn=Dan ${s},${run.dsOu}`, dsPerson(`Dan ${s}`, `dan${s}`.slice(0, 20), 'dan'));
      users = 4;
      await run.arrives('ds', `cn=Ann ${s},${run.dsOu}`, 'ann');
      await run.arrives('ds', `cn=Carl ${s},${run.dsOu}`, 'carl');
      await run.arrives('ad', `CN=Bea ${s},${run.adOu}`, 'bea');
      await run.arrives('ad', `CN=Dan ${s},${run.adOu}`, 'dan');
      // Links are recorded when the writers create the entries; wait for them (a rename after a restart needs them).
      await eventually(
        'four users linked both ways',
        async () => [...(await run.live.links()).values()].filter((l) => l.origin === 'created').length,
        (n) => n >= 4,
        30_000,
      );
    },
    180_000,
  );

  step(
    'AD: renamed (and changed) and moved while the ad-detector is stopped: both arrive, nothing dead-lettered',
    async () => {
      await run.live.stopService('ad-detector');
      await run.ad.rename(`CN=Ann ${s},${run.adOu}`, `CN=Anna ${s},${run.adOu}`);
      await run.ad.replace(`CN=Anna ${s},${run.adOu}`, 'description', ['anna']);
      await run.ad.rename(`CN=Carl ${s},${run.adOu}`, `CN=Carl ${s},${adSub()}`);
      await run.ad.replace(`CN=Carl ${s},${adSub()}`, 'description', ['carl moved']);
      await run.live.startService('ad-detector');
      await run.arrives('ds', `cn=Anna ${s},${run.dsOu}`, 'anna');
      await run.arrives('ds', `cn=Carl ${s},${dsSub()}`, 'carl moved');
      await gone('ds', `cn=Ann ${s},${run.dsOu}`);
      await gone('ds', `cn=Carl ${s},${run.dsOu}`);
      await run.expectTreesEqual(users + 1);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    180_000,
  );

  step(
    'the directory: renamed (and changed) and moved while the ds-detector is stopped: both arrive, nothing dead-lettered',
    async () => {
      await run.live.stopService('ds-detector');
      await run.directory.rename(`cn=Bea ${s},${run.dsOu}`, `cn=Beatrix ${s},${run.dsOu}`);
      await run.directory.replace(`cn=Beatrix ${s},${run.dsOu}`, 'description', ['beatrix']);
      await run.directory.rename(`cn=Dan ${s},${run.dsOu}`, `cn=Dan ${s},${dsSub()}`);
      await run.directory.replace(`cn=Dan ${s},${dsSub()}`, 'description', ['dan moved']);
      await run.live.startService('ds-detector');
      await run.arrives('ad', `CN=Beatrix ${s},${run.adOu}`, 'beatrix');
      await run.arrives('ad', `CN=Dan ${s},${adSub()}`, 'dan moved');
      await gone('ad', `CN=Bea ${s},${run.adOu}`);
      await gone('ad', `CN=Dan ${s},${run.adOu}`);
      await run.expectTreesEqual(users + 1);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    180_000,
  );

  step(
    'two AD entries swap DNs by renames: each directory entry follows its own source entry',
    async () => {
      const anna = `CN=Anna ${s},${run.adOu}`;
      const carl = `CN=Carl ${s},${adSub()}`;
      const parked = `CN=Parked ${s},${run.adOu}`;
      await run.ad.rename(anna, parked);
      await run.ad.rename(carl, anna);
      await run.ad.rename(parked, carl);
      await run.ad.replace(anna, 'description', ['carl, now at anna']);
      await run.ad.replace(carl, 'description', ['anna, now at carl']);
      await run.arrives('ds', `cn=Anna ${s},${run.dsOu}`, 'carl, now at anna');
      await run.arrives('ds', `cn=Carl ${s},${dsSub()}`, 'anna, now at carl');
      const uidAt = async (dn: string): Promise<string | undefined> => (await run.directory.read(dn, ['uid']))?.['uid']?.[0];
      expect(await uidAt(`cn=Anna ${s},${run.dsOu}`)).toBe(`carl${s}`.slice(0, 20));
      expect(await uidAt(`cn=Carl ${s},${dsSub()}`)).toBe(`ann${s}`.slice(0, 20));
      await run.expectTreesEqual(users + 1);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    180_000,
  );

  step(
    'two directory entries swap DNs by renames: each AD entry follows its own source entry',
    async () => {
      const beatrix = `cn=Beatrix ${s},${run.dsOu}`;
      const dan = `cn=Dan ${s},${dsSub()}`;
      const parked = `cn=Parked ${s},${run.dsOu}`;
      await run.directory.rename(beatrix, parked);
      await run.directory.rename(dan, beatrix);
      await run.directory.rename(parked, dan);
      await run.directory.replace(beatrix, 'description', ['dan, now at beatrix']);
      await run.directory.replace(dan, 'description', ['beatrix, now at dan']);
      await run.arrives('ad', `CN=Beatrix ${s},${run.adOu}`, 'dan, now at beatrix');
      await run.arrives('ad', `CN=Dan ${s},${adSub()}`, 'beatrix, now at dan');
      const samAt = async (dn: string): Promise<string | undefined> => (await run.ad.read(dn, ['sAMAccountName']))?.['samaccountname']?.[0];
      expect(await samAt(`CN=Beatrix ${s},${run.adOu}`)).toBe(`dan${s}`.slice(0, 20));
      expect(await samAt(`CN=Dan ${s},${adSub()}`)).toBe(`bea${s}`.slice(0, 20));
      // Swap back, so the following steps find each user under its own name.
      await run.directory.rename(beatrix, parked);
      await run.directory.rename(dan, beatrix);
      await run.directory.rename(parked, dan);
      await run.directory.replace(beatrix, 'description', ['beatrix']);
      await run.directory.replace(dan, 'description', ['dan moved']);
      await run.arrives('ad', `CN=Beatrix ${s},${run.adOu}`, 'beatrix');
      await run.arrives('ad', `CN=Dan ${s},${adSub()}`, 'dan moved');
      expect(await samAt(`CN=Beatrix ${s},${run.adOu}`)).toBe(`bea${s}`.slice(0, 20));
      await run.expectTreesEqual(users + 1);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    180_000,
  );

  step(
    'AD: a user moved out of OU=Corp is deleted in the directory; moved back in, it is created again',
    async () => {
      await run.ad.add(adOutside(), { objectClass: ['top', 'organizationalUnit'], ou: `Outside ${s}` });
      const inside = `CN=Beatrix ${s},${run.adOu}`;
      const outside = `CN=Beatrix ${s},${adOutside()}`;
      await run.ad.rename(inside, outside);
      await eventually(
        'cn=Beatrix gone from 389-ds',
        () => run.directory.read(`cn=Beatrix ${s},${run.dsOu}`, ['1.1']),
        (e) => e === null,
        60_000,
        500,
      );
      await run.expectTreesEqual(users);
      await run.ad.rename(outside, inside);
      await run.ad.replace(inside, 'description', ['beatrix is back']);
      await run.arrives('ds', `cn=Beatrix ${s},${run.dsOu}`, 'beatrix is back');
      await run.expectTreesEqual(users + 1);
      expect(await run.live.counter('mapper', 'idsync_mapper_scope_changes_total', { change: 'left' })).toBe(1);
      expect(await run.live.counter('mapper', 'idsync_mapper_scope_changes_total', { change: 'entered' })).toBe(1);
      expect(await run.live.counter('ds-writer', 'idsync_writer_scope_changes_total', { action: 'delete' })).toBe(1);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    180_000,
  );

  step(
    'the directory: a user moved out of ou=Corp is deleted in AD; moved back in, it is created again',
    async () => {
      await run.directory.add(dsOutside(), { objectClass: ['top', 'organizationalUnit'], ou: `Outside${s}` });
      const inside = `cn=Dan ${s},${dsSub()}`;
      const outside = `cn=Dan ${s},${dsOutside()}`;
      await run.directory.rename(inside, outside);
      await eventually(
        'CN=Dan gone from AD',
        () => run.ad.read(`CN=Dan ${s},${adSub()}`, ['1.1']),
        (e) => e === null,
        60_000,
        500,
      );
      await run.expectTreesEqual(users);
      await run.directory.rename(outside, inside);
      await run.arrives('ad', `CN=Dan ${s},${adSub()}`, 'dan moved');
      await run.expectTreesEqual(users + 1);
      expect(await run.live.counter('ad-writer', 'idsync_writer_scope_changes_total', { action: 'delete' })).toBe(1);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    180_000,
  );
});
