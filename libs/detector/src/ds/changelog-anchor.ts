import { createHash } from 'node:crypto';
import { type RawChangelogEntry } from './changelog-entry';

/** The attributes that say what a change was: its number, time, type and target. */
const ANCHOR_ATTRIBUTES = ['changenumber', 'changetime', 'changetype', 'targetdn', 'targetuniqueid', 'targetentryuuid'];

/**
 * A fingerprint of one cn=changelog entry: `<change number>:<16 hex of a SHA-256 over its number, time, type and
 * target>` (no values of the change itself). Stored with the checkpoint, it lets a restart check that the server
 * answering has the same change at that number: another replica, or a re-created changelog, has something else
 * there (its change numbers count a different history).
 */
export function changelogAnchor(entry: RawChangelogEntry): string | null {
  const fields = new Map<string, string>();
  for (const [key, value] of Object.entries(entry)) {
    const name = key.toLowerCase();
    if (!ANCHOR_ATTRIBUTES.includes(name) || value === undefined) continue;
    // (Array.isArray makes a readonly array any[]: the single value is what can be told apart.)
    const first = typeof value === 'string' || Buffer.isBuffer(value) ? value : value[0];
    if (first !== undefined) fields.set(name, (Buffer.isBuffer(first) ? first.toString('utf8') : first).trim().toLowerCase());
  }
  const number = fields.get('changenumber');
  if (number === undefined) return null;
  const hash = createHash('sha256');
  for (const name of ANCHOR_ATTRIBUTES) hash.update(`${name}=${fields.get(name) ?? ''}\n`);
  return `${number}:${hash.digest('hex').slice(0, 16)}`;
}

export type AnchorCheck = { readonly kind: 'same' | 'unverifiable' } | { readonly kind: 'different'; readonly message: string };

/**
 * Compares the anchor stored with the checkpoint to the changelog entry the server has at that change number now
 * (null: none there, trimmed or never written — nothing to compare, the window checks decide).
 */
export function checkAnchor(stored: string | undefined, found: RawChangelogEntry | null, server: string): AnchorCheck {
  if (stored === undefined || found === null) return { kind: 'unverifiable' };
  const now = changelogAnchor(found);
  if (now === null || now === stored) return { kind: now === null ? 'unverifiable' : 'same' };
  const number = stored.slice(0, stored.indexOf(':'));
  return {
    kind: 'different',
    message:
      `the checkpoint's change ${number} is not the change ${server} has at that number (anchor ${stored}, found ${now}): ` +
      'the checkpoint comes from another server (a replica counts its own change numbers) or the changelog was re-created. ' +
      'Resuming would skip or repeat changes; point the detector back at the server it was reading, or set a new start point ' +
      '(`idsync set-startpoint ds-detector --end`) and run a resync',
  };
}
