import { type EntryId, type WriteRequest } from '@idsync/contracts';
import { normalizeDn } from './dn';

/**
 * The destination entry a write request's sealed password is bound to (@idsync/secrets bindPassword): its pipe, its
 * destination directory, its DN normalized, its source entry. The mapper binds with it and the writer checks with
 * it, so both must build it the same way: here.
 */
export function destinationBinding(
  request: Pick<WriteRequest, 'pipe' | 'dn' | 'sourceEntryId'>,
  destination: string,
): { readonly pipe: string; readonly destination: string; readonly dn: string; readonly sourceEntryId: EntryId } {
  return { pipe: request.pipe, destination, dn: normalizeDn(request.dn), sourceEntryId: request.sourceEntryId };
}
