import { readFileSync } from 'node:fs';
import { type ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';
import { type DirectoryConfig } from '@idsync/config';

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

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
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
 * Opens a bound session to a directory: each URL in order (failover), LDAPS or StartTLS as configured.
 * Credentials default to the directory's own; writers pass their own account.
 */
export async function openLdapSession(
  name: string,
  dir: DirectoryConfig,
  credentials: { bindDn: string; bindPassword: string } = dir,
): Promise<LdapSession> {
  const attempts: { url: string; error: string }[] = [];
  const tls = tlsOptions(dir);
  for (const url of dir.urls) {
    const secure = url.toLowerCase().startsWith('ldaps://');
    const client = new Client({
      url,
      timeout: dir.operationTimeoutMs,
      connectTimeout: dir.connectTimeoutMs,
      ...(secure ? { tlsOptions: tls } : {}),
    });
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
    out[key.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }
  return out;
}
