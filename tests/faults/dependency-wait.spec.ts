import { eventually, sleep } from '../integration/e2e/pipeline';
import { dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * A group created before its member (a script that makes groups first, an import in the wrong order): in the
 * directory a group names a member that does not exist yet, and the member only comes 40 s later — far longer than
 * the few seconds of in-line retries, which used to dead-letter the group. The group's request must wait off the hot
 * path (users created meanwhile arrive at once), arrive with its member once the member exists, and nothing may be
 * dead-lettered; both directories end equal.
 */

const QUICK_USERS = 12;
const MEMBER_LATE_MS = 40_000;
const run = new FaultRun('dw', async () => undefined);
const step = run.scenario.step;
const s = run.suffix;
const dsDn = (cn: string): string => `cn=${cn} ${s},${run.dsOu}`;
const adDn = (cn: string): string => `CN=${cn} ${s},${run.adOu}`;

describe(`a group created before its member (run ${s})`, () => {
  step('an OU created in AD reaches 389-ds', () => run.createOu());

  step(
    `in the directory, a group whose member does not exist yet, then ${QUICK_USERS} users: the users arrive in AD while the group waits`,
    async () => {
      await run.directory.add(dsDn('Early Group'), { objectClass: ['top', 'groupOfNames'], cn: `Early Group ${s}`, description: 'made before its member', member: [dsDn('Late')] });
      const started = Date.now();
      for (let i = 0; i < QUICK_USERS; i++) await run.directory.add(dsDn(`Quick ${i}`), dsPerson(`Quick ${i} ${s}`, `quick${i}x${s}`.slice(0, 20), 'quick'));
      for (let i = 0; i < QUICK_USERS; i++) await run.arrives('ad', adDn(`Quick ${i}`), 'quick', 30_000);
      const usersMs = Date.now() - started;
      process.stdout.write(`dependency wait: ${QUICK_USERS} users arrived in ${usersMs} ms while the group waited for its member\n`);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    120_000,
  );

  step(
    `the member created ${MEMBER_LATE_MS / 1_000} s after the group: the group arrives with it; nothing dead-lettered; both directories equal`,
    async () => {
      await sleep(MEMBER_LATE_MS);
      expect(await run.live.deadLetters()).toEqual([]);
      expect(await run.live.counter('ad-writer', 'idsync_writer_waits_total', { result: 'parked' })).toBeGreaterThan(0);
      await run.directory.add(dsDn('Late'), dsPerson(`Late ${s}`, `late${s}`.slice(0, 20), 'late member'));
      await eventually(
        'the group in AD with its member',
        () => run.ad.read(adDn('Early Group'), ['member']),
        (entry) => (entry?.['member'] ?? []).some((dn) => dn.toLowerCase() === adDn('Late').toLowerCase()),
        150_000,
        1_000,
      );
      expect(await run.live.deadLetters()).toEqual([]);
      await run.expectTreesEqual(QUICK_USERS + 2);
    },
    240_000,
  );
});
