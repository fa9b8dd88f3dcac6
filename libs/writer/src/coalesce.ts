import { type WriteRequest } from '@idsync/contracts';
import { isPasswordAttribute } from '@idsync/mapping';

/** One write to make for an entry, and the positions (in the entry's list) of the requests it stands for. */
export interface CoalescedWrite {
  readonly request: WriteRequest;
  readonly covers: readonly number[];
}

export interface Coalesced {
  readonly writes: readonly CoalescedWrite[];
  /** Positions of requests a later delete of the same entry makes pointless: acknowledged without a write. */
  readonly superseded: readonly number[];
}

/**
 * Folds one entry's requests from one batch (in order) into fewer writes with the same end result, so a replayed
 * history does not replay its intermediate states in the destination: everything before the entry's last delete
 * is dropped (a re-created account is not briefly resurrected), and consecutive value-level modifies are merged
 * into one (a member added then removed is never re-added). Pure; the writer still compares before it writes.
 */
export function coalesceEntryRequests(requests: readonly WriteRequest[]): Coalesced {
  let lastDelete = -1;
  requests.forEach((r, i) => {
    if (r.op === 'delete') lastDelete = i;
  });
  const superseded = lastDelete > 0 ? Array.from({ length: lastDelete }, (_, i) => i).filter((i) => requests[i]?.op !== 'unlink') : [];
  const skipped = new Set(superseded);
  const writes: { request: WriteRequest; covers: number[] }[] = [];
  requests.forEach((request, index) => {
    if (skipped.has(index)) return;
    const previous = writes[writes.length - 1];
    if (previous && mergeable(previous.request, request)) {
      previous.request = { ...request, attributes: [...previous.request.attributes, ...request.attributes] };
      previous.covers.push(index);
      return;
    }
    writes.push({ request, covers: [index] });
  });
  return { writes, superseded };
}

/**
 * Two modifies of the same entry at the same DN and pipe: their value-level changes apply in order as one. Password
 * changes stay on their own (each one is opened, checked and dead-lettered by itself).
 */
function mergeable(a: WriteRequest, b: WriteRequest): boolean {
  return (
    a.op === 'modify' &&
    !a.attributes.some((c) => isPasswordAttribute(c.name)) &&
    !b.attributes.some((c) => isPasswordAttribute(c.name)) &&
    b.op === 'modify' &&
    a.pipe === b.pipe &&
    a.dn === b.dn &&
    a.sourceEntryId.value === b.sourceEntryId.value &&
    JSON.stringify(a.correlation) === JSON.stringify(b.correlation)
  );
}
