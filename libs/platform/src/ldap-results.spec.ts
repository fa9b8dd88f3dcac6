import { classifyLdapFailure, classifyLdapResult, LDAP_RESULT_RULES, type LdapOperation } from './ldap-results';
import { LdapConnectionLostError } from './ldap';
import { LdapTimeoutError } from './ldap-pool';

type Row = [code: number, operation: LdapOperation, kind: 'ldap' | 'active-directory', action: string, exhausted: string | undefined];

describe("classifyLdapResult: the product's one result-code table", () => {
  it.each<Row>([
    // outages: retried until the server answers
    [51, 'modify', 'ldap', 'retry', undefined],
    [52, 'changelog', 'ldap', 'retry', undefined],
    [3, 'dirsync', 'active-directory', 'retry', undefined],
    // credentials and transport security: an operator must act, whoever meets them
    [49, 'bind', 'ldap', 'stop', undefined],
    [8, 'bind', 'active-directory', 'stop', undefined],
    [13, 'read', 'ldap', 'stop', undefined],
    // 50 on a write is about that entry (AdminSDHolder, a delegated OU): that record only; on reading changes: stop
    [50, 'modify', 'active-directory', 'dead-letter', undefined],
    [50, 'delete', 'ldap', 'dead-letter', undefined],
    [50, 'member-add', 'active-directory', 'dead-letter', undefined],
    [50, 'dirsync', 'active-directory', 'stop', undefined],
    [50, 'changelog', 'ldap', 'stop', undefined],
    [50, 'read', 'ldap', 'stop', undefined],
    // the record is wrong for the destination
    [19, 'modify', 'ldap', 'dead-letter', undefined],
    [65, 'add', 'ldap', 'dead-letter', undefined],
    [21, 'modify', 'active-directory', 'dead-letter', undefined],
    [53, 'modify', 'active-directory', 'dead-letter', undefined],
    // a replay finds its work done
    [68, 'add', 'ldap', 'done', undefined],
    [32, 'delete', 'active-directory', 'done', undefined],
    [20, 'value-add', 'ldap', 'done', undefined],
    [16, 'value-delete', 'ldap', 'done', undefined],
    // dependencies that may arrive: retried a while, then the record is set aside
    [32, 'modify', 'ldap', 'retry', 'dead-letter'],
    [32, 'member-add', 'active-directory', 'retry', 'dead-letter'],
    [19, 'member-add', 'active-directory', 'retry', 'dead-letter'],
    [66, 'delete', 'ldap', 'retry', 'dead-letter'],
    [68, 'modify-dn', 'ldap', 'retry', 'dead-letter'],
    // the same 32 on reading changes: no changelog, or DirSync not from the root
    [32, 'changelog', 'ldap', 'stop', undefined],
    [32, 'dirsync', 'active-directory', 'stop', undefined],
    // the DC refused the stored cookie
    [12, 'dirsync', 'active-directory', 'position-rejected', undefined],
    [2, 'dirsync', 'active-directory', 'position-rejected', undefined],
    // server failures that may pass, and codes nobody knows: retried a while, then the stage stops (never set aside)
    [80, 'modify', 'ldap', 'retry', 'stop'],
    [1, 'add', 'ldap', 'retry', 'stop'],
    [53, 'modify', 'ldap', 'retry', 'stop'],
    [118, 'modify', 'ldap', 'retry', 'stop'],
    [118, 'changelog', 'ldap', 'retry', 'stop'],
  ])('code %i on %s (%s) -> %s, then %s', (code, operation, kind, action, exhausted) => {
    const verdict = classifyLdapResult(code, operation, kind);
    expect(verdict.action).toBe(action);
    expect(verdict.exhausted).toBe(exhausted);
    expect(verdict.reason).toContain(`${code}`);
    expect(verdict.reason).toContain(operation);
  });

  it('has one rule per code', () => {
    const codes = LDAP_RESULT_RULES.map((rule) => rule.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('says what to do about a stop', () => {
    expect(classifyLdapResult(50, 'read', 'ldap').reason).toMatch(/grant it the rights/);
    expect(classifyLdapResult(49, 'bind', 'ldap').reason).toMatch(/DN or password is wrong/);
    expect(classifyLdapResult(50, 'dirsync', 'active-directory').reason).toMatch(/Replicating Directory Changes/);
    expect(classifyLdapResult(32, 'changelog', 'ldap').reason).toMatch(/Retro Changelog/);
  });
});

describe('classifyLdapFailure: anything an LDAP call threw', () => {
  it('retries socket failures, timeouts and what the connection layer reports, without limit', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyLdapFailure(reset, 'modify', 'ldap')).toMatchObject({ action: 'retry', kind: 'network', code: null });
    expect(classifyLdapFailure(new Error('ModifyRequest: Operation timed out'), 'modify', 'ldap').exhausted).toBeUndefined();
    expect(classifyLdapFailure(new Error('Connection closed before message response was received.'), 'add', 'ldap').action).toBe('retry');
    expect(classifyLdapFailure(new LdapConnectionLostError('ds', 'ldaps://ds:636'), 'read', 'ldap')).toMatchObject({ action: 'retry', kind: 'network' });
    const silent = new LdapTimeoutError('ds', 'operation', 31_000);
    expect(classifyLdapFailure(silent, 'changelog', 'ldap')).toMatchObject({ action: 'retry', kind: 'network' });
    expect(classifyLdapFailure(silent, 'changelog', 'ldap').exhausted).toBeUndefined();
  });

  it("classifies result errors by their code and keeps the server's diagnostic", () => {
    const error = Object.assign(new Error('00002082: AtrErr: DSID-03151904, #1: 0: 00002082: 1.2.840.113556.1.4.221'), { code: 19 });
    const verdict = classifyLdapFailure(error, 'add', 'active-directory');
    expect(verdict).toMatchObject({ action: 'dead-letter', code: 19, kind: 'constraint-violation' });
    expect(verdict.reason).toMatch(/constraintViolation \(19\) on add.*server said: 00002082/);
  });

  it('an unexpected failure (a TLS error, a missing CA file) is retried a while, then the stage stops: never set aside', () => {
    const tls = Object.assign(new Error('unable to get local issuer certificate'), { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
    expect(classifyLdapFailure(tls, 'modify', 'ldap')).toMatchObject({ action: 'retry', exhausted: 'stop', kind: 'unknown' });
    const missing = Object.assign(new Error("ENOENT: no such file or directory, open '/etc/ca.pem'"), { code: 'ENOENT' });
    expect(classifyLdapFailure(missing, 'add', 'active-directory')).toMatchObject({ action: 'retry', exhausted: 'stop' });
    expect(classifyLdapFailure('a string', 'add', 'ldap')).toMatchObject({ action: 'retry', exhausted: 'stop' });
  });

  it('believes our own errors about retrying, whatever code they carry', () => {
    expect(classifyLdapFailure(Object.assign(new Error('unreachable'), { retriable: true }), 'bind', 'ldap').action).toBe('retry');
    expect(classifyLdapFailure(Object.assign(new Error('bad bind'), { retriable: false, code: 52 }), 'bind', 'ldap').action).toBe('stop');
  });

  it('stops on a programming error: neither retried nor dead-lettered', () => {
    const verdict = classifyLdapFailure(new TypeError("Cannot read properties of undefined (reading 'dn')"), 'modify', 'ldap');
    expect(verdict).toMatchObject({ action: 'stop', kind: 'programming-error' });
  });
});
