import { type Socket } from 'node:net';
import { type Client } from 'ldapts';
import { type DirectoryConfig } from '@idsync/config';
import { LdapConnectionLostError, type LdapObserver, openLdapSession, type LdapSession } from './ldap';

/**
 * A bounded set of bound LDAP connections to one directory, and the only way the writers talk to it.
 *
 * Every operation settles: it gets an answer, an LDAP error, or — when its connection breaks or the server stops
 * answering — a retriable error within the directory's timeouts. ldapts alone does not promise that: an operation
 * that triggers its transparent reconnect hangs forever if the client is closed meanwhile, and the reconnect itself
 * runs unauthenticated. So the pool:
 * - opens at most `size` connections, each bound before use, and never reconnects one (a closed connection is
 *   dropped and a new bound one opened on the next operation);
 * - drops a connection on any failure that is not an LDAP result (socket closed, reset, timed out) and fails
 *   every operation still waiting on it at once, with LdapConnectionLostError;
 * - bounds each operation by the directory's operation timeout (plus a margin over ldapts' own timer) and each
 *   open by its connect and operation timeouts; a hung server therefore costs at most `size` sockets, each closed
 *   when its deadline passes.
 */

export interface LdapPoolOptions {
  /** Directory name, for messages. */
  readonly name: string;
  readonly directory: DirectoryConfig;
  readonly credentials: { readonly bindDn: string; readonly bindPassword: string };
  /** Connections at most (default 8). Operations share them (LDAP multiplexes requests on a connection). */
  readonly size?: number;
  /** Told of every operation (the LDAP operation histogram: ldapObserver). */
  readonly observe?: LdapObserver;
  /** Opens a bound session; tests and tools may pass their own. Default openLdapSession. */
  readonly open?: (name: string, directory: DirectoryConfig, credentials: LdapPoolOptions['credentials']) => Promise<LdapSession>;
}

/** An operation or an open that outlived its deadline; its connection was closed. */
export class LdapTimeoutError extends Error {
  readonly retriable = true;
  constructor(
    readonly directory: string,
    readonly what: 'open' | 'operation',
    readonly afterMs: number,
  ) {
    super(`directory '${directory}': ${what === 'open' ? 'connect and bind' : 'operation'} got no answer within ${afterMs} ms; the connection was closed`);
    this.name = 'LdapTimeoutError';
  }
}

export interface LdapPoolStatus {
  readonly size: number;
  /** Connections bound and usable. */
  readonly open: number;
  /** Connections being opened (connect, TLS, bind). */
  readonly opening: number;
  /** Operations in flight. */
  readonly inFlight: number;
  /** Connections dropped since start (closed by the server, failed, timed out). */
  readonly dropped: number;
}

/** Margin over ldapts' own operation timer, so that timer (which also closes the socket) normally fires first. */
const DEADLINE_MARGIN_MS = 1_000;

interface Waiter {
  fail(error: Error): void;
}

class PooledConnection {
  session: LdapSession | undefined;
  dropped = false;
  readonly waiters = new Set<Waiter>();
  constructor(readonly opening: Promise<LdapSession>) {}
}

/** True when an error is an LDAP result from the server (the connection itself is fine). */
export function isLdapResult(error: unknown): boolean {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number';
}

export class LdapPool {
  private readonly slots: (PooledConnection | null)[];
  private next = 0;
  private droppedCount = 0;
  private closed = false;
  private readonly open: NonNullable<LdapPoolOptions['open']>;
  private readonly operationDeadlineMs: number;
  private readonly openDeadlineMs: number;

  constructor(private readonly options: LdapPoolOptions) {
    this.slots = new Array<PooledConnection | null>(Math.max(1, options.size ?? 8)).fill(null);
    this.open = options.open ?? ((name, directory, credentials) => openLdapSession(name, directory, credentials, { observe: options.observe }));
    this.operationDeadlineMs = options.directory.operationTimeoutMs + DEADLINE_MARGIN_MS;
    // Each URL may take a connect timeout and a bind; failover tries them in turn.
    this.openDeadlineMs = options.directory.urls.length * (options.directory.connectTimeoutMs + options.directory.operationTimeoutMs) + DEADLINE_MARGIN_MS;
  }

  /**
   * Runs one LDAP operation on a bound connection. LDAP result errors come back as ldapts throws them; a broken
   * connection as LdapConnectionLostError, a silent server as LdapTimeoutError, an unreachable one as
   * DirectoryUnavailableError (all retriable); a refused bind as DirectoryBindError.
   */
  async run<T>(operation: (client: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new LdapConnectionLostError(this.options.name, this.options.directory.urls.join(' '), 'the pool is closed');
    const connection = this.connection();
    // A connection already bound needs no open deadline (one timer fewer per operation).
    const session = connection.session ?? (await this.settle(connection, connection.opening, this.openDeadlineMs, 'open'));
    if (!session.client.isConnected) {
      // Closed by the server while idle: drop it; the next operation opens a new one.
      const lost = new LdapConnectionLostError(this.options.name, session.url);
      // Not awaited, as everywhere: the slot is freed at once, the unbind may take its grace period (and never fails).
      void this.drop(connection, lost);
      throw lost;
    }
    try {
      return await this.settle(connection, operation(session.client), this.operationDeadlineMs, 'operation');
    } catch (error) {
      // A failure that closed the socket (reset, ldapts' own timeout) takes the connection with it; an LDAP
      // result, or a request ldapts refused before sending it, leaves the connection as good as it was.
      if (!isLdapResult(error) && !session.client.isConnected) void this.drop(connection, error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  status(): LdapPoolStatus {
    let open = 0;
    let opening = 0;
    let inFlight = 0;
    for (const slot of this.slots) {
      if (slot === null) continue;
      if (slot.session === undefined) opening++;
      else open++;
      inFlight += slot.waiters.size;
    }
    return { size: this.slots.length, open, opening, inFlight, dropped: this.droppedCount };
  }

  /** Closes every connection; operations still waiting fail. Further operations are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const all = this.slots.filter((slot): slot is PooledConnection => slot !== null);
    this.slots.fill(null);
    await Promise.all(all.map((connection) => this.drop(connection, new LdapConnectionLostError(this.options.name, connection.session?.url ?? '', 'the pool was closed'))));
  }

  /** The next slot's connection, opened when the slot is empty. */
  private connection(): PooledConnection {
    const index = this.next;
    this.next = (this.next + 1) % this.slots.length;
    const current = this.slots[index];
    if (current !== null && current !== undefined && !current.dropped) return current;
    const opening = this.open(this.options.name, this.options.directory, this.options.credentials);
    const connection = new PooledConnection(opening);
    this.slots[index] = connection;
    opening.then(
      (session) => {
        connection.session = session;
        // Dropped (timed out, pool closed) before the bind finished: close what finally opened.
        if (connection.dropped) void closeClient(session.client);
      },
      (error: unknown) => void this.drop(connection, error instanceof Error ? error : new Error(String(error))),
    );
    return connection;
  }

  /** Waits for `work` on `connection`, but never longer than `deadlineMs`, nor past the connection's drop. */
  private settle<T>(connection: PooledConnection, work: Promise<T>, deadlineMs: number, what: 'open' | 'operation'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (connection.dropped && what === 'operation') {
        reject(new LdapConnectionLostError(this.options.name, connection.session?.url ?? ''));
        return;
      }
      const waiter: Waiter = {
        fail: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      connection.waiters.add(waiter);
      const timer = setTimeout(() => {
        const timeout = new LdapTimeoutError(this.options.name, what, deadlineMs);
        void this.drop(connection, timeout);
        reject(timeout);
      }, deadlineMs);
      work.then(
        (value) => {
          clearTimeout(timer);
          connection.waiters.delete(waiter);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          connection.waiters.delete(waiter);
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the operation's own rejection, passed on as it came (ldapts' result errors)
          reject(error);
        },
      );
    });
  }

  /** Takes a connection out of use: its slot is freed, everyone waiting on it fails now, its socket is closed. */
  private async drop(connection: PooledConnection, cause: Error): Promise<void> {
    if (connection.dropped) return;
    connection.dropped = true;
    this.droppedCount++;
    const index = this.slots.indexOf(connection);
    if (index >= 0) this.slots[index] = null;
    const lost =
      cause instanceof LdapTimeoutError || cause instanceof LdapConnectionLostError || connection.session === undefined
        ? cause
        : new LdapConnectionLostError(this.options.name, connection.session.url, `the connection failed (${cause.message})`);
    for (const waiter of connection.waiters) waiter.fail(lost);
    connection.waiters.clear();
    if (connection.session !== undefined) await closeClient(connection.session.client);
  }
}

const UNBIND_GRACE_MS = 1_000;

/** Unbinds politely, but a server that does not take the request (hung, buffers full) gets its socket destroyed. */
async function closeClient(client: Client): Promise<void> {
  const socket = (client as unknown as { socket?: Socket }).socket;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.unbind().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, UNBIND_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  socket?.destroy();
}
