import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { envelopeKeyId, isSealedPassword, Keyring, keyringFromConfig, openPassword, PasswordEnvelopeError, passwordKeysSchema, sealPassword, type PasswordBinding, type PasswordKey } from './index';

const key = (id: string): PasswordKey => ({ id, bytes: randomBytes(32) });
const k1 = key('k1');
const k2 = key('k2');
const bob: PasswordBinding = { entryId: { kind: 'entryUUID', value: '67edfa3b-f26a-4fbb-ac14-b3d04f9be650' }, attribute: 'idsyncPassword' };
const alice: PasswordBinding = { entryId: { kind: 'entryUUID', value: '11111111-2222-3333-4444-555555555555' }, attribute: 'idsyncPassword' };
const clear = Buffer.from('Correct-Horse-Battery-9', 'utf8');

function problemOf(run: () => unknown): { problem: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof PasswordEnvelopeError) return { problem: error.problem, message: `${error.message} ${String(error.stack)} ${JSON.stringify(error)}` };
    throw error;
  }
  throw new Error('expected a PasswordEnvelopeError');
}

describe('password envelopes', () => {
  const ring = new Keyring({ current: 'k1', keys: [k1] });

  it('opens what it sealed, for the same entry and attribute, with form and key id', () => {
    const sealed = sealPassword(clear, ring.current, bob);
    expect(isSealedPassword(sealed)).toBe(true);
    expect(envelopeKeyId(sealed)).toBe('k1');
    const opened = openPassword(sealed, ring, bob);
    expect(opened.value.equals(clear)).toBe(true);
    expect(opened.form).toBe('clear');
    expect(opened.keyId).toBe('k1');
  });

  it('carries the hashed form, authenticated', () => {
    const hash = Buffer.from('{CRYPT}$6$salt$abcdef', 'utf8');
    const sealed = sealPassword(hash, k1, bob, { form: 'hashed' });
    expect(openPassword(sealed, ring, bob).form).toBe('hashed');
    const flipped = Buffer.from(sealed);
    flipped[5] = 1; // claim 'clear'
    expect(problemOf(() => openPassword(flipped, ring, bob)).problem).toBe('tampered');
  });

  it('never contains the clear bytes, and never seals twice alike (random IV)', () => {
    const a = sealPassword(clear, k1, bob);
    const b = sealPassword(clear, k1, bob);
    expect(a.includes(clear)).toBe(false);
    expect(a.toString('latin1').includes(clear.toString('latin1'))).toBe(false);
    expect(a.equals(b)).toBe(false);
    expect(a.length).toBe(4 + 1 + 1 + 1 + 2 + 12 + clear.length + 16);
  });

  it('refuses an envelope replayed onto another entry or another attribute', () => {
    const sealed = sealPassword(clear, k1, bob);
    expect(problemOf(() => openPassword(sealed, ring, alice)).problem).toBe('tampered');
    expect(problemOf(() => openPassword(sealed, ring, { ...bob, attribute: 'description' })).problem).toBe('tampered');
  });

  it('detects any flipped byte in IV, ciphertext or tag as tampering', () => {
    const sealed = sealPassword(clear, k1, bob);
    for (let i = 9; i < sealed.length; i++) {
      const copy = Buffer.from(sealed);
      copy[i] = (copy[i] as number) ^ 0x01;
      expect(problemOf(() => openPassword(copy, ring, bob)).problem).toBe('tampered');
    }
  });

  it('says truncated, not-an-envelope, unsupported-version', () => {
    const sealed = sealPassword(clear, k1, bob);
    expect(problemOf(() => openPassword(sealed.subarray(0, 20), ring, bob)).problem).toBe('truncated');
    expect(problemOf(() => openPassword(sealed.subarray(0, 5), ring, bob)).problem).toBe('truncated');
    expect(problemOf(() => openPassword(Buffer.from('plain-text'), ring, bob)).problem).toBe('not-an-envelope');
    const v2 = Buffer.from(sealed);
    v2[4] = 2;
    expect(problemOf(() => openPassword(v2, ring, bob)).problem).toBe('unsupported-version');
    // Cutting the tag short still fails authentication, never returns a value.
    expect(problemOf(() => openPassword(sealed.subarray(0, sealed.length - 1), ring, bob)).problem).toBe('tampered');
  });

  it('says unknown-key for a key id the keyring lacks, and tampered for a wrong key under the right id', () => {
    const sealed = sealPassword(clear, k2, bob);
    const failure = problemOf(() => openPassword(sealed, ring, bob));
    expect(failure.problem).toBe('unknown-key');
    expect(failure.message).toContain("'k2'");
    const impostor = new Keyring({ current: 'k2', keys: [key('k2')] });
    expect(problemOf(() => openPassword(sealed, impostor, bob)).problem).toBe('tampered');
  });

  it('rotates: a keyring with a new current key still opens envelopes of the old one, and seals with the new', () => {
    const before = sealPassword(clear, k1, bob);
    const rotated = new Keyring({ current: 'k2', keys: [k2, k1] });
    expect(openPassword(before, rotated, bob).value.equals(clear)).toBe(true);
    const after = sealPassword(clear, rotated.current, bob);
    expect(envelopeKeyId(after)).toBe('k2');
    expect(problemOf(() => openPassword(after, ring, bob)).problem).toBe('unknown-key');
  });

  it('puts neither the value nor key bytes in any error message or in the keyring as printed', () => {
    const sealed = sealPassword(clear, k1, bob);
    const messages = [
      problemOf(() => openPassword(sealed, ring, alice)).message,
      problemOf(() => openPassword(sealed.subarray(0, 30), ring, bob)).message,
      problemOf(() => openPassword(sealPassword(clear, k2, bob), ring, bob)).message,
    ].join('\n');
    expect(messages).not.toContain(clear.toString('utf8'));
    expect(messages).not.toContain(clear.toString('hex'));
    expect(messages).not.toContain(clear.toString('base64'));
    expect(messages).not.toContain(sealed.toString('base64'));
    const printed = `${JSON.stringify(ring)} ${inspect(ring)}`;
    expect(printed).toContain('k1');
    expect(printed).not.toContain(k1.bytes.toString('base64'));
    expect(printed).not.toContain(k1.bytes.toString('hex'));
  });

  it('refuses keys that are not AES-256 and key ids that are not printable', () => {
    expect(() => sealPassword(clear, { id: 'k1', bytes: randomBytes(16) }, bob)).toThrow(/32 bytes/);
    expect(() => sealPassword(clear, { id: 'k 1', bytes: randomBytes(32) }, bob)).toThrow(/key id/);
    expect(() => new Keyring({ current: 'k3', keys: [k1] })).toThrow(/k3/);
    expect(() => new Keyring({ current: 'k1', keys: [k1, k1] })).toThrow(/twice/);
  });
});

describe('secrets configuration', () => {
  const b64 = (bytes: Buffer): string => bytes.toString('base64');

  it('builds a keyring from a valid block', () => {
    const block = passwordKeysSchema.parse({
      current: 'k2',
      keys: [
        { id: 'k2', key: b64(k2.bytes) },
        { id: 'k1', key: b64(k1.bytes) },
      ],
    });
    const ring = keyringFromConfig(block);
    expect(ring.current.id).toBe('k2');
    expect(ring.ids()).toEqual(['k2', 'k1']);
  });

  it('lists every problem by path, without echoing key material', () => {
    const result = passwordKeysSchema.safeParse({
      current: 'k9',
      keys: [
        { id: 'k1', key: b64(randomBytes(16)) },
        { id: 'k1', key: 'not base64!' },
      ],
    });
    expect(result.success).toBe(false);
    const issues = result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues).toEqual(
      expect.arrayContaining([
        'keys.0.key: must decode to 32 bytes (AES-256), not 16',
        'keys.1.key: must be base64 (openssl rand -base64 32)',
        "keys.1.id: 'k1' appears twice",
        "current: 'k9' is not among the keys (k1, k1)",
      ]),
    );
  });
});
