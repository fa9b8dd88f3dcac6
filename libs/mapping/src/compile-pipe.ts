/**
 * A pipe prepared once at start: DN patterns and filters parsed, mappings indexed by source attribute,
 * so mapChange does no parsing of configuration per event.
 */
import { type Dn, normalizeDn, normalizeRdn, parseDn } from './dn';
import { compileDnMap, type CompiledDnMap } from './dn-map';
import { type Filter, filterAttributes, parseFilter } from './filter';
import { type AttributePolicy } from '@idsync/contracts';
import { type AttributeMapping, isDefaultPolicy, mappingPolicy, type Pipe, SECRET_ATTRIBUTES, type SyncClass } from './pipe';
import { parseTemplate, type Template } from './template';
import { type TransformStep } from './transforms';

export interface CompiledValueMapping {
  readonly kind: 'direct' | 'dn';
  readonly from: string;
  /** Lower-case `from`. */
  readonly fromKey: string;
  readonly to: string;
}

export interface CompiledTemplateMapping {
  readonly to: string;
  readonly template: Template;
}

export interface CompiledConstantMapping {
  readonly to: string;
  readonly values: readonly string[];
}

/** Where a computed mapping's values come from, before its transforms. */
export type CandidateSource =
  | { readonly kind: 'copy'; readonly from: string; readonly fromKey: string; readonly dn: boolean }
  | { readonly kind: 'template'; readonly template: Template }
  | { readonly kind: 'constant'; readonly values: readonly string[] };

export interface CompiledCandidate {
  /** The condition on the source entry; null: always. */
  readonly when: Filter | null;
  readonly whenText: string | null;
  readonly source: CandidateSource;
  readonly transforms: readonly TransformStep[];
}

/**
 * A destination attribute written whole from a computation: mappings with transforms or a condition, tried in
 * order (the first candidate whose condition holds gives the values).
 */
export interface CompiledComputedMapping {
  readonly to: string;
  readonly candidates: readonly CompiledCandidate[];
  /** Lower-case source attributes any candidate reads (its values, template inputs, condition). */
  readonly inputs: ReadonlySet<string>;
}

export interface CompiledSyncClass {
  readonly name: string;
  readonly evaluationOrder: number;
  readonly config: SyncClass;
  /** Normalized RDN keys of each base DN. */
  readonly includeBaseDns: readonly (readonly string[])[];
  readonly excludeDns: readonly (readonly string[])[];
  readonly excludeAdSystemObjects: boolean;
  readonly filter: Filter | null;
  /** Lower-case source object classes (any of); empty means any. */
  readonly objectClasses: ReadonlySet<string>;
  readonly creates: boolean;
  readonly modifies: boolean;
  readonly deletes: boolean;
  readonly destinationObjectClasses: readonly string[];
  /** Effective direct and dn-valued mappings (class's, then the pipe's for other targets), in that order. */
  readonly valueMappings: readonly CompiledValueMapping[];
  /** The same, by lower-case source attribute. */
  readonly bySource: ReadonlyMap<string, readonly CompiledValueMapping[]>;
  readonly templates: readonly CompiledTemplateMapping[];
  readonly constants: readonly CompiledConstantMapping[];
  /** Mappings with transforms or conditions, one per destination attribute. */
  readonly computed: readonly CompiledComputedMapping[];
  readonly autoMap: boolean;
  /** Lower-case source attributes auto-mapping skips. */
  readonly autoMapExclude: ReadonlySet<string>;
  /** Lower-case destination attributes with an explicit mapping (auto-mapping never overrides them). */
  readonly mappedTargets: ReadonlySet<string>;
  /** Sealed password changes (idsyncPassword) pass through unopened. */
  readonly passwords: boolean;
}

export interface CompiledPipe {
  readonly name: string;
  readonly source: string;
  readonly destination: string;
  readonly config: Pipe;
  /** In ascending evaluationOrder. */
  readonly classes: readonly CompiledSyncClass[];
  readonly dnMaps: readonly CompiledDnMap[];
  readonly correlation: readonly (readonly string[])[];
  /** Destination member attributes mapped with `dn: true`: a delete asks the writer to unlink from these. */
  readonly unlinkAttributes: readonly string[];
  /** Destination attributes (lower case) the writer treats other than forced: sent along with requests writing them. */
  readonly attributePolicies: ReadonlyMap<string, AttributePolicy>;
  /** Normalized DNs whose changes are dropped. */
  readonly ignoreChangesBy: ReadonlySet<string>;
  /**
   * Lower-case source attributes that DN maps, filters and system-object checks read: the source's detector
   * should put them on every event (with their full values), or those checks cannot be decided.
   */
  readonly requiredSourceAttributes: readonly string[];
}

function baseKeys(dn: string): readonly string[] {
  const parsed: Dn = parseDn(dn);
  return parsed.map(normalizeRdn);
}

function compileClass(pipe: Pipe, syncClass: SyncClass): CompiledSyncClass {
  const own = syncClass.attributeMappings;
  const ownTargets = new Set(own.map((mapping) => mapping.to.toLowerCase()));
  const effective: AttributeMapping[] = [...own, ...pipe.attributeMappings.filter((mapping) => !ownTargets.has(mapping.to.toLowerCase()))];

  const valueMappings: CompiledValueMapping[] = [];
  const templates: CompiledTemplateMapping[] = [];
  const constants: CompiledConstantMapping[] = [];
  const bySource = new Map<string, CompiledValueMapping[]>();
  const computedTargets = computedTargetsOf(effective);
  const computed = new Map<string, { to: string; candidates: CompiledCandidate[]; inputs: Set<string> }>();
  for (const mapping of effective) {
    const target = mapping.to.toLowerCase();
    if (computedTargets.has(target)) {
      const entry = computed.get(target) ?? { to: mapping.to, candidates: [], inputs: new Set<string>() };
      computed.set(target, entry);
      const candidate = compileCandidate(mapping);
      entry.candidates.push(candidate);
      if (candidate.when !== null) filterAttributes(candidate.when, entry.inputs);
      if (candidate.source.kind === 'copy') entry.inputs.add(candidate.source.fromKey);
      if (candidate.source.kind === 'template') for (const key of candidate.source.template.attributes) entry.inputs.add(key);
    } else if (mapping.kind === 'template') templates.push({ to: mapping.to, template: parseTemplate(mapping.template) });
    else if (mapping.kind === 'constant') constants.push({ to: mapping.to, values: mapping.values });
    else {
      const compiled: CompiledValueMapping = { kind: mapping.kind, from: mapping.from, fromKey: mapping.from.toLowerCase(), to: mapping.to };
      valueMappings.push(compiled);
      const list = bySource.get(compiled.fromKey);
      if (list) list.push(compiled);
      else bySource.set(compiled.fromKey, [compiled]);
    }
  }
  return {
    name: syncClass.name,
    evaluationOrder: syncClass.evaluationOrder,
    config: syncClass,
    includeBaseDns: syncClass.includeBaseDns.map(baseKeys),
    excludeDns: syncClass.excludeDns.map(baseKeys),
    excludeAdSystemObjects: syncClass.excludeAdSystemObjects,
    filter: syncClass.includeFilter === undefined ? null : parseFilter(syncClass.includeFilter),
    objectClasses: new Set(syncClass.objectClasses.map((name) => name.toLowerCase())),
    creates: syncClass.creates,
    modifies: syncClass.modifies,
    deletes: syncClass.deletes,
    destinationObjectClasses: syncClass.destinationObjectClasses,
    valueMappings,
    bySource,
    templates,
    constants,
    computed: [...computed.values()],
    autoMap: syncClass.autoMapSameNames ?? pipe.autoMapSameNames,
    // Credentials are never copied, whatever the exclusions say (a writer refuses them in the clear).
    autoMapExclude: new Set(['objectclass', ...[...SECRET_ATTRIBUTES, ...pipe.autoMapExclude, ...syncClass.autoMapExclude].map((name) => name.toLowerCase())]),
    mappedTargets: new Set(effective.map((mapping) => mapping.to.toLowerCase())),
    passwords: syncClass.passwords ?? true,
  };
}

/** The pipe's non-default attribute policies, by lower-case destination attribute (the schema made them consistent). */
function policiesOf(config: Pipe): Map<string, AttributePolicy> {
  const out = new Map<string, AttributePolicy>();
  for (const mapping of [...config.attributeMappings, ...config.syncClasses.flatMap((c) => c.attributeMappings)]) {
    const policy = mappingPolicy(mapping);
    if (!isDefaultPolicy(policy)) out.set(mapping.to.toLowerCase(), { name: mapping.to, ...policy });
  }
  return out;
}

/** Lower-case destination attributes written by a computation: a mapping with transforms or a condition. */
function computedTargetsOf(mappings: readonly AttributeMapping[]): Set<string> {
  return new Set(mappings.filter((m) => m.when !== undefined || (m.transforms?.length ?? 0) > 0).map((m) => m.to.toLowerCase()));
}

function compileCandidate(mapping: AttributeMapping): CompiledCandidate {
  const source: CandidateSource =
    mapping.kind === 'template'
      ? { kind: 'template', template: parseTemplate(mapping.template) }
      : mapping.kind === 'constant'
        ? { kind: 'constant', values: mapping.values }
        : { kind: 'copy', from: mapping.from, fromKey: mapping.from.toLowerCase(), dn: mapping.kind === 'dn' };
  return { when: mapping.when === undefined ? null : parseFilter(mapping.when), whenText: mapping.when ?? null, source, transforms: mapping.transforms ?? [] };
}

/**
 * Prepares a validated pipe (the output of `pipeSchema`). Throws the parsers' errors (InvalidDnError,
 * InvalidDnPatternError, InvalidFilterError, InvalidTemplateError) only for input that bypassed the schema.
 */
export function compilePipe(config: Pipe): CompiledPipe {
  const classes = [...config.syncClasses].sort((a, b) => a.evaluationOrder - b.evaluationOrder).map((syncClass) => compileClass(config, syncClass));
  const dnMaps = config.dnMaps.map(compileDnMap);

  const members = new Set(config.memberAttributes.map((name) => name.toLowerCase()));
  const unlink = new Map<string, string>();
  for (const syncClass of classes) {
    for (const mapping of syncClass.valueMappings) {
      const key = mapping.to.toLowerCase();
      if (mapping.kind === 'dn' && members.has(key) && !unlink.has(key)) unlink.set(key, mapping.to);
    }
  }

  const required = new Set<string>();
  for (const map of dnMaps) for (const key of map.attributes) required.add(key);
  for (const syncClass of classes) {
    if (syncClass.filter) filterAttributes(syncClass.filter, required);
    if (syncClass.objectClasses.size > 0) required.add('objectclass');
    if (syncClass.excludeAdSystemObjects) required.add('iscriticalsystemobject');
  }

  return {
    name: config.name,
    source: config.source,
    destination: config.destination,
    config,
    classes,
    dnMaps,
    correlation: config.correlation,
    unlinkAttributes: [...unlink.values()],
    attributePolicies: policiesOf(config),
    ignoreChangesBy: new Set(config.ignoreChangesBy.map((dn) => normalizeDn(dn))),
    requiredSourceAttributes: [...required].sort(),
  };
}
