import { type SyncConfig } from '@idsync/config';
import { DirectoryBindError, DirectoryUnavailableError, openLdapSession } from '@idsync/platform';
import { Attribute, Change, type Client } from 'ldapts';

/**
 * The two directories as a person (the administrator accounts, not the writers') sees them: the e2e tests make
 * their changes here and read the other side back.
 */

/** Attribute name (lower-case) → values (as strings). */
export type Entry = Record<string, string[]>;

export class Side {
  private constructor(
    readonly name: 'ad' | 'ds',
    readonly client: Client,
    readonly baseDn: string,
  ) {}

  /** `credentials`: another account than the directory's administrator (a writer's, whose changes detectors ignore). */
  static async open(config: SyncConfig, name: 'ad' | 'ds', credentials?: { bindDn: string; bindPassword: string }): Promise<Side> {
    const directory = config.directories[name];
    if (!directory) throw new Error(`the demo configuration has no directory '${name}'`);
    const { client } = await openLdapSession(name, directory, credentials);
    return new Side(name, client, directory.baseDn);
  }

  async close(): Promise<void> {
    await this.client.unbind().catch(() => undefined);
  }

  /** The entry at `dn` (null when there is none), attribute names in lower case. */
  async read(dn: string, attributes: string[] = ['*']): Promise<Entry | null> {
    try {
      const { searchEntries } = await this.client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes });
      const found = searchEntries[0];
      return found ? toEntry(found) : null;
    } catch (error) {
      if ((error as { code?: number }).code === 32) return null;
      throw error;
    }
  }

  /** Every entry below `base` (not the base itself) with a filter, as dn → entry. */
  async below(base: string, filter: string, attributes: string[]): Promise<Map<string, Entry>> {
    const out = new Map<string, Entry>();
    try {
      const { searchEntries } = await this.client.search(base, { scope: 'sub', filter, attributes });
      for (const entry of searchEntries) if (entry.dn.toLowerCase() !== base.toLowerCase()) out.set(entry.dn, toEntry(entry));
    } catch (error) {
      if ((error as { code?: number }).code !== 32) throw error;
    }
    return out;
  }

  /**
   * Every entry below `base` that has one of `classes`, as dn → entry. The search itself names no indexed attribute
   * (`(objectClass=*)` is unindexed presence) and the classes are told apart here: 389-ds 2.3.1 on Berkeley DB can
   * deadlock when a search reads an index key in bulk while adds append to that key (README, the local stack's
   * pitfalls), and an `objectClass` key is one every add in the directory appends to.
   */
  async ofClass(base: string, classes: readonly string[], attributes: string[]): Promise<Map<string, Entry>> {
    const wanted = new Set(classes.map((c) => c.toLowerCase()));
    const all = await this.below(base, '(objectClass=*)', [...new Set([...attributes.filter((a) => a !== '1.1'), 'objectClass'])]);
    return new Map([...all].filter(([, entry]) => (entry['objectclass'] ?? []).some((c) => wanted.has(c.toLowerCase()))));
  }

  /**
   * How many entries sit directly below `dn`: its numSubordinates, read with a base search (no index read), so it can be
   * polled while thousands of entries arrive. 389-ds keeps it; Samba does not.
   */
  async childCount(dn: string): Promise<number> {
    const value = (await this.read(dn, ['numSubordinates']))?.['numsubordinates']?.[0];
    if (value === undefined) return 0;
    const count = Number(value);
    if (!Number.isInteger(count)) throw new Error(`${dn}: numSubordinates '${value}' is not a count`);
    return count;
  }

  async add(dn: string, attributes: Record<string, string | string[]>): Promise<void> {
    await this.client.add(dn, attributes);
  }

  async replace(dn: string, type: string, values: string[]): Promise<void> {
    await this.client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type, values }) }));
  }

  async addValue(dn: string, type: string, value: string): Promise<void> {
    await this.client.modify(dn, new Change({ operation: 'add', modification: new Attribute({ type, values: [value] }) }));
  }

  async deleteValue(dn: string, type: string, value: string): Promise<void> {
    await this.client.modify(dn, new Change({ operation: 'delete', modification: new Attribute({ type, values: [value] }) }));
  }

  async rename(dn: string, newDn: string): Promise<void> {
    await this.client.modifyDN(dn, newDn);
  }

  async del(dn: string): Promise<void> {
    await this.client.del(dn);
  }

  /**
   * Deletes a subtree, groups first, then deepest entries first; a missing subtree is fine. Groups go first because
   * deleting a member makes Samba rewrite every group holding it: a large group's members deleted one by one cost
   * minutes, the group first costs nothing.
   */
  async deleteTree(base: string): Promise<void> {
    let dns: string[];
    const groups = new Set<string>();
    try {
      const { searchEntries } = await this.client.search(base, { scope: 'sub', filter: '(objectClass=*)', attributes: ['objectClass'] });
      dns = searchEntries.map((e) => e.dn);
      for (const entry of searchEntries) {
        if ([entry['objectClass'] ?? []].flat().some((c) => ['group', 'groupofnames'].includes(String(c).toLowerCase()))) groups.add(entry.dn);
      }
    } catch (error) {
      if ((error as { code?: number }).code === 32) return;
      throw error;
    }
    dns.sort((a, b) => Number(groups.has(b)) - Number(groups.has(a)) || depth(b) - depth(a));
    for (const dn of dns) {
      try {
        await this.client.del(dn);
      } catch (error) {
        if ((error as { code?: number }).code !== 32) throw error;
      }
    }
  }
}

function depth(dn: string): number {
  return dn.split(/(?<!\\),/).length;
}

function toEntry(raw: Record<string, unknown>): Entry {
  const out: Entry = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'dn') continue;
    const values = Array.isArray(value) ? value : [value];
    out[name.toLowerCase()] = values.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : String(v)));
  }
  return out;
}

/** Case-insensitive comparison of DNs written by different servers (AD answers `OU=`, 389-ds keeps what was sent). */
export function sameDn(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}

export function normalizeDn(dn: string): string {
  return dn
    .split(/(?<!\\),/)
    .map((rdn) =>
      rdn
        .trim()
        .toLowerCase()
        .replace(/\s*=\s*/, '='),
    )
    .join(',');
}

/**
 * Whether a simple bind as `dn` with `password` succeeds (LDAPS, the directory's CA); invalid credentials, and a
 * locked account (389-ds answers 53, unwillingToPerform: "Account inactivated"), -> false.
 */
export async function canBind(config: SyncConfig, name: 'ad' | 'ds', dn: string, password: string): Promise<boolean> {
  const directory = config.directories[name];
  if (!directory) throw new Error(`the demo configuration has no directory '${name}'`);
  try {
    const { client } = await openLdapSession(`${name}-user`, directory, { bindDn: dn, bindPassword: password });
    await client.unbind().catch(() => undefined);
    return true;
  } catch (error) {
    if (error instanceof DirectoryBindError) return false;
    if (error instanceof DirectoryUnavailableError && error.attempts.length > 0 && error.attempts.every((a) => /Account inactivated/i.test(a.error))) return false;
    throw error;
  }
}
