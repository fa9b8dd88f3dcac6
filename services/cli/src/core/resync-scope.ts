import { entryIdAttribute } from '@idsync/detector';
import { type DirectoryKind } from '@idsync/config';
import { type CompiledPipe, type CompiledSyncClass, filterAttributes, formatDn, InvalidFilterError, isInSubtree, mapDn, normalizeDn, parentDn, parseDn, parseFilter } from '@idsync/mapping';

/** What a resync reads at the source and where its destination entries are. Pure: computed from the pipe and options. */
export interface ResyncScope {
  readonly classes: readonly CompiledSyncClass[];
  /** Subtrees searched at the source (no one inside another). */
  readonly sourceBases: readonly string[];
  /** LDAP filter text for the source search: the operator's filter AND the selected classes' object classes. */
  readonly sourceFilter: string;
  /** Attributes to request at the source (`*` when a class auto-maps). */
  readonly sourceAttributes: readonly string[];
  /** Where destination entries of this pipe live: the deletion candidates' scope. Null when it cannot be derived. */
  readonly destinationBases: readonly string[] | null;
  /** Destination object classes the selected classes create (any of): the destination read's filter. */
  readonly destinationObjectClasses: readonly string[];
  /** Attributes to request at the destination. */
  readonly destinationAttributes: readonly string[];
}

export interface ResyncScopeOptions {
  /** Sync class names; empty = every class of the pipe. */
  readonly classes: readonly string[];
  readonly baseDn?: string | undefined;
  readonly filter?: string | undefined;
  readonly sourceKind: DirectoryKind;
  readonly sourceBaseDn: string;
  readonly destinationKind: DirectoryKind;
}

export class ResyncScopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResyncScopeError';
  }
}

/** Structural classes every entry has: they say nothing about which sync class made it. */
const GENERIC_CLASSES = new Set(['top', 'person', 'organizationalperson']);

/** An entry with any of these object classes (names from the configuration); every entry when there are none. */
export function objectClassFilter(classes: readonly string[]): string {
  if (classes.length === 0) return '(objectClass=*)';
  return classes.length === 1 ? `(objectClass=${classes[0]})` : `(|${classes.map((c) => `(objectClass=${c})`).join('')})`;
}

export function resyncScope(pipe: CompiledPipe, options: ResyncScopeOptions): ResyncScope {
  const unknown = options.classes.filter((name) => !pipe.classes.some((c) => c.name === name));
  if (unknown.length > 0) {
    throw new ResyncScopeError(`pipe '${pipe.name}' has no sync class ${unknown.map((n) => `'${n}'`).join(', ')} (it has: ${pipe.classes.map((c) => c.name).join(', ')})`);
  }
  const classes = options.classes.length === 0 ? pipe.classes : pipe.classes.filter((c) => options.classes.includes(c.name));

  let userFilter = '';
  if (options.filter !== undefined && options.filter.trim() !== '') {
    try {
      parseFilter(options.filter.trim());
    } catch (error) {
      throw new ResyncScopeError(`--filter ${JSON.stringify(options.filter)} is not an LDAP filter: ${error instanceof InvalidFilterError ? error.message : String(error)}`);
    }
    userFilter = options.filter.trim().startsWith('(') ? options.filter.trim() : `(${options.filter.trim()})`;
  }
  const objectClasses = classes.some((c) => c.objectClasses.size === 0) ? [] : [...new Set(classes.flatMap((c) => [...c.objectClasses]))].sort();
  const classFilter = objectClasses.length === 0 ? '' : objectClassFilter(objectClasses);
  const parts = [userFilter, classFilter].filter((p) => p !== '');
  const sourceFilter = parts.length === 0 ? '(objectClass=*)' : parts.length === 1 ? (parts[0] as string) : `(&${parts.join('')})`;

  const sourceBases = chooseBases(classes, options);
  const sourceAttributes = attributesToRead(pipe, classes, options.sourceKind);
  const destinationObjectClasses = [...new Set(classes.flatMap((c) => c.destinationObjectClasses.filter((oc) => !GENERIC_CLASSES.has(oc.toLowerCase()))))];
  const destinationAttributes = new Set<string>(['objectClass', entryIdAttribute(options.destinationKind)]);
  for (const c of classes) {
    for (const m of c.valueMappings) destinationAttributes.add(m.to);
    for (const t of c.templates) destinationAttributes.add(t.to);
    for (const k of c.constants) destinationAttributes.add(k.to);
    for (const m of c.computed) destinationAttributes.add(m.to);
  }
  for (const list of pipe.correlation) for (const name of list) destinationAttributes.add(name);
  if (classes.some((c) => c.autoMap)) destinationAttributes.add('*');
  if (options.destinationKind === 'active-directory') destinationAttributes.add('userAccountControl');

  return {
    classes,
    sourceBases,
    sourceFilter,
    sourceAttributes,
    destinationBases: destinationBasesOf(pipe, sourceBases),
    destinationObjectClasses,
    destinationAttributes: [...destinationAttributes],
  };
}

/** The operator's base DN (which must lie inside what the classes read), else the classes' own bases. */
function chooseBases(classes: readonly CompiledSyncClass[], options: ResyncScopeOptions): string[] {
  const classBases = classes.flatMap((c) => c.config.includeBaseDns);
  if (options.baseDn !== undefined) {
    let base;
    try {
      base = parseDn(options.baseDn);
    } catch (error) {
      throw new ResyncScopeError(`--base-dn ${JSON.stringify(options.baseDn)} is not a DN: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!isInSubtree(base, parseDn(options.sourceBaseDn))) throw new ResyncScopeError(`--base-dn ${options.baseDn} is not inside the source directory's base ${options.sourceBaseDn}`);
    return [options.baseDn];
  }
  const bases = classBases.length === 0 || classes.some((c) => c.config.includeBaseDns.length === 0) ? [options.sourceBaseDn] : classBases;
  // Drop a base that lies inside another: one search covers it.
  const unique = [...new Map(bases.map((b) => [normalizeDn(b), b])).values()];
  return unique.filter((b) => !unique.some((other) => other !== b && normalizeDn(other) !== normalizeDn(b) && isInSubtree(parseDn(b), parseDn(other))));
}

function attributesToRead(pipe: CompiledPipe, classes: readonly CompiledSyncClass[], kind: DirectoryKind): string[] {
  // Computed mappings' inputs by name: operational ones (nsAccountLock) are not in `*`.
  const computedInputs = classes.flatMap((c) => c.computed.flatMap((m) => [...m.inputs]));
  if (classes.some((c) => c.autoMap)) return [...new Set(['*', entryIdAttribute(kind), ...computedInputs])];
  const names = new Set<string>(['objectClass', entryIdAttribute(kind), ...pipe.requiredSourceAttributes, ...computedInputs]);
  for (const c of classes) {
    for (const m of c.valueMappings) names.add(m.from);
    for (const t of c.templates) for (const a of t.template.attributes) names.add(a);
    if (c.filter) for (const a of filterAttributes(c.filter)) names.add(a);
  }
  // Mapping names are lower-cased in places; the server answers with its own spelling either way.
  return [...new Map([...names].map((n) => [n.toLowerCase(), n])).values()];
}

/**
 * Where the pipe puts entries read under the source bases: a child of each base run through the DN maps, minus the
 * child's RDN. Null when a base does not map (a DN map that reads attributes, or none matching).
 */
function destinationBasesOf(pipe: CompiledPipe, sourceBases: readonly string[]): string[] | null {
  const out: string[] = [];
  for (const base of sourceBases) {
    const probe = parseDn(`cn=idsync-scope-probe,${base}`);
    const result = mapDn(pipe.dnMaps, probe);
    if (result.kind !== 'mapped') return null;
    const parent = parentDn(result.dn);
    if (parent === null || parent.length === 0) return null;
    out.push(formatDn(parent));
  }
  return out;
}
