import { randomUUID } from 'node:crypto';
import { decodeWriteRequest, encodeWriteRequest, entryKey, type WriteRequest } from '@idsync/contracts';
import { destinationBinding, PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { keyringFromConfig, unbindPassword, withSignature } from '@idsync/secrets';
import { canBind } from '../integration/e2e/directories';
import { eventually } from '../integration/e2e/pipeline';
import { adUser, dsPerson } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * Records on the operations topics that the mapper did not make, both pipes running, signatures required (the demo
 * configuration): an unsigned delete of a synced account and a signed request altered afterwards (anything that can
 * reach Kafka); and, signed with the real operation key (a mapper bug, a leaked key), a delete and a write outside
 * the pipe's subtrees, raw passwords, a pipe the configuration lacks, a membership in Domain Admins, and a genuine
 * sealed password lifted onto another account. Each is refused by its writer (dead-lettered with the reason,
 * counted as a security event), nothing changes in either directory, and the writers go on syncing.
 */

const run = new FaultRun('fx', async () => {
  await run.ad.del(adVictim()).catch(() => undefined);
  await run.ds?.deleteTree(dsOutside()).catch(() => undefined);
});
const step = run.scenario.step;
const adBase = (): string => run.config.directories['ad']?.baseDn ?? '';
const dsBase = (): string => run.config.directories['ds']?.baseDn ?? '';
const dsOutside = (): string => `ou=Outside fx${run.suffix},${dsBase()}`;
const dsVictim = (): string => `cn=Victim fx${run.suffix},${dsOutside()}`;
const adVictim = (): string => `CN=Victim fx${run.suffix},CN=Users,${adBase()}`;
const adAdmins = (): string => `CN=Domain Admins,CN=Users,${adBase()}`;
const adDn = (name: string): string => `CN=Forge ${name} ${run.suffix},${run.adOu}`;
const dsDn = (name: string): string => `cn=Forge ${name} ${run.suffix},${run.dsOu}`;
const PASSWORD = `Fx-first-${run.suffix}-7q!`;
const FORGED_PASSWORD = `Fx-forged-${run.suffix}-3k#`;

const replace = (name: string, ...values: (string | Buffer)[]) => ({ name, op: 'replace' as const, values });
const operationKeys = () => keyringFromConfig(run.config.secrets?.operationKeys ?? { current: 'missing', keys: [] });

/** A write request as a forger writes it: well-formed, for a real pipe unless told otherwise. */
function forged(pipe: string, fields: Partial<WriteRequest> & Pick<WriteRequest, 'op' | 'dn'>): WriteRequest {
  const eventId = `forged-${randomUUID()}`;
  return {
    requestId: `${eventId}/${pipe}/0`,
    pipe,
    sourceEventId: eventId,
    sourceEntryId: pipe === 'ds-to-ad' ? { kind: 'entryUUID', value: randomUUID() } : { kind: 'objectGUID', value: randomUUID() },
    previousDn: null,
    objectClasses: [],
    attributes: [],
    correlation: [],
    changeTime: Date.now(),
    detectedAt: Date.now(),
    ...fields,
  };
}

const unsigned = (request: WriteRequest) => ({ key: entryKey(request.sourceEntryId), value: encodeWriteRequest(request) });
/** Signed with the operation key the mapper holds: what only the mapper, the writers and the CLI can do. */
const signed = (request: WriteRequest) => {
  const message = unsigned(request);
  return { ...message, headers: withSignature(operationKeys(), message) };
};

const binds = (side: 'ad' | 'ds', dn: string, password: string): Promise<boolean> => canBind(run.config, side, dn, password);

describe(`forged write requests, both pipes running, signatures required (run ${run.suffix})`, () => {
  const before: Record<string, unknown> = {};

  step(
    "users from both sides are synced, one with a password; a victim outside the pipes' subtrees on each side",
    async () => {
      expect(run.config.secrets?.signOperations).toBe(true);
      await run.createOu();
      for (const name of ['A0', 'A1']) await run.ad.add(adDn(name), adUser(`Forge ${name} ${run.suffix}`, `fx${name}${run.suffix}`.slice(0, 20), 'v1'));
      await run.directory.add(dsDn('D'), dsPerson(`Forge D ${run.suffix}`, `fxd${run.suffix}`.slice(0, 20), 'v1'));
      for (const name of ['A0', 'A1']) await run.arrives('ds', dsDn(name), 'v1');
      await run.arrives('ad', adDn('D'), 'v1');
      // 389-ds's changelog keeps the clear value of a userPassword modify only.
      await run.directory.replace(dsDn('D'), 'userPassword', [PASSWORD]);
      await eventually(
        'Forge D binding in AD with its password',
        () => binds('ad', adDn('D'), PASSWORD),
        (ok) => ok,
        60_000,
        1_000,
      );

      await run.directory.add(dsOutside(), { objectClass: ['top', 'organizationalUnit'], ou: `Outside fx${run.suffix}` });
      await run.directory.add(dsVictim(), { ...dsPerson(`Victim fx${run.suffix}`, `victim${run.suffix}`.slice(0, 20), 'untouched'), userPassword: 'Victim-Pass-1' });
      await run.ad.add(adVictim(), adUser(`Victim fx${run.suffix}`, `victim${run.suffix}`.slice(0, 20), 'untouched'));
      before['dsPassword'] = (await run.directory.read(dsDn('A0'), ['userPassword']))?.['userpassword'];
      before['adPwdLastSet'] = (await run.ad.read(adDn('A1'), ['pwdLastSet']))?.['pwdlastset'];
      before['admins'] = (await run.ad.read(adAdmins(), ['member']))?.['member'];
    },
    240_000,
  );

  step(
    'each forged request is refused by its writer with the reason, and nothing changes in either directory',
    async () => {
      // The genuine request that carried Forge D's password to AD: its bound envelope, lifted onto Forge A1.
      const genuine = (await run.live.records('adOperations'))
        .map((record) => decodeWriteRequest(record.value))
        .find((request) => request.dn.toLowerCase() === adDn('D').toLowerCase() && request.attributes.some((a) => a.name === PASSWORD_PSEUDO_ATTRIBUTE));
      if (genuine === undefined) throw new Error(`no request carrying Forge D's password on the AD operations topic`);
      const bound = genuine.attributes.find((a) => a.name === PASSWORD_PSEUDO_ATTRIBUTE)?.values[0] as Buffer;
      // Stripped of its binding: the source-sealed envelope inside (a forger cannot re-bind it without the key).
      const a1Uuid = (await run.uuidAt(dsDn('A1'))) as string;
      const stripped = unbindPassword(bound, operationKeys(), destinationBinding(genuine, `ad${run.suffix}`));
      const ontoA1 = (value: Buffer): WriteRequest =>
        forged('ds-to-ad', { op: 'modify', dn: adDn('A1'), sourceEntryId: { kind: 'entryUUID', value: a1Uuid }, attributes: [replace(PASSWORD_PSEUDO_ATTRIBUTE, value)] });
      const altered = signed(forged('ds-to-ad', { op: 'modify', dn: adDn('A1'), attributes: [replace('description', 'v1')] }));
      altered.value = encodeWriteRequest({ ...decodeWriteRequest(altered.value), op: 'delete', attributes: [] });

      const toDs = [
        { request: forged('ad-to-ds', { op: 'delete', dn: dsDn('A1') }), sign: false, expected: /refused \(unsigned\): no idsync-signature header/ },
        { request: forged('ad-to-ds', { op: 'delete', dn: dsVictim() }), sign: true, expected: /refused \(outside-scope\): the DN is outside the subtrees pipe 'ad-to-ds' writes to/ },
        { request: forged('ad-to-ds', { op: 'modify', dn: dsVictim(), attributes: [replace('description', 'forged')] }), sign: true, expected: /refused \(outside-scope\)/ },
        {
          request: forged('ad-to-ds', { op: 'modify', dn: dsDn('A0'), attributes: [replace('userPassword', FORGED_PASSWORD)] }),
          sign: true,
          expected: /refused \(secret-attribute\): it carries userPassword in the clear/,
        },
        { request: forged('backdoor', { op: 'delete', dn: dsDn('A1') }), sign: true, expected: /refused \(unknown-pipe\): it names pipe 'backdoor'/ },
      ];
      const toAd = [
        { request: forged('ds-to-ad', { op: 'modify', dn: adVictim(), attributes: [replace('description', 'forged')] }), sign: true, expected: /refused \(outside-scope\)/ },
        {
          request: forged('ds-to-ad', { op: 'modify', dn: adDn('A1'), attributes: [replace('unicodePwd', Buffer.from(`"${FORGED_PASSWORD}"`, 'utf16le'))] }),
          sign: true,
          expected: /refused \(secret-attribute\): it carries unicodePwd in the clear/,
        },
        { request: forged('ds-to-ad', { op: 'modify', dn: adAdmins(), attributes: [{ name: 'member', op: 'add', values: [adDn('A1')] }] }), sign: true, expected: /refused \(outside-scope\)/ },
        { request: ontoA1(bound), sign: true, expected: /refused \(password-binding\): password binding refused: other-entry/ },
        { request: ontoA1(stripped), sign: true, expected: /refused \(password-binding\): password binding refused: not-bound/ },
      ];
      await run.live.produce(
        'dsOperations',
        toDs.map((f) => (f.sign ? signed(f.request) : unsigned(f.request))),
      );
      await run.live.produce('adOperations', [...toAd.map((f) => (f.sign ? signed(f.request) : unsigned(f.request))), altered]);

      const total = toDs.length + toAd.length + 1;
      const letters = await eventually(
        `${total} dead letters`,
        () => run.live.deadLetters(),
        (l) => l.length >= total,
        60_000,
        1_000,
      );
      expect(letters).toHaveLength(total);
      const reasonOf = (request: WriteRequest): string => letters.find((l) => l.reason.includes(request.requestId))?.reason ?? '(no dead letter)';
      for (const { request, expected } of [...toDs, ...toAd]) expect(reasonOf(request)).toMatch(expected);
      expect(reasonOf(decodeWriteRequest(altered.value))).toMatch(/refused \(bad-signature\): the signature under key 'o1' does not match the record/);
      for (const letter of letters) expect(letter.reason).not.toContain(FORGED_PASSWORD);

      expect(await run.live.counter('ds-writer', 'idsync_writer_refused_requests_total')).toBe(toDs.length);
      expect(await run.live.counter('ds-writer', 'idsync_writer_refused_requests_total', { pipe: '(unknown)', reason: 'unknown-pipe' })).toBe(1);
      expect(await run.live.counter('ds-writer', 'idsync_writer_refused_requests_total', { pipe: 'ad-to-ds', reason: 'unsigned' })).toBe(1);
      expect(await run.live.counter('ad-writer', 'idsync_writer_refused_requests_total')).toBe(toAd.length + 1);
      expect(await run.live.counter('ad-writer', 'idsync_writer_refused_requests_total', { pipe: 'ds-to-ad', reason: 'password-binding' })).toBe(2);

      expect((await run.directory.read(dsVictim(), ['description']))?.['description']).toEqual(['untouched']);
      expect((await run.ad.read(adVictim(), ['description']))?.['description']).toEqual(['untouched']);
      expect(await run.directory.read(dsDn('A1'), ['1.1'])).not.toBeNull();
      expect(await run.ad.read(adDn('A1'), ['1.1'])).not.toBeNull();
      expect((await run.directory.read(dsDn('A0'), ['userPassword']))?.['userpassword']).toEqual(before['dsPassword']);
      expect((await run.ad.read(adDn('A1'), ['pwdLastSet']))?.['pwdlastset']).toEqual(before['adPwdLastSet']);
      expect(await binds('ad', adDn('A1'), PASSWORD)).toBe(false);
      expect((await run.ad.read(adAdmins(), ['member']))?.['member']).toEqual(before['admins']);
    },
    180_000,
  );

  step(
    'the writers go on: changes made after them arrive, and both trees end equal',
    async () => {
      await run.ad.replace(adDn('A0'), 'description', ['v2']);
      await run.directory.replace(dsDn('D'), 'description', ['v2']);
      await run.arrives('ds', dsDn('A0'), 'v2');
      await run.arrives('ad', adDn('D'), 'v2');
      expect((await run.health('ds-writer')).status).toBe('ok');
      expect((await run.health('ad-writer')).status).toBe('ok');
      await run.expectTreesEqual(3);
    },
    120_000,
  );
});
