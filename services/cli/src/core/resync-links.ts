import { type EntryLink, type LinkEnd } from '@idsync/contracts';
import { type CurrentEntry, endIn } from '@idsync/writer';

/**
 * What a resync asks of the links (the links topic read into a LinkStore): which destination entry a source entry
 * is linked to, and which source entries a destination entry is linked to. A link joins two entries: both pipes
 * between the same two directories (ad-to-ds and ds-to-ad) link the same pairs, so links are read as undirected,
 * as the writers read them. Pure: the lookups are the store's, the decisions are here.
 */
export interface LinkLookup {
  /** The live link joining entry `id` of `directory` with an entry of `otherDirectory` (either end); the newest. */
  counterpart(directory: string, id: string, otherDirectory: string): EntryLink | null;
  /** Every live link with `id` at either end. */
  linksOf(id: string): Iterable<EntryLink>;
}

/** The links as one pipe sees them: its source and destination directories by name (link ends name them). */
export interface PipeLinks {
  readonly lookup: LinkLookup;
  readonly source: string;
  readonly destination: string;
}

/**
 * The same links, each counterpart looked up once: a batch's index keys and its comparisons ask for the same ones.
 * Made per batch, so it holds only the batch's.
 */
export function linksOnce(links: PipeLinks): PipeLinks {
  const counterparts = new Map<string, EntryLink | null>();
  return {
    ...links,
    lookup: {
      counterpart(directory, id, otherDirectory) {
        const key = `${directory}\u0000${id}\u0000${otherDirectory}`;
        let link = counterparts.get(key);
        if (link === undefined) {
          link = links.lookup.counterpart(directory, id, otherDirectory);
          counterparts.set(key, link);
        }
        return link;
      },
      linksOf: (id) => links.lookup.linksOf(id),
    },
  };
}

/** The destination id a source entry is linked to, whichever pipe recorded the link; null when it has none. */
export function linkedDestination(links: PipeLinks, sourceId: string): string | null {
  const link = links.lookup.counterpart(links.source, sourceId, links.destination);
  return link === null ? null : endIn(link, links.destination).value;
}

/** The source id a destination entry is linked to (the newest link), or null. */
export function linkedSource(links: PipeLinks, destinationId: string): string | null {
  const link = links.lookup.counterpart(links.destination, destinationId, links.source);
  return link === null ? null : endIn(link, links.source).value;
}

/** Every source-side end linked to a destination entry, by either pipe between the two directories. */
export function linkedSources(links: PipeLinks, destinationId: string): LinkEnd[] {
  const out = new Map<string, LinkEnd>();
  const id = destinationId.toLowerCase();
  for (const link of links.lookup.linksOf(destinationId)) {
    for (const [here, there] of [
      [link.destination, link.source],
      [link.source, link.destination],
    ] as const) {
      if (here.directory === links.destination && here.value.toLowerCase() === id && there.directory === links.source) out.set(there.value.toLowerCase(), there);
    }
  }
  return [...out.values()];
}

/** A destination entry that no source entry of the read claimed, with its id (null when the read did not return one). */
export interface UnclaimedEntry {
  readonly entry: CurrentEntry;
  readonly id: string | null;
}

/** A deletion candidate: linked to source entries that the source read did not return. */
export interface DeletionCandidate extends UnclaimedEntry {
  readonly id: string;
  /** The source-side ends it is linked to (each one absent from the read). */
  readonly sources: readonly LinkEnd[];
}

export interface DeletionSelection {
  /** Linked only to source entries the read did not return: deleted with --delete-missing once they are gone. */
  readonly candidates: readonly DeletionCandidate[];
  /** Linked to a source entry the read did return (mapped elsewhere, or out of the selected classes): left alone. */
  readonly sourceRead: readonly UnclaimedEntry[];
  /** Linked to no source entry (created in the destination, or never met by a writer): never deleted. */
  readonly unlinked: readonly UnclaimedEntry[];
}

/**
 * Which unclaimed destination entries a `--delete-missing` may delete: only those linked to a source entry, and only
 * when none of the source entries they are linked to was returned by the source read (`sourceIdsRead`, lower-case).
 * An entry linked to nothing at the source is the destination's own (or not met by a writer yet): never a candidate.
 * Order is kept (children before their parents).
 */
export function selectDeletions(entries: readonly UnclaimedEntry[], links: PipeLinks, sourceIdsRead: { has(id: string): boolean }): DeletionSelection {
  const candidates: DeletionCandidate[] = [];
  const sourceRead: UnclaimedEntry[] = [];
  const unlinked: UnclaimedEntry[] = [];
  for (const unclaimed of entries) {
    const sources = unclaimed.id === null ? [] : linkedSources(links, unclaimed.id);
    if (unclaimed.id === null || sources.length === 0) unlinked.push(unclaimed);
    else if (sources.some((s) => sourceIdsRead.has(s.value.toLowerCase()))) sourceRead.push(unclaimed);
    else candidates.push({ ...unclaimed, id: unclaimed.id, sources });
  }
  return { candidates, sourceRead, unlinked };
}
