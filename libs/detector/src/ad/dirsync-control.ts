import { Ber, BerReader, BerWriter, Control } from 'ldapts';

/** LDAP_SERVER_DIRSYNC_OID: Active Directory's replication-style change stream (MS-ADTS 3.1.1.3.4.1.3). */
export const DIRSYNC_OID = '1.2.840.113556.1.4.841';
/** LDAP_SERVER_SHOW_DELETED_OID: lets a search see tombstones (used by the re-fetch). */
export const SHOW_DELETED_OID = '1.2.840.113556.1.4.417';

/** Request flags (MS-ADTS 3.1.1.3.4.1.3). 0x80000000 does not fit a signed int32: BER carries it as -2147483648. */
export const DIRSYNC_FLAGS = {
  /** LDAP_DIRSYNC_OBJECT_SECURITY: results only for what the account may read, no Replicating Directory Changes needed. */
  objectSecurity: 0x1,
  /** LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER: parents before children (Samba ignores it). */
  ancestorsFirstOrder: 0x800,
  /** LDAP_DIRSYNC_PUBLIC_DATA_ONLY. */
  publicDataOnly: 0x2000,
  /** LDAP_DIRSYNC_INCREMENTAL_VALUES: linked attributes (member) as value deltas `member;range=1-1` / `member;range=0-0`. */
  incrementalValues: -0x80000000,
} as const;

export interface DirSyncRequestValue {
  /** OR of DIRSYNC_FLAGS (as signed int32). */
  readonly flags: number;
  /** Upper bound for the size of one response; 0 lets the server choose. */
  readonly maxBytes: number;
  /** Empty for a first, full pass. */
  readonly cookie: Buffer;
}

export interface DirSyncResponseValue {
  /** Non-zero when the server has more changes for the same cookie (Samba always answers 0). */
  readonly moreResults: boolean;
  readonly cookie: Buffer;
}

/** Signed int32 view of a flags word, so 0x80000000 encodes as the 4-byte INTEGER AD expects. */
function toInt32(value: number): number {
  return value | 0;
}

/** BER of the request control value: SEQUENCE { INTEGER flags, INTEGER maxBytes, OCTET STRING cookie }. */
export function encodeDirSyncRequest(value: DirSyncRequestValue): Buffer {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeInt(toInt32(value.flags));
  writer.writeInt(value.maxBytes);
  writer.writeBuffer(value.cookie, Ber.OctetString);
  writer.endSequence();
  return writer.buffer;
}

/** Parses the response control value: SEQUENCE { INTEGER moreResults, INTEGER unused, OCTET STRING cookie }. */
export function decodeDirSyncResponse(bytes: Buffer): DirSyncResponseValue {
  return readResponse(new BerReader(bytes));
}

function readResponse(reader: BerReader): DirSyncResponseValue {
  let fields: { more: number | null; unused: number | null; cookie: Buffer | null };
  try {
    if (reader.readSequence() === null) throw new DirSyncControlDecodeError('no SEQUENCE');
    fields = { more: reader.readInt(), unused: reader.readInt(), cookie: reader.readString(Ber.OctetString, true) };
  } catch (error) {
    if (error instanceof DirSyncControlDecodeError) throw error;
    throw new DirSyncControlDecodeError(error instanceof Error ? error.message : String(error));
  }
  const { more, unused, cookie } = fields;
  if (more === null || unused === null || cookie === null) throw new DirSyncControlDecodeError('truncated value');
  return { moreResults: more !== 0, cookie: Buffer.from(cookie) };
}

/** The response control could not be read: a server bug or a non-AD server; retrying cannot help. */
export class DirSyncControlDecodeError extends Error {
  readonly retriable = false;
  constructor(problem: string) {
    super(`DirSync response control is malformed: ${problem}`);
    this.name = 'DirSyncControlDecodeError';
  }
}

/**
 * The DirSync request control. ldapts parses a response control with the same OID into the request instance
 * (ControlParser looks the OID up among the request's controls), so after `client.search(...)` `response` holds
 * the server's new cookie. Use one instance per search.
 */
export class DirSyncControl extends Control {
  readonly request: DirSyncRequestValue;
  response: DirSyncResponseValue | undefined;
  /** The response control value as received (for fixtures and diagnostics). */
  rawResponse: Buffer | undefined;

  constructor(request: DirSyncRequestValue) {
    super(DIRSYNC_OID, { critical: true });
    this.request = request;
  }

  protected override writeControl(writer: BerWriter): void {
    writer.writeBuffer(encodeDirSyncRequest(this.request), Ber.OctetString);
  }

  protected override parseControl(reader: BerReader): void {
    this.rawResponse = Buffer.from(reader.remainingBuffer);
    this.response = readResponse(reader);
  }
}

/** Show Deleted: no value; lets a re-fetch find an object that became a tombstone meanwhile. */
export class ShowDeletedControl extends Control {
  constructor() {
    super(SHOW_DELETED_OID, { critical: true });
  }
}
