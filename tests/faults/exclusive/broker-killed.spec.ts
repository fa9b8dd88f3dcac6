import { eventually, sleep } from '../../integration/e2e/pipeline';
import { dsPerson } from '../support/entries';
import { FaultRun } from '../support/fault-run';
import { killKafka, startServer } from '../support/servers';

/**
 * The Kafka broker killed (SIGKILL) in the middle of a burst on both pipes and started again 20 s later: the detectors,
 * the mapper and the writers ride it out (no service exits), every change made before, during and after the outage
 * arrives, nothing is dead-lettered, and both directories end equal.
 */

const AD_USERS = 120;
const DS_USERS = 40;
const OUTAGE_MS = 20_000;
let killed = false;
const run = new FaultRun('bk', async () => {
  if (killed) await startServer('kafka');
});
const step = run.scenario.step;
const s = run.suffix;

describe(`the Kafka broker killed mid-burst (run ${s})`, () => {
  step('an OU created in AD reaches 389-ds', () => run.createOu());

  step(
    `${AD_USERS} users created in AD and ${DS_USERS} in the directory; Kafka killed -9 mid-burst and started ${OUTAGE_MS / 1_000} s later: all arrive`,
    async () => {
      const dsUsers = (async () => {
        for (let i = 0; i < DS_USERS; i++) {
          await run.directory.add(`cn=Dir ${i} ${s},${run.dsOu}`, dsPerson(`Dir ${i} ${s}`, `dir${i}x${s}`.slice(0, 20), `from the directory ${i}`));
        }
      })();
      const adUsers = run.createUsers(AD_USERS, 'User');
      await eventually(
        'the burst under way in 389-ds',
        () => run.directory.childCount(run.dsOu),
        (n) => n >= 20,
        120_000,
        250,
      );
      await killKafka();
      killed = true;
      const killedAt = Date.now();
      await Promise.all([dsUsers, adUsers]);
      await sleep(Math.max(0, killedAt + OUTAGE_MS - Date.now()));
      await startServer('kafka');
      killed = false;

      await run.waitForUsersInDirectory(AD_USERS + DS_USERS, 300_000);
      await run.waitForUsersInAd(AD_USERS + DS_USERS, 300_000);
      expect(run.live.crashed()).toEqual([]);
    },
    720_000,
  );

  step(
    'both directories compared in full: 0 lost, 0 extra, 0 different; nothing dead-lettered',
    async () => {
      await run.expectTreesEqual(AD_USERS + DS_USERS);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    120_000,
  );
});
