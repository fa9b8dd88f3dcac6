import { Ber, type BerReader, BerWriter, Control } from 'ldapts';

/** SearchResultEntry's tag: [APPLICATION 4], constructed. */
const SEARCH_RESULT_ENTRY = 0x64;
const SEQUENCE = Ber.Sequence | Ber.Constructor;
const SET = Ber.Set | Ber.Constructor;

/** An entry as a post-read control returns it: its DN and the requested attributes' raw values. */
export interface PostReadEntry {
  readonly dn: string;
  readonly attributes: ReadonlyMap<string, readonly Buffer[]>;
}

/**
 * RFC 4527's post-read control: the server returns the entry as the operation left it, in the same response —
 * a create learns the new entry's id (entryUUID) without reading it again. Sent non-critical: a server without
 * the control ignores it, and `entry` stays undefined (the caller then reads the entry).
 */
export class PostReadControl extends Control {
  static readonly type = '1.3.6.1.1.13.2';
  entry: PostReadEntry | undefined;

  constructor(readonly attributes: readonly string[]) {
    super(PostReadControl.type, { critical: false });
  }

  /** The control value: AttributeSelection ::= SEQUENCE OF LDAPString. */
  override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    for (const name of this.attributes) value.writeString(name);
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }

  /** The response value: a SearchResultEntry. */
  override parseControl(reader: BerReader): void {
    this.entry = parseSearchResultEntry(reader);
  }
}

/** Decodes a SearchResultEntry (dn, then a sequence of attribute type and value set); undefined when it is not one. */
export function parseSearchResultEntry(reader: BerReader): PostReadEntry | undefined {
  if (reader.peek() !== SEARCH_RESULT_ENTRY || reader.readSequence(SEARCH_RESULT_ENTRY) === null) return undefined;
  const dn = reader.readString() ?? '';
  const attributes = new Map<string, Buffer[]>();
  if (reader.readSequence(SEQUENCE) === null) return { dn, attributes };
  const end = reader.offset + reader.length;
  while (reader.offset < end) {
    reader.readSequence(SEQUENCE);
    const type = reader.readString() ?? '';
    reader.readSequence(SET);
    const valuesEnd = reader.offset + reader.length;
    const values: Buffer[] = [];
    while (reader.offset < valuesEnd) values.push(Buffer.from(reader.readString(Ber.OctetString, true) ?? Buffer.alloc(0)));
    attributes.set(type, [...(attributes.get(type) ?? []), ...values]);
  }
  return { dn, attributes };
}
