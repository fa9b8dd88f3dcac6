import { randomBytes } from 'node:crypto';
import { ABSENT_HEADER, LEAVE_SCOPE_HEADER, SNAPSHOT_HEADER } from '@idsync/contracts';
import {
  bindPassword,
  type DestinationBinding,
  isBoundPassword,
  Keyring,
  PasswordBindingError,
  secretsSchema,
  SIGNATURE_HEADER,
  signOperation,
  unbindPassword,
  verifyOperation,
  withSignature,
} from './index';

const o1 = { id: 'o1', bytes: randomBytes(32) };
const o2 = { id: 'o2', bytes: randomBytes(32) };
const ring = new Keyring({ current: 'o1', keys: [o1] });
const record = { key: 'c0a8e7f2-1b2c-4d5e-8f90-123456789abc', value: Buffer.from('a write request'), headers: { [SNAPSHOT_HEADER]: 'true' } };

describe('signed write requests', () => {
  it('verifies what it signed, naming the key', () => {
    const headers = withSignature(ring, record);
    expect(headers[SNAPSHOT_HEADER]).toBe('true');
    expect(headers[SIGNATURE_HEADER]).toMatch(/^1:o1:[A-Za-z0-9+/]+=*$/);
    expect(verifyOperation(ring, { ...record, headers })).toEqual({ ok: true, keyId: 'o1' });
  });

  it.each([
    ['a changed value', (h: Record<string, string>) => ({ ...record, value: Buffer.from('a write requesT'), headers: h }), 'bad-signature'],
    ['another key (entry)', (h: Record<string, string>) => ({ ...record, key: 'c0a8e7f2-1b2c-4d5e-8f90-123456789abd', headers: h }), 'bad-signature'],
    ['a null value (tombstone) for the same key', (h: Record<string, string>) => ({ ...record, value: null, headers: h }), 'bad-signature'],
    ['a directive added', (h: Record<string, string>) => ({ ...record, headers: { ...h, [LEAVE_SCOPE_HEADER]: 'delete' } }), 'bad-signature'],
    ['a directive removed', (h: Record<string, string>) => ({ ...record, headers: Object.fromEntries(Object.entries(h).filter(([n]) => n !== SNAPSHOT_HEADER)) }), 'bad-signature'],
    ['a directive changed', (h: Record<string, string>) => ({ ...record, headers: { ...h, [ABSENT_HEADER]: 'run-1' } }), 'bad-signature'],
    ['no signature', (h: Record<string, string>) => ({ ...record, headers: { [SNAPSHOT_HEADER]: h[SNAPSHOT_HEADER] } }), 'unsigned'],
    ['a malformed signature', (h: Record<string, string>) => ({ ...record, headers: { ...h, [SIGNATURE_HEADER]: 'sig' } }), 'malformed'],
    ['an unknown key id', (h: Record<string, string>) => ({ ...record, headers: { ...h, [SIGNATURE_HEADER]: (h[SIGNATURE_HEADER] ?? '').replace(':o1:', ':o9:') } }), 'unknown-key'],
  ])('refuses %s', (_name, alter, problem) => {
    const check = verifyOperation(ring, alter(withSignature(ring, record)));
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problem).toBe(problem);
  });

  it('keeps its signature format: records signed by an earlier release still verify (pinned values)', () => {
    const pinned = new Keyring({ current: 'k1', keys: [{ id: 'k1', bytes: Buffer.from(Array.from({ length: 32 }, (_, i) => i)) }] });
    expect(signOperation(pinned, record)).toBe('1:k1:s7j7gvwLoaoIpgK9Q0au1v++gJXf7meRfu1CfzEUnVY=');
    expect(signOperation(pinned, { key: null, value: null, headers: {} })).toBe('1:k1:MBTzIZAUn8aPVY438ZHscD1U5+OmeghrOC+OnJE41vE=');
  });

  it('keeps its binding format: passwords bound by an earlier release still unbind (pinned value)', () => {
    const pinned = new Keyring({ current: 'k1', keys: [{ id: 'k1', bytes: Buffer.from(Array.from({ length: 32 }, (_, i) => i)) }] });
    const binding = { pipe: 'ad-to-ds', destination: 'ds', dn: 'cn=A,ou=People,dc=example,dc=com', sourceEntryId: { kind: 'objectGUID', value: 'C0A8E7F2-1B2C-4D5E-8F90-123456789ABC' } };
    const bound = bindPassword(Buffer.from('sealed envelope'), pinned, binding);
    expect(bound.toString('base64')).toBe('SURTQgECazGIgAvwAHNgrXogEpzYsvTh7jz3wbbJTiHReI4D1X7OZHNlYWxlZCBlbnZlbG9wZQ==');
    expect(unbindPassword(bound, pinned, binding).toString()).toBe('sealed envelope');
  });

  it("ignores headers that are no directive (the writer's own wait state)", () => {
    const headers = withSignature(ring, record);
    expect(verifyOperation(ring, { ...record, headers: { ...headers, 'idsync-wait-attempt': '3' } }).ok).toBe(true);
  });

  it('a signature made with another key under the same id does not verify', () => {
    const forger = new Keyring({ current: 'o1', keys: [{ id: 'o1', bytes: randomBytes(32) }] });
    const check = verifyOperation(ring, { ...record, headers: withSignature(forger, record) });
    expect(!check.ok && check.problem).toBe('bad-signature');
  });

  it('rotates: records signed under the old key verify while it is listed, new ones are signed under the new key', () => {
    const old = withSignature(ring, record);
    const rotated = new Keyring({ current: 'o2', keys: [o2, o1] });
    expect(signOperation(rotated, record)).toMatch(/^1:o2:/);
    expect(verifyOperation(rotated, { ...record, headers: old })).toEqual({ ok: true, keyId: 'o1' });
    const dropped = new Keyring({ current: 'o2', keys: [o2] });
    const check = verifyOperation(dropped, { ...record, headers: old });
    expect(!check.ok && check.problem).toBe('unknown-key');
  });

  it('never puts key bytes in a refusal', () => {
    const check = verifyOperation(new Keyring({ current: 'o2', keys: [o2] }), { ...record, headers: withSignature(ring, record) });
    const text = JSON.stringify(check);
    expect(text).not.toContain(o1.bytes.toString('base64'));
    expect(text).not.toContain(o2.bytes.toString('base64'));
  });
});

describe('passwords bound to their destination entry', () => {
  const sealed = Buffer.from('IDSP\x01\x01\x02k1 an envelope the mapper cannot open', 'latin1');
  const jane: DestinationBinding = {
    pipe: 'ds-to-ad',
    destination: 'ad',
    dn: 'cn=jane doe,ou=corp,dc=example,dc=test',
    sourceEntryId: { kind: 'entryUUID', value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001' },
  };

  it('gives the envelope back for the request it was bound for', () => {
    const bound = bindPassword(sealed, ring, jane);
    expect(isBoundPassword(bound)).toBe(true);
    expect(unbindPassword(bound, ring, jane).equals(sealed)).toBe(true);
    // DN case does not matter (the caller normalizes; case is folded here too).
    expect(unbindPassword(bound, ring, { ...jane, dn: jane.dn.toUpperCase() }).equals(sealed)).toBe(true);
  });

  it.each([
    ['another DN', { ...jane, dn: 'cn=administrator,cn=users,dc=example,dc=test' }],
    ['another source entry', { ...jane, sourceEntryId: { kind: 'entryUUID', value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d002' } }],
    ['another pipe', { ...jane, pipe: 'hr-to-ad' }],
    ['another destination', { ...jane, destination: 'ad2' }],
  ])('refuses it in a request for %s', (_name, other) => {
    expect(() => unbindPassword(bindPassword(sealed, ring, jane), ring, other)).toThrow(expect.objectContaining({ problem: 'other-entry' }));
  });

  it('refuses an unbound envelope, an altered one, and one bound under a key it lacks', () => {
    expect(() => unbindPassword(sealed, ring, jane)).toThrow(expect.objectContaining({ problem: 'not-bound' }));
    const bound = bindPassword(sealed, ring, jane);
    const altered = Buffer.from(bound);
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    expect(() => unbindPassword(altered, ring, jane)).toThrow(expect.objectContaining({ problem: 'other-entry' }));
    expect(() => unbindPassword(bound.subarray(0, 20), ring, jane)).toThrow(expect.objectContaining({ problem: 'truncated' }));
    expect(() => unbindPassword(bound, new Keyring({ current: 'o2', keys: [o2] }), jane)).toThrow(PasswordBindingError);
  });
});

describe('the secrets block', () => {
  const key = randomBytes(32).toString('base64');
  it('requires operation keys to sign operations', () => {
    const result = secretsSchema.safeParse({ signOperations: true });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ['signOperations'], message: 'needs secrets.operationKeys (the keys that sign write requests)' });
    expect(secretsSchema.parse({ signOperations: true, operationKeys: { current: 'o1', keys: [{ id: 'o1', key }] } }).signOperations).toBe(true);
    expect(secretsSchema.parse({}).signOperations).toBe(false);
  });
});
