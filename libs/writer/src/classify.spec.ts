import { LdapConnectionLostError, LdapTimeoutError } from '@idsync/platform';
import { classifyError, classifyResultCode, type WriteStep } from './classify';
import { WriteError } from './errors';

type Row = [code: number, step: WriteStep, kind: 'ldap' | 'active-directory', outcome: string, bounded: boolean];

describe('classifyResultCode', () => {
  it.each<Row>([
    // outages: retry with backoff, unbounded
    [51, 'modify', 'ldap', 'retry', false],
    [52, 'add', 'active-directory', 'retry', false],
    [3, 'search', 'ldap', 'retry', false],
    // unwilling: the directory server may be read-only for a while (then stop); AD means policy (password complexity...)
    [53, 'modify', 'ldap', 'retry', true],
    [53, 'modify', 'active-directory', 'dead-letter', false],
    // the writer's account cannot do this: stop
    [49, 'bind', 'ldap', 'stop', false],
    [50, 'search', 'active-directory', 'stop', false],
    // an object-level refusal: that record only
    [50, 'add', 'active-directory', 'dead-letter', false],
    [50, 'modify', 'ldap', 'dead-letter', false],
    [48, 'bind', 'ldap', 'stop', false],
    [8, 'bind', 'active-directory', 'stop', false],
    // the entry is wrong for the destination: dead-letter
    [19, 'modify', 'ldap', 'dead-letter', false],
    [65, 'add', 'ldap', 'dead-letter', false],
    [21, 'modify', 'active-directory', 'dead-letter', false],
    [64, 'add', 'ldap', 'dead-letter', false],
    [17, 'modify', 'ldap', 'dead-letter', false],
    [67, 'modify', 'active-directory', 'dead-letter', false],
    // idempotency: a replay finds its work done
    [68, 'add', 'ldap', 'already-applied', false],
    [32, 'delete', 'active-directory', 'already-applied', false],
    [20, 'value-add', 'ldap', 'already-applied', false],
    [16, 'value-delete', 'ldap', 'already-applied', false],
    // the same codes elsewhere mean the entry changed under us: re-read and compare again (bounded)
    [20, 'modify', 'ldap', 'retry', true],
    [16, 'modify', 'ldap', 'retry', true],
    [68, 'modify-dn', 'ldap', 'retry', true],
    // missing entry or member: it may still arrive (bounded)
    [32, 'modify', 'ldap', 'retry', true],
    [32, 'member-add', 'active-directory', 'retry', true],
    [19, 'member-add', 'active-directory', 'retry', true],
    [32, 'add', 'ldap', 'retry', true],
    [66, 'delete', 'ldap', 'retry', true],
    // unknown codes: retried a while, then the writer stops (never dead-lettered: the record may be fine)
    [118, 'modify', 'ldap', 'retry', true],
  ])('code %i on %s (%s) -> %s', (code, step, kind, outcome, bounded) => {
    const result = classifyResultCode(code, step, kind);
    expect(result).toMatchObject({ outcome, bounded, code });
    expect(result.reason).toContain(String(code));
  });

  it('says what to do about a stop', () => {
    expect(classifyResultCode(50, 'search', 'ldap').reason).toMatch(/grant it the rights/);
    expect(classifyResultCode(118, 'modify', 'ldap')).toMatchObject({ exhausted: 'stop' });
    expect(classifyResultCode(32, 'modify', 'ldap')).toMatchObject({ exhausted: 'dead-letter' });
    expect(classifyResultCode(49, 'bind', 'ldap').reason).toMatch(/DN or password is wrong/);
  });
});

describe('classifyError', () => {
  it('retries socket failures and timeouts', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyError(reset, 'modify', 'ldap').outcome).toBe('retry');
    expect(classifyError(new Error('ModifyRequest: Operation timed out'), 'modify', 'ldap').outcome).toBe('retry');
    expect(classifyError(new Error('Connection closed before message response was received. Message type: AddRequest (0x68)'), 'add', 'ldap').outcome).toBe('retry');
  });

  it('retries what the connection pool reports: a lost connection, a server that did not answer in time', () => {
    const lost = new LdapConnectionLostError('ds', 'ldaps://ds:636');
    const silent = new LdapTimeoutError('ds', 'operation', 31_000);
    expect(classifyError(lost, 'search', 'ldap')).toMatchObject({ outcome: 'retry', bounded: false, code: null });
    expect(classifyError(silent, 'modify', 'ldap')).toMatchObject({ outcome: 'retry', bounded: false, code: null });
    expect(classifyError(silent, 'modify', 'ldap').reason).toContain('no answer within 31000 ms');
  });

  it('classifies ldapts result errors by their code and keeps the server diagnostic', () => {
    const error = Object.assign(new Error('00002082: AtrErr: DSID-03151904, #1: 0: 00002082: 1.2.840.113556.1.4.221'), { code: 19 });
    const result = classifyError(error, 'add', 'active-directory');
    expect(result).toMatchObject({ outcome: 'dead-letter', code: 19 });
    expect(result.reason).toMatch(/constraintViolation \(19\) on add.*server said: 00002082/);
  });

  it('keeps the outcome of the writer’s own errors', () => {
    expect(classifyError(new WriteError('stop', 'no'), 'add', 'ldap').outcome).toBe('stop');
  });

  it('stops on a programming error: neither retried nor dead-lettered', () => {
    const result = classifyError(new TypeError("Cannot read properties of undefined (reading 'dn')"), 'modify', 'ldap');
    expect(result.outcome).toBe('stop');
    expect(result.reason).toMatch(/programming error.*TypeError/);
  });

  it('retries an unexpected failure (a missing CA file) a while, then stops: never dead-letters it', () => {
    const missing = Object.assign(new Error("ENOENT: no such file or directory, open '/etc/idsync/ca.pem'"), { code: 'ENOENT' });
    expect(classifyError(missing, 'add', 'ldap')).toMatchObject({ outcome: 'retry', bounded: true, exhausted: 'stop' });
  });
});
