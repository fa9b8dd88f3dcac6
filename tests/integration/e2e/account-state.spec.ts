import { Attribute, Change } from 'ldapts';
import { requireStackServers, stackConfig, uniqueSuffix } from '../support/stack';
import { Scenario } from '../support/scenario';
import { canBind, type Entry, Side } from './directories';
import { eventually, Pipeline, sleep } from './pipeline';

/**
 * Account state and transforms end to end on the local stack, with the demo pipes (config/demo.yaml): AD's disabled
 * bit and the directory's nsAccountLock both ways (a bind with the password fails, then succeeds), the other bits of
 * userAccountControl untouched, accountExpires <-> idsyncAccountExpires (FILETIME <-> generalized time, AD's "never"),
 * "must change password" both ways, an attribute the directory keeps (authority keep, set for this run), and value
 * transforms both ways (case, replace, join/split, first; mappings added for this run). Ends with a comparison of the
 * two entries.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 45_000;
const adCorp = `OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsCorp = `ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;
const OU = `e2eas${s}`;
const cn = `Acc State${s}`;
const uid = `as${s}`;
const dsUser = `cn=${cn},ou=${OU},${dsCorp}`;
const adUser = `CN=${cn},OU=${OU},${adCorp}`;
const PASSWORD = `Acct-${s}-5x!`;

const ACCOUNTDISABLE = 0x2;
const DONT_EXPIRE_PASSWORD = 0x10000;
const NEVER = '9223372036854775807';
/** AD's FILETIME (100 ns since 1601-01-01) of a UTC time. */
const filetime = (iso: string): string => String((BigInt(Date.parse(iso)) + 11_644_473_600_000n) * 10_000n);

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
const scenario = new Scenario(300_000);
const step = scenario.step;
const first = (entry: Entry | null, name: string): string | undefined => entry?.[name.toLowerCase()]?.[0];
const uac = async (): Promise<number> => Number(first(await ad.read(adUser, ['userAccountControl']), 'userAccountControl') ?? NaN);
const binds = (which: 'ad' | 'ds', dn: string): Promise<boolean> => canBind(config, which, dn, PASSWORD);

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s, 90_000, {
    pipes: (pipes) => {
      const usersOf = (name: string) => {
        const users = pipes.find((pipe) => pipe.name === name)?.syncClasses.find((syncClass) => syncClass.name === 'users');
        if (!users?.attributeMappings) throw new Error(`config/demo.yaml has no ${name} users class`);
        return users as typeof users & { attributeMappings: Record<string, unknown>[] };
      };
      const toDs = usersOf('ad-to-ds');
      const toAd = usersOf('ds-to-ad');
      // The directory owns the phone number once it has one: AD's changes do not overwrite it.
      toDs.attributeMappings = toDs.attributeMappings.map((m) => (m['to'] === 'telephoneNumber' ? { ...m, authority: 'keep' } : m));
      // Transforms both ways, each with its inverse (or a lossy one): case, regular-expression replace, join/split, first value.
      toDs.attributeMappings.push(
        { from: 'department', to: 'departmentNumber', transforms: [{ case: 'upper' }] },
        { from: 'title', to: 'title', transforms: [{ replace: { pattern: '^Dr\\. ', with: '' } }] },
        { from: 'physicalDeliveryOfficeName', to: 'roomNumber', transforms: [{ split: ';' }] },
        { from: 'homePhone', to: 'homePhone' },
      );
      toAd.attributeMappings.push(
        { from: 'departmentNumber', to: 'department', transforms: [{ case: 'lower' }] },
        { from: 'title', to: 'title', transforms: [{ replace: { pattern: '^(?!Dr\\. )', with: 'Dr. ' } }] },
        { from: 'roomNumber', to: 'physicalDeliveryOfficeName', transforms: [{ join: ';' }] },
        { from: 'homePhone', to: 'homePhone', transforms: [{ first: true }] },
      );
    },
  });
  await ds.add(`ou=${OU},${dsCorp}`, { objectClass: ['top', 'organizationalUnit'], ou: OU });
  await eventually(
    'the test OU in AD',
    () => ad.read(`OU=${OU},${adCorp}`, ['ou']),
    (entry) => entry !== null,
    STEP_MS,
  );
}, 240_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed || pipeline.crashed().length > 0) process.stderr.write(`account-state ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(`OU=${OU},${adCorp}`).catch(() => undefined);
  await ds?.deleteTree(`ou=${OU},${dsCorp}`).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 120_000);

describe(`account state and transforms (run ${s})`, () => {
  step('a directory user with a password becomes an enabled AD account; both directories take the password', async () => {
    await ds.add(dsUser, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn, sn: `State${s}`, uid, mail: `${uid}@example.com` });
    await eventually(
      'the user in AD',
      () => ad.read(adUser, ['cn']),
      (entry) => entry !== null,
      STEP_MS,
    );
    // 389-ds's changelog keeps the clear value of a userPassword modify only.
    await ds.replace(dsUser, 'userPassword', [PASSWORD]);
    await eventually(
      'AD binding with the password',
      () => binds('ad', adUser),
      (ok) => ok,
      STEP_MS,
      1_000,
    );
    expect((await uac()) & ACCOUNTDISABLE).toBe(0);
    expect(await binds('ds', dsUser)).toBe(true);
    // Another bit for the rest of the run to leave alone.
    await ad.replace(adUser, 'userAccountControl', [String((await uac()) | DONT_EXPIRE_PASSWORD)]);
  });

  step('disabled in AD: the directory account is locked (its bind fails); enabled again: unlocked (its bind works)', async () => {
    await ad.replace(adUser, 'userAccountControl', [String((await uac()) | ACCOUNTDISABLE)]);
    await eventually(
      'nsAccountLock TRUE in the directory',
      () => ds.read(dsUser, ['nsAccountLock']),
      (entry) => first(entry, 'nsAccountLock')?.toUpperCase() === 'TRUE',
      STEP_MS,
    );
    expect(await binds('ds', dsUser)).toBe(false);
    await ad.replace(adUser, 'userAccountControl', [String((await uac()) & ~ACCOUNTDISABLE)]);
    await eventually(
      'nsAccountLock gone from the directory',
      () => ds.read(dsUser, ['nsAccountLock']),
      (entry) => entry !== null && first(entry, 'nsAccountLock') === undefined,
      STEP_MS,
    );
    expect(await binds('ds', dsUser)).toBe(true);
  });

  step('locked in the directory: the AD account is disabled (its bind is refused), the other bits untouched; unlocked: enabled', async () => {
    await ds.replace(dsUser, 'nsAccountLock', ['TRUE']);
    await eventually('the disabled bit in AD', uac, (value) => (value & ACCOUNTDISABLE) !== 0, STEP_MS);
    expect((await uac()) & DONT_EXPIRE_PASSWORD).toBe(DONT_EXPIRE_PASSWORD);
    expect(await binds('ad', adUser)).toBe(false);
    await ds.client.modify(dsUser, new Change({ operation: 'delete', modification: new Attribute({ type: 'nsAccountLock', values: [] }) }));
    await eventually('the disabled bit cleared in AD', uac, (value) => (value & ACCOUNTDISABLE) === 0, STEP_MS);
    expect((await uac()) & DONT_EXPIRE_PASSWORD).toBe(DONT_EXPIRE_PASSWORD);
    await eventually(
      'AD binding again',
      () => binds('ad', adUser),
      (ok) => ok,
      STEP_MS,
      1_000,
    );
  });

  step('an expiry set in AD appears as a generalized time in the directory, and back; removed: AD says never', async () => {
    await ad.replace(adUser, 'accountExpires', [filetime('2031-01-31T00:00:00Z')]);
    const expiring = await eventually(
      'idsyncAccountExpires in the directory',
      () => ds.read(dsUser, ['idsyncAccountExpires', 'objectClass']),
      (entry) => first(entry, 'idsyncAccountExpires') === '20310131000000Z',
      STEP_MS,
    );
    expect(expiring?.['objectclass']?.map((c) => c.toLowerCase())).toContain('idsyncaccount');
    await ds.replace(dsUser, 'idsyncAccountExpires', ['20320229120000Z']);
    await eventually(
      'accountExpires in AD',
      () => ad.read(adUser, ['accountExpires']),
      (entry) => first(entry, 'accountExpires') === filetime('2032-02-29T12:00:00Z'),
      STEP_MS,
    );
    await ds.client.modify(dsUser, new Change({ operation: 'delete', modification: new Attribute({ type: 'idsyncAccountExpires', values: [] }) }));
    await eventually(
      'accountExpires never in AD',
      () => ad.read(adUser, ['accountExpires']),
      (entry) => first(entry, 'accountExpires') === NEVER,
      STEP_MS,
    );
    await sleep(2_000);
    expect(first(await ds.read(dsUser, ['idsyncAccountExpires']), 'idsyncAccountExpires')).toBeUndefined();
  });

  step('"must change password at next logon" in AD is set in the directory; cleared there, AD clears it', async () => {
    await ad.replace(adUser, 'pwdLastSet', ['0']);
    await eventually(
      'idsyncMustChangePassword in the directory',
      () => ds.read(dsUser, ['idsyncMustChangePassword']),
      (entry) => first(entry, 'idsyncMustChangePassword') === 'TRUE',
      STEP_MS,
    );
    await ds.client.modify(dsUser, new Change({ operation: 'delete', modification: new Attribute({ type: 'idsyncMustChangePassword', values: [] }) }));
    await eventually(
      'pwdLastSet a time again in AD',
      () => ad.read(adUser, ['pwdLastSet']),
      (entry) => Number(first(entry, 'pwdLastSet') ?? '0') > 0,
      STEP_MS,
    );
  });

  step('authority keep: the directory keeps its phone number when AD changes it', async () => {
    await ds.replace(dsUser, 'telephoneNumber', ['+1 555 0101']);
    await eventually(
      'the phone in AD',
      () => ad.read(adUser, ['telephoneNumber']),
      (entry) => first(entry, 'telephoneNumber') === '+1 555 0101',
      STEP_MS,
    );
    await ad.replace(adUser, 'description', [`marker ${s}`]);
    await ad.replace(adUser, 'telephoneNumber', ['+1 555 0199']);
    await eventually(
      'the marker in the directory',
      () => ds.read(dsUser, ['description']),
      (entry) => first(entry, 'description') === `marker ${s}`,
      STEP_MS,
    );
    await sleep(3_000);
    expect(first(await ds.read(dsUser, ['telephoneNumber']), 'telephoneNumber')).toBe('+1 555 0101');
  });

  step('transforms both ways: case, a regular-expression replace, join and split, first value', async () => {
    await ad.client.modify(adUser, [
      new Change({ operation: 'replace', modification: new Attribute({ type: 'department', values: ['Sales'] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Dr. Chemist'] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'physicalDeliveryOfficeName', values: ['B101;B102'] }) }),
    ]);
    const mapped = await eventually(
      'the AD values transformed in the directory',
      () => ds.read(dsUser, ['departmentNumber', 'title', 'roomNumber']),
      (e) => first(e, 'departmentNumber') === 'SALES' && first(e, 'title') === 'Chemist' && (e?.['roomnumber']?.length ?? 0) === 2,
      STEP_MS,
    );
    expect(mapped?.['roomnumber']?.toSorted()).toEqual(['B101', 'B102']);
    await ds.client.modify(dsUser, [
      new Change({ operation: 'replace', modification: new Attribute({ type: 'departmentNumber', values: ['FINANCE'] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Physicist'] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'roomNumber', values: ['C201', 'C202', 'C203'] }) }),
      new Change({ operation: 'replace', modification: new Attribute({ type: 'homePhone', values: ['+1 555 0301', '+1 555 0302'] }) }),
    ]);
    const back = await eventually(
      'the directory values transformed in AD',
      () => ad.read(adUser, ['department', 'title', 'physicalDeliveryOfficeName', 'homePhone']),
      (e) => first(e, 'department') === 'finance' && first(e, 'title') === 'Dr. Physicist' && first(e, 'homePhone') !== undefined,
      STEP_MS,
    );
    expect(first(back, 'physicalDeliveryOfficeName')?.split(';').toSorted()).toEqual(['C201', 'C202', 'C203']);
    expect(['+1 555 0301', '+1 555 0302']).toContain(first(back, 'homePhone'));
    // AD's echoes of these are the ad-writer's own: the directory keeps what was set there.
    await sleep(3_000);
    const kept = await ds.read(dsUser, ['departmentNumber', 'title', 'roomNumber', 'homePhone']);
    expect([first(kept, 'departmentNumber'), first(kept, 'title'), kept?.['roomnumber']?.length, kept?.['homephone']?.length]).toEqual(['FINANCE', 'Physicist', 3, 2]);
  });

  step('both entries agree: names, mail, description, lock and expiry', async () => {
    const a = await ad.read(adUser, ['cn', 'sn', 'mail', 'description', 'sAMAccountName', 'userAccountControl', 'accountExpires']);
    const d = await ds.read(dsUser, ['cn', 'sn', 'mail', 'description', 'uid', 'nsAccountLock', 'idsyncAccountExpires']);
    for (const [adName, dsName] of [
      ['cn', 'cn'],
      ['sn', 'sn'],
      ['mail', 'mail'],
      ['description', 'description'],
      ['sAMAccountName', 'uid'],
    ] as const) {
      expect([adName, first(a, adName)]).toEqual([adName, first(d, dsName)]);
    }
    expect((Number(first(a, 'userAccountControl')) & ACCOUNTDISABLE) !== 0).toBe(first(d, 'nsAccountLock')?.toUpperCase() === 'TRUE');
    expect(first(a, 'accountExpires')).toBe(NEVER);
    expect(first(d, 'idsyncAccountExpires')).toBeUndefined();
  });
});
