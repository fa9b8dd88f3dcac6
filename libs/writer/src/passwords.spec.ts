import { randomBytes } from 'node:crypto';
import { type WriteRequest } from '@idsync/contracts';
import { Keyring, sealPassword } from '@idsync/secrets';
import { describePlan } from './apply-request';
import { applyRequest } from './apply-request';
import { encodeUnicodePwd, PasswordRefusedError, resolvePasswords } from './passwords';
import { planWrite } from './plan';

const k1 = { id: 'k1', bytes: randomBytes(32) };
const k2 = { id: 'k2', bytes: randomBytes(32) };
const keyring = new Keyring({ current: 'k1', keys: [k1] });
const entryId = { kind: 'entryUUID' as const, value: '5f0c1a2e-0000-4000-8000-000000000001' };
const clear = 'Pässword-Ünique-7';
const binding = { entryId, attribute: 'idsyncPassword' };

function request(value: Buffer | string, overrides: Partial<WriteRequest> = {}): WriteRequest {
  return {
    requestId: 'ds:9/ds-to-ad/0',
    pipe: 'ds-to-ad',
    sourceEventId: 'ds:9',
    sourceEntryId: entryId,
    op: 'modify',
    dn: 'CN=pw,OU=Corp,DC=example,DC=test',
    previousDn: null,
    objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
    attributes: [
      { name: 'description', op: 'replace', values: ['x'] },
      { name: 'idsyncPassword', op: 'replace', values: [value] },
    ],
    correlation: [],
    changeTime: null,
    detectedAt: 0,
    ...overrides,
  };
}

function refusal(run: () => unknown): PasswordRefusedError {
  try {
    run();
  } catch (error) {
    if (error instanceof PasswordRefusedError) return error;
    throw error;
  }
  throw new Error('expected a PasswordRefusedError');
}

describe('unicodePwd encoding', () => {
  it('is the password in double quotes, UTF-16LE', () => {
    expect(encodeUnicodePwd(Buffer.from('ab€', 'utf8'))).toEqual(Buffer.from([0x22, 0, 0x61, 0, 0x62, 0, 0xac, 0x20, 0x22, 0]));
  });
});

describe('resolvePasswords', () => {
  it('turns a sealed clear password into an AD unicodePwd replace, leaving other attributes as they were', () => {
    const resolved = resolvePasswords(request(sealPassword(Buffer.from(clear), k1, binding)), { kind: 'active-directory', keyring });
    expect(resolved.attributes).toEqual([
      { name: 'description', op: 'replace', values: ['x'] },
      { name: 'unicodePwd', op: 'replace', values: [Buffer.from(`"${clear}"`, 'utf16le')] },
    ]);
  });

  it('turns a sealed password (clear or {CRYPT} hash) into a directory userPassword replace', () => {
    const hash = '{CRYPT}$6$abcdefgh$0123456789';
    const resolved = resolvePasswords(request(sealPassword(Buffer.from(hash), k1, binding, { form: 'hashed' })), { kind: 'ldap', keyring });
    expect(resolved.attributes[1]).toEqual({ name: 'userPassword', op: 'replace', values: [Buffer.from(hash)] });
  });

  it('leaves requests without a sealed password untouched', () => {
    const plain: WriteRequest = { ...request(''), attributes: [{ name: 'sn', op: 'replace', values: ['Doe'] }] };
    expect(resolvePasswords(plain, { kind: 'ldap' })).toBe(plain);
  });

  it.each([
    ['a wrong key id', () => sealPassword(Buffer.from(clear), k2, binding), 'envelope', /unknown-key.*'k2'/],
    [
      'an envelope for another entry',
      () => sealPassword(Buffer.from(clear), k1, { ...binding, entryId: { kind: 'entryUUID', value: '00000000-0000-4000-8000-000000000000' } }),
      'envelope',
      /tampered/,
    ],
    [
      'a flipped byte',
      () => {
        const b = sealPassword(Buffer.from(clear), k1, binding);
        b.writeUInt8(b.readUInt8(b.length - 20) ^ 1, b.length - 20);
        return b;
      },
      'envelope',
      /tampered/,
    ],
    ['a truncated envelope', () => sealPassword(Buffer.from(clear), k1, binding).subarray(0, 24), 'envelope', /truncated/],
    ['a clear text value', () => clear, 'not-sealed', /not a sealed envelope/],
    ['a hash for AD', () => sealPassword(Buffer.from('{CRYPT}$6$x$y'), k1, binding, { form: 'hashed' }), 'hashed-for-ad', /cannot take/],
  ])('dead-letters %s with a reason and no value', (_what, make, kind, reason) => {
    const error = refusal(() => resolvePasswords(request(make()), { kind: 'active-directory', keyring }));
    expect(error.outcome).toBe('dead-letter');
    expect(error.retriable).toBe(false);
    expect(error.refusal).toBe(kind);
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('ds:9/ds-to-ad/0');
    expect(`${error.message}${String(error.stack)}${JSON.stringify(error)}`).not.toContain(clear);
  });

  it('dead-letters a sealed password when the writer holds no keys', () => {
    expect(refusal(() => resolvePasswords(request(sealPassword(Buffer.from(clear), k1, binding)), { kind: 'ldap' })).refusal).toBe('no-keyring');
  });

  it('goes to the dead-letter outcome through applyRequest without retries', async () => {
    const bad = request(sealPassword(Buffer.from(clear), k2, binding));
    const writer = {
      apply: async (r: WriteRequest) => {
        resolvePasswords(r, { kind: 'active-directory', keyring });
        throw new Error('unreachable');
      },
    };
    const outcome = await applyRequest(writer, bad);
    expect(outcome).toMatchObject({ kind: 'dead-letter', attempts: 1 });
    expect(outcome.kind === 'dead-letter' && outcome.reason).not.toContain(clear);
  });

  it('plans an AD create: add disabled, password, enable; and describePlan masks the password', () => {
    const create = request(sealPassword(Buffer.from(clear), k1, binding), { op: 'upsert' });
    const plan = planWrite(resolvePasswords(create, { kind: 'active-directory', keyring }), null, { kind: 'active-directory' });
    expect(plan.steps.map((s) => s.kind)).toEqual(['add', 'modify', 'modify']);
    const text = describePlan(plan).join('\n');
    expect(text).toContain('unicodePwd: ***');
    expect(text).toContain('userAccountControl: 546');
    expect(text).toContain('userAccountControl: 512');
    expect(text).not.toContain(clear);
  });
});

describe('the first password of an AD account created without one', () => {
  const entry = (uac: string) => ({ dn: 'CN=pw,OU=Corp,DC=example,DC=test', attributes: new Map([['useraccountcontrol', { name: 'userAccountControl', values: [uac] }]]) });
  const modify = (): WriteRequest => resolvePasswords(request(sealPassword(Buffer.from(clear), k1, binding)), { kind: 'active-directory', keyring });

  it('enables an account left at 546 (disabled, no password required) right after setting the password', () => {
    const plan = planWrite(modify(), entry('546'), { kind: 'active-directory' });
    expect(plan.steps).toHaveLength(2);
    expect(plan.steps[1]).toEqual({ kind: 'modify', dn: 'CN=pw,OU=Corp,DC=example,DC=test', changes: [{ op: 'replace', name: 'userAccountControl', values: ['512'] }] });
  });

  it('leaves an account an administrator disabled (514) disabled, and an enabled one alone', () => {
    expect(planWrite(modify(), entry('514'), { kind: 'active-directory' }).steps).toHaveLength(1);
    expect(planWrite(modify(), entry('512'), { kind: 'active-directory' }).steps).toHaveLength(1);
  });
});
