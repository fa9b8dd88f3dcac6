/**
 * Attribute policies (write-request v2), applied to a request's changes against the destination entry as read,
 * before the diff. Pure.
 *
 * - keep: the attribute is written only when the entry has no value for it (or the entry is being created).
 * - merge: values are added, never removed (a replace becomes an add of its values; a delete is dropped).
 * - bits: the attribute is an integer of which only the mask's bits come from the request; the others stay as the
 *   entry has them (userAccountControl's disabled bit). A create starts from the writer's own value (createSteps).
 * - auxiliaryClass: an existing entry that lacks the class gets it, in the same modify, before the attribute.
 */
import { type AttributeChange, type AttributePolicy, type WriteRequest } from '@idsync/contracts';
import { mergeBits } from '@idsync/mapping';
import { attributeKey } from './attributes';
import { type CurrentEntry, entryValues } from './diff';
import { InvalidEntryError } from './errors';

/** The request's policies by lower-case attribute name. */
export function policiesOf(request: WriteRequest): ReadonlyMap<string, AttributePolicy> {
  return new Map((request.attributePolicies ?? []).map((policy) => [attributeKey(policy.name), policy]));
}

/** The changes to diff against `current` (null: the entry is created), with the request's policies applied. */
export function applyPolicies(request: WriteRequest, current: CurrentEntry | null): AttributeChange[] {
  const policies = policiesOf(request);
  if (policies.size === 0) return [...request.attributes];
  const out: AttributeChange[] = [];
  const classes = new Set(entryValues(current, 'objectClass').map((value) => String(value).toLowerCase()));
  const needed = new Set<string>();
  for (const change of request.attributes) {
    const policy = policies.get(attributeKey(change.name));
    if (policy === undefined) {
      out.push(change);
      continue;
    }
    const applied = applyPolicy(request, change, policy, current);
    if (applied === null) continue;
    out.push(applied);
    const aux = policy.auxiliaryClass;
    if (current !== null && aux !== null && applied.op !== 'delete' && applied.values.length > 0 && !classes.has(aux.toLowerCase())) needed.add(aux);
  }
  return needed.size === 0 ? out : [{ name: 'objectClass', op: 'add', values: [...needed] }, ...out];
}

function applyPolicy(request: WriteRequest, change: AttributeChange, policy: AttributePolicy, current: CurrentEntry | null): AttributeChange | null {
  if (policy.bitMask !== null) {
    if (current === null) return change;
    const wanted = change.op === 'replace' && change.values.length === 1 ? change.values[0] : undefined;
    if (typeof wanted !== 'string' || !/^-?\d+$/.test(wanted.trim())) {
      throw new InvalidEntryError(`request ${request.requestId} sets ${change.name} under a bit mask but not to one integer value`, { requestId: request.requestId, dn: request.dn });
    }
    const have = entryValues(current, change.name)[0];
    const merged = mergeBits(have === undefined ? null : String(have), BigInt(policy.bitMask), BigInt(wanted.trim()));
    return { name: change.name, op: 'replace', values: [merged] };
  }
  switch (policy.authority) {
    case 'force':
      return change;
    case 'keep':
      return current !== null && entryValues(current, change.name).length > 0 ? null : change;
    case 'merge':
      if (change.op === 'delete' || change.values.length === 0) return null;
      return { name: change.name, op: 'add', values: change.values };
  }
}

/** The value a create writes for an attribute under a bit mask: the writer's own starting value with the mask's bits from the request. */
export function bitsOnCreate(policy: AttributePolicy | undefined, base: string, requested: readonly unknown[] | undefined): string | null {
  if (policy?.bitMask === null || policy === undefined) return null;
  const wanted = requested?.[0];
  if (typeof wanted !== 'string' || !/^-?\d+$/.test(wanted.trim())) return base;
  return mergeBits(base, BigInt(policy.bitMask), BigInt(wanted.trim()));
}
