import { isInSubtree, normalizeDn } from '@idsync/mapping';
import { type ChangeOperation } from '@idsync/contracts';

/** Why a change read from the changelog is not published. Each reason has its own counter label. */
export const IGNORE_REASONS = ['initiator', 'outside-base-dns', 'object-class', 'operational-only'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

export interface IncludeRulesOptions {
  /** Only entries under these DNs (default: the directory's baseDn). */
  readonly includeBaseDns: readonly string[];
  /** Only entries with one of these object classes (default: all). */
  readonly includeObjectClasses?: readonly string[];
  /** Changes made by these bind DNs (the writers') are not published again. */
  readonly ignoreInitiators?: readonly string[];
}

/** What the rules look at; `objectClasses: null` means not known yet (the I/O layer re-fetches, then asks again). */
export interface ChangeFacts {
  readonly op: ChangeOperation;
  readonly dn: string;
  readonly previousDn: string | null;
  readonly initiator: string | null;
  readonly objectClasses: readonly string[] | null;
  /** Attribute changes left after operational ones were removed, and whether a password value was among them. */
  readonly attributeCount: number;
  readonly passwordValuesExcluded: number;
}

function safeNormalize(dn: string): string {
  try {
    return normalizeDn(dn);
  } catch {
    return dn
      .trim()
      .toLowerCase()
      .replace(/\s*,\s*/g, ',');
  }
}

/** The configuration's include/ignore lists, normalized once. */
export class IncludeRules {
  private readonly baseDns: readonly string[];
  private readonly objectClasses: ReadonlySet<string>;
  private readonly initiators: ReadonlySet<string>;

  constructor(options: IncludeRulesOptions) {
    if (options.includeBaseDns.length === 0) throw new RangeError('IncludeRules needs at least one base DN (default: the directory baseDn)');
    this.baseDns = options.includeBaseDns.map((dn) => normalizeDn(dn));
    this.objectClasses = new Set((options.includeObjectClasses ?? []).map((c) => c.toLowerCase()));
    this.initiators = new Set((options.ignoreInitiators ?? []).map(safeNormalize));
  }

  /**
   * null when the change is published, else why not. Order: initiator (our own writes), then scope, then class.
   * - Deletes are never ignored by initiator: 389-ds records the entry's last modifier there, not the deleter.
   * - A rename or move counts as in scope when either its old or its new DN is (moving in or out is news).
   * - Unknown object classes (`null`, or an entry deleted before it could be read) do not exclude a change.
   * - A modify left with no attribute changes (389's own password-policy bookkeeping) is operational noise, unless
   *   it carried a password value, which a later issue publishes encrypted.
   */
  /** Whether `dn` lies in the watched subtrees. */
  includesDn(dn: string): boolean {
    return this.baseDns.some((base) => isInSubtree(dn, base));
  }

  /** A rename from outside the watched subtrees into them: the entry is news as a whole (a snapshot follows it). */
  entersScope(change: { readonly op: string; readonly dn: string; readonly previousDn: string | null }): boolean {
    return change.op === 'rename' && this.includesDn(change.dn) && (change.previousDn === null || !this.includesDn(change.previousDn));
  }

  ignoreReason(change: ChangeFacts): IgnoreReason | null {
    if (change.op !== 'delete' && change.initiator !== null && this.initiators.has(safeNormalize(change.initiator))) return 'initiator';
    const dns = change.previousDn === null ? [change.dn] : [change.dn, change.previousDn];
    if (!dns.some((dn) => this.baseDns.some((base) => isInSubtree(dn, base)))) return 'outside-base-dns';
    if (this.objectClasses.size > 0 && change.objectClasses !== null && change.objectClasses.length > 0) {
      if (!change.objectClasses.some((c) => this.objectClasses.has(c.toLowerCase()))) return 'object-class';
    }
    if (change.op === 'modify' && change.attributeCount === 0 && change.passwordValuesExcluded === 0) return 'operational-only';
    return null;
  }
}
