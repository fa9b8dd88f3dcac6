import { eventually, type ReplicaName, sleep } from '../integration/e2e/pipeline';
import { dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * Scale-out: two mappers and two writers per side in their consumer groups, both pipes busy with a long burst of
 * creates, and one replica of each stage killed (SIGKILL) in the middle of it. The group gives the dead replicas'
 * partitions to the survivors (a rebalance while they write); every entry must arrive exactly once, linked, with
 * nothing dead-lettered, and both directories must end equal.
 */

const AD_USERS = 150;
const DS_USERS = 60;
const run = new FaultRun('so', async () => undefined);
const step = run.scenario.step;
const s = run.suffix;

/** Partitions a replica's consumer holds now, from its /health (the consumer loop's assignment). */
async function assigned(name: 'mapper' | 'ad-writer' | 'ds-writer' | ReplicaName): Promise<number> {
  const health = await run.health(name);
  const loops = Object.entries({ ...health.info, ...health.error }).filter(([key]) => key.startsWith('consumer:'));
  let partitions = 0;
  for (const [, loop] of loops) {
    const assignment = (loop as { assignment?: Record<string, number[]> }).assignment ?? {};
    for (const numbers of Object.values(assignment)) partitions += numbers.length;
  }
  return partitions;
}

describe(`two replicas per stage, one of each killed during a long write (run ${s})`, () => {
  const replicas: ReplicaName[] = [];

  step(
    'a second mapper, ad-writer and ds-writer join their groups and each replica gets partitions',
    async () => {
      await run.createOu();
      for (const service of ['mapper', 'ad-writer', 'ds-writer'] as const) replicas.push(await run.live.addReplica(service));
      for (const name of ['mapper', 'ad-writer', 'ds-writer', ...replicas] as const) {
        await eventually(
          `${name} to hold partitions after the rebalance`,
          () => assigned(name),
          (n) => n > 0,
          90_000,
          1_000,
        );
      }
    },
    300_000,
  );

  step(
    `${AD_USERS} users created in AD and ${DS_USERS} in the directory; mapper, ad-writer and ds-writer#2 killed mid-burst: all arrive once`,
    async () => {
      const dsUsers = (async () => {
        for (let i = 0; i < DS_USERS; i++) {
          await run.directory.add(`cn=Dir ${i} ${s},${run.dsOu}`, dsPerson(`Dir ${i} ${s}`, `dir${i}x${s}`.slice(0, 20), `from the directory ${i}`));
        }
      })();
      const adUsers = run.createUsers(AD_USERS, 'User');
      // The writers are busy: kill one replica of each stage while they write.
      await eventually(
        'the burst under way in 389-ds',
        () => run.directory.childCount(run.dsOu),
        (n) => n >= 30,
        120_000,
        500,
      );
      await run.live.kill('mapper');
      await run.live.kill('ad-writer');
      await run.live.kill(replicas.find((name) => name.startsWith('ds-writer')) as ReplicaName);
      await Promise.all([dsUsers, adUsers]);

      await run.waitForUsersInDirectory(AD_USERS + DS_USERS, 300_000);
      await run.waitForUsersInAd(AD_USERS + DS_USERS, 300_000);
      // The survivors took every partition.
      const survivors = ['ds-writer', ...replicas.filter((r) => !r.startsWith('ds-writer'))] as const;
      for (const name of survivors) {
        // The mapper reads both change topics, a writer its operations, wait and held topics; 6 partitions each.
        const all = name.startsWith('mapper') ? 12 : 18;
        await eventually(
          `${name} to hold all ${all} partitions`,
          () => assigned(name),
          (n) => n === all,
          90_000,
          1_000,
        );
      }
    },
    600_000,
  );

  step(
    'both directories compared in full: 0 lost, 0 extra, 0 different; every user linked once; nothing dead-lettered',
    async () => {
      await sleep(5_000);
      await run.expectTreesEqual(AD_USERS + DS_USERS);
      const links = [...(await run.live.links()).values()];
      const sources = links.map((link) => link.source.value);
      expect(sources.length - new Set(sources).size).toBe(0);
      expect(await run.live.deadLetters()).toEqual([]);
      expect(run.live.crashed()).toEqual([]);
    },
    180_000,
  );
});
