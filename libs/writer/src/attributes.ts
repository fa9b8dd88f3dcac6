import { isPasswordAttribute } from '@idsync/mapping';

/**
 * What the writer knows about attribute syntaxes without reading the server's schema: which attributes hold DNs,
 * which hold bytes, and which are multi-valued enough to deserve value-level changes. Names are compared
 * case-insensitively (keys are lower case); options may add names for a deployment's own schema.
 */

/** Attributes whose values are DNs: compared as normalized DNs (case and spacing do not matter). */
export const DN_VALUED_ATTRIBUTES = [
  'member',
  'uniqueMember',
  'manager',
  'secretary',
  'owner',
  'seeAlso',
  'roleOccupant',
  'managedBy',
  'directReports',
  'memberOf',
  'distinguishedName',
  'modifiersName',
  'creatorsName',
] as const;

/** Attributes holding bytes (fetched as Buffers, compared byte-wise). Also any name ending in `;binary`. */
export const BINARY_ATTRIBUTES = [
  'objectGUID',
  'objectSid',
  'jpegPhoto',
  'thumbnailPhoto',
  'photo',
  'userCertificate',
  'cACertificate',
  'userSMIMECertificate',
  'userPKCS12',
  'audio',
  'msExchMailboxGuid',
  'mS-DS-ConsistencyGuid',
  'unicodePwd',
] as const;

/**
 * Attributes written value by value (add/delete of single values) rather than replaced whole: large or
 * concurrently edited sets, where a replace would be heavy or would undo someone else's change.
 * Everything else is replaced with the full desired value set (always correct, just less minimal).
 */
export const VALUE_LEVEL_ATTRIBUTES = ['objectClass', 'member', 'uniqueMember', 'memberUid', 'proxyAddresses', 'servicePrincipalName', 'otherTelephone', 'otherMobile', 'otherMailbox', 'url'] as const;

export interface AttributeKnowledgeOptions {
  readonly dnValued?: readonly string[];
  readonly binary?: readonly string[];
  readonly valueLevel?: readonly string[];
}

const lower = (names: readonly string[]): Set<string> => new Set(names.map((name) => name.toLowerCase()));

export const attributeKey = (name: string): string => name.toLowerCase();

/** Attribute syntax facts, defaults merged with the options once. */
export class AttributeKnowledge {
  private readonly dnValued: ReadonlySet<string>;
  private readonly binary: ReadonlySet<string>;
  private readonly valueLevel: ReadonlySet<string>;
  private bufferNames: string[] | undefined;

  constructor(options: AttributeKnowledgeOptions = {}) {
    this.dnValued = lower([...DN_VALUED_ATTRIBUTES, ...(options.dnValued ?? [])]);
    this.binary = lower([...BINARY_ATTRIBUTES, ...(options.binary ?? [])]);
    this.valueLevel = lower([...VALUE_LEVEL_ATTRIBUTES, ...(options.valueLevel ?? [])]);
  }

  isDnValued(name: string): boolean {
    return this.dnValued.has(attributeKey(name));
  }

  isBinary(name: string): boolean {
    const key = attributeKey(name);
    return this.binary.has(key) || key.endsWith(';binary');
  }

  isValueLevel(name: string): boolean {
    return this.valueLevel.has(attributeKey(name));
  }

  /** Write-only secrets: never compared (servers do not return them as written), never logged. */
  isPassword(name: string): boolean {
    return isPasswordAttribute(name);
  }

  /**
   * Names to pass to ldapts' explicitBufferAttributes (it matches them case-sensitively: both spellings). The same
   * list every time, made once: every read passes it, and ranged-search keeps its case-blind form per list.
   */
  bufferAttributeNames(): string[] {
    if (this.bufferNames === undefined) {
      const names = new Set<string>();
      for (const name of [...BINARY_ATTRIBUTES, ...this.binary]) {
        names.add(name);
        names.add(name.toLowerCase());
      }
      this.bufferNames = Object.freeze([...names]) as string[];
    }
    return this.bufferNames;
  }
}

export const DEFAULT_ATTRIBUTES = new AttributeKnowledge();
