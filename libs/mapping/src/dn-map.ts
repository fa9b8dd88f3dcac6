/**
 * PingDataSync-style DN maps. `from` is a DN pattern where `*` matches exactly one RDN and `**` any number of
 * RDNs (zero or more); other RDNs match literally (case-insensitively). `to` builds the destination DN from
 * literal RDNs, `{n}` (the n-th wildcard's RDNs, in place of whole RDNs), `{n}` inside a value (the value of a
 * `*` match, e.g. `CN={1}` to change the RDN attribute) and `{attr}` (the value of a source attribute).
 * Values are substituted into a `Dn` structure, so escaping is formatDn's job, never string concatenation.
 */
import { type AttributeValue } from '@idsync/contracts';
import { type Ava, type Dn, InvalidDnError, normalizeRdn, parseDn, type Rdn, splitRdnTexts } from './dn';
import { type PlaceholderPart, parseTemplate, renderTemplate, type Template } from './template';

/** One DN map as configured. */
export interface DnMapRule {
  readonly from: string;
  readonly to: string;
}

/** A DN map pattern that does not compile. Found at configuration time, so never retriable. */
export class InvalidDnPatternError extends Error {
  readonly retriable = false as const;

  constructor(
    readonly pattern: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid DN pattern '${pattern}': ${problem}`, options);
    this.name = 'InvalidDnPatternError';
  }
}

/** First value of a source attribute by lower-case name; undefined when the event does not carry it. */
export type ValueLookup = (key: string) => AttributeValue | undefined;

type FromToken = { readonly kind: 'one' } | { readonly kind: 'any'; readonly minAfter: number } | { readonly kind: 'rdn'; readonly key: string };

interface TemplatedAva {
  /** As written; used unchanged when `value` is null (no placeholders, or a '#' hex value). */
  readonly ava: Ava;
  readonly value: Template | null;
}

type ToPart = { readonly kind: 'captured'; readonly index: number } | { readonly kind: 'constant'; readonly rdn: Rdn } | { readonly kind: 'templated'; readonly avas: readonly TemplatedAva[] };

export interface CompiledDnMap {
  readonly from: string;
  readonly to: string;
  /** Lower-case source attributes the `to` pattern reads: events must carry them for the map to apply. */
  readonly attributes: readonly string[];
  /** @internal */
  readonly fromTokens: readonly FromToken[];
  /** @internal */
  readonly toParts: readonly ToPart[];
  /** @internal number of wildcards in `from`. */
  readonly wildcards: number;
  /** @internal fewest RDNs a matching DN has. */
  readonly minLength: number;
}

export type DnMapResult =
  | { readonly kind: 'mapped'; readonly dn: Dn; readonly rule: number }
  | { readonly kind: 'no-match' }
  /** The `from` pattern of rule `rule` matched but `to` needs an attribute value the event does not provide. */
  | { readonly kind: 'unresolved'; readonly rule: number; readonly attribute: string; readonly problem: 'missing' | 'binary' };

const NO_MATCH: DnMapResult = { kind: 'no-match' };
const CAPTURE_PART = /^\{\s*([1-9][0-9]*)\s*\}$/;

function parseOneRdn(pattern: string, text: string): Rdn {
  let dn: Dn;
  try {
    dn = parseDn(text);
  } catch (error) {
    const problem = error instanceof InvalidDnError ? `'${text.trim()}': ${error.problem}` : String(error);
    throw new InvalidDnPatternError(pattern, problem, { cause: error });
  }
  const rdn = dn[0];
  if (dn.length !== 1 || rdn === undefined) throw new InvalidDnPatternError(pattern, 'contains an empty RDN');
  return rdn;
}

export function compileDnMap(rule: DnMapRule): CompiledDnMap {
  const fromParts = splitRdnTexts(rule.from).map((part) => part.trim());
  const kinds: ('one' | 'any' | Rdn)[] = fromParts.map((part) => (part === '*' ? 'one' : part === '**' ? 'any' : parseOneRdn(rule.from, part)));
  const wildcardKinds: ('one' | 'any')[] = [];
  const fromTokens: FromToken[] = kinds.map((kind, k) => {
    if (kind === 'one') {
      wildcardKinds.push('one');
      return { kind: 'one' };
    }
    if (kind === 'any') {
      wildcardKinds.push('any');
      return { kind: 'any', minAfter: kinds.slice(k + 1).filter((later) => later !== 'any').length };
    }
    return { kind: 'rdn', key: normalizeRdn(kind) };
  });

  const attributes: string[] = [];
  const checkCapture = (index: number, inValue: boolean): void => {
    const kind = wildcardKinds[index - 1];
    if (kind === undefined) {
      throw new InvalidDnPatternError(rule.to, `{${index}} refers to wildcard ${index}, but the 'from' pattern '${rule.from}' has ${wildcardKinds.length}`);
    }
    if (inValue && kind === 'any') {
      throw new InvalidDnPatternError(rule.to, `{${index}} inside a value must refer to a '*' wildcard, not '**'`);
    }
  };
  const toParts: ToPart[] = splitRdnTexts(rule.to).map((text): ToPart => {
    const capture = CAPTURE_PART.exec(text);
    if (capture) {
      const index = Number(capture[1]);
      checkCapture(index, false);
      return { kind: 'captured', index };
    }
    const rdn = parseOneRdn(rule.to, text);
    let constant = true;
    const avas = rdn.map((ava): TemplatedAva => {
      if (ava.ber !== undefined || !ava.value.includes('{')) return { ava, value: null };
      let value: Template;
      try {
        value = parseTemplate(ava.value, { captures: true });
      } catch (error) {
        throw new InvalidDnPatternError(rule.to, error instanceof Error ? error.message : String(error), { cause: error });
      }
      for (const part of value.parts) {
        if (part.kind === 'text') continue;
        constant = false;
        if (part.kind === 'capture') checkCapture(part.index, true);
        else if (!attributes.includes(part.key)) attributes.push(part.key);
      }
      return { ava, value };
    });
    if (!constant) return { kind: 'templated', avas };
    // Only literal text (`{{` / `}}` already unescaped by the template parser).
    const literal = avas.map(({ ava, value }) => (value === null ? ava : { type: ava.type, value: renderTemplate(value, () => null) ?? '' }));
    return { kind: 'constant', rdn: literal };
  });
  return {
    from: rule.from,
    to: rule.to,
    attributes,
    fromTokens,
    toParts,
    wildcards: wildcardKinds.length,
    minLength: fromTokens.filter((token) => token.kind !== 'any').length,
  };
}

/** Normalized RDN keys of a DN, computed only for the RDNs a pattern compares literally. */
class RdnKeys {
  private readonly cache: (string | undefined)[];

  constructor(private readonly dn: Dn) {
    this.cache = new Array<string | undefined>(dn.length);
  }

  get length(): number {
    return this.dn.length;
  }

  at(index: number): string | undefined {
    const rdn = this.dn[index];
    if (rdn === undefined) return undefined;
    return (this.cache[index] ??= normalizeRdn(rdn));
  }
}

/** Wildcard matches as [start, end) RDN index ranges, filled by matchTokens. */
interface Captures {
  readonly starts: number[];
  readonly ends: number[];
}

function matchTokens(tokens: readonly FromToken[], keys: RdnKeys, ti: number, ri: number, wc: number, captures: Captures): boolean {
  for (;;) {
    const token = tokens[ti];
    if (token === undefined) return ri === keys.length;
    if (token.kind === 'rdn') {
      if (keys.at(ri) !== token.key) return false;
      ti++;
      ri++;
      continue;
    }
    if (token.kind === 'one') {
      if (ri >= keys.length) return false;
      captures.starts[wc] = ri;
      captures.ends[wc] = ri + 1;
      ti++;
      ri++;
      wc++;
      continue;
    }
    // '**': the fewest RDNs that let the rest match, so an earlier '**' takes as little as possible.
    const most = keys.length - ri - token.minAfter;
    for (let take = 0; take <= most; take++) {
      captures.starts[wc] = ri;
      captures.ends[wc] = ri + take;
      if (matchTokens(tokens, keys, ti + 1, ri + take, wc + 1, captures)) return true;
    }
    return false;
  }
}

/** The wildcard matches of `map.from` against `dn` (each an RDN list), or null when it does not match. */
export function matchDnPattern(map: CompiledDnMap, dn: Dn): Dn[] | null {
  const captures = matchCaptures(map, new RdnKeys(dn));
  if (captures === null) return null;
  return captures.starts.map((start, k) => dn.slice(start, captures.ends[k]));
}

function matchCaptures(map: CompiledDnMap, keys: RdnKeys): Captures | null {
  if (keys.length < map.minLength) return null;
  if (map.minLength === map.fromTokens.length && keys.length !== map.minLength) return null;
  const captures: Captures = { starts: new Array<number>(map.wildcards), ends: new Array<number>(map.wildcards) };
  return matchTokens(map.fromTokens, keys, 0, 0, 0, captures) ? captures : null;
}

/**
 * Maps `dn` through the first rule whose `from` matches (later rules are not tried once one matched).
 * `lookup` supplies `{attr}` values; without it, rules that read attributes come back `unresolved`.
 */
export function mapDn(maps: readonly CompiledDnMap[], dn: Dn, lookup?: ValueLookup): DnMapResult {
  if (maps.length === 0) return NO_MATCH;
  const keys = new RdnKeys(dn);
  for (let rule = 0; rule < maps.length; rule++) {
    const map = maps[rule] as CompiledDnMap;
    const captures = matchCaptures(map, keys);
    if (captures === null) continue;
    return build(map, rule, dn, captures, lookup);
  }
  return NO_MATCH;
}

function build(map: CompiledDnMap, rule: number, dn: Dn, captures: Captures, lookup: ValueLookup | undefined): DnMapResult {
  const unresolved: { attribute: string; problem: 'missing' | 'binary' } = { attribute: '', problem: 'missing' };
  const resolve = (part: PlaceholderPart): string | null => {
    if (part.kind === 'capture') {
      const rdn = dn[captures.starts[part.index - 1] as number];
      return rdn?.[0]?.value ?? null;
    }
    const value = lookup?.(part.key);
    if (typeof value === 'string' && value !== '') return value;
    unresolved.attribute = part.name;
    unresolved.problem = value === undefined || value === '' ? 'missing' : 'binary';
    return null;
  };
  const out: Rdn[] = [];
  for (const part of map.toParts) {
    if (part.kind === 'captured') {
      const k = part.index - 1;
      for (let r = captures.starts[k] as number; r < (captures.ends[k] as number); r++) out.push(dn[r] as Rdn);
    } else if (part.kind === 'constant') {
      out.push(part.rdn);
    } else {
      const rdn: Ava[] = [];
      for (const templated of part.avas) {
        if (templated.value === null) {
          rdn.push(templated.ava);
          continue;
        }
        const value = renderTemplate(templated.value, resolve);
        if (value === null) return { kind: 'unresolved', rule, attribute: unresolved.attribute, problem: unresolved.problem };
        rdn.push({ type: templated.ava.type, value });
      }
      out.push(rdn);
    }
  }
  return { kind: 'mapped', dn: out, rule };
}

/**
 * The subtrees a pipe's destination DNs fall in, from its DN maps: each `to` pattern without its leading RDNs that
 * hold placeholders (`{1},OU=Corp,DC=example,DC=test` -> `OU=Corp,DC=example,DC=test`). A pattern that is all
 * placeholders gives no bound: null (the caller falls back to the destination's base DN). No DN maps: null too.
 */
export function dnMapTargetBases(maps: readonly { readonly to: string }[]): Dn[] | null {
  if (maps.length === 0) return null;
  const bases: Dn[] = [];
  for (const map of maps) {
    const parts = map.to.split(/(?<!\\),/);
    const fixed = parts.slice(parts.findLastIndex((part) => part.includes('{')) + 1);
    if (fixed.length === 0) return null;
    bases.push(parseDn(fixed.join(',')));
  }
  return bases;
}
