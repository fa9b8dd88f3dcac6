import { type AttributeChange, type AttributeValue, type EntryChangeEvent } from '@idsync/contracts';
import { OPERATIONAL_ATTRIBUTES } from './changelog-entry';

/** An entry as read from the directory: attribute names as the server spells them, text or bytes. */
export type ReadEntry = { readonly dn: string } & Readonly<Record<string, unknown>>;

/** Attributes read as bytes for a snapshot (binary syntaxes of the standard schemas). */
export const SNAPSHOT_BINARY_ATTRIBUTES = ['jpegPhoto', 'photo', 'audio', 'userCertificate', 'cACertificate', 'userSMIMECertificate', 'userPKCS12'] as const;

/** Never in a snapshot: hashes and secrets travel only sealed, through the password path. */
const SECRET = /password|^userpkcs12$|secret/i;

/**
 * The snapshot published right after a rename that moved an entry into the watched subtrees from outside: the entry
 * as read now, every attribute as a replace (operational ones and secrets left out), op `snapshot`. Its event id
 * follows the rename's, so a re-read of the same change gives the same id.
 */
export function enteredScopeSnapshot(rename: EntryChangeEvent, entry: ReadEntry): EntryChangeEvent {
  const attributes: AttributeChange[] = [];
  let objectClasses: string[] = [];
  for (const [name, raw] of Object.entries(entry)) {
    if (name === 'dn') continue;
    const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is AttributeValue => typeof v === 'string' || Buffer.isBuffer(v));
    if (values.length === 0) continue;
    const key = name.toLowerCase();
    if (key === 'objectclass') objectClasses = values.map(String);
    if (OPERATIONAL_ATTRIBUTES.has(key) || SECRET.test(key)) continue;
    attributes.push({ name, op: 'replace', values });
  }
  return {
    ...rename,
    eventId: `${rename.eventId}:entered`,
    op: 'snapshot',
    dn: entry.dn,
    previousDn: null,
    objectClasses: objectClasses.length > 0 ? objectClasses : rename.objectClasses,
    attributes,
  };
}
