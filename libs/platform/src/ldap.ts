import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';
import { type DirectoryConfig, withheldVariable } from '@idsync/config';
import { type Metrics, OPERATION_BUCKETS } from './metrics';

/** A bound connection and the URL it reached (the first of the configured URLs that answered). */
export interface LdapSession {
  readonly client: Client;
  readonly url: string;
}

export class DirectoryUnavailableError extends Error {
  readonly retriable = true;
  constructor(
    readonly directory: string,
    readonly attempts: readonly { url: string; error: string }[],
  ) {
    super(`directory '${directory}' is unreachable: ${attempts.map((a) => `${a.url}: ${a.error}`).join('; ')}`);
    this.name = 'DirectoryUnavailableError';
  }
}

export class DirectoryBindError extends Error {
  readonly retriable = false;
  constructor(
    readonly directory: string,
    readonly url: string,
    readonly bindDn: string,
    cause: unknown,
  ) {
    super(`directory '${directory}' rejected the bind as ${bindDn} at ${url}: ${describe(cause)}`, { cause });
    this.name = 'DirectoryBindError';
  }
}

/**
 * The password for this account was not given to this program (its variable is not set, and the configuration was
 * loaded for a program that does not bind as this account: libs/config LoadOptions). Nothing is sent to the server.
 */
export class DirectoryCredentialsWithheldError extends Error {
  readonly retriable = false;
  constructor(
    readonly directory: string,
    readonly bindDn: string,
    readonly variables: string,
  ) {
    super(`cannot bind to directory '${directory}' as ${bindDn}: ${variables} is not set in this environment (each program is given only the credentials it uses)`);
    this.name = 'DirectoryCredentialsWithheldError';
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    // LDAP result codes and Kafka error codes are numbers, Node's system error codes strings.
    const code = (error as { code?: string | number }).code;
    return code === undefined ? error.message : `${error.message} (code ${String(code)})`;
  }
  return String(error);
}

export function tlsOptions(dir: DirectoryConfig): ConnectionOptions {
  return {
    ...(dir.tls.caFile ? { ca: [readFileSync(dir.tls.caFile)] } : {}),
    ...(dir.tls.serverName ? { servername: dir.tls.serverName } : {}),
    rejectUnauthorized: dir.tls.rejectUnauthorized,
    minVersion: 'TLSv1.2',
  };
}

const INVALID_CREDENTIALS = 49;

/**
 * A bound connection whose socket closed. ldapts would reconnect it transparently on the next operation, but
 * without binding again: that operation would run anonymously (a search finds nothing, a write is refused). Our
 * clients refuse to reconnect instead; whoever holds the session opens a new, bound one.
 */
export class LdapConnectionLostError extends Error {
  readonly retriable = true;
  constructor(
    readonly directory: string,
    readonly url: string,
    detail = 'the connection was closed',
  ) {
    super(`directory '${directory}' at ${url}: ${detail}; a new bound connection is needed`);
    this.name = 'LdapConnectionLostError';
  }
}

/** Told of every LDAP operation a session runs: its name, how long it took, and its result. */
export type LdapObserver = (operation: LdapOperationName, seconds: number, result: string) => void;

/** The ldapts calls a session's operations go through (a paged or ranged search is one search per request). */
const OBSERVED_OPERATIONS = ['bind', 'search', 'add', 'modify', 'del', 'modifyDN', 'compare', 'exop'] as const;
export type LdapOperationName = (typeof OBSERVED_OPERATIONS)[number];

/**
 * The LDAP operation histogram of a service, for one directory: `idsync_ldap_operation_duration_seconds` by
 * directory, operation and result (success, the LDAP result code, timeout, network).
 */
export function ldapObserver(metrics: Metrics, directory: string): LdapObserver {
  const durations = metrics.histogram(
    'idsync_ldap_operation_duration_seconds',
    'LDAP operations sent, by directory (its name in the configuration), operation (bind, search, add, modify, del, modifyDN, compare, exop) and result (success, an LDAP result code, timeout, network)',
    ['directory', 'operation', 'result'],
    OPERATION_BUCKETS,
  );
  return (operation, seconds, result) => durations.observe({ directory, operation, result }, seconds);
}

/** The result label of a failed operation: the LDAP result code, or what happened to the connection. */
export function ldapResultLabel(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return String(code);
  const name = error instanceof Error ? error.name : '';
  return /timeout/i.test(name) || /timed? ?out/i.test(error instanceof Error ? error.message : '') ? 'timeout' : 'network';
}

function observeClient(client: Client, observe: LdapObserver): void {
  const methods = client as unknown as Record<LdapOperationName, (...args: unknown[]) => Promise<unknown>>;
  for (const operation of OBSERVED_OPERATIONS) {
    const call = methods[operation].bind(client);
    methods[operation] = async (...args: unknown[]): Promise<unknown> => {
      const started = performance.now();
      try {
        const result = await call(...args);
        observe(operation, (performance.now() - started) / 1_000, 'success');
        return result;
      } catch (error) {
        observe(operation, (performance.now() - started) / 1_000, ldapResultLabel(error));
        throw error;
      }
    };
  }
}

/**
 * An ldapts client that opens exactly one socket: its first connect goes through, any later one (ldapts'
 * transparent, unauthenticated reconnect) fails with LdapConnectionLostError. The StartTLS upgrade of that one
 * socket is allowed (it is called with the existing socket in its options).
 */
export function createOneShotClient(name: string, url: string, dir: DirectoryConfig, tls: ConnectionOptions, observe?: LdapObserver): Client {
  let connected = false;
  const first = (): void => {
    if (connected) throw new LdapConnectionLostError(name, url);
    connected = true;
  };
  const secure = url.toLowerCase().startsWith('ldaps://');
  const client = new Client({
    url,
    timeout: dir.operationTimeoutMs,
    connectTimeout: dir.connectTimeoutMs,
    ...(secure ? { tlsOptions: tls } : {}),
    createConnection: ((port: number, host: string) => {
      first();
      return netConnect(port, host);
    }) as typeof netConnect,
    createSecureConnection: (...args: unknown[]) => {
      const [head] = args;
      const upgrade = typeof head === 'object' && head !== null && 'socket' in head;
      if (!upgrade) first();
      return (tlsConnect as (...a: unknown[]) => ReturnType<typeof tlsConnect>)(...args);
    },
  });
  if (observe !== undefined) observeClient(client, observe);
  return client;
}

/**
 * Opens a bound session to a directory: each URL in order (failover), LDAPS or StartTLS as configured.
 * Credentials default to the directory's own; writers pass their own account. The session never reconnects by
 * itself (see createOneShotClient): once its socket closes, every operation on it fails with
 * LdapConnectionLostError and a new session must be opened.
 */
export async function openLdapSession(
  name: string,
  dir: DirectoryConfig,
  credentials: { bindDn: string; bindPassword: string } = dir,
  options: { readonly observe?: LdapObserver | undefined } = {},
): Promise<LdapSession> {
  const withheld = withheldVariable(credentials.bindPassword);
  if (withheld !== undefined) throw new DirectoryCredentialsWithheldError(name, credentials.bindDn, withheld);
  const attempts: { url: string; error: string }[] = [];
  const tls = tlsOptions(dir);
  for (const url of dir.urls) {
    const client = createOneShotClient(name, url, dir, tls, options.observe);
    try {
      if (dir.startTls) await client.startTLS(tls);
      await client.bind(credentials.bindDn, credentials.bindPassword);
      return { client, url };
    } catch (error) {
      await client.unbind().catch(() => undefined);
      if ((error as { code?: unknown }).code === INVALID_CREDENTIALS) {
        throw new DirectoryBindError(name, url, credentials.bindDn, error);
      }
      attempts.push({ url, error: describe(error) });
    }
  }
  throw new DirectoryUnavailableError(name, attempts);
}

/** Reads the root DSE (naming contexts, supported controls, changelog numbers...). */
export async function readRootDse(client: Client, attributes: string[] = ['*', '+']): Promise<Record<string, string[]>> {
  const { searchEntries } = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes });
  const entry = searchEntries[0];
  if (!entry) return {};
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn') continue;
    const values = Array.isArray(value) ? value : [value];
    out[key.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  }
  return out;
}
