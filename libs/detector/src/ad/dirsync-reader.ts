import { EqualityFilter, OrFilter, type Client } from 'ldapts';
import { canonicalGuid, type EntryImage, guidToBytes } from '@idsync/contracts';
import { type DirectoryConfig } from '@idsync/config';
import { lastKnownImage, type ReadImage } from '../after-image';
import { readAfterImages } from '../after-image-reader';
import { type AfterImageAttributes } from '@idsync/mapping';
import { type LdapObserver, openLdapSession, readRootDse, searchAllValues } from '@idsync/platform';
import { DcIdentity, DirSyncCookie } from './dirsync-cookie';
import { AD_BINARY_ATTRIBUTES, fromLdaptsEntry, type LdaptsEntry, type RawEntry } from './raw-entry';
import { DirSyncControl, ShowDeletedControl } from './dirsync-control';

/** Images are read without the id attribute already: nothing more to leave out. */
const NO_SKIP: ReadonlySet<string> = new Set();

export interface DirSyncPage {
  /** The cookie the page was requested with (its digest makes the event ids). */
  readonly requestCookie: DirSyncCookie;
  readonly entries: readonly RawEntry[];
  /** The cookie after this page: the checkpoint once the page's events are published. */
  readonly cookie: DirSyncCookie;
  readonly moreResults: boolean;
}

export interface DirSyncReadOptions {
  readonly flags: number;
  readonly maxBytes: number;
  /** Attributes to return (default: all). The first start's pass, which only wants the cookie, asks for objectGUID. */
  readonly attributes?: readonly string[];
}

/** Objects re-fetched per search (one OR filter on objectGUID). */
const REFETCH_BATCH = 100;

/**
 * One bound session to a DC for the DirSync stream: the DC's identity (cookies belong to it), DirSync pages, and
 * re-fetches by objectGUID. DirSync must start at the naming-context root (Samba answers 50 to other bases) and
 * cannot be combined with paged results (Samba: operations error), so one search returns one whole page.
 */
export class DirSyncReader {
  private constructor(
    private readonly client: Client,
    readonly url: string,
    readonly dc: DcIdentity,
    private readonly baseDn: string,
  ) {}

  static async open(name: string, dir: DirectoryConfig, observe?: LdapObserver): Promise<DirSyncReader> {
    const { client, url } = await openLdapSession(name, dir, dir, { observe });
    try {
      return new DirSyncReader(client, url, await readDcIdentity(client), dir.baseDn);
    } catch (error) {
      await client.unbind().catch(() => undefined);
      throw error;
    }
  }

  async read(cookie: DirSyncCookie, options: DirSyncReadOptions): Promise<DirSyncPage> {
    const control = new DirSyncControl({ flags: options.flags, maxBytes: options.maxBytes, cookie: cookie.toBuffer() });
    // Not searchAllValues: with incremental values, `member;range=1-1` / `;range=0-0` are value deltas, not slices.
    const attributes = options.attributes === undefined ? {} : { attributes: [...options.attributes] };
    const { searchEntries } = await this.client.search(this.baseDn, { scope: 'sub', filter: '(objectClass=*)', ...attributes, explicitBufferAttributes: [...AD_BINARY_ATTRIBUTES] }, control);
    if (!control.response) throw Object.assign(new Error('the DC answered a DirSync search without a DirSync response control'), { retriable: false });
    return {
      requestCookie: cookie,
      entries: searchEntries.map((e) => fromLdaptsEntry(e as LdaptsEntry)),
      cookie: DirSyncCookie.fromBytes(control.response.cookie),
      moreResults: control.response.moreResults,
    };
  }

  /**
   * objectClass of each object, by objectGUID, tombstones included (Show Deleted). GUIDs not found (the tombstone
   * was reaped) are absent from the map. GUIDs go into the filter as bytes through ldapts' filter classes.
   */
  async refetchObjectClasses(guids: readonly string[]): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    for (let start = 0; start < guids.length; start += REFETCH_BATCH) {
      const batch = guids.slice(start, start + REFETCH_BATCH);
      const filter = new OrFilter({ filters: batch.map((g) => new EqualityFilter({ attribute: 'objectGUID', value: guidToBytes(g) })) });
      const { searchEntries } = await searchAllValues(
        this.client,
        this.baseDn,
        { scope: 'sub', filter, attributes: ['objectGUID', 'objectClass'], explicitBufferAttributes: ['objectGUID'] },
        new ShowDeletedControl(),
      );
      for (const entry of searchEntries) {
        const raw = fromLdaptsEntry(entry);
        const guid = raw.attributes['objectGUID']?.[0];
        if (Buffer.isBuffer(guid) && guid.length === 16) found.set(canonicalGuid(guid), (raw.attributes['objectClass'] ?? []).map(String));
      }
    }
    return found;
  }

  /** Every attribute of the live objects with these objectGUIDs (a move into scope is published whole). */
  async readEntries(guids: readonly string[]): Promise<RawEntry[]> {
    const found: RawEntry[] = [];
    for (let start = 0; start < guids.length; start += REFETCH_BATCH) {
      const batch = guids.slice(start, start + REFETCH_BATCH);
      const filter = new OrFilter({ filters: batch.map((g) => new EqualityFilter({ attribute: 'objectGUID', value: guidToBytes(g) })) });
      // Every value: a group over MaxValRange comes back as `member;range=0-1499`, which is neither the attribute
      // nor one of DirSync's value deltas.
      const { searchEntries } = await searchAllValues(this.client, this.baseDn, { scope: 'sub', filter, attributes: ['*'], explicitBufferAttributes: [...AD_BINARY_ATTRIBUTES] });
      for (const entry of searchEntries) found.push(fromLdaptsEntry(entry));
    }
    return found;
  }

  /** The after-images of the live objects with these objectGUIDs, by objectGUID text; objects gone since are absent. */
  readAfterImages(guids: readonly string[], set: AfterImageAttributes): Promise<Map<string, ReadImage>> {
    return readAfterImages(this.client, guids, { baseDn: this.baseDn, idAttribute: 'objectGUID', binaryAttributes: AD_BINARY_ATTRIBUTES, set });
  }

  /**
   * What the tombstones of these objectGUIDs kept of the set's attributes (only attributes with values), by
   * objectGUID text: AD keeps a few on delete (sAMAccountName, objectSid, name...). Reaped ones are absent.
   */
  async readTombstoneImages(guids: readonly string[], set: AfterImageAttributes): Promise<Map<string, EntryImage>> {
    const read = await readAfterImages(this.client, guids, { baseDn: this.baseDn, idAttribute: 'objectGUID', binaryAttributes: AD_BINARY_ATTRIBUTES, set, controls: [new ShowDeletedControl()] });
    const kept = new Map<string, EntryImage>();
    for (const [guid, { image }] of read) {
      const last = lastKnownImage(image, set, NO_SKIP);
      if (last !== null) kept.set(guid, last);
    }
    return kept;
  }

  /** objectGUID → DN of every live object under `base` (paged), to seed the rename cache at start. */
  async listDns(base: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const { searchEntries } = await searchAllValues(this.client, base, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: ['objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize: 1000 },
    });
    for (const entry of searchEntries) {
      const guid = entry['objectGUID'];
      if (Buffer.isBuffer(guid) && guid.length === 16) out.set(canonicalGuid(guid), entry.dn);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.client.unbind().catch(() => undefined);
  }
}

/** The answering DC: dnsHostName and dsServiceName from the root DSE, invocationId from its NTDS Settings object. */
export async function readDcIdentity(client: Client): Promise<DcIdentity> {
  const dse = await readRootDse(client, ['dsServiceName', 'dnsHostName']);
  const service = dse['dsservicename']?.[0];
  const host = dse['dnshostname']?.[0] ?? 'unknown';
  if (!service) throw Object.assign(new Error('the root DSE has no dsServiceName: not an Active Directory DC'), { retriable: false });
  const { searchEntries } = await searchAllValues(client, service, { scope: 'base', filter: '(objectClass=*)', attributes: ['invocationId'], explicitBufferAttributes: ['invocationId'] });
  const invocationId = searchEntries[0]?.['invocationId'];
  if (!Buffer.isBuffer(invocationId) || invocationId.length !== 16) {
    throw Object.assign(new Error(`cannot read invocationId of ${service}`), { retriable: false });
  }
  return new DcIdentity(canonicalGuid(invocationId), host);
}
