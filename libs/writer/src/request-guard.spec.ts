import { randomBytes } from 'node:crypto';
import { encodeWriteRequest, type WriteRequest } from '@idsync/contracts';
import { compilePipe, destinationBinding, pipeSchema, writeScopes } from '@idsync/mapping';
import { bindPassword, Keyring, withSignature } from '@idsync/secrets';
import { requestGuard } from './request-guard';

const pipe = compilePipe(
  pipeSchema.parse({
    name: 'ds-to-ad',
    source: 'ds',
    destination: 'ad',
    dnMaps: [{ from: '**,ou=Corp,dc=example,dc=com', to: '{1},OU=Corp,DC=example,DC=test' }],
    syncClasses: [{ name: 'users', evaluationOrder: 1, destinationObjectClasses: ['top', 'user'], attributeMappings: [{ from: 'uid', to: 'sAMAccountName' }] }],
  }),
);
const scopes = writeScopes([pipe], () => 'DC=example,DC=test');
const keys = new Keyring({ current: 'o1', keys: [{ id: 'o1', bytes: randomBytes(32) }] });
const sealed = Buffer.from('IDSP an envelope sealed at the source', 'latin1');

const jane: WriteRequest = {
  requestId: 'e1/ds-to-ad/0',
  pipe: 'ds-to-ad',
  sourceEventId: 'e1',
  sourceEntryId: { kind: 'entryUUID', value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d001' },
  op: 'modify',
  dn: 'CN=Jane,OU=Corp,DC=example,DC=test',
  previousDn: null,
  objectClasses: [],
  attributes: [],
  correlation: [],
  changeTime: null,
  detectedAt: 0,
};
const withPassword = (request: WriteRequest, value: Buffer): WriteRequest => ({ ...request, attributes: [{ name: 'idsyncPassword', op: 'replace', values: [value] }] });
const bindingOf = (request: WriteRequest) => destinationBinding(request, 'ad');
const record = (request: WriteRequest, sign = true) => {
  const message = { key: request.sourceEntryId.value, value: encodeWriteRequest(request) };
  return sign ? { ...message, headers: withSignature(keys, message) } : message;
};

describe('requestGuard', () => {
  const guard = requestGuard({ scopes, destination: 'ad', operationKeys: keys, requireSignature: true });

  it('lets a signed request in scope through, with a password bound to it', () => {
    const request = withPassword(jane, bindPassword(sealed, keys, bindingOf(jane)));
    expect(guard.check(request, record(request))).toBeNull();
    expect(guard.knows('ds-to-ad')).toBe(true);
    expect(guard.knows('other')).toBe(false);
  });

  it('refuses an unsigned record and one signed under another key, before looking at the request', () => {
    expect(guard.check(jane, record(jane, false))).toMatchObject({ refusal: 'unsigned' });
    const forger = new Keyring({ current: 'o1', keys: [{ id: 'o1', bytes: randomBytes(32) }] });
    const message = { key: jane.sourceEntryId.value, value: encodeWriteRequest(jane) };
    expect(guard.check(jane, { ...message, headers: withSignature(forger, message) })).toMatchObject({ refusal: 'bad-signature' });
  });

  it('refuses a signed request outside the scope (the scope check runs after the signature)', () => {
    const outside = { ...jane, dn: 'CN=Administrator,CN=Users,DC=example,DC=test' };
    expect(guard.check(outside, record(outside))).toMatchObject({ refusal: 'outside-scope' });
  });

  it('refuses a password bound to another entry, and one not bound at all', () => {
    const mary = { ...jane, dn: 'CN=Mary,OU=Corp,DC=example,DC=test', sourceEntryId: { kind: 'entryUUID' as const, value: '4c7e2a10-88f1-11ee-9d2b-c3a1e0b7d002' } };
    const lifted = withPassword(mary, bindPassword(sealed, keys, bindingOf(jane)));
    expect(guard.check(lifted, record(lifted))).toMatchObject({ refusal: 'password-binding', detail: expect.stringContaining('other-entry') });
    const sameEntryOtherDn = withPassword({ ...jane, dn: mary.dn }, bindPassword(sealed, keys, bindingOf(jane)));
    expect(guard.check(sameEntryOtherDn, record(sameEntryOtherDn))).toMatchObject({ refusal: 'password-binding' });
    const unbound = withPassword(jane, sealed);
    expect(guard.check(unbound, record(unbound))).toMatchObject({ refusal: 'password-binding', detail: expect.stringContaining('not-bound') });
  });

  it('without required signatures, still enforces scope and bindings', () => {
    const open = requestGuard({ scopes, destination: 'ad', operationKeys: keys, requireSignature: false });
    expect(open.check(jane, record(jane, false))).toBeNull();
    const unbound = withPassword(jane, sealed);
    expect(open.check(unbound, record(unbound, false))).toMatchObject({ refusal: 'password-binding' });
    expect(() => requestGuard({ scopes, destination: 'ad', requireSignature: true })).toThrow('requiring signatures needs the operation keys');
  });
});
