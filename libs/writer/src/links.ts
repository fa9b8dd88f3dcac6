import { canonicalGuid, type EntryId, type EntryLink, isUuidText, type LinkEnd, type LinkOrigin } from '@idsync/contracts';
import { type DirectoryKind } from '@idsync/config';
import { type CurrentEntry, entryValues } from './diff';
import { WriteError, type WriteErrorDetails } from './errors';

/** A link as the writer's view holds it: the link and its key on the links topic. */
export interface KnownLink extends EntryLink {
  readonly key: string;
}

/** What the writer needs of the links: lookups in its local view, and recording links (store + topic). */
export interface WriterLinks {
  /** The link joining entry `id` of `directory` with an entry of `otherDirectory` (either end), if any. */
  counterpart(directory: string, id: string, otherDirectory: string): KnownLink | null;
  /** Whether `id` was in a link removed because one of its entries was deleted (recently: the topic keeps tombstones a day). */
  wasUnlinked(id: string): boolean;
  /** Records a link (the local view at once, the topic at the batch's end). */
  link(link: { readonly pipe: string; readonly source: LinkEnd; readonly destination: LinkEnd; readonly origin: LinkOrigin }): void;
  /** Removes a link (one of its entries was deleted, or it pointed at an entry that is gone). */
  unlink(link: KnownLink): void;
  /**
   * Brings the view up to where the links topic ends now. Called before acting on a miss: the link may have been
   * recorded by another writer a moment ago (a hit needs no such wait: the entry is then read by its id).
   */
  catchUp?(): Promise<void>;
}

/** The attribute holding an entry's stable id in a directory of this kind. */
export function idAttribute(kind: DirectoryKind): 'objectGUID' | 'entryUUID' {
  return kind === 'active-directory' ? 'objectGUID' : 'entryUUID';
}

/** The entry's stable id as read (objectGUID bytes, entryUUID text), canonical; null when the read did not return it. */
export function entryIdOf(entry: CurrentEntry, kind: DirectoryKind): EntryId | null {
  const [value] = entryValues(entry, idAttribute(kind));
  if (value === undefined) return null;
  if (kind === 'active-directory') {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    return bytes.length === 16 ? { kind: 'objectGUID', value: canonicalGuid(bytes) } : null;
  }
  const text = String(value).toLowerCase();
  return isUuidText(text) ? { kind: 'entryUUID', value: text } : null;
}

/** The end of `link` in `directory` (the other end when both are there: never, a link joins two directories). */
export function endIn(link: EntryLink, directory: string): LinkEnd {
  return link.destination.directory === directory ? link.destination : link.source;
}

/** The id end of `link` that is not `id`. */
export function otherEnd(link: EntryLink, id: string): LinkEnd {
  return link.source.value === id ? link.destination : link.source;
}

/**
 * The entry the request's DN (or correlation) found is linked to another source entry: writing to it would
 * overwrite, rename or delete someone else's account (a forged or late request, an echo of a delete). Nothing is
 * written. A create (`waits`) is tried again for a while: typically the account was deleted and re-created, and the
 * predecessor's delete (or rename) is on its way on another partition; the consumer loop pauses only this partition
 * meanwhile. Anything else, or a create still blocked after the wait, is dead-lettered with both ids.
 */
export class LinkConflictError extends WriteError {
  constructor(
    readonly pipe: string,
    readonly sourceId: string,
    readonly found: { readonly dn: string; readonly id: string },
    readonly linkedTo: string,
    readonly waits: boolean,
    details: WriteErrorDetails = {},
  ) {
    super(waits ? 'retry' : 'dead-letter', `link conflict: the entry at ${found.dn} (id ${found.id}) is linked to source entry ${linkedTo}, not to ${sourceId} (pipe ${pipe}); it is left alone`, {
      ...details,
      dn: found.dn,
    });
    this.name = 'LinkConflictError';
  }
}
