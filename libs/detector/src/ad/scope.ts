import { type Dn, isInSubtree, parseDn } from '@idsync/mapping';

/**
 * What the detector publishes. DirSync always reads the whole naming context, so this is what limits the scope:
 * entries under one of the base DNs, with one of the object classes (any class when the list is empty).
 */
export class Scope {
  private readonly bases: readonly Dn[];
  private readonly classes: ReadonlySet<string>;

  constructor(includeBaseDns: readonly string[], includeObjectClasses: readonly string[]) {
    if (includeBaseDns.length === 0) throw new RangeError('a scope needs at least one base DN');
    this.bases = includeBaseDns.map((dn) => parseDn(dn));
    this.classes = new Set(includeObjectClasses.map((c) => c.toLowerCase()));
  }

  get filtersClasses(): boolean {
    return this.classes.size > 0;
  }

  includesDn(dn: string): boolean {
    const parsed = parseDn(dn);
    return this.bases.some((base) => isInSubtree(parsed, base));
  }

  /** AD lists the whole class chain (top, person, organizationalPerson, user): one match is enough. */
  includesClasses(objectClasses: readonly string[]): boolean {
    return !this.filtersClasses || objectClasses.some((c) => this.classes.has(c.toLowerCase()));
  }
}
