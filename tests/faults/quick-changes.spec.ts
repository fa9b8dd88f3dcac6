import { Attribute, Change } from 'ldapts';
import { eventually, sleep } from '../integration/e2e/pipeline';
import { dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * Quick successive changes, both pipes running: a value set and at once cleared or changed again, on either side,
 * ends the way the person left it in both directories. The echo of the first change comes back after the second one
 * was made: it must not bring the first value back. The ds-writer's changes are known by the changelog's initiator;
 * the ad-writer's by the write receipts it publishes before each change (AD records no initiator), which the
 * ad-detector counts.
 */

const run = new FaultRun('qc', async () => undefined);
const step = run.scenario.step;
/** How long the pipeline is given to show a wrong outcome (an echo takes a DirSync poll and two Kafka hops). */
const SETTLE_MS = 8_000;
const USERS = 6;
const NEVER = '9223372036854775807';

const cn = (i: number): string => `Quick ${i} ${run.suffix}`;
const dsDn = (i: number): string => `cn=${cn(i)},${run.dsOu}`;
const adDn = (i: number): string => `CN=${cn(i)},${run.adOu}`;
const first = (entry: Record<string, string[]> | null, name: string): string | undefined => entry?.[name.toLowerCase()]?.[0];
const clear = (name: string): Change => new Change({ operation: 'delete', modification: new Attribute({ type: name, values: [] }) });
const set = (name: string, value: string): Change => new Change({ operation: 'replace', modification: new Attribute({ type: name, values: [value] }) });

describe(`quick successive changes on either side, both pipes running (run ${run.suffix})`, () => {
  step('an OU created in AD reaches 389-ds', () => run.createOu());

  step(`${USERS} people created in the directory reach AD`, async () => {
    for (let i = 0; i < USERS; i++) await run.directory.add(dsDn(i), dsPerson(cn(i), `qc${i}${run.suffix}`.slice(0, 20), 'hired'));
    await run.waitForUsersInAd(USERS, 60_000);
    for (let i = 0; i < USERS; i++) await run.arrives('ad', adDn(i), 'hired');
  });

  step('in the directory, set and at once cleared or changed again: AD ends as the directory, and the directory stays so', async () => {
    const before = await run.live.counter('ad-detector', 'idsync_detector_own_writes_total');
    for (let i = 0; i < USERS; i++) {
      // Each change its own modify, one right after the other.
      await run.directory.client.modify(dsDn(i), set('description', `first ${i}`));
      if (i % 2 === 0) await run.directory.client.modify(dsDn(i), clear('description'));
      else await run.directory.client.modify(dsDn(i), set('description', `second ${i}`));
      await run.directory.client.modify(dsDn(i), set('telephoneNumber', `+1 555 01${i}0`));
      await run.directory.client.modify(dsDn(i), clear('telephoneNumber'));
    }
    for (let i = 0; i < USERS; i++) {
      const wanted = i % 2 === 0 ? undefined : `second ${i}`;
      await eventually(
        `${adDn(i)} as the directory left it`,
        () => run.ad.read(adDn(i), ['description', 'telephoneNumber']),
        (e) => e !== null && first(e, 'description') === wanted && first(e, 'telephoneNumber') === undefined,
        60_000,
        500,
      );
    }
    await sleep(SETTLE_MS);
    for (let i = 0; i < USERS; i++) {
      const entry = await run.directory.read(dsDn(i), ['description', 'telephoneNumber']);
      expect([i, first(entry, 'description'), first(entry, 'telephoneNumber')]).toEqual([i, i % 2 === 0 ? undefined : `second ${i}`, undefined]);
    }
    await run.expectTreesEqual(USERS);
    // The ad-writer's changes were told apart by their receipts, not merely found equal at the other end.
    expect(await run.live.counter('ad-detector', 'idsync_detector_own_writes_total')).toBeGreaterThan(before);
  });

  step('an expiry set in the directory and at once removed: AD says never, the directory has none', async () => {
    await run.directory.client.modify(dsDn(0), [
      new Change({ operation: 'add', modification: new Attribute({ type: 'objectClass', values: ['idsyncAccount'] }) }),
      set('idsyncAccountExpires', '20320229120000Z'),
    ]);
    await run.directory.client.modify(dsDn(0), clear('idsyncAccountExpires'));
    // The set reaches AD first (its echo is what must not come back), then the removal; the marker after them says
    // both were applied (one entry's changes stay in order), since AD ends where it started.
    await run.directory.client.modify(dsDn(0), set('description', 'expiry done'));
    await run.arrives('ad', adDn(0), 'expiry done');
    await sleep(SETTLE_MS);
    expect(first(await run.directory.read(dsDn(0), ['idsyncAccountExpires']), 'idsyncAccountExpires')).toBeUndefined();
    expect([undefined, NEVER, '0']).toContain(first(await run.ad.read(adDn(0), ['accountExpires']), 'accountExpires'));
  });

  step('created in the directory and changed at once: AD ends with the change, and the add’s echo does not undo it', async () => {
    const fresh = Array.from({ length: 3 }, (_unused, k) => USERS + k);
    for (const [k, i] of fresh.entries()) {
      await run.directory.add(dsDn(i), dsPerson(cn(i), `qc${i}${run.suffix}`.slice(0, 20), 'hired'));
      // At once, after about one DirSync poll, after two: AD's echo of the create is read before or after the change.
      await sleep(k * 1_500);
      await run.directory.client.modify(dsDn(i), set('description', `moved team ${i}`));
    }
    for (const i of fresh) await run.arrives('ad', adDn(i), `moved team ${i}`);
    await sleep(SETTLE_MS);
    for (const i of fresh) expect([i, first(await run.directory.read(dsDn(i), ['description']), 'description')]).toEqual([i, `moved team ${i}`]);
    await run.expectTreesEqual(USERS + fresh.length);
  });

  step('created in the directory, renamed, and renamed again as soon as AD shows it: both directories end at the last name', async () => {
    const i = USERS + 3;
    const renamed = (name: string): string => `cn=${name},${run.dsOu}`;
    await run.directory.add(dsDn(i), dsPerson(cn(i), `qc${i}${run.suffix}`.slice(0, 20), 'hired'));
    await run.arrives('ad', adDn(i), 'hired');
    // Changed first, so that the add and the change are read in AD (and recognized as the writer's) before the renames.
    await run.directory.client.modify(dsDn(i), set('description', 'before the renames'));
    await run.arrives('ad', adDn(i), 'before the renames');
    await sleep(2_000);
    const middle = `${cn(i)} renamed`;
    const last = `${cn(i)} final`;
    await run.directory.client.modifyDN(dsDn(i), renamed(middle));
    // Renamed again as soon as AD shows the first rename: its echo is still on its way back.
    await eventually(
      `${middle} in AD`,
      () => run.ad.read(`CN=${middle},${run.adOu}`, ['cn']),
      (e) => e !== null,
      60_000,
      100,
    );
    await run.directory.client.modifyDN(renamed(middle), renamed(last));
    await eventually(
      `${last} in AD, nothing left at the other names`,
      async () => [await run.ad.read(`CN=${last},${run.adOu}`, ['cn']), await run.ad.read(`CN=${middle},${run.adOu}`, ['cn']), await run.ad.read(adDn(i), ['cn'])] as const,
      ([now, between, before]) => now !== null && between === null && before === null,
      60_000,
      500,
    );
    // The echo of the first rename, read in AD after the directory's second one, must not move the entry back, not even
    // for a moment (a delete made then would find nothing): watched every 100 ms.
    const away: number[] = [];
    for (const start = Date.now(); Date.now() - start < SETTLE_MS; await sleep(100)) {
      if ((await run.directory.read(renamed(last), ['cn'])) === null) away.push(Date.now() - start);
    }
    expect(away).toEqual([]);
    expect(await run.directory.read(renamed(middle), ['cn'])).toBeNull();
    expect(await run.ad.read(`CN=${last},${run.adOu}`, ['cn'])).not.toBeNull();
    await run.expectTreesEqual(USERS + 4);
  });

  step('in AD, set and at once cleared or changed again: the directory ends as AD, and AD stays so', async () => {
    for (let i = 0; i < USERS; i++) {
      await run.ad.client.modify(adDn(i), set('description', `ad first ${i}`));
      if (i % 2 === 0) await run.ad.client.modify(adDn(i), set('description', `ad second ${i}`));
      else await run.ad.client.modify(adDn(i), clear('description'));
    }
    for (let i = 0; i < USERS; i++) {
      const wanted = i % 2 === 0 ? `ad second ${i}` : undefined;
      await eventually(
        `${dsDn(i)} as AD left it`,
        () => run.directory.read(dsDn(i), ['description']),
        (e) => e !== null && first(e, 'description') === wanted,
        60_000,
        500,
      );
    }
    await sleep(SETTLE_MS);
    for (let i = 0; i < USERS; i++) expect([i, first(await run.ad.read(adDn(i), ['description']), 'description')]).toEqual([i, i % 2 === 0 ? `ad second ${i}` : undefined]);
    await run.expectTreesEqual(USERS + 4);
  });
});
