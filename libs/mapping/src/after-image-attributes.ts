/**
 * Which attributes a detector reads into each event's after-image: what the sync pipes reading its directory need
 * (class criteria, filters, mappings, templates, DN maps), plus what subscribers ask for, minus what is denied.
 * Password and secret attributes are never in it, whatever the configuration says.
 */
import { type CompiledPipe } from './compile-pipe';
import { type Filter } from './filter';
import { parseTemplate } from './template';
import { isPasswordAttribute, isSecretAttribute, PASSWORD_PSEUDO_ATTRIBUTE } from './pipe';

export interface AfterImageOptions {
  /** Attributes subscribers of the change and state topics want, on top of what the pipes need. */
  readonly include?: readonly string[];
  /** Attributes never read into an after-image (large or sensitive ones a pipe does not need). */
  readonly exclude?: readonly string[];
}

/** Why an attribute is in the set: the first reason found, for `idsync` output and configuration errors. */
export interface AttributeNeed {
  readonly name: string;
  readonly neededBy: string;
}

export interface AfterImageAttributes {
  /**
   * Every user attribute the entry has (LDAP `*`), minus `excluded`: a class of a pipe auto-maps same-named
   * attributes, so any attribute may be needed.
   */
  readonly allUserAttributes: boolean;
  /** Attributes read by name, in the spelling first met (configuration order), each once; sorted case-blind. */
  readonly names: readonly string[];
  /** Lower-case names never in an image: the deny list and every secret attribute. */
  readonly excluded: ReadonlySet<string>;
  /** Why each named attribute is in the set. */
  readonly needs: readonly AttributeNeed[];
}

/**
 * An `exclude` entry removes an attribute a pipe needs: the pipe could not decide its class or render its template
 * from the after-image. The configuration says both; refuse it.
 */
export class ConflictingAfterImageError extends Error {
  constructor(readonly conflicts: readonly AttributeNeed[]) {
    super(
      `afterImage.exclude removes attributes the sync pipes need: ${conflicts.map((need) => `${need.name} (${need.neededBy})`).join(', ')}; ` + 'remove them from the exclude list or change the pipes',
    );
    this.name = 'ConflictingAfterImageError';
  }
}

const PASSWORD_PSEUDO_KEY = PASSWORD_PSEUDO_ATTRIBUTE.toLowerCase();

function isNeverImaged(name: string): boolean {
  return isSecretAttribute(name) || isPasswordAttribute(name) || name.toLowerCase() === PASSWORD_PSEUDO_KEY;
}

/**
 * The after-image attribute set of the detector reading `directory`, from every pipe whose source it is.
 * Throws ConflictingAfterImageError when `exclude` names an attribute a pipe needs.
 */
export function afterImageAttributes(directory: string, pipes: readonly CompiledPipe[], options: AfterImageOptions = {}): AfterImageAttributes {
  const spelled = new Map<string, AttributeNeed>();
  const need = (name: string, neededBy: string) => {
    const key = name.toLowerCase();
    if (!spelled.has(key)) spelled.set(key, { name, neededBy });
  };
  let allUserAttributes = false;
  for (const pipe of pipes) {
    if (pipe.source !== directory) continue;
    need('objectClass', `pipe ${pipe.name}: sync class selection`);
    for (const map of pipe.dnMaps) {
      // The pattern as written spells its placeholders; the compiled map keeps lower-case keys.
      for (const part of parseTemplate(map.to, { captures: true }).parts) {
        if (part.kind === 'attribute') need(part.name, `pipe ${pipe.name}: DN map to '${map.to}'`);
      }
    }
    for (const syncClass of pipe.classes) {
      const where = `pipe ${pipe.name}, class ${syncClass.name}`;
      if (syncClass.filter) for (const name of filterAttributeNames(syncClass.filter)) need(name, `${where}: includeFilter`);
      if (syncClass.excludeAdSystemObjects) need('isCriticalSystemObject', `${where}: excludeAdSystemObjects`);
      for (const mapping of syncClass.valueMappings) need(mapping.from, `${where}: mapping to ${mapping.to}`);
      for (const mapping of syncClass.templates) {
        for (const part of mapping.template.parts) if (part.kind === 'attribute') need(part.name, `${where}: template for ${mapping.to}`);
      }
      for (const mapping of syncClass.computed) {
        for (const candidate of mapping.candidates) {
          if (candidate.when !== null) for (const name of filterAttributeNames(candidate.when)) need(name, `${where}: condition of the mapping to ${mapping.to}`);
          if (candidate.source.kind === 'copy') need(candidate.source.from, `${where}: mapping to ${mapping.to}`);
          if (candidate.source.kind === 'template') {
            for (const part of candidate.source.template.parts) if (part.kind === 'attribute') need(part.name, `${where}: template for ${mapping.to}`);
          }
        }
      }
      if (syncClass.autoMap) allUserAttributes = true;
    }
  }
  for (const name of options.include ?? []) need(name, 'afterImage.include');

  const denied = new Set((options.exclude ?? []).map((name) => name.toLowerCase()));
  const conflicts = [...spelled.entries()].filter(([key, why]) => denied.has(key) && why.neededBy !== 'afterImage.include').map(([, why]) => why);
  if (conflicts.length > 0) throw new ConflictingAfterImageError(conflicts);

  const needs = [...spelled.entries()]
    .filter(([key, why]) => !denied.has(key) && !isNeverImaged(why.name))
    .map(([, why]) => why)
    .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
  const excluded = new Set(denied);
  return { allUserAttributes, names: needs.map((why) => why.name), excluded, needs };
}

/** The attributes a filter reads, as the filter spells them. */
function* filterAttributeNames(filter: Filter): Generator<string> {
  switch (filter.type) {
    case 'and':
    case 'or':
      for (const part of filter.filters) yield* filterAttributeNames(part);
      break;
    case 'not':
      yield* filterAttributeNames(filter.filter);
      break;
    default:
      yield filter.attribute;
  }
}

/** Whether a returned attribute belongs in the image (a `*` read returns everything; options like `;binary` ignored). */
export function isImagedAttribute(set: AfterImageAttributes, name: string): boolean {
  if (isNeverImaged(name)) return false;
  return !set.excluded.has((name.split(';')[0] ?? '').toLowerCase());
}
