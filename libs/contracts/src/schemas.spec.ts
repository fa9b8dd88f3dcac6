import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from 'avsc';
import { SCHEMA_REGISTRY, SCHEMA_SUBJECTS, SCHEMAS_DIR, currentSchema, schemaById, type SchemaSubject } from './schemas';

/** Everything under schemas/, read from disk, so a new version or subject is covered without touching this file. */
const onDisk = readdirSync(SCHEMAS_DIR).map((subject) => ({
  subject,
  versions: readdirSync(join(SCHEMAS_DIR, subject))
    .map((file) => /^v(\d+)\.avsc$/.exec(file)?.[1])
    .map(Number)
    .sort((a, b) => a - b),
}));

type Schema = Parameters<typeof Type.forSchema>[0];

const readSchema = (subject: string, version: number): Schema => JSON.parse(readFileSync(join(SCHEMAS_DIR, subject, `v${version}.avsc`), 'utf8')) as Schema;

describe('schema files', () => {
  it('exist for every subject, and nothing else is in schemas/', () => {
    expect(onDisk.map((dir) => dir.subject).sort()).toEqual([...SCHEMA_SUBJECTS].sort());
  });

  it.each(onDisk)('for $subject are numbered v1, v2... without gaps', ({ versions }) => {
    expect(versions).toEqual(versions.map((_v, i) => i + 1));
  });

  it('each have exactly one fixed schema id, and every id has a file', () => {
    const files = onDisk.flatMap(({ subject, versions }) => versions.map((version) => `${subject} v${version}`));
    const registered = SCHEMA_REGISTRY.map(({ subject, version }) => `${subject} v${version}`);
    expect(registered.sort()).toEqual(files.sort());
    expect(new Set(SCHEMA_REGISTRY.map((row) => row.id)).size).toBe(SCHEMA_REGISTRY.length);
  });

  it('keep the ids records already carry', () => {
    expect(schemaById(1)).toEqual({ id: 1, subject: 'entry-change', version: 1 });
    expect(schemaById(2)).toEqual({ id: 2, subject: 'write-request', version: 1 });
    expect(schemaById(3)).toEqual({ id: 3, subject: 'dead-letter', version: 1 });
    expect(schemaById(4)).toEqual({ id: 4, subject: 'link', version: 1 });
    expect(schemaById(5)).toEqual({ id: 5, subject: 'entry-change', version: 2 });
    expect(schemaById(6)).toEqual({ id: 6, subject: 'entry-state', version: 1 });
  });

  it.each(onDisk)('for $subject: the newest version is the one codecs write', ({ subject, versions }) => {
    expect(currentSchema(subject as SchemaSubject).version).toBe(versions.at(-1));
  });

  it.each(onDisk)('for $subject document every type and field for subscribers', ({ subject, versions }) => {
    for (const version of versions) expect(undocumented(readSchema(subject, version))).toEqual([]);
  });

  it.each(onDisk)('for $subject make nullable fields ["null", T] with default null', ({ subject, versions }) => {
    for (const version of versions) expect(badNullables(readSchema(subject, version))).toEqual([]);
  });
});

describe('schema compatibility', () => {
  it.each(onDisk)('$subject: every version resolves against every earlier one, as reader and as writer', ({ subject, versions }) => {
    const types = new Map(versions.map((version) => [version, Type.forSchema(readSchema(subject, version))]));
    for (const [newer, newType] of types) {
      for (const [older, oldType] of types) {
        if (older > newer) continue;
        // Failures name the pair and carry avsc's reason.
        expect({ reader: newer, writer: older, result: resolves(newType, oldType) }).toMatchObject({ result: true });
        expect({ reader: older, writer: newer, result: resolves(oldType, newType) }).toMatchObject({ result: true });
      }
    }
  });
});

function resolves(reader: Type, writer: Type): true | string {
  try {
    reader.createResolver(writer);
    return true;
  } catch (error) {
    return String(error);
  }
}

/** Every object in a schema's JSON (types and fields), with where it sits. */
function* nodes(json: unknown, path = '$'): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(json)) {
    for (const [i, item] of json.entries()) yield* nodes(item, `${path}[${i}]`);
  } else if (json !== null && typeof json === 'object') {
    yield [path, json as Record<string, unknown>];
    for (const [key, value] of Object.entries(json)) yield* nodes(value, `${path}.${key}`);
  }
}

/** Fields and named types without a doc. */
const undocumented = (schema: unknown): string[] => [...nodes(schema)].filter(([, node]) => 'name' in node && typeof node.doc !== 'string').map(([path]) => path);

/** Fields typed as a union with null that does not put null first with default null. */
const badNullables = (schema: unknown): string[] =>
  [...nodes(schema)]
    .filter(([, { type }]) => Array.isArray(type) && type.includes('null'))
    .filter(([, { type, default: fallback }]) => (type as unknown[])[0] !== 'null' || fallback !== null)
    .map(([path]) => path);
