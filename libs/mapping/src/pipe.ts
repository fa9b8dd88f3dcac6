/**
 * Sync pipe configuration: which source entries go to which destination, and how they are transformed.
 * The schema is exported so the configuration loader can embed it under `pipes:`; every problem is reported
 * with its path (`pipes[0].syncClasses[1].includeFilter: ...`). README.md documents it for operators.
 */
import { z } from 'zod';
import { compileDnMap, InvalidDnPatternError } from './dn-map';
import { InvalidDnError, parseDn } from './dn';
import { filterAttributes, InvalidFilterError, parseFilter } from './filter';
import { ATTRIBUTE_NAME, hasPlaceholders, InvalidTemplateError, parseTemplate } from './template';
import { transformsSchema } from './transform-config';
import { type TransformStep } from './transforms';

/**
 * The pseudo-attribute that carries a password in events and write requests: one value, an envelope sealed by
 * @idsync/secrets (AES-256-GCM, bound to the source entry id and this name), holding the clear password or a
 * storage-scheme hash (`{CRYPT}$6$...`). Detectors and the password agent produce it, the mapper passes it through
 * unopened (see `passwords` on a sync class), the writer opens it and writes the destination's own attribute
 * (AD `unicodePwd`, directory `userPassword`). It never exists in a directory.
 */
export const PASSWORD_PSEUDO_ATTRIBUTE = 'idsyncPassword';

/** Passed through as opaque values (another component encrypts them); never read by templates, filters or DN maps. */
export const PASSWORD_ATTRIBUTES = ['unicodePwd', 'userPassword', PASSWORD_PSEUDO_ATTRIBUTE] as const;
/** Destination attributes that hold members' DNs; a delete unlinks the deleted entry from them. */
export const DEFAULT_MEMBER_ATTRIBUTES = ['member', 'uniqueMember'] as const;

/**
 * Attributes that hold credentials or key material. No mapping reads or writes them and a write request never
 * carries them: passwords travel sealed (idsyncPassword) and the writer turns them into its destination's own
 * attribute itself; the rest are never synchronized. A writer refuses a request that carries one.
 */
export const SECRET_ATTRIBUTES = [
  // Active Directory
  'unicodePwd',
  'dBCSPwd',
  'ntPwdHistory',
  'lmPwdHistory',
  'supplementalCredentials',
  'clearTextPassword',
  'msDS-ManagedPassword',
  'msDS-KeyCredentialLink',
  'msSFU30Password',
  'unixUserPassword',
  'trustAuthIncoming',
  'trustAuthOutgoing',
  'initialAuthIncoming',
  'initialAuthOutgoing',
  'currentValue',
  'priorValue',
  // LDAP directories
  'userPassword',
  'authPassword',
  'passwordHistory',
  'pwdHistory',
  'userPKCS12',
  'sambaNTPassword',
  'sambaLMPassword',
  'krbPrincipalKey',
] as const;

const SECRET_KEYS: ReadonlySet<string> = new Set(SECRET_ATTRIBUTES.map((name) => name.toLowerCase()));

/** A credential attribute (SECRET_ATTRIBUTES), options ignored (`userPassword;binary`). */
export function isSecretAttribute(name: string): boolean {
  return SECRET_KEYS.has((name.split(';')[0] ?? '').toLowerCase());
}

const PASSWORD_KEYS: ReadonlySet<string> = new Set(PASSWORD_ATTRIBUTES.map((name) => name.toLowerCase()));

export function isPasswordAttribute(name: string): boolean {
  return PASSWORD_KEYS.has(name.toLowerCase().split(';')[0] ?? '');
}

const nonEmpty = z.string().min(1, 'must not be empty');

const attributeName = z.string().regex(ATTRIBUTE_NAME, 'must be an attribute name (letters, digits and hyphens, starting with a letter) or an OID');

const objectClassName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an object class name');

/** A DN (not the empty root DN). */
const dnText = z.string().superRefine((text, ctx) => {
  try {
    if (parseDn(text).length === 0) ctx.addIssue({ code: 'custom', message: 'must not be the empty (root) DN' });
  } catch (error) {
    if (!(error instanceof InvalidDnError)) throw error;
    ctx.addIssue({ code: 'custom', message: `is not a valid DN: ${error.problem}` });
  }
});

const filterText = z.string().superRefine((text, ctx) => {
  try {
    const used = [...filterAttributes(parseFilter(text))].filter(isPasswordAttribute);
    if (used.length > 0) ctx.addIssue({ code: 'custom', message: `must not read password attributes (${used.join(', ')})` });
  } catch (error) {
    if (!(error instanceof InvalidFilterError)) throw error;
    ctx.addIssue({ code: 'custom', message: `is not a valid LDAP filter: ${error.problem} (at character ${error.position + 1})` });
  }
});

export const dnMapSchema = z
  .object({
    /** Source DN pattern: `*` is one RDN, `**` any number of RDNs, e.g. `*,**,OU=Corp,DC=example,DC=test`. */
    from: nonEmpty,
    /** Destination DN pattern: `{1}` wildcard matches, `{attr}` source attribute values, e.g. `{1},ou=People,dc=example,dc=com`. */
    to: nonEmpty,
  })
  .strict()
  .superRefine((map, ctx) => {
    try {
      const compiled = compileDnMap(map);
      const secret = compiled.attributes.filter(isPasswordAttribute);
      if (secret.length > 0) ctx.addIssue({ code: 'custom', path: ['to'], message: `must not read password attributes (${secret.join(', ')})` });
    } catch (error) {
      if (!(error instanceof InvalidDnPatternError)) throw error;
      ctx.addIssue({ code: 'custom', path: [error.pattern === map.from ? 'from' : 'to'], message: error.problem });
    }
  });
export type DnMap = z.infer<typeof dnMapSchema>;

export const ATTRIBUTE_MAPPING_KINDS = ['direct', 'dn', 'template', 'constant'] as const;
export type AttributeMappingKind = (typeof ATTRIBUTE_MAPPING_KINDS)[number];

/**
 * One destination attribute. The kind follows from the keys:
 * `{from, to}` copies values; `{from, to, dn: true}` rewrites DN values through the pipe's DN maps;
 * `{to, template}` builds one value from source attributes (all required); `{to, values}` sets constants.
 * `transforms` (a copy or a template): steps applied to the values (transforms.ts). `when`: an LDAP filter on the
 * source entry; the mapping applies only when it holds. Several mappings may write one attribute when each but
 * the last has a `when`: the first whose condition holds gives the value, and when none holds the attribute is
 * left as it is. A mapping with either is written whole (a replace of its full result), never value by value.
 * `authority`: `force` (default: the destination is made equal), `keep` (written only when the destination has no
 * value: a directory-only phone number), `merge` (values added, none removed). `bits`: the destination attribute is
 * an integer of which only these bits come from the mapping (userAccountControl's disabled bit, 2); the writer
 * reads the entry and keeps the other bits. `auxiliaryClass`: an object class the destination attribute needs, added
 * to an existing entry that lacks it when the attribute is written.
 */
export const attributeMappingSchema = z
  .object({
    to: attributeName,
    from: attributeName.optional(),
    dn: z.boolean().optional(),
    template: nonEmpty.optional(),
    values: z.array(z.string()).min(1, 'needs at least one value').optional(),
    transforms: transformsSchema.optional(),
    when: filterText.optional(),
    authority: z.enum(['force', 'keep', 'merge']).optional(),
    bits: z
      .union([z.number(), z.string()])
      .transform((raw, ctx): string => {
        const text = String(raw).trim();
        if (!/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(text) || BigInt(text) === 0n || BigInt(text) > 0xffff_ffffn) {
          ctx.addIssue({ code: 'custom', message: `must be a non-zero 32-bit mask (decimal or 0x hex), got ${JSON.stringify(raw)}` });
          return z.NEVER;
        }
        return String(BigInt(text));
      })
      .optional(),
    auxiliaryClass: objectClassName.optional(),
  })
  .strict()
  .superRefine((mapping, ctx) => {
    const given = (['from', 'template', 'values'] as const).filter((key) => mapping[key] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `needs exactly one of from (copy or dn), template or values; ${given.length ? `got ${given.join(' and ')}` : 'got none'}`,
      });
      return;
    }
    const secret = [mapping.from, mapping.to].find((name) => name !== undefined && (isSecretAttribute(name) || name.toLowerCase() === PASSWORD_PSEUDO_ATTRIBUTE.toLowerCase()));
    if (secret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [secret === mapping.to ? 'to' : 'from'],
        message: `${secret} is a credential: passwords travel only sealed (a sync class's passwords: true; the writer sets unicodePwd or userPassword itself), other credentials are never synchronized`,
      });
      return;
    }
    if (mapping.dn !== undefined && mapping.from === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dn'], message: 'applies only to a mapping with from' });
    }
    if (mapping.transforms !== undefined && (mapping.values !== undefined || mapping.dn === true)) {
      ctx.addIssue({ code: 'custom', path: ['transforms'], message: `apply to a copy (from) or a template, not to ${mapping.dn === true ? 'DN values (dn: true)' : 'constant values'}` });
    }
    if (mapping.bits !== undefined && mapping.authority !== undefined && mapping.authority !== 'force') {
      ctx.addIssue({ code: 'custom', path: ['authority'], message: 'bits are always taken from the mapping: authority keep or merge does not apply' });
    }
    if (mapping.dn && mapping.from !== undefined && isPasswordAttribute(mapping.from)) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'a password attribute is not DN-valued' });
    }
    if (mapping.template !== undefined) {
      try {
        const template = parseTemplate(mapping.template);
        if (!hasPlaceholders(template)) {
          ctx.addIssue({ code: 'custom', path: ['template'], message: 'has no {attribute} placeholder; use values for a constant' });
        }
        const secret = template.attributes.filter(isPasswordAttribute);
        if (secret.length > 0) {
          ctx.addIssue({ code: 'custom', path: ['template'], message: `must not read password attributes (${secret.join(', ')})` });
        }
      } catch (error) {
        if (!(error instanceof InvalidTemplateError)) throw error;
        ctx.addIssue({ code: 'custom', path: ['template'], message: error.problem });
      }
    }
  })
  .transform((mapping): AttributeMapping => {
    const extras = {
      ...(mapping.when === undefined ? {} : { when: mapping.when }),
      ...(mapping.transforms === undefined ? {} : { transforms: mapping.transforms }),
      ...(mapping.authority === undefined ? {} : { authority: mapping.authority }),
      ...(mapping.bits === undefined ? {} : { bits: mapping.bits }),
      ...(mapping.auxiliaryClass === undefined ? {} : { auxiliaryClass: mapping.auxiliaryClass }),
    };
    if (mapping.template !== undefined) return { kind: 'template', to: mapping.to, template: mapping.template, ...extras };
    if (mapping.values !== undefined) return { kind: 'constant', to: mapping.to, values: mapping.values, ...extras };
    return { kind: mapping.dn ? 'dn' : 'direct', from: mapping.from ?? '', to: mapping.to, ...extras };
  });

/** What any mapping may add: a condition, steps applied to its values, how the writer treats its attribute. */
export interface MappingOptions {
  readonly when?: string;
  readonly transforms?: readonly TransformStep[];
  readonly authority?: 'force' | 'keep' | 'merge';
  /** Decimal text of the mask. */
  readonly bits?: string;
  readonly auxiliaryClass?: string;
}

export type AttributeMapping =
  | ({ readonly kind: 'direct' | 'dn'; readonly from: string; readonly to: string } & MappingOptions)
  | ({ readonly kind: 'template'; readonly to: string; readonly template: string } & MappingOptions)
  | ({ readonly kind: 'constant'; readonly to: string; readonly values: readonly string[] } & MappingOptions);

/** One mapping per destination attribute, except candidates in order: each but the last with a `when`. */
function checkUniqueTargets(mappings: readonly AttributeMapping[], ctx: z.RefinementCtx, path: (string | number)[]): void {
  const seen = new Map<string, number>();
  mappings.forEach((mapping, index) => {
    const key = mapping.to.toLowerCase();
    const previous = seen.get(key);
    seen.set(key, index);
    if (previous === undefined) return;
    const earlier = mappings[previous] as AttributeMapping;
    if (earlier.when === undefined) {
      const message =
        mapping.when === undefined
          ? `'${mapping.to}' is already mapped by entry [${previous}]`
          : `'${mapping.to}' is already mapped by entry [${previous}], which has no when: only the last candidate for an attribute may go without one`;
      ctx.addIssue({ code: 'custom', path: [...path, index, 'to'], message });
    }
  });
}

export const syncClassSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a word (letters, digits, . _ -)'),
    /** Classes are tried in ascending evaluationOrder; the first whose criteria all hold takes the entry. */
    evaluationOrder: z.number().int().min(0),
    /** The entry must be at or below one of these; empty means anywhere. */
    includeBaseDns: z.array(dnText).default([]),
    /** Entries at or below these never match. */
    excludeDns: z.array(dnText).default([]),
    /** Skip AD's own objects: CN=Builtin, CN=System, well-known CN=Users accounts, isCriticalSystemObject... */
    excludeAdSystemObjects: z.boolean().default(false),
    /** RFC 4515 filter the entry must satisfy (TRUE; UNDEFINED does not select, except for deletes). */
    includeFilter: filterText.optional(),
    /** The entry must have one of these source object classes; empty means any. */
    objectClasses: z.array(objectClassName).default([]),
    creates: z.boolean().default(true),
    modifies: z.boolean().default(true),
    deletes: z.boolean().default(true),
    /** Object classes of entries this class creates in the destination. */
    destinationObjectClasses: z.array(objectClassName).default([]),
    /** Class-specific mappings; they win over the pipe's mappings for the same destination attribute. */
    attributeMappings: z.array(attributeMappingSchema).default([]),
    /** Overrides the pipe's autoMapSameNames for this class. */
    autoMapSameNames: z.boolean().optional(),
    /** Added to the pipe's autoMapExclude for this class. */
    autoMapExclude: z.array(attributeName).default([]),
    /** Pass sealed password changes (the idsyncPassword pseudo-attribute) through to the destination's writer. */
    passwords: z.boolean().default(true),
  })
  .strict()
  .superRefine((syncClass, ctx) => {
    if (syncClass.creates && syncClass.destinationObjectClasses.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['destinationObjectClasses'],
        message: 'needs the object classes of created entries (or set creates: false)',
      });
    }
    checkUniqueTargets(syncClass.attributeMappings, ctx, ['attributeMappings']);
  });
export type SyncClass = z.infer<typeof syncClassSchema>;

export const pipeSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'pipe names are lower-case words (a-z, 0-9, -)'),
    /** Name of the source directory under `directories`. */
    source: nonEmpty,
    /** Name of the destination directory under `directories`. */
    destination: nonEmpty,
    syncClasses: z.array(syncClassSchema).min(1, 'needs at least one sync class'),
    /** Mappings every class uses (a class's own mapping for the same destination attribute wins). */
    attributeMappings: z.array(attributeMappingSchema).default([]),
    /** Copy every source attribute to the destination attribute of the same name unless mapped explicitly. */
    autoMapSameNames: z.boolean().default(false),
    /** Source attributes auto-mapping leaves out (objectClass is always left out). */
    autoMapExclude: z.array(attributeName).default([]),
    /** Tried in order; the first whose `from` matches maps the DN. None configured: DNs pass unchanged. */
    dnMaps: z.array(dnMapSchema).default([]),
    /** Destination attribute lists, tried in order, that find the destination entry for a source entry. */
    correlation: z.array(z.array(attributeName).min(1, 'a correlation list needs at least one attribute')).default([]),
    /** Destination attributes holding member DNs; a delete removes the deleted entry's DN from those mapped with dn: true. */
    memberAttributes: z.array(attributeName).default([...DEFAULT_MEMBER_ATTRIBUTES]),
    /** Changes made by these DNs (the destination's writer account on the reverse pipe) are dropped: no echo loops. */
    ignoreChangesBy: z.array(dnText).default([]),
    /**
     * A linked entry moved out of every sync class of the pipe: `delete` its destination entry (default), or
     * `unlink` it (the destination entry stays, no longer synchronized).
     */
    onLeaveScope: z.enum(['delete', 'unlink']).default('delete'),
  })
  .strict()
  .superRefine((pipe, ctx) => {
    if (pipe.source === pipe.destination) {
      ctx.addIssue({ code: 'custom', path: ['destination'], message: `is the same directory as source ('${pipe.source}')` });
    }
    const names = new Map<string, number>();
    const orders = new Map<number, string>();
    pipe.syncClasses.forEach((syncClass, index) => {
      const sameName = names.get(syncClass.name.toLowerCase());
      if (sameName !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['syncClasses', index, 'name'],
          message: `'${syncClass.name}' is already used by syncClasses[${sameName}]`,
        });
      } else names.set(syncClass.name.toLowerCase(), index);
      const sameOrder = orders.get(syncClass.evaluationOrder);
      if (sameOrder !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['syncClasses', index, 'evaluationOrder'],
          message: `${syncClass.evaluationOrder} is already used by sync class '${sameOrder}'; the order must be unambiguous`,
        });
      } else orders.set(syncClass.evaluationOrder, syncClass.name);
    });
    checkUniqueTargets(pipe.attributeMappings, ctx, ['attributeMappings']);
    checkConsistentPolicies(pipe, ctx);
  });

/** How the writer treats a mapping's destination attribute (write-request v2's AttributePolicy). */
export interface MappingPolicy {
  readonly authority: 'force' | 'keep' | 'merge';
  readonly bitMask: string | null;
  readonly auxiliaryClass: string | null;
}

export function mappingPolicy(mapping: AttributeMapping): MappingPolicy {
  return { authority: mapping.authority ?? 'force', bitMask: mapping.bits ?? null, auxiliaryClass: mapping.auxiliaryClass ?? null };
}

export function isDefaultPolicy(policy: MappingPolicy): boolean {
  return policy.authority === 'force' && policy.bitMask === null && policy.auxiliaryClass === null;
}

const describePolicy = (p: MappingPolicy): string =>
  [`authority ${p.authority}`, p.bitMask === null ? 'no bits' : `bits ${p.bitMask}`, p.auxiliaryClass === null ? 'no auxiliaryClass' : `auxiliaryClass ${p.auxiliaryClass}`].join(', ');

/** A destination attribute is written one way throughout a pipe: the writer cannot tell its sync classes apart. */
function checkConsistentPolicies(pipe: { attributeMappings: readonly AttributeMapping[]; syncClasses: readonly { attributeMappings: readonly AttributeMapping[] }[] }, ctx: z.RefinementCtx): void {
  const first = new Map<string, { policy: MappingPolicy; where: string }>();
  const lists: [readonly AttributeMapping[], (string | number)[]][] = [
    [pipe.attributeMappings, ['attributeMappings']],
    ...pipe.syncClasses.map((c, i): [readonly AttributeMapping[], (string | number)[]] => [c.attributeMappings, ['syncClasses', i, 'attributeMappings']]),
  ];
  for (const [mappings, path] of lists) {
    mappings.forEach((mapping, index) => {
      const key = mapping.to.toLowerCase();
      const policy = mappingPolicy(mapping);
      const seen = first.get(key);
      if (seen === undefined) first.set(key, { policy, where: `${path.join('.')}[${index}]` });
      else if (describePolicy(seen.policy) !== describePolicy(policy)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, index],
          message: `writes '${mapping.to}' with ${describePolicy(policy)}, but ${seen.where} with ${describePolicy(seen.policy)}: a pipe writes each attribute one way`,
        });
      }
    });
  }
}

/** A validated pipe (defaults applied, mappings tagged with their kind). */
export type Pipe = z.infer<typeof pipeSchema>;
/** A pipe as written in the configuration file. */
export type PipeInput = z.input<typeof pipeSchema>;

/** The `pipes:` block: pipe names are unique (they appear in every request id). */
export const pipesSchema = z.array(pipeSchema).superRefine((pipes, ctx) => {
  const seen = new Map<string, number>();
  pipes.forEach((pipe, index) => {
    const first = seen.get(pipe.name);
    if (first !== undefined) {
      ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `'${pipe.name}' is already used by pipes[${first}]` });
    } else seen.set(pipe.name, index);
  });
});
