import { eventually, sleep } from '../integration/e2e/pipeline';
import { adUser, dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * The identity sequences with a service killed (SIGKILL: nothing committed on the way out) in the middle: a writer
 * rebuilds its links from the topic when it starts again, and a mapper replays what it had not committed. Each
 * step ends as if nothing had happened: exactly the new entries, linked to their sources, both directories equal,
 * nothing dead-lettered.
 */

const run = new FaultRun('ir', async () => {
  for (const name of ['ds-writer', 'ad-writer', 'mapper'] as const) if (!run.live.isRunning(name)) await run.live.startService(name);
});
const step = run.scenario.step;
const SETTLE_MS = 8_000;

describe(`identity sequences with a service killed mid-way (run ${run.suffix})`, () => {
  const s = run.suffix;

  step(
    'two users from AD and one from the directory reach the other side, linked',
    async () => {
      await run.createOu();
      await run.ad.add(`CN=Rita ${s},${run.adOu}`, adUser(`Rita ${s}`, `rita${s}`.slice(0, 20), 'rita'));
      await run.ad.add(`CN=Sam ${s},${run.adOu}`, adUser(`Sam ${s}`, `sam${s}`.slice(0, 20), 'sam'));
      await run.directory.add(`cn=Tess ${s},${run.dsOu}`, dsPerson(`Tess ${s}`, `tess${s}`.slice(0, 20), 'tess'));
      await run.arrives('ds', `cn=Rita ${s},${run.dsOu}`, 'rita');
      await run.arrives('ds', `cn=Sam ${s},${run.dsOu}`, 'sam');
      await run.arrives('ad', `CN=Tess ${s},${run.adOu}`, 'tess');
      const rita = (await run.guidAt(`CN=Rita ${s},${run.adOu}`)) as string;
      await eventually(
        'Rita linked',
        () => run.linkedTo(rita),
        (ids) => ids.length === 1,
        15_000,
      );
    },
    180_000,
  );

  step(
    'ds-writer killed; in AD a user deleted and re-created, another renamed; ds-writer back: the new user and the new name, linked',
    async () => {
      const oldRita = (await run.guidAt(`CN=Rita ${s},${run.adOu}`)) as string;
      const oldRitaCopy = (await run.uuidAt(`cn=Rita ${s},${run.dsOu}`)) as string;
      await run.live.kill('ds-writer');
      await run.ad.del(`CN=Rita ${s},${run.adOu}`);
      await sleep(300);
      await run.ad.add(`CN=Rita ${s},${run.adOu}`, adUser(`Rita ${s}`, `rita${s}`.slice(0, 20), 'rita rehired'));
      await run.ad.rename(`CN=Sam ${s},${run.adOu}`, `CN=Samuel ${s},${run.adOu}`);
      await sleep(3_000); // the detector and the mapper move on; the ds-writer's requests wait on its topic
      await run.live.startService('ds-writer');
      await run.arrives('ds', `cn=Rita ${s},${run.dsOu}`, 'rita rehired');
      await eventually(
        'Samuel in 389-ds',
        () => run.directory.read(`cn=Samuel ${s},${run.dsOu}`, ['1.1']),
        (e) => e !== null,
        60_000,
        500,
      );
      await sleep(SETTLE_MS);
      const newRita = (await run.guidAt(`CN=Rita ${s},${run.adOu}`)) as string;
      const newRitaCopy = await run.uuidAt(`cn=Rita ${s},${run.dsOu}`);
      expect(newRita).not.toBe(oldRita);
      expect(newRitaCopy).not.toBe(oldRitaCopy);
      expect(await run.linkedTo(newRita)).toEqual([newRitaCopy]);
      expect(await run.linkedTo(oldRita)).toEqual([]);
      expect(await run.directory.read(`cn=Sam ${s},${run.dsOu}`, ['1.1'])).toBeNull();
      await run.expectTreesEqual(3);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    240_000,
  );

  step(
    'mapper killed, then the ad-writer; in the directory a user deleted and re-created; both back: AD ends with the new user only',
    async () => {
      const oldTess = (await run.uuidAt(`cn=Tess ${s},${run.dsOu}`)) as string;
      const oldTessCopy = (await run.guidAt(`CN=Tess ${s},${run.adOu}`)) as string;
      await run.live.kill('mapper');
      await run.directory.del(`cn=Tess ${s},${run.dsOu}`);
      await sleep(300);
      await run.directory.add(`cn=Tess ${s},${run.dsOu}`, dsPerson(`Tess ${s}`, `tess${s}`.slice(0, 20), 'tess rehired'));
      await sleep(2_000);
      await run.live.kill('ad-writer');
      await run.live.startService('mapper');
      await sleep(3_000);
      await run.live.startService('ad-writer');
      await run.arrives('ad', `CN=Tess ${s},${run.adOu}`, 'tess rehired');
      await sleep(SETTLE_MS);
      const newTess = (await run.uuidAt(`cn=Tess ${s},${run.dsOu}`)) as string;
      const newTessCopy = await run.guidAt(`CN=Tess ${s},${run.adOu}`);
      expect(newTessCopy).not.toBeNull();
      expect(newTessCopy).not.toBe(oldTessCopy);
      expect(await run.linkedTo(newTess)).toEqual([newTessCopy]);
      expect(await run.linkedTo(oldTess)).toEqual([]);
      await run.expectTreesEqual(3);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    240_000,
  );
});
