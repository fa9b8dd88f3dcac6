import { classifyLdapError } from './ldap-errors';

const ldapError = (code: number): Error => Object.assign(new Error(`code ${code}`), { code });

describe('classifyLdapError (the product table, seen by the DirSync reader)', () => {
  it.each([
    [51, 'retry'],
    [52, 'retry'],
    [3, 'retry'],
    [80, 'retry'],
    [49, 'stop'],
    [50, 'stop'],
    [32, 'stop'],
    [1, 'stop'],
    [53, 'stop'],
    [12, 'cookie-rejected'],
    [2, 'cookie-rejected'],
  ])('result code %i on the DirSync search → %s', (code, action) => {
    expect(classifyLdapError(ldapError(code)).action).toBe(action);
  });

  it('says what to do about a refusal', () => {
    expect(classifyLdapError(ldapError(50)).meaning).toMatch(/Replicating Directory Changes/);
    expect(classifyLdapError(ldapError(32)).meaning).toMatch(/naming-context root/);
  });

  it('a code it does not know, or an unexpected failure, is retried a limited number of times (then the detector stops)', () => {
    expect(classifyLdapError(ldapError(4711))).toMatchObject({ action: 'retry', limited: true });
    expect(classifyLdapError(ldapError(4711)).meaning).toMatch(/4711/);
    expect(classifyLdapError(Object.assign(new Error('unable to get local issuer certificate'), { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }))).toMatchObject({ action: 'retry', limited: true });
  });

  it('retries socket failures without limit', () => {
    expect(classifyLdapError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toEqual(expect.objectContaining({ action: 'retry' }));
    expect(classifyLdapError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).limited).toBeUndefined();
    expect(classifyLdapError(new Error('Connection closed')).limited).toBeUndefined();
  });

  it('never retries a programming error', () => {
    expect(classifyLdapError(new TypeError('x is undefined')).action).toBe('stop');
  });

  it('believes errors that say whether a retry helps', () => {
    expect(classifyLdapError(Object.assign(new Error('unreachable'), { retriable: true })).action).toBe('retry');
    expect(classifyLdapError(Object.assign(new Error('bad bind'), { name: 'DirectoryBindError', retriable: false })).action).toBe('stop');
  });

  it('a read by id (re-fetch, entries moved into scope) is not a DirSync search: a 32 there is a missing entry, retried', () => {
    expect(classifyLdapError(ldapError(32), 'read').action).toBe('retry');
  });
});
