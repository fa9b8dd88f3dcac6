export { AD_SYSTEM_CONTAINERS, AD_SYSTEM_PARTITIONS, AD_WELL_KNOWN_USERS_OBJECTS, adSystemObjectReason } from './ad-system-objects';
export { compilePipe, type CompiledConstantMapping, type CompiledPipe, type CompiledSyncClass, type CompiledTemplateMapping, type CompiledValueMapping } from './compile-pipe';
export {
  type Ava,
  type Dn,
  dnEquals,
  escapeDnValue,
  formatDn,
  formatRdn,
  InvalidDnError,
  isDescendantOf,
  isInSubtree,
  normalizeAttributeType,
  normalizeDn,
  normalizeDnValue,
  normalizeRdn,
  parentDn,
  parseDn,
  type Rdn,
} from './dn';
export { compileDnMap, type CompiledDnMap, type DnMapResult, type DnMapRule, dnMapTargetBases, InvalidDnPatternError, mapDn, matchDnPattern, type ValueLookup } from './dn-map';
export { EntryView } from './entry-view';
export { AD_MATCHING_RULES, type AssertionValue, evaluateFilter, type Filter, filterAttributes, type FilterEntry, FilterResult, InvalidFilterError, matchesFilter, parseFilter } from './filter';
export { DROP_REASONS, type DropReason, mapChange, MappingError, type MapResult, type ScopeChange } from './map-change';
export {
  ATTRIBUTE_MAPPING_KINDS,
  type AttributeMapping,
  type AttributeMappingKind,
  isDefaultPolicy,
  mappingPolicy,
  type MappingOptions,
  type MappingPolicy,
  attributeMappingSchema,
  DEFAULT_MEMBER_ATTRIBUTES,
  type DnMap,
  dnMapSchema,
  isPasswordAttribute,
  isSecretAttribute,
  PASSWORD_ATTRIBUTES,
  PASSWORD_PSEUDO_ATTRIBUTE,
  type Pipe,
  type PipeInput,
  pipeSchema,
  pipesSchema,
  SECRET_ATTRIBUTES,
  type SyncClass,
  syncClassSchema,
} from './pipe';
export { destinationBinding } from './password-binding';
export { encodePipeControl, parsePipeControl, PIPE_CONTROL_KEY_PREFIX, type PipeControl, pipeControlKey, PipeControls } from './pipe-control';
export { InvalidTemplateError, parseTemplate, type Template } from './template';
export { checkWriteRequest, inWriteScope, type RefusedWrite, WRITE_REFUSALS, type WriteRefusal, type WriteScope, writeScope, writeScopes } from './write-scope';
export { type AfterImageAttributes, afterImageAttributes, type AfterImageOptions, type AttributeNeed, ConflictingAfterImageError, isImagedAttribute } from './after-image-attributes';
export { applyTransforms, mergeBits, readTime, TIME_FORMATS, type TimeFormat, TransformError, type TransformStep, writeTime } from './transforms';
export { transformsSchema, transformStepSchema } from './transform-config';
