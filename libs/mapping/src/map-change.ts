/**
 * The mapper's pure core: one source event and one compiled pipe in, the destination's write requests out.
 * No I/O, no clock, no randomness: replaying an event gives the same requests, with the same ids.
 *
 * - add -> upsert of every mapped attribute (snapshot too; a snapshot in a class that allows modifies but not
 *   creates becomes a modify replacing every mapped attribute, so it never creates).
 * - modify -> modify with the value-level changes mapped (add / delete / replace kept); a modify whose after-image
 *   puts the entry out of every class it could have been in leaves the scope (leftScope), like a rename out of it;
 *   one whose after-image puts it in a class it may not have been in before enters it: an upsert of the whole entry
 *   from the after-image (mayHaveBeenOutOfScope), in a class that allows creates.
 * - rename -> rename from the mapped previous DN (null when the event has none: the writer finds the entry by
 *   its link) to the mapped DN, with any changed attributes mapped, except
 *   the destination's naming (RDN) attributes, which the rename itself sets.
 * - delete -> delete of the mapped DN, plus an `unlink` when the pipe maps member attributes with `dn: true`,
 *   so the writer removes the deleted entry's DN from groups.
 *
 * Sync classes, DN maps and templates read the entry through EntryView: the after-image (v2) where it lists an
 * attribute, else what the changes state.
 *
 * Templates on a modify: a template is re-rendered (as a replace) only when one of its inputs changed and the
 * full value of every input is known (from the after-image, or a replace). When any input is unknown (not read,
 * and not replaced by the event), the template's attribute is left alone and a warning says so: guessing would
 * overwrite the destination with half a value.
 *
 * Member-like DN values (`dn: true`) that no DN map can map (or whose map needs attributes of the referenced
 * entry) are dropped from the request and listed in `warnings`; the rest of the event still maps.
 * Password attributes (unicodePwd, userPassword) pass through as opaque values: never read, never logged.
 * The sealed password pseudo-attribute (idsyncPassword) passes through unmapped and unopened, under its own name,
 * for every sync class that keeps `passwords: true` (the default): the writer knows its destination's attribute.
 */
import { type AttributeChange, type AttributePolicy, type AttributeValue, type EntryChangeEvent, type EntryImage, type WriteOperation, type WriteRequest } from '@idsync/contracts';
import { adSystemObjectReason } from './ad-system-objects';
import { type CompiledCandidate, type CompiledComputedMapping, type CompiledPipe, type CompiledSyncClass, type CompiledValueMapping } from './compile-pipe';
import { PASSWORD_PSEUDO_ATTRIBUTE } from './pipe';
import { type Dn, formatDn, InvalidDnError, normalizeDn, normalizeRdn, parseDn } from './dn';
import { type CompiledDnMap, type DnMapResult, mapDn } from './dn-map';
import { EntryView } from './entry-view';
import { evaluateFilter, type FilterEntry, FilterResult } from './filter';
import { type PlaceholderPart, renderTemplate, type Template } from './template';
import { applyTransforms, TransformError } from './transforms';

/** Why an event produced no write; a closed set, so callers can count drops by reason. */
export const DROP_REASONS = ['ignored-initiator', 'no-sync-class', 'operation-disabled', 'nothing-to-write'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * A change that moved the entry across the pipe's scope. `left`: a rename out of every sync class (by its DN, or as
 * far as the event can tell, from a DN the detector did not know), or a modify after which the entry no longer
 * satisfies any class's object classes or filter: the requests are the pipe's `onLeaveScope` for the linked entry
 * only (LEAVE_SCOPE_HEADER). `entered`: a rename from outside every class (or from an unknown DN) into one; it
 * names no previous DN (the detector publishes a snapshot of the entry right after it, which creates it). Or a modify
 * whose after-image puts the entry in a class it may have been outside of before: an upsert of the whole entry from
 * the after-image, which the mapper service marks as a full read (SNAPSHOT_HEADER), like that snapshot's.
 */
export type ScopeChange = 'left' | 'entered';

export type MapResult =
  | {
      readonly kind: 'mapped';
      readonly syncClass: string;
      readonly requests: readonly WriteRequest[];
      /** Values left out (unmappable member DNs, templates not re-rendered); the requests are still valid. */
      readonly warnings: readonly string[];
      readonly scopeChange?: ScopeChange;
    }
  | { readonly kind: 'dropped'; readonly reason: DropReason; readonly detail: string; readonly syncClass: string | null };

/** The event cannot be mapped with this configuration; retrying the same event gives the same failure. */
export class MappingError extends Error {
  readonly retriable = false as const;

  constructor(
    readonly eventId: string,
    readonly pipe: string,
    /** The source entry's DN as the event gives it. */
    readonly dn: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot map event ${eventId} (entry '${dn}') through pipe '${pipe}': ${problem}`, options);
    this.name = 'MappingError';
  }
}

const NO_WARNINGS: readonly string[] = [];
const PASSWORD_KEY = PASSWORD_PSEUDO_ATTRIBUTE.toLowerCase();
const NO_CLASSES: readonly string[] = [];

interface Context {
  readonly event: EntryChangeEvent;
  readonly pipe: CompiledPipe;
  readonly view: EntryView;
  readonly syncClass: CompiledSyncClass;
  warnings: string[] | null;
}

function warn(context: Context, message: string): void {
  (context.warnings ??= []).push(message);
}

function fail(event: EntryChangeEvent, pipe: CompiledPipe, problem: string, cause?: unknown): never {
  throw new MappingError(event.eventId, pipe.name, event.dn, problem, cause === undefined ? undefined : { cause });
}

function parseEventDn(event: EntryChangeEvent, pipe: CompiledPipe, text: string, what: string): Dn {
  try {
    return parseDn(text);
  } catch (error) {
    if (error instanceof InvalidDnError) fail(event, pipe, `${what} is not a valid DN: ${error.problem}`, error);
    throw error;
  }
}

function describeMap(map: CompiledDnMap, rule: number): string {
  return `DN map ${rule + 1} ('${map.from}' -> '${map.to}')`;
}

/** The entry's destination DN; throws MappingError when no map matches or the matching map lacks a value. */
function mapEntryDn(event: EntryChangeEvent, pipe: CompiledPipe, view: EntryView, dn: Dn, what: string): Dn {
  if (pipe.dnMaps.length === 0) return dn;
  const result = mapDn(pipe.dnMaps, dn, (key) => view.first(key));
  if (result.kind === 'mapped') return result.dn;
  if (result.kind === 'no-match') {
    fail(event, pipe, `no DN map matched the ${what} '${formatDn(dn)}' (patterns: ${pipe.dnMaps.map((map) => `'${map.from}'`).join(', ')})`);
  }
  const map = pipe.dnMaps[result.rule] as CompiledDnMap;
  fail(
    event,
    pipe,
    result.problem === 'missing'
      ? `${describeMap(map, result.rule)} needs attribute ${result.attribute}, which the event does not carry with its full value`
      : `${describeMap(map, result.rule)} needs attribute ${result.attribute}, whose value is binary`,
  );
}

function inSubtree(keys: readonly string[], base: readonly string[]): boolean {
  const offset = keys.length - base.length;
  if (offset < 0) return false;
  for (let k = base.length - 1; k >= 0; k--) if (keys[offset + k] !== base[k]) return false;
  return true;
}

type Selection =
  | { readonly syncClass: CompiledSyncClass }
  /** `decided`: every class missed for a known reason (not an attribute or object class the event lacks). */
  | { readonly syncClass: null; readonly detail: string; readonly decided: boolean };

interface Miss {
  readonly reason: string;
  /** The event cannot say (a filter reads attributes it does not carry, object classes unknown). */
  readonly undecided?: true;
}

/**
 * The first class (in evaluation order) whose criteria all hold. A criterion the event cannot decide
 * (UNDEFINED) does not select, except on a delete: a delete carries little of its entry, and deleting a
 * destination entry that does not exist is harmless, while skipping a real delete leaves an orphan.
 */
function selectSyncClass(pipe: CompiledPipe, dn: Dn, view: EntryView): Selection {
  const keys = dn.map(normalizeRdn);
  const lenient = view.event.op === 'delete';
  const misses: string[] = [];
  let decided = true;
  for (const syncClass of pipe.classes) {
    const miss = classMiss(syncClass, dn, keys, view, lenient);
    if (miss === null) return { syncClass };
    misses.push(`${syncClass.name}: ${miss.reason}`);
    if (miss.undecided) decided = false;
  }
  return { syncClass: null, detail: `no sync class matched (${misses.join('; ')})`, decided };
}

function classMiss(syncClass: CompiledSyncClass, dn: Dn, keys: readonly string[], view: FilterEntry, lenient: boolean): Miss | null {
  if (syncClass.includeBaseDns.length > 0 && !syncClass.includeBaseDns.some((base) => inSubtree(keys, base))) {
    return { reason: 'not under any includeBaseDns' };
  }
  if (syncClass.excludeDns.some((base) => inSubtree(keys, base))) return { reason: 'under an excludeDns entry' };
  if (syncClass.excludeAdSystemObjects) {
    const reason = adSystemObjectReason(dn, view);
    if (reason !== null) return { reason: `AD system object (${reason})` };
  }
  if (syncClass.objectClasses.size > 0) {
    const classes = view.values('objectclass');
    if (classes === undefined || classes.length === 0) {
      if (!lenient) return { reason: 'object classes unknown (the event carries none)', undecided: true };
    } else if (!classes.some((value) => typeof value === 'string' && syncClass.objectClasses.has(value.toLowerCase()))) {
      return { reason: `none of the object classes ${[...syncClass.objectClasses].join(', ')}` };
    }
  }
  if (syncClass.filter !== null) {
    const result = evaluateFilter(syncClass.filter, view);
    if (result === FilterResult.False) return { reason: 'includeFilter is FALSE' };
    if (result === FilterResult.Undefined && !lenient) return { reason: 'includeFilter is UNDEFINED (reads attributes the event does not carry)', undecided: true };
  }
  return null;
}

function dropped(reason: DropReason, detail: string, syncClass: string | null = null): MapResult {
  return { kind: 'dropped', reason, detail, syncClass };
}

function isIgnoredInitiator(pipe: CompiledPipe, initiator: string | null): boolean {
  if (initiator === null || pipe.ignoreChangesBy.size === 0) return false;
  let key: string;
  try {
    key = normalizeDn(initiator);
  } catch {
    key = initiator.trim().toLowerCase();
  }
  return pipe.ignoreChangesBy.has(key);
}

/** Maps one source event through a compiled pipe. Throws MappingError when the event cannot be mapped. */
export function mapChange(event: EntryChangeEvent, pipe: CompiledPipe): MapResult {
  if (isIgnoredInitiator(pipe, event.initiator)) {
    return dropped('ignored-initiator', `made by ${event.initiator ?? ''}, listed in ignoreChangesBy`);
  }
  const dn = parseEventDn(event, pipe, event.dn, 'the entry DN');
  const view = new EntryView(event);
  const selection = selectSyncClass(pipe, dn, view);
  if (selection.syncClass === null) {
    if (event.op === 'rename' && selection.decided) return leftScopeByRename(event, pipe, view, selection.detail);
    // A v1 modify (no after-image) is dropped as before: from its changes alone, an entry that left a class cannot
    // be told from one that was never in it.
    if (event.op === 'modify' && event.after !== null && selection.decided) {
      const left = classLeftByModify(pipe, dn, view);
      if (left !== null) return leftScope(event, pipe, view, dn, left);
    }
    return dropped('no-sync-class', selection.detail);
  }
  const syncClass = selection.syncClass;
  const context: Context = { event, pipe, view, syncClass, warnings: null };

  switch (event.op) {
    case 'add':
      if (!syncClass.creates) return dropped('operation-disabled', `sync class '${syncClass.name}' does not allow creates`, syncClass.name);
      return mapped(context, [request(context, 0, 'upsert', mapEntryDn(event, pipe, view, dn, 'entry DN'), null, fullAttributes(context, 'add'))]);
    case 'snapshot': {
      if (!syncClass.modifies) {
        // An upsert could overwrite an existing entry, and a modify could not create one: neither is "creates only".
        return dropped('operation-disabled', `sync class '${syncClass.name}' does not allow modifies, which a snapshot may need`, syncClass.name);
      }
      const op: WriteOperation = syncClass.creates ? 'upsert' : 'modify';
      return mapped(context, [request(context, 0, op, mapEntryDn(event, pipe, view, dn, 'entry DN'), null, fullAttributes(context, 'snapshot'))]);
    }
    case 'modify': {
      if (!syncClass.modifies) return dropped('operation-disabled', `sync class '${syncClass.name}' does not allow modifies`, syncClass.name);
      const target = mapEntryDn(event, pipe, view, dn, 'entry DN');
      if (syncClass.creates && mayHaveBeenOutOfScope(pipe, dn, view)) {
        const requests = [request(context, 0, 'upsert', target, null, fullAttributes(context, 'entered'))];
        return { kind: 'mapped', syncClass: syncClass.name, requests, warnings: context.warnings ?? NO_WARNINGS, scopeChange: 'entered' };
      }
      const attributes = changedAttributes(context);
      if (attributes.length === 0) {
        const why = context.warnings ? ` (${context.warnings.join('; ')})` : '';
        return dropped('nothing-to-write', `no mapped attribute changed${why}`, syncClass.name);
      }
      return mapped(context, [request(context, 0, 'modify', target, null, attributes)]);
    }
    case 'rename': {
      if (!syncClass.modifies) {
        return dropped('operation-disabled', `sync class '${syncClass.name}' does not allow modifies (renames)`, syncClass.name);
      }
      const target = mapEntryDn(event, pipe, view, dn, 'entry DN');
      // Moved in from outside every class: nothing there to rename from (the detector's snapshot creates the entry).
      const from = event.previousDn === null ? null : parseEventDn(event, pipe, event.previousDn, 'previousDn');
      const enteredScope = from !== null && selectSyncClass(pipe, from, view).syncClass === null;
      // Without a previous DN (a rename read after a detector restart) the writer finds the entry by its link.
      const previous = from === null || enteredScope ? null : mapEntryDn(event, pipe, view, from, 'previous DN');
      // The rename itself sets the destination's naming attributes; changing them as well would fail.
      const naming = new Set([...(target[0] ?? []), ...(previous?.[0] ?? [])].map((ava) => ava.type.toLowerCase()));
      const attributes = changedAttributes(context).filter((change) => !naming.has(change.name.toLowerCase()));
      const requests = [request(context, 0, 'rename', target, previous, attributes)];
      return enteredScope ? { kind: 'mapped', syncClass: syncClass.name, requests, warnings: context.warnings ?? NO_WARNINGS, scopeChange: 'entered' } : mapped(context, requests);
    }
    case 'delete': {
      if (!syncClass.deletes) return dropped('operation-disabled', `sync class '${syncClass.name}' does not allow deletes`, syncClass.name);
      const target = mapEntryDn(event, pipe, view, dn, 'entry DN');
      const requests = [request(context, 0, 'delete', target, null, [])];
      if (pipe.unlinkAttributes.length > 0) {
        const text = formatDn(target);
        const unlink: AttributeChange[] = pipe.unlinkAttributes.map((name) => ({ name, op: 'delete', values: [text] }));
        requests.push(request(context, 1, 'unlink', target, target, unlink, NO_CLASSES));
      }
      return mapped(context, requests);
    }
  }
}

/**
 * A rename out of every sync class (decided by DN, classes or filter, not by missing attributes). When the
 * previous DN was in a class, or is unknown (a rename read after a detector restart), the entry left the scope.
 * From a known DN outside every class: nothing.
 */
function leftScopeByRename(event: EntryChangeEvent, pipe: CompiledPipe, view: EntryView, detail: string): MapResult {
  const from = event.previousDn === null ? null : parseEventDn(event, pipe, event.previousDn, 'previousDn');
  const before = from === null ? null : selectSyncClass(pipe, from, view);
  if (before !== null && before.syncClass === null) return dropped('no-sync-class', detail);
  return leftScope(event, pipe, view, from, before?.syncClass ?? null);
}

/**
 * The class a modify took its entry out of (no class takes it now, for decided reasons): the first that could have
 * held it before the change, judged with the attributes the modify changed as unknown. Null when none could, because
 * a criterion the modify did not touch rules each out (its DN, a filter on other attributes): the entry was never in
 * scope, and is dropped rather than sent to the writer as a leave for an entry that has no link.
 */
function classLeftByModify(pipe: CompiledPipe, dn: Dn, view: EntryView): CompiledSyncClass | null {
  const keys = dn.map(normalizeRdn);
  // Lenient: an UNDEFINED criterion (one reading a changed attribute) may have held.
  return pipe.classes.find((syncClass) => classMiss(syncClass, dn, keys, unchangedView(view), true) === null) ?? null;
}

/**
 * Whether a modify may have brought its entry into scope (the mirror of classLeftByModify): it has an after-image,
 * and with the attributes it changed taken as unknown, no class's criteria all hold — each one misses, or is
 * UNDEFINED because it reads a changed attribute. A class that holds without the changed attributes held the entry
 * before the change too: the modify is an ordinary one. A v1 modify (no after-image) never enters.
 */
function mayHaveBeenOutOfScope(pipe: CompiledPipe, dn: Dn, view: EntryView): boolean {
  if (view.event.after === null) return false;
  const keys = dn.map(normalizeRdn);
  const unchanged = unchangedView(view);
  // Strict: only TRUE says the entry was in a class before.
  return !pipe.classes.some((syncClass) => classMiss(syncClass, dn, keys, unchanged, false) === null);
}

/** The entry as far as the attributes a modify did not change tell: the state before the change, where it is known. */
function unchangedView(view: EntryView): FilterEntry {
  return { values: (key) => (view.changes(key) === undefined ? view.values(key) : undefined) };
}

/**
 * The linked destination entry leaves the pipe: deleted or unlinked (`onLeaveScope`), by link only — an entry not
 * linked to this one is never touched. `from`: the source DN the entry had in scope, when known; `syncClass`: the
 * class it was in, when known.
 */
function leftScope(event: EntryChangeEvent, pipe: CompiledPipe, view: EntryView, from: Dn | null, syncClass: CompiledSyncClass | null): MapResult {
  if (syncClass !== null && !syncClass.deletes && pipe.config.onLeaveScope === 'delete') {
    return dropped('operation-disabled', `left the scope of sync class '${syncClass.name}', which does not allow deletes`, syncClass.name);
  }
  // The destination DN the entry had, when its DN in scope maps; else the source DN, for messages only.
  let target: Dn;
  try {
    target = from === null ? parseEventDn(event, pipe, event.dn, 'the entry DN') : mapEntryDn(event, pipe, view, from, 'DN in scope');
  } catch (error) {
    if (!(error instanceof MappingError)) throw error;
    target = parseEventDn(event, pipe, event.dn, 'the entry DN');
  }
  const context = { event, pipe };
  const requests = [request(context, 0, 'delete', target, null, [], NO_CLASSES)];
  if (pipe.config.onLeaveScope === 'delete' && from !== null && pipe.unlinkAttributes.length > 0) {
    const text = formatDn(target);
    requests.push(
      request(
        context,
        1,
        'unlink',
        target,
        target,
        pipe.unlinkAttributes.map((name) => ({ name, op: 'delete', values: [text] })),
        NO_CLASSES,
      ),
    );
  }
  return { kind: 'mapped', syncClass: syncClass?.name ?? '(left scope)', requests, warnings: NO_WARNINGS, scopeChange: 'left' };
}

function mapped(context: Context, requests: WriteRequest[]): MapResult {
  return { kind: 'mapped', syncClass: context.syncClass.name, requests, warnings: context.warnings ?? NO_WARNINGS };
}

function request(
  context: Pick<Context, 'event' | 'pipe'> & { readonly syncClass?: CompiledSyncClass },
  index: number,
  op: WriteOperation,
  dn: Dn,
  previousDn: Dn | null,
  attributes: readonly AttributeChange[],
  objectClasses: readonly string[] = context.syncClass?.destinationObjectClasses ?? NO_CLASSES,
): WriteRequest {
  const { event, pipe } = context;
  const policies: AttributePolicy[] = [];
  if (pipe.attributePolicies.size > 0) {
    const named = new Set(attributes.map((change) => change.name.toLowerCase()));
    for (const [key, policy] of pipe.attributePolicies) if (named.has(key)) policies.push(policy);
  }
  return {
    requestId: `${event.eventId}/${pipe.name}/${index}`,
    pipe: pipe.name,
    sourceEventId: event.eventId,
    sourceEntryId: event.entryId,
    op,
    dn: formatDn(dn),
    previousDn: previousDn === null ? null : formatDn(previousDn),
    objectClasses,
    attributes,
    correlation: pipe.correlation,
    changeTime: event.changeTime,
    detectedAt: event.detectedAt,
    ...(policies.length > 0 ? { attributePolicies: policies } : {}),
  };
}

function autoMapped(syncClass: CompiledSyncClass, key: string): boolean {
  return syncClass.autoMap && !syncClass.autoMapExclude.has(key) && !syncClass.mappedTargets.has(key);
}

/**
 * Every mapped attribute of a whole entry, each as a replace. A snapshot (resync) makes the destination equal:
 * attributes the source lacks are cleared. An add only adds: when the destination entry already exists (an echo of
 * our own create in two-way sync, read by the detector a moment ago, or an entry joined by correlation), whatever it
 * holds beyond the add came from elsewhere, often later, so nothing is cleared and DN-valued lists (member) gain
 * values only.
 *
 * `entered` (a modify into scope): the whole entry is the modify's after-image, mapped as a snapshot (an attribute it
 * lists as `[]` is cleared), plus the sealed password the modify itself carries (an image never holds one). An
 * explicitly mapped attribute the image does not list (a detector reading another configuration's set) is left alone
 * rather than cleared, and a template that cannot be rendered is left out; both with a warning.
 */
function fullAttributes(context: Context, mode: 'add' | 'snapshot' | 'entered'): AttributeChange[] {
  const { event, view, syncClass } = context;
  const out: AttributeChange[] = [];
  const image = mode === 'entered' ? imageIndex(event.after ?? []) : null;
  const entry = image === null ? event.attributes : imageEntry(image);
  for (const change of entry) {
    if (change.op === 'delete') continue;
    const key = change.name.toLowerCase();
    if (key === PASSWORD_KEY) {
      if (syncClass.passwords) out.push({ name: PASSWORD_PSEUDO_ATTRIBUTE, op: 'replace', values: change.values });
      continue;
    }
    const mappings = syncClass.bySource.get(key);
    if (mappings !== undefined) {
      for (const mapping of mappings) {
        const values = mapValues(context, mapping, change.values);
        if (mode === 'add' && isMemberList(context.pipe, mapping.to)) {
          if (values.length > 0) out.push({ name: mapping.to, op: 'add', values });
        } else out.push({ name: mapping.to, op: 'replace', values });
      }
    }
    if (autoMapped(syncClass, key)) out.push(change.op === 'replace' ? change : { name: change.name, op: 'replace', values: change.values });
  }
  if (image !== null && syncClass.passwords) {
    // As on a modify: the sealed password change the event carries, unopened.
    for (const change of event.attributes) {
      if (change.name.toLowerCase() === PASSWORD_KEY) out.push({ name: PASSWORD_PSEUDO_ATTRIBUTE, op: change.op, values: change.values });
    }
  }
  if (mode === 'snapshot') {
    for (const mapping of syncClass.valueMappings) {
      if (view.changes(mapping.fromKey) === undefined) out.push({ name: mapping.to, op: 'replace', values: [] });
    }
  }
  if (image !== null) {
    for (const mapping of syncClass.valueMappings) {
      const listed = image.get(mapping.fromKey);
      if (listed === undefined) warn(context, `${mapping.to} left alone: the after-image does not list ${mapping.from}`);
      else if (listed.values.length === 0) out.push({ name: mapping.to, op: 'replace', values: [] });
    }
  }
  for (const mapping of syncClass.templates) {
    const value = renderTemplate(mapping.template, resolver(view));
    if (value === null) {
      const missing = unresolvedInput(mapping.template, view);
      if (image !== null) {
        warn(context, `${mapping.to} left out: template '${mapping.template.text}' needs attribute ${missing.name}, which ${missing.binary ? 'is binary' : 'the after-image does not give'}`);
        continue;
      }
      fail(event, context.pipe, `template '${mapping.template.text}' for ${mapping.to} needs attribute ${missing.name}, ` + `which ${missing.binary ? 'is binary' : 'the entry does not have'}`);
    }
    out.push({ name: mapping.to, op: 'replace', values: [value] });
  }
  for (const mapping of syncClass.constants) out.push({ name: mapping.to, op: 'replace', values: mapping.values });
  for (const mapping of syncClass.computed) {
    const result = compute(context, mapping);
    if (result.kind === 'unknown') warn(context, `${mapping.to} left alone: ${result.why}`);
    else if (result.kind === 'values' && !(mode === 'add' && result.values.length === 0)) out.push({ name: mapping.to, op: 'replace', values: result.values });
  }
  return out;
}

/** An after-image by lower-case attribute name (an image lists each attribute once). */
function imageIndex(image: EntryImage): ReadonlyMap<string, { readonly name: string; readonly values: readonly AttributeValue[] }> {
  const out = new Map<string, { name: string; values: readonly AttributeValue[] }>();
  for (const attribute of image) out.set(attribute.name.toLowerCase(), attribute);
  return out;
}

/** The attributes an after-image shows the entry has, as a whole-entry event states them (each a replace). */
function imageEntry(image: ReadonlyMap<string, { readonly name: string; readonly values: readonly AttributeValue[] }>): AttributeChange[] {
  const out: AttributeChange[] = [];
  // Never a password from an image (detectors leave them out): only the event's own sealed change travels.
  for (const [key, { name, values }] of image) if (values.length > 0 && key !== PASSWORD_KEY) out.push({ name, op: 'replace', values });
  return out;
}

/** The value-level changes of a modify or rename, mapped; templates as described at the top of this file. */
function changedAttributes(context: Context): AttributeChange[] {
  const { event, view, syncClass } = context;
  const out: AttributeChange[] = [];
  for (const change of event.attributes) {
    const key = change.name.toLowerCase();
    if (key === PASSWORD_KEY) {
      if (syncClass.passwords) out.push({ name: PASSWORD_PSEUDO_ATTRIBUTE, op: change.op, values: change.values });
      continue;
    }
    const mappings = syncClass.bySource.get(key);
    if (mappings !== undefined) {
      for (const mapping of mappings) {
        const values = mapValues(context, mapping, change.values);
        // Values that all mapped to nothing (unmappable member DNs) are no change; a delete that names no values
        // removes the attribute (LDAP's delete of a whole attribute, as 389-ds records it) and is one.
        if (values.length === 0 && change.values.length > 0 && change.op !== 'replace') continue;
        out.push({ name: mapping.to, op: change.op, values });
      }
    }
    if (autoMapped(syncClass, key)) out.push(change);
  }
  for (const mapping of syncClass.templates) {
    if (!mapping.template.attributes.some((key) => view.changes(key) !== undefined)) continue;
    const value = renderTemplate(mapping.template, resolver(view));
    if (value === null) {
      const missing = unresolvedInput(mapping.template, view);
      warn(context, `${mapping.to} not updated: template '${mapping.template.text}' needs the full value of ${missing.name}, which the event does not state`);
      continue;
    }
    out.push({ name: mapping.to, op: 'replace', values: [value] });
  }
  // A password change carries every bit-masked attribute too (userAccountControl's disabled bit): the writer that
  // enables an account on its first password then knows whether the source has it locked.
  const passwordChanged = syncClass.passwords && event.attributes.some((change) => change.name.toLowerCase() === PASSWORD_KEY);
  for (const mapping of syncClass.computed) {
    const masked = passwordChanged && (context.pipe.attributePolicies.get(mapping.to.toLowerCase())?.bitMask ?? null) !== null;
    if (!masked && ![...mapping.inputs].some((key) => view.changes(key) !== undefined)) continue;
    const result = compute(context, mapping);
    if (result.kind === 'unknown') warn(context, `${mapping.to} not updated: ${result.why}`);
    else if (result.kind === 'values') out.push({ name: mapping.to, op: 'replace', values: result.values });
  }
  return out;
}

type Computed = { readonly kind: 'values'; readonly values: readonly AttributeValue[] } | { readonly kind: 'unknown'; readonly why: string } | { readonly kind: 'none' };

/**
 * A computed attribute's values: from the first candidate whose condition holds, transformed. `unknown` when the
 * event does not give what a condition or an input needs (never a guess); `none` when no condition holds (the
 * attribute is left as it is). A value a transform cannot read fails the event (dead-lettered with the reason).
 */
function compute(context: Context, mapping: CompiledComputedMapping): Computed {
  const { view, event, pipe } = context;
  for (const candidate of mapping.candidates) {
    if (candidate.when !== null) {
      const holds = evaluateFilter(candidate.when, view);
      if (holds === FilterResult.Undefined) return { kind: 'unknown', why: `condition ${candidate.whenText} cannot be decided (the event does not give the attributes it reads)` };
      if (holds === FilterResult.False) continue;
    }
    const input = candidateValues(context, candidate);
    if (input.kind !== 'values' || candidate.transforms.length === 0) return input;
    if (input.values.some((value) => typeof value !== 'string')) return { kind: 'unknown', why: 'a binary value cannot be transformed' };
    try {
      return { kind: 'values', values: applyTransforms(candidate.transforms, input.values as readonly string[]) };
    } catch (error) {
      if (!(error instanceof TransformError)) throw error;
      fail(event, pipe, `${mapping.to}: ${error.message}`, error);
    }
  }
  return { kind: 'none' };
}

function candidateValues(context: Context, candidate: CompiledCandidate): Computed {
  const { view } = context;
  const source = candidate.source;
  switch (source.kind) {
    case 'constant':
      return { kind: 'values', values: source.values };
    case 'copy': {
      const values = view.values(source.fromKey);
      if (values === undefined) return { kind: 'unknown', why: `the event does not give the full value of ${source.from}` };
      return { kind: 'values', values: source.dn ? mapValues(context, { kind: 'dn', from: source.from, fromKey: source.fromKey, to: '' }, values) : values };
    }
    case 'template': {
      const value = renderTemplate(source.template, resolver(view));
      if (value !== null) return { kind: 'values', values: [value] };
      const unknown = source.template.attributes.find((key) => view.values(key) === undefined);
      return unknown === undefined ? { kind: 'values', values: [] } : { kind: 'unknown', why: `template '${source.template.text}' needs the full value of ${unknown}, which the event does not give` };
    }
  }
}

function resolver(view: EntryView): (part: PlaceholderPart) => string | null {
  return (part) => {
    if (part.kind !== 'attribute') return null;
    const value = view.first(part.key);
    return typeof value === 'string' && value !== '' ? value : null;
  };
}

function unresolvedInput(template: Template, view: EntryView): { name: string; binary: boolean } {
  for (const part of template.parts) {
    if (part.kind !== 'attribute') continue;
    const value = view.first(part.key);
    if (typeof value !== 'string' || value === '') return { name: part.name, binary: value !== undefined && typeof value !== 'string' };
  }
  return { name: '?', binary: false };
}

/** Copies values (binary and password values untouched), or maps DN values through the pipe's DN maps. */
function mapValues(context: Context, mapping: CompiledValueMapping, values: readonly AttributeValue[]): readonly AttributeValue[] {
  if (mapping.kind === 'direct') return values;
  const { pipe } = context;
  const out: AttributeValue[] = [];
  for (const value of values) {
    if (typeof value !== 'string') {
      warn(context, `${mapping.from}: a binary value is not a DN; left out`);
      continue;
    }
    let dn: Dn;
    try {
      dn = parseDn(value);
    } catch (error) {
      if (!(error instanceof InvalidDnError)) throw error;
      warn(context, `${mapping.from}: '${value}' is not a DN (${error.problem}); left out`);
      continue;
    }
    if (pipe.dnMaps.length === 0) {
      out.push(value);
      continue;
    }
    // The referenced entry's attributes are not in this event, so maps reading {attr} cannot apply.
    const result: DnMapResult = mapDn(pipe.dnMaps, dn);
    if (result.kind === 'mapped') out.push(formatDn(result.dn));
    else if (result.kind === 'no-match') warn(context, `${mapping.from}: no DN map matches '${value}'; left out`);
    else {
      warn(
        context,
        `${mapping.from}: ${describeMap(pipe.dnMaps[result.rule] as CompiledDnMap, result.rule)} needs ${result.attribute} ` +
          `of the referenced entry '${value}', which this event does not carry; left out`,
      );
    }
  }
  return out;
}

/** Member-like DN lists of the destination (the pipe's memberAttributes that a DN-valued mapping writes). */
function isMemberList(pipe: CompiledPipe, attribute: string): boolean {
  const key = attribute.toLowerCase();
  return pipe.unlinkAttributes.some((name) => name.toLowerCase() === key);
}
