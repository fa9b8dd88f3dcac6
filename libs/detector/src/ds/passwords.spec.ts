import { randomBytes, createCipheriv, createDecipheriv } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { encodeEntryChange, type EntryId } from '@idsync/contracts';
import { Keyring, openPassword, sealPassword } from '@idsync/secrets';
import { parseChangelogEntry, readChangelogRecord, toEntryChangeEvent, type RawChangelogEntry } from './changelog-entry';
import { type PasswordSealer } from './passwords';

const FIXTURES = join(__dirname, '__fixtures__');
const fixture = (name: string): RawChangelogEntry => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as RawChangelogEntry;
const context = { directory: 'ds', server: 'ldaps://127.0.0.1:3636', detectedAt: 1_800_000_000_000 };
const keyring = new Keyring({ current: 'k1', keys: [{ id: 'k1', bytes: randomBytes(32) }] });
const seal: PasswordSealer = (clear: Buffer, entryId: EntryId) => sealPassword(clear, keyring.current, { entryId, attribute: 'idsyncPassword' });
const CLEAR = 'dummy-clear-password'; // what the captured 389-ds entry recorded as unhashed#user#password

const passwordChange = fixture('password-change');
const withChanges = (entry: RawChangelogEntry, changes: string): RawChangelogEntry => ({ ...entry, changes });
const hashOnlyChange = withChanges(passwordChange, 'replace: userPassword\nuserPassword: {PBKDF2-SHA512}dummy-hash\n-\nreplace: modifiersname\nmodifiersname: cn=directory manager\n-\n\u0000');

describe('passwords from the changelog', () => {
  it('seals the clear password 389-ds recorded into idsyncPassword, bound to the entryUUID', () => {
    const event = parseChangelogEntry(passwordChange, context, {}, { seal });
    const sealed = event.attributes.find((a) => a.name === 'idsyncPassword');
    expect(sealed?.op).toBe('replace');
    expect(sealed?.values).toHaveLength(1);
    const value = sealed?.values[0] as Buffer;
    expect(openPassword(value, keyring, { entryId: event.entryId, attribute: 'idsyncPassword' }).value.toString('utf8')).toBe(CLEAR);
    // Replayed onto another entry, it does not open.
    expect(() => openPassword(value, keyring, { entryId: { kind: 'entryUUID', value: '00000000-0000-4000-8000-000000000000' }, attribute: 'idsyncPassword' })).toThrow(/tampered/);
  });

  it('never puts the clear value in the event, its Avro record, or the record as printed', () => {
    const record = readChangelogRecord(passwordChange);
    const event = toEntryChangeEvent(record, context, {}, seal);
    const avro = encodeEntryChange(event);
    expect(avro.includes(Buffer.from(CLEAR))).toBe(false);
    expect(JSON.stringify(event)).not.toContain(CLEAR);
    expect(JSON.stringify(record)).not.toContain(CLEAR);
    expect(inspect(record, { depth: 10 })).not.toContain(CLEAR);
    expect(String(record.password.clear)).toBe('***');
  });

  it('without a sealer leaves the password out, as before, and counts it', () => {
    const record = readChangelogRecord(passwordChange);
    expect(record.passwordValuesExcluded).toBe(1);
    expect(toEntryChangeEvent(record, context).attributes.map((a) => a.name)).toEqual(['userPassword']);
  });

  it('reports a userPassword change with only a hash as hash-only (it cannot be pushed to AD)', () => {
    const record = readChangelogRecord(hashOnlyChange);
    expect(record.password).toEqual({ clear: null, hashOnly: true, undecryptable: 0 });
    expect(toEntryChangeEvent(record, context, {}, seal).attributes.map((a) => a.name)).toEqual(['userPassword']);
  });

  it('says nothing about passwords for a change without userPassword', () => {
    expect(readChangelogRecord(fixture('modify-single')).password).toEqual({ clear: null, hashOnly: false, undecryptable: 0 });
  });

  describe("PingDirectory's ds-changelog-encrypted-password (assumed shape, see passwords.ts)", () => {
    // A stand-in for PingDirectory's encryption: AES-256-CBC under a test key; the real one lives in the deployment's hook.
    const pingKey = randomBytes(32);
    const pingEncrypt = (clear: string): Buffer => {
      const iv = randomBytes(16);
      const cipher = createCipheriv('aes-256-cbc', pingKey, iv);
      return Buffer.concat([iv, cipher.update(clear, 'utf8'), cipher.final()]);
    };
    const decryptPassword = (encrypted: Buffer): Buffer => {
      const decipher = createDecipheriv('aes-256-cbc', pingKey, encrypted.subarray(0, 16));
      return Buffer.concat([decipher.update(encrypted.subarray(16)), decipher.final()]);
    };
    const pingEntry: RawChangelogEntry = {
      ...hashOnlyChange,
      'ds-changelog-encrypted-password': pingEncrypt('Ping-Clear-1'),
    };

    it('decrypts it with the hook and seals the clear value', () => {
      const event = parseChangelogEntry(pingEntry, context, {}, { seal, decryptPassword });
      const sealed = event.attributes.find((a) => a.name === 'idsyncPassword')?.values[0] as Buffer;
      expect(openPassword(sealed, keyring, { entryId: event.entryId, attribute: 'idsyncPassword' }).value.toString()).toBe('Ping-Clear-1');
    });

    it('counts it undecryptable (not hash-only, not dropped silently) without a hook or when the hook fails', () => {
      expect(readChangelogRecord(pingEntry).password).toEqual({ clear: null, hashOnly: false, undecryptable: 1 });
      const failing = readChangelogRecord(pingEntry, {
        decryptPassword: () => {
          throw new Error('bad padding for Ping-Clear-1');
        },
      });
      expect(failing.password.undecryptable).toBe(1);
      expect(JSON.stringify(failing)).not.toContain('Ping-Clear-1');
    });
  });
});
