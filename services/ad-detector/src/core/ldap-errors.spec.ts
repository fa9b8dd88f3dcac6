import { classifyLdapError, LDAP_RESULT_CODES } from './ldap-errors';

const ldapError = (code: number): Error => Object.assign(new Error(`code ${code}`), { code });

describe('classifyLdapError', () => {
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
  ])('result code %i → %s', (code, action) => {
    expect(classifyLdapError(ldapError(code)).action).toBe(action);
  });

  it('stops on a result code the table does not know', () => {
    expect(LDAP_RESULT_CODES[4711]).toBeUndefined();
    expect(classifyLdapError(ldapError(4711))).toEqual({ action: 'stop', meaning: 'unexpected LDAP result code 4711' });
  });

  it('retries network failures and lost connections', () => {
    expect(classifyLdapError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).action).toBe('retry');
    expect(classifyLdapError(new Error('Connection closed')).action).toBe('retry');
  });

  it('never retries a programming error', () => {
    expect(classifyLdapError(new TypeError('x is undefined')).action).toBe('stop');
  });

  it('trusts an error that says whether it is retriable', () => {
    expect(classifyLdapError(Object.assign(new Error('unreachable'), { retriable: true })).action).toBe('retry');
    expect(classifyLdapError(Object.assign(new Error('bad bind'), { retriable: false, code: 52 })).action).toBe('stop');
  });
});
