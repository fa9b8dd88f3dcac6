import { type DirectoryConfig, type SyncConfig } from '@idsync/config';

/** The directory a service block names; the loader has already checked that it exists. */
export function namedDirectory(config: SyncConfig, name: string): DirectoryConfig {
  const dir = config.directories[name];
  if (!dir) throw new Error(`directory '${name}' is not configured`);
  return dir;
}

/** The account a writer binds with: its own when configured, else the directory's. */
export function writerCredentials(config: SyncConfig, writer: 'ad-writer' | 'ds-writer'): { bindDn: string; bindPassword: string } {
  const block = config.services[writer];
  const dir = namedDirectory(config, block.destination);
  return block.bindDn && block.bindPassword ? { bindDn: block.bindDn, bindPassword: block.bindPassword } : dir;
}
