import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { encodeEntryChange } from '@idsync/contracts';
import { Keyring, openPassword, sealPassword } from '@idsync/secrets';
import { safeOutputTail } from '../agent/password-agent';
import { decidePasswordEvent, fileTimeToMs, type HashSealer, parseSyncPasswordsLdif, settleDelayMs } from './index';

// The shape samba-tool 4.17 printed on the local stack (hash replaced by a made-up one of the same form, folded at 78).
const HASH = '{CRYPT}$6$Vh54Je.a63fZIyH2$QWERTYUIOPasdfghjklzxcvbnm0123456789QWERTYUIOPasdfghjklzxcvbnm0123456789abcdefghijklmnop';
const ldif = (extra = ''): string =>
  [
    'dn: CN=Pat Doe,OU=Sales,OU=Corp,DC=example,DC=test',
    'objectClass: top',
    'objectClass: person',
    'objectClass: organizationalPerson',
    'objectClass: user',
    'objectGUID: 2f858209-dd45-49f1-a7e6-7a962db82589',
    'sAMAccountName: pdoe',
    'pwdLastSet: 134401066900405970',
    `virtualCryptSHA512: ${HASH.slice(0, 58)}`,
    ` ${HASH.slice(58)}`,
    extra,
    '',
  ].join('\n');

const keyring = new Keyring({ current: 'k1', keys: [{ id: 'k1', bytes: randomBytes(32) }] });
const seal: HashSealer = (hash, entryId) => sealPassword(hash, keyring.current, { entryId, attribute: 'idsyncPassword' }, { form: 'hashed' });
const context = { directory: 'ad', server: 'ldaps://127.0.0.1:636', detectedAt: 1_800_000_000_000 };

describe('samba-tool syncpasswords LDIF', () => {
  it('reads the account, unfolding the hash, and keeps the hash out of any printout', () => {
    const object = parseSyncPasswordsLdif(ldif());
    expect(object).toMatchObject({
      dn: 'CN=Pat Doe,OU=Sales,OU=Corp,DC=example,DC=test',
      objectGuid: '2f858209-dd45-49f1-a7e6-7a962db82589',
      objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
      samAccountName: 'pdoe',
      pwdLastSet: '134401066900405970',
      deleted: false,
    });
    expect(object.cryptSha512?.reveal().toString()).toBe(HASH);
    expect(JSON.stringify(object)).not.toContain('$6$');
    expect(inspect(object)).not.toContain('$6$');
  });

  it('decodes base64 values and reads tombstones', () => {
    const object = parseSyncPasswordsLdif(`dn:: ${Buffer.from('CN=Zoë,OU=Corp,DC=example,DC=test').toString('base64')}\nobjectGUID: 2F858209-DD45-49F1-A7E6-7A962DB82589\nisDeleted: TRUE\n`);
    expect(object.dn).toBe('CN=Zoë,OU=Corp,DC=example,DC=test');
    expect(object.objectGuid).toBe('2f858209-dd45-49f1-a7e6-7a962db82589');
    expect(object.deleted).toBe(true);
  });

  it('refuses an object without dn or objectGUID, naming no value', () => {
    expect(() => parseSyncPasswordsLdif(`objectGUID: 2f858209-dd45-49f1-a7e6-7a962db82589\nvirtualCryptSHA512: ${HASH}\n`)).toThrow(/no dn/);
    expect(() => parseSyncPasswordsLdif(`dn: CN=x\nvirtualCryptSHA512: ${HASH}\n`)).toThrow(/objectGUID/);
  });
});

describe('decidePasswordEvent', () => {
  it('publishes a modify keyed by objectGUID with the sealed hash as idsyncPassword (form hashed)', () => {
    const decision = decidePasswordEvent(parseSyncPasswordsLdif(ldif()), context, seal);
    if (decision.kind !== 'publish') throw new Error(decision.reason);
    const { event } = decision;
    expect(event).toMatchObject({
      op: 'modify',
      entryId: { kind: 'objectGUID', value: '2f858209-dd45-49f1-a7e6-7a962db82589' },
      dn: 'CN=Pat Doe,OU=Sales,OU=Corp,DC=example,DC=test',
      eventId: 'ad:password:2f858209-dd45-49f1-a7e6-7a962db82589:134401066900405970',
      source: { system: 'active-directory', directory: 'ad' },
    });
    expect(event.attributes.map((a) => a.name)).toEqual(['idsyncPassword']);
    const opened = openPassword(event.attributes[0]?.values[0] as Buffer, keyring, { entryId: event.entryId, attribute: 'idsyncPassword' });
    expect(opened.form).toBe('hashed');
    expect(opened.value.toString()).toBe(HASH);
    expect(encodeEntryChange(event).includes(Buffer.from(HASH.slice(20, 60)))).toBe(false);
    expect(event.changeTime).toBe(fileTimeToMs('134401066900405970'));
  });

  it('skips tombstones, accounts without a hash, and notifications whose pwdLastSet did not move', () => {
    expect(decidePasswordEvent(parseSyncPasswordsLdif(ldif('isDeleted: TRUE')), context, seal)).toEqual({ kind: 'skip', reason: 'deleted' });
    const noHash = ldif()
      .split('\n')
      .filter((l) => !l.startsWith('virtualCrypt') && !l.startsWith(' '))
      .join('\n');
    expect(decidePasswordEvent(parseSyncPasswordsLdif(noHash), context, seal)).toEqual({ kind: 'skip', reason: 'no-hash' });
    expect(decidePasswordEvent(parseSyncPasswordsLdif(ldif()), context, seal, '134401066900405970')).toEqual({ kind: 'skip', reason: 'unchanged' });
    expect(decidePasswordEvent(parseSyncPasswordsLdif(ldif()), context, seal, '134401066900000000').kind).toBe('publish');
  });

  it('converts pwdLastSet (FILETIME) to epoch milliseconds', () => {
    expect(fileTimeToMs('116444736000000000')).toBe(0);
    expect(fileTimeToMs('0')).toBeNull();
    expect(fileTimeToMs(null)).toBeNull();
  });

  it('logs only samba-tool output lines that cannot hold password values', () => {
    const output = `Getting changes\nvirtualCryptSHA512: ${HASH}\n# attrs=['virtualCryptSHA512']\nCall Popen[/x] for CN=a\nERROR: script failed\n`;
    const tail = safeOutputTail(output);
    expect(tail).toBe('Getting changes | Call Popen[/x] for CN=a | ERROR: script failed');
  });
});

describe("settleDelayMs (a new account's password waits for its create)", () => {
  // 2026-11-25T19:00:00Z as pwdLastSet (100 ns ticks since 1601).
  const setAt = Date.parse('2026-11-25T19:00:00Z');
  const pwdLastSet = String((BigInt(setAt) + 11_644_473_600_000n) * 10_000n);

  it('holds a password set just now for the rest of the settle time', () => {
    expect(settleDelayMs(pwdLastSet, setAt + 1_000, 4_000)).toBe(3_000);
  });

  it('does not hold a password set longer ago than the settle time, nor without a pwdLastSet or a settle time', () => {
    expect(settleDelayMs(pwdLastSet, setAt + 10_000, 4_000)).toBe(0);
    expect(settleDelayMs(null, setAt, 4_000)).toBe(0);
    expect(settleDelayMs('0', setAt, 4_000)).toBe(0);
    expect(settleDelayMs(pwdLastSet, setAt, 0)).toBe(0);
  });

  it('never holds longer than the settle time, even when the DC clock is ahead', () => {
    expect(settleDelayMs(pwdLastSet, setAt - 60_000, 4_000)).toBe(4_000);
  });
});
