import { type DirectoryConfig } from '@idsync/config';
import { type Client } from 'ldapts';
import { DirectoryUnavailableError, LdapConnectionLostError, type LdapSession } from './ldap';
import { LdapPool, LdapTimeoutError } from './ldap-pool';

/**
 * The pool's promises, with the ldapts client replaced by a stand-in whose operations the test settles by hand
 * (the pool's behaviour against real servers — a stopped, frozen or restarted directory — is in tests/faults).
 */

const directory = {
  kind: 'ldap',
  urls: ['ldaps://ds.test:636'],
  baseDn: 'dc=example,dc=com',
  bindDn: 'cn=admin',
  bindPassword: 'secret',
  startTls: false,
  allowInsecure: false,
  tls: { rejectUnauthorized: true },
  connectTimeoutMs: 5_000,
  operationTimeoutMs: 30_000,
} as unknown as DirectoryConfig;

class StandInClient {
  isConnected = true;
  unbinds = 0;
  unbind(): Promise<void> {
    this.unbinds++;
    this.isConnected = false;
    return Promise.resolve();
  }
}

function harness(size = 2) {
  const clients: StandInClient[] = [];
  let failOpen: Error | undefined;
  const pool = new LdapPool({
    name: 'ds',
    directory,
    credentials: { bindDn: 'uid=writer', bindPassword: 'pw' },
    size,
    open: async () => {
      if (failOpen) throw failOpen;
      const client = new StandInClient();
      clients.push(client);
      return { client: client as unknown as Client, url: 'ldaps://ds.test:636' } satisfies LdapSession;
    },
  });
  return { pool, clients, failOpens: (error: Error | undefined) => (failOpen = error) };
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);
const settled = async <T>(promise: Promise<T>): Promise<{ ok: T } | { error: unknown }> =>
  promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );

describe('LdapPool', () => {
  afterEach(() => jest.useRealTimers());

  it('opens no more connections than its size, however many operations run at once', async () => {
    const { pool, clients } = harness(2);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run(async () => i)));
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(clients).toHaveLength(2);
    expect(pool.status()).toMatchObject({ size: 2, open: 2, opening: 0, inFlight: 0, dropped: 0 });
  });

  it('fails every operation waiting on a connection as soon as another one on it breaks the socket', async () => {
    const { pool, clients } = harness(1);
    const waiting = settled(pool.run(() => never()));
    await pool.run(async () => undefined).catch(() => undefined); // let the connection open
    const breaking = pool.run(async () => {
      (clients[0] as StandInClient).isConnected = false; // what ldapts does on ECONNRESET
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    });
    await expect(breaking).rejects.toThrow('ECONNRESET');
    const outcome = await waiting;
    expect('error' in outcome && outcome.error).toBeInstanceOf(LdapConnectionLostError);
    expect(pool.status()).toMatchObject({ open: 0, inFlight: 0, dropped: 1 });
  });

  it('gives up on a server that does not answer: a retriable timeout, the connection closed, the next operation on a new one', async () => {
    jest.useFakeTimers();
    const { pool, clients } = harness(1);
    const silent = settled(pool.run(() => never()));
    await jest.advanceTimersByTimeAsync(30_000 + 1_000);
    const outcome = await silent;
    expect('error' in outcome && outcome.error).toBeInstanceOf(LdapTimeoutError);
    expect('error' in outcome && (outcome.error as LdapTimeoutError).retriable).toBe(true);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(clients[0]?.unbinds).toBe(1);
    await expect(pool.run(async () => 'answered')).resolves.toBe('answered');
    expect(clients).toHaveLength(2);
  });

  it('bounds an open that never completes (a TLS handshake or bind to a frozen server)', async () => {
    jest.useFakeTimers();
    const { pool } = harness(1);
    const stuck = new LdapPool({ name: 'ds', directory, credentials: { bindDn: 'x', bindPassword: 'y' }, size: 1, open: () => never() });
    const outcome = settled(stuck.run(async () => 'never runs'));
    await jest.advanceTimersByTimeAsync(5_000 + 30_000 + 1_000);
    const result = await outcome;
    expect('error' in result && result.error).toBeInstanceOf(LdapTimeoutError);
    expect(stuck.status()).toMatchObject({ open: 0, opening: 0, dropped: 1 });
    await pool.close();
  });

  it('keeps a connection that answered with an LDAP result, and drops one the server closed while it was idle', async () => {
    const { pool, clients } = harness(1);
    await expect(pool.run(async () => Promise.reject(Object.assign(new Error('No Such Object'), { code: 32 })))).rejects.toThrow('No Such Object');
    await pool.run(async () => undefined);
    expect(clients).toHaveLength(1);
    (clients[0] as StandInClient).isConnected = false; // the server went away between operations
    await expect(pool.run(async () => 'not on a closed connection')).rejects.toBeInstanceOf(LdapConnectionLostError);
    await expect(pool.run(async () => 'on a new one')).resolves.toBe('on a new one');
    expect(clients).toHaveLength(2);
  });

  it('frees the slot of a failed open, so the next operation tries again', async () => {
    const { pool, clients, failOpens } = harness(1);
    failOpens(new DirectoryUnavailableError('ds', [{ url: 'ldaps://ds.test:636', error: 'connect ECONNREFUSED' }]));
    await expect(pool.run(async () => 1)).rejects.toBeInstanceOf(DirectoryUnavailableError);
    failOpens(undefined);
    await expect(pool.run(async () => 2)).resolves.toBe(2);
    expect(clients).toHaveLength(1);
  });

  it('close fails what is still waiting and refuses what comes after', async () => {
    const { pool, clients } = harness(1);
    await pool.run(async () => undefined);
    const waiting = settled(pool.run(() => never()));
    await pool.close();
    const outcome = await waiting;
    expect('error' in outcome && outcome.error).toBeInstanceOf(LdapConnectionLostError);
    expect(clients[0]?.unbinds).toBe(1);
    await expect(pool.run(async () => 'late')).rejects.toThrow('the pool is closed');
  });
});
