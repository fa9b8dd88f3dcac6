import { randomUUID } from 'node:crypto';
import { encodeEntryChange, entryKey, type EntryChangeEvent } from '@idsync/contracts';
import { eventually, sleep } from '../integration/e2e/pipeline';
import { adUser, dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * Anchored identity on the demo pipes, both running: an account deleted and re-created under the same name within
 * a second, on either side, ends as exactly the new account in both directories, linked by its ids; a delete
 * for that DN naming the replaced entry (its late echo) or an unknown entry (forged) leaves the new account alone.
 */

const run = new FaultRun('rc', async () => undefined);
const step = run.scenario.step;
/** How long the pipeline is given to show a wrong outcome (echoes take a DirSync poll and two Kafka hops). */
const SETTLE_MS = 8_000;

let adReplaced: { dn: string; oldGuid: string; newGuid: string } | undefined;
let dsReplaced: { dn: string; oldUuid: string; newUuid: string } | undefined;

describe(`delete and re-create under the same DN, both pipes running (run ${run.suffix})`, () => {
  step('an OU created in AD reaches 389-ds', () => run.createOu());

  step('in AD within a second: the directory ends with the new account, linked to it, and AD keeps it', async () => {
    const cn = `Rehire A ${run.suffix}`;
    const adDn = `CN=${cn},${run.adOu}`;
    const dsDn = `cn=${cn},${run.dsOu}`;
    await run.ad.add(adDn, adUser(cn, `ra${run.suffix}`.slice(0, 20), 'first hire'));
    await eventually(
      'the first account in 389-ds',
      () => run.directory.read(dsDn, ['description']),
      (e) => e?.['description']?.[0] === 'first hire',
      30_000,
    );
    const oldGuid = (await run.guidAt(adDn)) as string;
    const oldUuid = (await run.uuidAt(dsDn)) as string;
    await eventually(
      'the first account linked',
      () => run.linkedTo(oldGuid),
      (ids) => ids.includes(oldUuid),
      15_000,
    );

    await run.ad.del(adDn);
    await sleep(300);
    await run.ad.add(adDn, adUser(cn, `ra${run.suffix}`.slice(0, 20), 'second hire'));
    const newGuid = (await run.guidAt(adDn)) as string;
    expect(newGuid).not.toBe(oldGuid);

    await eventually(
      'the second account in 389-ds',
      () => run.directory.read(dsDn, ['description']),
      (e) => e?.['description']?.[0] === 'second hire',
      30_000,
    );
    await sleep(SETTLE_MS);
    expect(await run.guidAt(adDn)).toBe(newGuid);
    const newUuid = await run.uuidAt(dsDn);
    expect(newUuid).not.toBeNull();
    expect(newUuid).not.toBe(oldUuid);
    expect(await run.linkedTo(newGuid)).toEqual([newUuid]);
    expect(await run.linkedTo(oldGuid)).toEqual([]);
    await run.expectTreesEqual(1);
    adReplaced = { dn: adDn, oldGuid, newGuid };
  });

  step("in the directory within a second: AD ends with the new account, and the echo of the old one's delete leaves it alone", async () => {
    const cn = `Rehire D ${run.suffix}`;
    const adDn = `CN=${cn},${run.adOu}`;
    const dsDn = `cn=${cn},${run.dsOu}`;
    await run.directory.add(dsDn, dsPerson(cn, `rd${run.suffix}`.slice(0, 20), 'first hire'));
    await eventually(
      'the first account in AD',
      () => run.ad.read(adDn, ['description']),
      (e) => e?.['description']?.[0] === 'first hire',
      30_000,
    );
    const oldUuid = (await run.uuidAt(dsDn)) as string;
    const oldGuid = (await run.guidAt(adDn)) as string;
    await eventually(
      'the first account linked',
      () => run.linkedTo(oldUuid),
      (ids) => ids.includes(oldGuid),
      15_000,
    );

    await run.directory.del(dsDn);
    await sleep(300);
    await run.directory.add(dsDn, dsPerson(cn, `rd${run.suffix}`.slice(0, 20), 'second hire'));
    const newUuid = (await run.uuidAt(dsDn)) as string;

    await eventually(
      'the second account in AD',
      () => run.ad.read(adDn, ['description']),
      (e) => e?.['description']?.[0] === 'second hire',
      30_000,
    );
    await sleep(SETTLE_MS);
    const newGuid = await run.guidAt(adDn);
    expect(newGuid).not.toBeNull();
    expect(newGuid).not.toBe(oldGuid);
    expect(await run.uuidAt(dsDn)).toBe(newUuid);
    expect(await run.linkedTo(newUuid)).toContain(newGuid);
    expect(await run.linkedTo(oldUuid)).toEqual([]);
    await run.expectTreesEqual(2);
    expect(await run.live.deadLetters()).toEqual([]);
    dsReplaced = { dn: dsDn, oldUuid, newUuid };
  });

  step('a delete for that DN naming the replaced AD entry, or an entry nobody knows, changes nothing', async () => {
    const replaced = adReplaced;
    if (replaced === undefined) throw new Error('the AD re-create case did not finish');
    const dsDn = `cn=${replaced.dn.slice(3, replaced.dn.indexOf(','))},${run.dsOu}`;
    const uuid = await run.uuidAt(dsDn);
    const forged = (guid: string, index: number): EntryChangeEvent => ({
      eventId: `forged-${randomUUID()}`,
      source: { system: 'active-directory', directory: `ad${run.suffix}`, server: 'ldaps://forged', position: { kind: 'dirsync', cookieDigest: 'forged', index } },
      entryId: { kind: 'objectGUID', value: guid },
      op: 'delete',
      dn: replaced.dn,
      previousDn: null,
      objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
      attributes: [],
      initiator: null,
      changeTime: Date.now(),
      detectedAt: Date.now(),
      after: null,
      before: null,
    });
    const stranger = randomUUID();
    await run.live.produce('adChanges', [
      { key: entryKey({ kind: 'objectGUID', value: replaced.oldGuid }), value: encodeEntryChange(forged(replaced.oldGuid, 0)) },
      { key: stranger, value: encodeEntryChange(forged(stranger, 1)) },
    ]);
    const letters = await eventually(
      "the stranger's delete dead-lettered",
      () => run.live.deadLetters(),
      (l) => l.length > 0,
      60_000,
      1_000,
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]?.reason).toMatch(new RegExp(`link conflict.*linked to source entry ${replaced.newGuid}, not to ${stranger}`));
    expect(await run.live.counter('ds-writer', 'idsync_writer_link_conflicts_total', { resolution: 'dead-letter' })).toBe(1);
    expect(await run.uuidAt(dsDn)).toBe(uuid);
    expect(await run.guidAt(replaced.dn)).toBe(replaced.newGuid);
    await run.expectTreesEqual(2);
  });

  step('a delete for that DN naming the replaced directory entry, or an entry nobody knows, changes nothing in AD', async () => {
    const replaced = dsReplaced;
    if (replaced === undefined) throw new Error('the directory re-create case did not finish');
    const adDn = `CN=${replaced.dn.slice(3, replaced.dn.indexOf(','))},${run.adOu}`;
    const guid = await run.guidAt(adDn);
    const forged = (uuid: string): EntryChangeEvent => ({
      eventId: `forged-${randomUUID()}`,
      source: { system: 'ldap', directory: `ds${run.suffix}`, server: 'ldaps://forged', position: { kind: 'change-number', changeNumber: '999999' } },
      entryId: { kind: 'entryUUID', value: uuid },
      op: 'delete',
      dn: replaced.dn,
      previousDn: null,
      objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      attributes: [],
      initiator: 'cn=Directory Manager',
      changeTime: Date.now(),
      detectedAt: Date.now(),
      after: null,
      before: null,
    });
    const stranger = randomUUID();
    const before = (await run.live.deadLetters()).length;
    await run.live.produce('dsChanges', [
      { key: replaced.oldUuid, value: encodeEntryChange(forged(replaced.oldUuid)) },
      { key: stranger, value: encodeEntryChange(forged(stranger)) },
    ]);
    const letters = await eventually(
      "the stranger's delete dead-lettered",
      () => run.live.deadLetters(),
      (l) => l.length > before,
      60_000,
      1_000,
    );
    expect(letters).toHaveLength(before + 1);
    // Dead letters come back in partition order, not time order: the stranger's is the one naming it.
    expect(letters.find((letter) => letter.reason.includes(stranger))?.reason).toMatch(new RegExp(`link conflict.*linked to source entry ${replaced.newUuid}, not to ${stranger}`));
    expect(await run.live.counter('ad-writer', 'idsync_writer_link_conflicts_total', { resolution: 'dead-letter' })).toBe(1);
    expect(await run.guidAt(adDn)).toBe(guid);
    expect(await run.uuidAt(replaced.dn)).toBe(replaced.newUuid);
    await run.expectTreesEqual(2);
  });
});
