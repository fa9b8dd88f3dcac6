import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, types as avroTypes } from 'avsc';

/** Record families, one Avro schema history each: schemas/<subject>/v<version>.avsc. */
export const SCHEMA_SUBJECTS = ['entry-change', 'write-request', 'dead-letter', 'link', 'entry-state', 'write-receipt'] as const;
export type SchemaSubject = (typeof SCHEMA_SUBJECTS)[number];

export interface SchemaVersion {
  /** Written into every record's header; fixed forever once published. */
  readonly id: number;
  readonly subject: SchemaSubject;
  readonly version: number;
}

/**
 * Schema ids assigned in the repository, so no registry has to run. Append a row when adding a version;
 * never renumber or reuse an id: records already on the topics carry them.
 */
export const SCHEMA_REGISTRY: readonly SchemaVersion[] = [
  { id: 1, subject: 'entry-change', version: 1 },
  { id: 2, subject: 'write-request', version: 1 },
  { id: 3, subject: 'dead-letter', version: 1 },
  { id: 4, subject: 'link', version: 1 },
  { id: 5, subject: 'entry-change', version: 2 },
  { id: 6, subject: 'entry-state', version: 1 },
  { id: 7, subject: 'write-request', version: 2 },
  { id: 8, subject: 'write-receipt', version: 1 },
  { id: 9, subject: 'write-receipt', version: 2 },
];

/** The .avsc files ship with the package: found from src/ (ts-jest) and dist/ (build) alike. */
export const SCHEMAS_DIR = join(__dirname, '..', 'schemas');

export function schemaFile(subject: SchemaSubject, version: number): string {
  return join(SCHEMAS_DIR, subject, `v${version}.avsc`);
}

export function schemaById(id: number): SchemaVersion | undefined {
  return SCHEMA_REGISTRY.find((row) => row.id === id);
}

/** The newest version of a subject: what encoders write and decoders read into. */
export function currentSchema(subject: SchemaSubject): SchemaVersion {
  const newest = SCHEMA_REGISTRY.filter((row) => row.subject === subject).toSorted((a, b) => b.version - a.version)[0];
  if (!newest) throw new Error(`no schema registered for subject ${subject}`);
  return newest;
}

/** The parts of avsc's internal reader that the array guard below touches. */
interface Tap {
  readonly buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
}
type Reader = { _read(tap: Tap): unknown };

/**
 * avsc trusts an array's item count: a garbage body of five bytes can claim 2^31 items and exhaust memory before any
 * error, so the record is never dead-lettered. Every array item in our schemas takes at least one byte, so a count
 * larger than the bytes left is garbage; this is avsc's own loop with that one check.
 */
class BoundedArrayType extends avroTypes.ArrayType {
  _read(this: { itemsType: Reader }, tap: Tap): unknown[] {
    const items: unknown[] = [];
    let count: number;
    while ((count = tap.readLong())) {
      if (count < 0) {
        count = -count;
        tap.skipLong(); // block size in bytes
      }
      const left = tap.buf.length - tap.pos;
      if (count > left) throw new Error(`array block claims ${count} items with ${Math.max(left, 0)} bytes left`);
      for (; count > 0; count--) items.push(this.itemsType._read(tap));
    }
    return items;
  }
}

const isArraySchema = (schema: unknown): boolean => typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'array';

type Resolver = { _read(tap: Tap): unknown };
type Branch = { readonly typeName: string; createResolver(writer: unknown, opts: unknown): Resolver };

/**
 * Avro resolution reads a writer's union branch with the first reader branch able to read it, and a string can read
 * bytes: avsc would turn every binary value (objectGUID, jpegPhoto) of an older record into text. The branch of the
 * writer's own type is tried first, as Java's Avro does; avsc's rule applies when there is none.
 */
class ExactBranchFirstUnionType extends avroTypes.UnwrappedUnionType {
  _update(this: { types: Branch[] }, resolver: Resolver, writer: { typeName: string }, opts: unknown): void {
    const exact = this.types.find((branch) => branch.typeName === writer.typeName);
    if (exact) {
      const read = exact.createResolver(writer, opts);
      resolver._read = (tap) => read._read(tap);
      return;
    }
    (avroTypes.UnwrappedUnionType.prototype as unknown as { _update: (...args: unknown[]) => void })._update.call(this, resolver, writer, opts);
  }
}

/** A union of text and binary values, the one union whose branches Avro resolution confuses. */
const isTextOrBytesUnion = (schema: unknown): boolean => Array.isArray(schema) && schema.includes('string') && schema.includes('bytes');

const types = new Map<number, Type>();

/** The parsed Avro type of a registered schema, read from its file once. */
export function avroType(schema: SchemaVersion): Type {
  let type = types.get(schema.id);
  if (!type) {
    const file = schemaFile(schema.subject, schema.version);
    type = Type.forSchema(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof Type.forSchema>[0], {
      wrapUnions: 'auto',
      omitRecordMethods: true,
      typeHook: (node, opts) => {
        if (isArraySchema(node)) return new BoundedArrayType(node, opts);
        if (isTextOrBytesUnion(node)) return new ExactBranchFirstUnionType(node, opts);
        return undefined;
      },
    });
    types.set(schema.id, type);
  }
  return type;
}
