/**
 * The envelope every identity-change event shares, and the operation records the mapper sends to writers.
 * Avro schemas in ../schemas describe exactly these shapes; keep both in step.
 */

/** What happened to the entry. `snapshot` is a full read made by a resync, not a change. */
export const CHANGE_OPERATIONS = ['add', 'modify', 'delete', 'rename', 'snapshot'] as const;
export type ChangeOperation = (typeof CHANGE_OPERATIONS)[number];

export const SOURCE_SYSTEMS = ['active-directory', 'ldap'] as const;
export type SourceSystem = (typeof SOURCE_SYSTEMS)[number];

/** Value-level change of one attribute. `replace` with no values removes the attribute. */
export const VALUE_OPERATIONS = ['add', 'delete', 'replace'] as const;
export type ValueOperation = (typeof VALUE_OPERATIONS)[number];

/** Text values stay strings; binary ones (objectGUID, objectSid, jpegPhoto...) stay bytes. */
export type AttributeValue = string | Buffer;

export interface AttributeChange {
  /** Attribute name as the source spells it (compare case-insensitively). */
  readonly name: string;
  readonly op: ValueOperation;
  readonly values: readonly AttributeValue[];
}

/** Where in the source's change stream the event was read. */
export type SourcePosition =
  | { readonly kind: 'change-number'; readonly changeNumber: string }
  /** DirSync cookies are opaque and large: events carry a digest; the full cookie lives in the checkpoint. */
  | { readonly kind: 'dirsync'; readonly cookieDigest: string; readonly index: number }
  | { readonly kind: 'snapshot'; readonly runId: string; readonly index: number };

export const ENTRY_ID_KINDS = ['objectGUID', 'entryUUID', 'nsUniqueId'] as const;
export type EntryIdKind = (typeof ENTRY_ID_KINDS)[number];

/** Identity that survives renames; `value` is the canonical lower-case hyphenated UUID text. Kafka key. */
export interface EntryId {
  readonly kind: EntryIdKind;
  readonly value: string;
}

export interface EventSource {
  readonly system: SourceSystem;
  /** Name of the directory in the configuration (e.g. `ad`, `ds`). */
  readonly directory: string;
  /** The server that reported the change (LDAP URL). */
  readonly server: string;
  readonly position: SourcePosition;
}

export interface EntryChangeEvent {
  /** Deterministic: the same change read twice has the same id. */
  readonly eventId: string;
  readonly source: EventSource;
  readonly entryId: EntryId;
  readonly op: ChangeOperation;
  /** DN after the change (for delete: the last known DN). */
  readonly dn: string;
  /** DN before a rename or move; null otherwise. */
  readonly previousDn: string | null;
  /** Object classes when known (empty when the source did not say and no re-fetch happened). */
  readonly objectClasses: readonly string[];
  /** For add and snapshot: every attribute as `replace`. For modify: what changed, value by value. */
  readonly attributes: readonly AttributeChange[];
  /** Who made the change, when the source records it (389-ds/PingDirectory changeInitiatorsName). */
  readonly initiator: string | null;
  /** Source change time, epoch milliseconds, when the source records it. */
  readonly changeTime: number | null;
  /** When the detector read the change, epoch milliseconds. */
  readonly detectedAt: number;
  /**
   * add, modify, rename, snapshot: the entry as the detector read it just after the change (it may already show later
   * changes), limited to the detector's attribute set; every attribute of the set is listed (`[]` values: the entry
   * has none). null when the entry was not read (v1 records, deletes, an entry deleted before it could be read).
   * Never holds password or secret attributes.
   */
  readonly after: EntryImage | null;
  /** delete: the last known state, as far as the source keeps it (only attributes with values). null otherwise. */
  readonly before: EntryImage | null;
}

/** All values of one attribute of an entry. */
export interface EntryAttribute {
  readonly name: string;
  readonly values: readonly AttributeValue[];
}

/** Part of an entry: the values of a set of attributes, one item per attribute. */
export type EntryImage = readonly EntryAttribute[];

/** The latest known state of a source entry (state topics, compacted, keyed by `entryId.value`; deleted: tombstone). */
export interface EntryState {
  readonly entryId: EntryId;
  /** Name of the source directory in the configuration. */
  readonly directory: string;
  readonly dn: string;
  readonly objectClasses: readonly string[];
  /** Every attribute of the detector's attribute set, `[]` values when the entry has none. */
  readonly attributes: EntryImage;
  /** The change event (or resync snapshot) this state was read with. */
  readonly eventId: string;
  readonly changeTime: number | null;
  readonly detectedAt: number;
}

/** What a writer is asked to make true in its destination. */
export const WRITE_OPERATIONS = ['upsert', 'modify', 'delete', 'rename', 'unlink'] as const;
export type WriteOperation = (typeof WRITE_OPERATIONS)[number];

export interface WriteRequest {
  /** Deterministic: `${sourceEventId}/${pipe}/${index}`. */
  readonly requestId: string;
  readonly pipe: string;
  readonly sourceEventId: string;
  /** Stable identity of the source entry; Kafka key, so per-entry order holds. */
  readonly sourceEntryId: EntryId;
  /**
   * upsert: create the entry or make its mapped attributes equal (add, snapshot);
   * modify: apply value-level changes; delete; rename: move to `dn` from `previousDn` (may carry attributes);
   * unlink: remove the DN in `previousDn` from the attributes named in `attributes` of every entry holding it.
   */
  readonly op: WriteOperation;
  /** Destination DN (after the change). */
  readonly dn: string;
  readonly previousDn: string | null;
  /** Destination object classes for creates. */
  readonly objectClasses: readonly string[];
  readonly attributes: readonly AttributeChange[];
  /** Correlation attribute lists, tried in order until one finds exactly one entry. */
  readonly correlation: readonly (readonly string[])[];
  /** Carried from the source event for latency measurement and audit. */
  readonly changeTime: number | null;
  readonly detectedAt: number;
  /** v2: how the writer treats some attributes (authority, bit mask, auxiliary class); absent or empty: all forced. */
  readonly attributePolicies?: readonly AttributePolicy[];
}

/** Who owns a destination attribute's values: force (made equal), keep (set only when empty), merge (union). */
export type Authority = 'force' | 'keep' | 'merge';

export interface AttributePolicy {
  readonly name: string;
  readonly authority: Authority;
  /** Decimal text: only these bits of an integer attribute come from the request. */
  readonly bitMask: string | null;
  /** Added to an existing entry that lacks it when the attribute is written. */
  readonly auxiliaryClass: string | null;
}

/** Why a record left the pipeline, with enough to re-drive it. */
export interface DeadLetter {
  readonly stage: string;
  readonly reason: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly failedAt: number;
}

/** One entry of a link: an EntryId and the (configured) directory it lives in. */
export interface LinkEnd extends EntryId {
  readonly directory: string;
}

/** How a writer came to link a destination entry to a source entry. */
export const LINK_ORIGINS = ['created', 'dn', 'previous-dn', 'correlation', 'resync'] as const;
export type LinkOrigin = (typeof LINK_ORIGINS)[number];

/**
 * A source entry and the destination entry a writer made or found for it (links topic, compacted). Writers act on
 * the linked entry, whatever its DN; a tombstone for the link's key removes it when either entry is deleted.
 */
/**
 * What a writer is about to change in an entry (or create), published before it sends the change (write-receipt): the
 * directory's detector recognizes the change when it reads it back and does not publish it again.
 */
export interface WriteReceipt {
  readonly service: string;
  /** Name of the written directory in the configuration. */
  readonly directory: string;
  readonly requestId: string;
  /** null for an entry being created (its id is not known before the add): matched by `dn`. */
  readonly entryId: EntryId | null;
  readonly dn: string;
  /** When the receipt was published (just before the change was sent), epoch milliseconds. */
  readonly writtenAt: number;
  /** The attributes the change touches; never a password or secret attribute. */
  readonly attributes: readonly ReceiptAttribute[];
  /**
   * The second receipt of a move, published once the server applied it: when it answered (epoch ms). Null on the
   * receipt published before a change (and on every v1 record).
   */
  readonly landedAt: number | null;
}

/** One attribute of a write receipt: what it holds after the change, as far as the writer can tell. */
export interface ReceiptAttribute {
  readonly name: string;
  /** Every value after the change ([]: none); null when unknown (some values changed in an attribute not read whole). */
  readonly values: readonly AttributeValue[] | null;
  /** Values added and removed (DirSync reports linked values one by one). */
  readonly added: readonly AttributeValue[];
  readonly removed: readonly AttributeValue[];
  /** The server sets the attribute to a value of its choosing (pwdLastSet after a password is set). */
  readonly anyValue: boolean;
}

export interface EntryLink {
  readonly pipe: string;
  readonly source: LinkEnd;
  readonly destination: LinkEnd;
  readonly origin: LinkOrigin;
  readonly linkedAt: number;
  readonly linkedBy: string;
}
