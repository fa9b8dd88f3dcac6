import { readFileSync } from 'node:fs';
import { Type } from 'avsc';
import { SCHEMA_REGISTRY, schemaById, schemaFile, type SchemaSubject, type SchemaVersion } from './schemas';

/**
 * The schema id each record's header carries (Confluent framing: magic byte, 4-byte id). Without a schema registry,
 * the repository's fixed ids (SCHEMA_REGISTRY). With one, the ids the registry gave our schemas: loaded once at a
 * service's start (libs/platform schema-registry.ts), before anything is encoded or decoded.
 */
export interface WireIds {
  /** Where the ids come from, for messages. */
  readonly source: string;
  /** The id written for this version; throws when the registry gave it none (it was not loaded at start). */
  toWire(version: SchemaVersion): number;
  /** The version a record's id names, or undefined. */
  fromWire(id: number): SchemaVersion | undefined;
}

export const FIXED_IDS: WireIds = {
  source: 'the fixed schema ids (no schema registry)',
  toWire: (version) => version.id,
  fromWire: (id) => schemaById(id),
};

/** A version the registry holds no id for: the service loaded the registry's ids without it. */
export class UnregisteredSchemaError extends Error {
  constructor(readonly version: SchemaVersion) {
    super(`${version.subject} v${version.version} has no id in the schema registry (not registered, or not looked up at start)`);
    this.name = 'UnregisteredSchemaError';
  }
}

/** Ids a schema registry gave our versions. Several ids may name one version (registries that number per subject). */
export class RegistryIds implements WireIds {
  private readonly byWire = new Map<number, SchemaVersion>();
  private readonly toWireIds = new Map<number, number>();

  constructor(
    readonly source: string,
    entries: Iterable<readonly [wireId: number, version: SchemaVersion]>,
  ) {
    for (const [wireId, version] of entries) {
      const known = this.byWire.get(wireId);
      if (known && known.id !== version.id) {
        throw new Error(`${source}: schema id ${wireId} names both ${known.subject} v${known.version} and ${version.subject} v${version.version}`);
      }
      this.byWire.set(wireId, version);
      // The first id seen for a version is the one written (any of them decodes to the same schema).
      if (!this.toWireIds.has(version.id)) this.toWireIds.set(version.id, wireId);
    }
  }

  toWire(version: SchemaVersion): number {
    const id = this.toWireIds.get(version.id);
    if (id === undefined) throw new UnregisteredSchemaError(version);
    return id;
  }

  fromWire(id: number): SchemaVersion | undefined {
    return this.byWire.get(id);
  }

  /** [wire id, version] pairs, for logs and status. */
  entries(): [number, SchemaVersion][] {
    return [...this.byWire.entries()];
  }
}

let current: WireIds = FIXED_IDS;

/** Sets the ids every encode and decode of this process uses; called once at start, before any record. */
export function useWireIds(ids: WireIds): void {
  current = ids;
}

export function wireIds(): WireIds {
  return current;
}

/** A schema's text as its .avsc file holds it: what is registered. */
export function schemaText(version: SchemaVersion): string {
  return readFileSync(schemaFile(version.subject, version.version), 'utf8');
}

const identities = new Map<number, string>();

/**
 * What makes two schema texts the same schema for us: names, types, fields, defaults and order, not docs nor
 * whitespace (a registry may store a schema reformatted).
 */
export function schemaIdentity(text: string): string {
  return JSON.stringify(withoutDocs(Type.forSchema(JSON.parse(text) as Parameters<typeof Type.forSchema>[0], { wrapUnions: 'auto' }).schema({ exportAttrs: true })));
}

function withoutDocs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDocs);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).flatMap(([key, value]) => (key === 'doc' ? [] : [[key, withoutDocs(value)]])));
}

/** Our version of `subject` whose schema `text` is (as a registry returns it), or undefined. */
export function versionOfText(subject: SchemaSubject, text: string): SchemaVersion | undefined {
  let identity: string;
  try {
    identity = schemaIdentity(text);
  } catch {
    return undefined;
  }
  return SCHEMA_REGISTRY.find((version) => {
    if (version.subject !== subject) return false;
    let known = identities.get(version.id);
    if (known === undefined) {
      known = schemaIdentity(schemaText(version));
      identities.set(version.id, known);
    }
    return known === identity;
  });
}
