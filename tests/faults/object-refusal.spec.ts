import { describeRun, idsync } from '../integration/cli/run-cli';
import { eventually } from '../integration/e2e/pipeline';
import { adUser, dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';
import { denyAdWriter, denyDsWriter } from './support/refusals';

/**
 * One entry refuses the writer (insufficientAccessRights, 50: an AdminSDHolder-protected account, a delegated OU)
 * while the others take their writes, on either side, both pipes running: that entry's change is dead-lettered
 * with its reason, the others arrive, the writer keeps consuming and stays healthy. Once the refusal is lifted,
 * `idsync dlq redrive` brings the set-aside changes, and both directories end equal.
 */

const lifts: (() => Promise<void>)[] = [];
const run = new FaultRun('or', async () => {
  for (const lift of lifts.splice(0)) await lift().catch(() => undefined);
});
const step = run.scenario.step;
const s = run.suffix;
const AD_USERS = ['Ann', 'Ben', 'Cid'];
const DS_USERS = ['Dee', 'Eve', 'Fay'];
const adDn = (name: string): string => `CN=${name} ${s},${run.adOu}`;
const dsDn = (name: string): string => `cn=${name} ${s},${run.dsOu}`;

async function refusedLetter(stage: string, dn: string): Promise<void> {
  await eventually(
    `the ${stage}'s dead letter for ${dn}`,
    () => run.live.deadLetters(),
    (letters) => letters.some((l) => l.stage === stage && /insufficientAccessRights \(50\)/.test(l.reason) && l.reason.toLowerCase().includes(dn.toLowerCase())),
    60_000,
    1_000,
  );
}

describe(`an entry that refuses the writer, both pipes running (run ${s})`, () => {
  step(
    'three users from AD and three from the directory reach the other side',
    async () => {
      await run.createOu();
      for (const name of AD_USERS) await run.ad.add(adDn(name), adUser(`${name} ${s}`, `${name}${s}`.toLowerCase().slice(0, 20), 'v1'));
      for (const name of DS_USERS) await run.directory.add(dsDn(name), dsPerson(`${name} ${s}`, `${name}${s}`.toLowerCase().slice(0, 20), 'v1'));
      for (const name of AD_USERS) await run.arrives('ds', dsDn(name), 'v1');
      for (const name of DS_USERS) await run.arrives('ad', adDn(name), 'v1');
    },
    180_000,
  );

  step(
    '389-ds refuses the ds-writer on one entry: its change is dead-lettered, the others arrive, the writer goes on',
    async () => {
      lifts.push(await denyDsWriter(run.directory, dsDn('Ben')));
      for (const name of AD_USERS) await run.ad.replace(adDn(name), 'description', ['v2']);
      await run.arrives('ds', dsDn('Ann'), 'v2');
      await run.arrives('ds', dsDn('Cid'), 'v2');
      await refusedLetter('ds-writer', dsDn('Ben'));
      // Still consuming: a later change arrives, and the writer is healthy.
      await run.ad.replace(adDn('Ann'), 'description', ['v3']);
      await run.arrives('ds', dsDn('Ann'), 'v3');
      expect((await run.directory.read(dsDn('Ben'), ['description']))?.['description']).toEqual(['v1']);
      expect((await run.health('ds-writer')).status).toBe('ok');
    },
    180_000,
  );

  step(
    'AD refuses the ad-writer on one entry (a deny ACE): the same',
    async () => {
      lifts.push(await denyAdWriter(run.ad, adDn('Eve')));
      for (const name of DS_USERS) await run.directory.replace(dsDn(name), 'description', ['v2']);
      await run.arrives('ad', adDn('Dee'), 'v2');
      await run.arrives('ad', adDn('Fay'), 'v2');
      await refusedLetter('ad-writer', adDn('Eve'));
      await run.directory.replace(dsDn('Dee'), 'description', ['v3']);
      await run.arrives('ad', adDn('Dee'), 'v3');
      expect((await run.ad.read(adDn('Eve'), ['description']))?.['description']).toEqual(['v1']);
      expect((await run.health('ad-writer')).status).toBe('ok');
    },
    180_000,
  );

  step(
    'the refusals lifted and the dead letters re-driven: both directories equal',
    async () => {
      for (const lift of lifts.splice(0)) await lift();
      const redrive = await idsync(['dlq', 'redrive', '--all', '--yes'], { configFile: run.live.configFile });
      expect(redrive.code).toBe(0);
      expect(redrive.stdout + redrive.stderr).not.toMatch(/error/i);
      await run.arrives('ds', dsDn('Ben'), 'v2').catch((error: unknown) => {
        throw new Error(`${String(error)}\n${describeRun(redrive)}`);
      });
      await run.arrives('ad', adDn('Eve'), 'v2');
      await run.expectTreesEqual(AD_USERS.length + DS_USERS.length);
    },
    180_000,
  );
});
