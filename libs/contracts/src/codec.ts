import { type Type } from 'avsc';
import { UndecodableRecordError, UnencodableRecordError, type UndecodableReason } from './errors';
import { avroType, currentSchema, type SchemaSubject, type SchemaVersion } from './schemas';
import { wireIds } from './wire-ids';
import { type DeadLetter, type EntryChangeEvent, type EntryLink, type EntryState, type EventSource, type SourcePosition, type SourceSystem, type WriteReceipt, type WriteRequest } from './types';

/** Confluent schema-registry framing: magic byte 0, 4-byte big-endian schema id, then the Avro binary body. */
const MAGIC_BYTE = 0x00;
const HEADER_LENGTH = 5;

export function encodeEntryChange(event: EntryChangeEvent): Buffer {
  return encode('entry-change', entryChangeToWire(event));
}

export function decodeEntryChange(record: Buffer | null): EntryChangeEvent {
  return entryChangeFromWire(decode('entry-change', record) as EntryChangeWire);
}

export function encodeWriteRequest(request: WriteRequest): Buffer {
  return encode('write-request', { ...request, attributePolicies: request.attributePolicies ?? [] });
}

/** A request; `attributePolicies` only when it has some (a v1 record, or a v2 one without, has none). */
export function decodeWriteRequest(record: Buffer | null): WriteRequest {
  const { attributePolicies, ...request } = decode('write-request', record) as WriteRequest;
  return attributePolicies === undefined || attributePolicies.length === 0 ? request : { ...request, attributePolicies };
}

export function encodeDeadLetter(letter: DeadLetter): Buffer {
  return encode('dead-letter', letter);
}

export function decodeDeadLetter(record: Buffer | null): DeadLetter {
  return decode('dead-letter', record) as DeadLetter;
}

export function encodeEntryState(state: EntryState): Buffer {
  return encode('entry-state', state);
}

/** A state-topic value; a tombstone (null value) is a deleted entry, whose id is the record key. */
export function decodeEntryState(record: Buffer | null): EntryState {
  return decode('entry-state', record) as EntryState;
}

export function encodeLink(link: EntryLink): Buffer {
  return encode('link', link);
}

/** A links-topic value; a tombstone (null value) is not a link: read its key with parseLinkKey. */
export function decodeLink(record: Buffer | null): EntryLink {
  return decode('link', record) as EntryLink;
}

export function encodeWriteReceipt(receipt: WriteReceipt): Buffer {
  return encode('write-receipt', receipt);
}

export function decodeWriteReceipt(record: Buffer | null): WriteReceipt {
  return decode('write-receipt', record) as WriteReceipt;
}

function encode(subject: SchemaSubject, value: unknown): Buffer {
  const schema = currentSchema(subject);
  const type = avroType(schema);
  let body: Buffer;
  try {
    body = type.toBuffer(value);
  } catch (cause) {
    throw new UnencodableRecordError(subject, describeInvalid(type, value), { cause });
  }
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeUInt32BE(wireIds().toWire(schema), 1);
  return Buffer.concat([header, body]);
}

function decode(subject: SchemaSubject, record: Buffer | null): unknown {
  const fail = (reason: UndecodableReason, detail: string, cause?: unknown) => new UndecodableRecordError(subject, reason, detail, cause === undefined ? undefined : { cause });

  if (record === null || record.length === 0) throw fail('empty', 'the record has no value');
  if (record[0] !== MAGIC_BYTE) {
    throw fail('magic-byte', `first byte is 0x${record.subarray(0, 1).toString('hex')}, expected 0x00`);
  }
  if (record.length < HEADER_LENGTH) throw fail('truncated', `${record.length} bytes, shorter than the 5-byte header`);
  const id = record.readUInt32BE(1);
  const ids = wireIds();
  const writer = ids.fromWire(id);
  if (!writer) throw fail('unknown-schema-id', `schema id ${id} is not one of ${ids.source}`);
  if (writer.subject !== subject) {
    throw fail('wrong-subject', `schema id ${id} is ${writer.subject} v${writer.version}, not ${subject}`);
  }

  const reader = currentSchema(subject);
  let decoded: { value: unknown; offset: number };
  try {
    decoded = avroType(reader).decode(record, HEADER_LENGTH, resolver(writer, reader));
  } catch (cause) {
    throw fail('malformed', `body is not a ${subject} v${writer.version} record: ${String(cause)}`, cause);
  }
  if (decoded.offset < 0) throw fail('truncated', `body ends before the ${subject} v${writer.version} record does`);
  if (decoded.offset !== record.length) {
    const left = record.length - decoded.offset;
    throw fail('malformed', `${left} bytes left after the ${subject} v${writer.version} record`);
  }
  return plain(decoded.value);
}

const resolvers = new Map<number, ReturnType<Type['createResolver']>>();

/** Records written with an older (or newer) version are read into the current reader schema. */
function resolver(writer: SchemaVersion, reader: SchemaVersion): ReturnType<Type['createResolver']> | undefined {
  if (writer.id === reader.id) return undefined;
  let found = resolvers.get(writer.id);
  if (!found) {
    found = avroType(reader).createResolver(avroType(writer));
    resolvers.set(writer.id, found);
  }
  return found;
}

/**
 * avsc decodes records into generated classes and wrapped union branches; callers get plain data. Arrays are fresh
 * from the decoder and converted in place, records copied key by key: this runs on every record a stage reads, and
 * its entry lists for Object.fromEntries were about a third of what a decode allocated (sampled, in the ds-writer).
 */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) value[index] = plain(value[index]);
    return value;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = plain((value as Record<string, unknown>)[key]);
  return copy;
}

function describeInvalid(type: Type, value: unknown): string[] {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path, invalid, expected) => {
      const shown = Buffer.isBuffer(invalid) ? `${invalid.length} bytes` : (JSON.stringify(invalid) ?? String(invalid));
      problems.push(`${path.join('.') || '(record)'}: ${shown} is not a valid ${describeType(expected)}`);
    },
  });
  return problems.length > 0 ? problems : ['value does not match the schema'];
}

function describeType(type: Type): string {
  const branches = (type as { types?: Type[] }).types;
  return branches ? branches.map(describeType).join(' or ') : (type.name ?? type.typeName);
}

/*
 * Where the wire differs from the TypeScript shape: Avro enum symbols cannot hold '-', and the position is a union
 * of records (the branch name says the kind) rather than an object with a `kind` field.
 */

const SYSTEM_SYMBOLS = {
  'active-directory': 'active_directory',
  ldap: 'ldap',
} as const satisfies Record<SourceSystem, string>;

const POSITION_BRANCHES = {
  'change-number': 'io.idsync.ChangeNumberPosition',
  dirsync: 'io.idsync.DirSyncPosition',
  snapshot: 'io.idsync.SnapshotPosition',
} as const satisfies Record<SourcePosition['kind'], string>;

type PositionWire = Readonly<Record<string, object>>;

interface EventSourceWire extends Omit<EventSource, 'system' | 'position'> {
  readonly system: string;
  readonly position: PositionWire;
}

interface EntryChangeWire extends Omit<EntryChangeEvent, 'source'> {
  readonly source: EventSourceWire;
}

function entryChangeToWire(event: EntryChangeEvent): EntryChangeWire {
  const { kind, ...position } = event.source.position;
  return {
    ...event,
    source: {
      ...event.source,
      system: SYSTEM_SYMBOLS[event.source.system],
      position: { [POSITION_BRANCHES[kind]]: position },
    },
  };
}

function entryChangeFromWire(wire: EntryChangeWire): EntryChangeEvent {
  const { system, position, ...source } = wire.source;
  const [branch, fields] = Object.entries(position)[0] ?? [];
  return {
    ...wire,
    source: {
      ...source,
      system: keyOf(SYSTEM_SYMBOLS, system),
      position: { kind: keyOf(POSITION_BRANCHES, branch), ...fields } as SourcePosition,
    },
  };
}

/** Reverse lookup in a wire table; a miss means the reader schema and the table disagree, a bug. */
function keyOf<K extends string>(table: Readonly<Record<K, string>>, wire: string | undefined): K {
  const found = (Object.keys(table) as K[]).find((key) => table[key] === wire);
  if (found === undefined) throw new Error(`no TypeScript value for wire value ${String(wire)}`);
  return found;
}
