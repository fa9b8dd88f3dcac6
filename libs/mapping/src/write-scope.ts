/**
 * What a pipe may write at its destination, derived from its configuration alone: the writer's check that a request
 * is one the mapper could have produced for that pipe. A writer holds privileged accounts and its operations topic
 * can be reached by anything with Kafka access, so it obeys nothing it did not expect (scope enforcement):
 *
 * - the request names a pipe of the configuration, and that pipe's destination is this writer's;
 * - its DN (and previous DN) lies in the subtrees the pipe writes to (its DN maps' targets; no DN maps: the
 *   destination's base DN), and so does every value of a DN-valued attribute it writes (dn: true mappings,
 *   member attributes);
 * - an entry it may create has the object classes of one of the pipe's creating sync classes;
 * - it writes only attributes the pipe maps (any but the secret ones when a class auto-maps same names), never a
 *   credential attribute in the clear (passwords travel only sealed, as idsyncPassword);
 * - its correlation lists are the pipe's (they choose which existing entry a create may adopt);
 * - its attribute policies (authority, bits, auxiliary class) are exactly the pipe's for the attributes it writes: a
 *   request cannot turn a `keep` attribute into a forced one by leaving its policy out;
 * - its operation is one the pipe's classes allow.
 *
 * Every request mapChange produces for a pipe passes (tests/unit/write-scope.spec.ts checks the demo pipes).
 * Pure: no I/O. Refusals name the problem and attribute names, never values.
 */
import { type AttributePolicy, type WriteRequest } from '@idsync/contracts';
import { type CompiledPipe } from './compile-pipe';
import { type Dn, InvalidDnError, isInSubtree, parseDn } from './dn';
import { dnMapTargetBases } from './dn-map';
import { isSecretAttribute, PASSWORD_PSEUDO_ATTRIBUTE } from './pipe';

const PASSWORD_KEY = PASSWORD_PSEUDO_ATTRIBUTE.toLowerCase();

/** The attribute's name without options (`member;range=0-1499` -> `member`), lower case. */
function baseKey(name: string): string {
  return (name.split(';')[0] ?? '').toLowerCase();
}

/** Why a writer refused a request; a closed set, for metrics and dead-letter reasons. */
export const WRITE_REFUSALS = ['unknown-pipe', 'other-destination', 'operation', 'outside-scope', 'object-class', 'secret-attribute', 'attribute', 'dn-value', 'correlation', 'policy'] as const;
export type WriteRefusal = (typeof WRITE_REFUSALS)[number];

export interface RefusedWrite {
  readonly refusal: WriteRefusal;
  /** What is wrong, naming the pipe, the DN and attribute names; never attribute values. */
  readonly detail: string;
}

/** What one pipe may write (see the top of this file). */
export interface WriteScope {
  readonly pipe: string;
  readonly destination: string;
  /** The subtrees it writes to. */
  readonly bases: readonly Dn[];
  /** Object class sets (lower case) of entries its classes carry; `creates`: that class may create entries. */
  readonly classSets: readonly { readonly classes: ReadonlySet<string>; readonly creates: boolean }[];
  /** Lower-case destination attributes it writes; null when a class auto-maps same names (any but secret ones). */
  readonly attributes: ReadonlySet<string> | null;
  /** Lower-case destination attributes whose values are DNs. */
  readonly dnAttributes: ReadonlySet<string>;
  /** Lower-case member attributes a delete's unlink removes the deleted entry from. */
  readonly unlinkAttributes: ReadonlySet<string>;
  readonly passwords: boolean;
  readonly deletes: boolean;
  /** The pipe's correlation lists, lower case, as a comparable text. */
  readonly correlation: string;
  /** Non-default attribute policies by lower-case destination attribute. */
  readonly policies: ReadonlyMap<string, AttributePolicy>;
}

const correlationText = (lists: readonly (readonly string[])[]): string => JSON.stringify(lists.map((list) => list.map((name) => name.toLowerCase())));

/** A compiled pipe's write scope; `destinationBase`: the destination directory's base DN (the bound without DN maps). */
export function writeScope(pipe: CompiledPipe, destinationBase: string): WriteScope {
  const attributes = new Set<string>();
  const dnAttributes = new Set<string>(pipe.config.memberAttributes.map((name) => name.toLowerCase()));
  let autoMap = false;
  for (const syncClass of pipe.classes) {
    autoMap ||= syncClass.autoMap;
    for (const target of syncClass.mappedTargets) attributes.add(target);
    for (const mapping of syncClass.valueMappings) if (mapping.kind === 'dn') dnAttributes.add(mapping.to.toLowerCase());
  }
  const passwords = pipe.classes.some((syncClass) => syncClass.passwords);
  if (passwords) attributes.add(PASSWORD_KEY);
  return {
    pipe: pipe.name,
    destination: pipe.destination,
    bases: dnMapTargetBases(pipe.config.dnMaps) ?? [parseDn(destinationBase)],
    classSets: pipe.classes.map((syncClass) => ({ classes: new Set(syncClass.destinationObjectClasses.map((name) => name.toLowerCase())), creates: syncClass.creates })),
    attributes: autoMap ? null : attributes,
    dnAttributes,
    unlinkAttributes: new Set(pipe.unlinkAttributes.map((name) => name.toLowerCase())),
    passwords,
    // A linked entry whose source left every class is deleted when onLeaveScope says so, whatever the classes say.
    deletes: pipe.config.onLeaveScope === 'delete' || pipe.classes.some((syncClass) => syncClass.deletes),
    correlation: correlationText(pipe.correlation),
    policies: pipe.attributePolicies,
  };
}

/** Whether `dn` lies in one of the scope's subtrees (an unparsable DN does not). */
export function inWriteScope(scope: Pick<WriteScope, 'bases'>, dn: string | Dn): boolean {
  let parsed: Dn;
  try {
    parsed = typeof dn === 'string' ? parseDn(dn) : dn;
  } catch (error) {
    if (!(error instanceof InvalidDnError)) throw error;
    return false;
  }
  return scope.bases.some((base) => isInSubtree(parsed, base));
}

const sameSet = (a: ReadonlySet<string>, b: readonly string[]): boolean => a.size === new Set(b).size && b.every((name) => a.has(name));

/**
 * Whether a writer for `destination` may apply the request: null when it may, else the refusal. `scopes`: every
 * pipe of the configuration by name (so a request for another destination's pipe is told apart from an unknown one).
 */
export function checkWriteRequest(request: WriteRequest, scopes: ReadonlyMap<string, WriteScope>, destination: string): RefusedWrite | null {
  const who = `request ${request.requestId} for ${request.dn}`;
  const refuse = (refusal: WriteRefusal, problem: string): RefusedWrite => ({ refusal, detail: `${who} refused (${refusal}): ${problem}` });
  const scope = scopes.get(request.pipe);
  if (scope === undefined) return refuse('unknown-pipe', `it names pipe '${request.pipe}', which is not a pipe of this configuration`);
  if (scope.destination !== destination) return refuse('other-destination', `pipe '${scope.pipe}' writes to '${scope.destination}', not to '${destination}'`);

  // Secrets first: a raw credential is refused whatever else the request says.
  const secret = request.attributes.find((change) => isSecretAttribute(change.name));
  if (secret !== undefined) return refuse('secret-attribute', `it carries ${secret.name} in the clear; passwords are accepted only sealed (${PASSWORD_PSEUDO_ATTRIBUTE})`);

  const op = request.op;
  if (op === 'delete' && !scope.deletes) return refuse('operation', `pipe '${scope.pipe}' does not delete entries`);
  if (op === 'unlink' && scope.unlinkAttributes.size === 0) return refuse('operation', `pipe '${scope.pipe}' maps no member attributes to unlink from`);

  if (!inWriteScope(scope, request.dn)) return refuse('outside-scope', `the DN is outside the subtrees pipe '${scope.pipe}' writes to`);
  if (request.previousDn !== null && !inWriteScope(scope, request.previousDn))
    return refuse('outside-scope', `its previous DN ${request.previousDn} is outside the subtrees pipe '${scope.pipe}' writes to`);

  if (request.objectClasses.length > 0) {
    const classes = request.objectClasses.map((name) => name.toLowerCase());
    const allowed = scope.classSets.some((set) => (op !== 'upsert' || set.creates) && sameSet(set.classes, classes));
    if (!allowed)
      return refuse('object-class', `object classes ${request.objectClasses.join(', ')} are not those of a sync class of pipe '${scope.pipe}'${op === 'upsert' ? ' that creates entries' : ''}`);
  } else if (op === 'upsert') {
    return refuse('object-class', 'an entry it may create names no object classes');
  }

  for (const change of request.attributes) {
    const key = baseKey(change.name);
    if (op === 'unlink') {
      if (!scope.unlinkAttributes.has(key) || change.op !== 'delete')
        return refuse('attribute', `an unlink may only remove values of ${[...scope.unlinkAttributes].join(', ')}, not ${change.op} ${change.name}`);
    } else if (key === PASSWORD_KEY) {
      if (!scope.passwords) return refuse('attribute', `no sync class of pipe '${scope.pipe}' passes passwords`);
      continue;
    } else if (key === 'objectclass' || (scope.attributes !== null && !scope.attributes.has(key))) {
      return refuse('attribute', `pipe '${scope.pipe}' does not write ${change.name}`);
    }
    if (!scope.dnAttributes.has(key)) continue;
    for (const value of change.values) {
      if (typeof value !== 'string' || !inWriteScope(scope, value)) {
        return refuse('dn-value', `a value of ${change.name} is ${typeof value === 'string' ? 'a DN outside the subtrees the pipe writes to' : 'binary, not a DN'}`);
      }
    }
  }

  if (request.correlation.length > 0 && correlationText(request.correlation) !== scope.correlation) {
    return refuse('correlation', `its correlation lists are not pipe '${scope.pipe}''s`);
  }
  const policyProblem = op === 'unlink' ? null : policyMismatch(request, scope);
  return policyProblem === null ? null : refuse('policy', policyProblem);
}

const policyText = (p: AttributePolicy): string =>
  `authority ${p.authority}${p.bitMask === null ? '' : `, bits ${p.bitMask}`}${p.auxiliaryClass === null ? '' : `, auxiliaryClass ${p.auxiliaryClass}`}`;

/** Null when the request's attribute policies are exactly what the pipe says for the attributes it writes. */
function policyMismatch(request: WriteRequest, scope: WriteScope): string | null {
  const given = new Map<string, AttributePolicy>();
  for (const policy of request.attributePolicies ?? []) {
    const key = baseKey(policy.name);
    const expected = scope.policies.get(key);
    if (expected === undefined) return `it gives ${policy.name} a policy (${policyText(policy)}), which pipe '${scope.pipe}' does not`;
    if (policyText(expected) !== policyText(policy)) return `its policy for ${policy.name} (${policyText(policy)}) is not pipe '${scope.pipe}''s (${policyText(expected)})`;
    given.set(key, policy);
  }
  for (const change of request.attributes) {
    const key = baseKey(change.name);
    const expected = scope.policies.get(key);
    if (expected !== undefined && !given.has(key)) return `it writes ${change.name} without pipe '${scope.pipe}''s policy for it (${policyText(expected)})`;
  }
  return null;
}

/** The write scopes of every pipe, by name. */
export function writeScopes(pipes: readonly CompiledPipe[], baseDnOf: (directory: string) => string): Map<string, WriteScope> {
  return new Map(pipes.map((pipe) => [pipe.name, writeScope(pipe, baseDnOf(pipe.destination))]));
}
