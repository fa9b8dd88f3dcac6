import { type WriteRequest } from '@idsync/contracts';
import { type DirectoryConfig, type DirectoryKind, type SyncConfig } from '@idsync/config';
import { type Dn, dnEquals, formatDn, isInSubtree, normalizeAttributeType, parentDn, parseDn } from '@idsync/mapping';
import { LdapPool, namedDirectory, writerCredentials } from '@idsync/platform';
import { type Keyring, keyringFromConfig, type SecretsConfig } from '@idsync/secrets';
import { Attribute, Change, EqualityFilter, type Filter, OrFilter } from 'ldapts';
import { attributeKey, AttributeKnowledge, type AttributeKnowledgeOptions } from './attributes';
import { classifyError, type Classification, type WriteStep } from './classify';
import { correlationQueries } from './correlation';
import { type CurrentEntry, currentEntry, type Modification } from './diff';
import { AmbiguousCorrelationError, InvalidEntryError, WriteError } from './errors';
import { resolvePasswords } from './passwords';
import { type PlannedStep, planUnlink, planWrite, type WritePlan } from './plan';

export interface DirectoryWriterOptions {
  /** Name of the destination directory in the configuration (for messages). */
  readonly name: string;
  readonly directory: DirectoryConfig;
  /** The writer's own account (the one the other side's detector ignores). */
  readonly credentials: { readonly bindDn: string; readonly bindPassword: string };
  /** Plan (reads included) and report, write nothing. */
  readonly dryRun?: boolean;
  /** Create missing parent containers (ou=..., AD CN=... containers) before an add or a move. Default false. */
  readonly createMissingParents?: boolean;
  /** Where correlation and unlink searches look; default the directory's baseDn. */
  readonly searchBase?: string;
  readonly attributes?: AttributeKnowledgeOptions;
  /** Attributes whose additions are member DNs (a 32/19 on adding them means "member not there yet"). */
  readonly memberAttributes?: readonly string[];
  /**
   * Keys that open sealed passwords (idsyncPassword) for this writer; without them a request carrying one is
   * dead-lettered. `forService` takes them from the configuration's `secrets.passwordKeys`.
   */
  readonly keyring?: Keyring;
  /**
   * LDAP connections used side by side (default 8). Requests for different entries run concurrently, and a server
   * serves one connection with a few threads only (389-ds: nsslapd-maxthreadsperconn, 5 by default).
   */
  readonly connections?: number;
}

/**
 * The keyring a configuration's `secrets.passwordKeys` describes, if any (the block is validated by
 * @idsync/secrets' secretsSchema, embedded in the configuration schema as `secrets:`).
 */
export function passwordKeyring(config: object): Keyring | undefined {
  const block = (config as { readonly secrets?: SecretsConfig | undefined }).secrets?.passwordKeys;
  return block === undefined ? undefined : keyringFromConfig(block);
}

/** What the caller knows about the destination beyond the request (from record headers). */
export interface ApplyHints {
  /** A resync found no destination entry for the request (ABSENT_HEADER). */
  readonly absent?: boolean;
}

/** How the destination entry was found. */
export const FOUND_BY = ['dn', 'previous-dn', 'correlation', 'none'] as const;
export type FoundBy = (typeof FOUND_BY)[number];

export interface ApplyResult {
  /** applied: steps sent; no-op: nothing to do; already-applied: the server said it was done; dry-run: planned only. */
  readonly outcome: 'applied' | 'no-op' | 'already-applied' | 'dry-run';
  readonly plan: WritePlan;
  readonly foundBy: FoundBy;
  /** Result codes that meant "already done" (idempotent replays), by step. */
  readonly alreadyApplied: readonly string[];
  /** Parent containers created for this request. */
  readonly createdParents: readonly string[];
}

const DEFAULT_MEMBER_ATTRIBUTES = ['member', 'uniqueMember'];
const NO_SUCH_OBJECT = 32;

/**
 * Applies WriteRequests to one directory: finds the destination entry (by DN, then by correlation), reads it,
 * plans the minimal write (planWrite), and sends it. Every failure comes out as a WriteError whose `outcome`
 * (from the classification table) says whether to retry, stop, or dead-letter. Safe to repeat: a replay finds the
 * entry equal and sends nothing.
 */
export class DirectoryWriter {
  /** Bound connections, opened on first use, dropped (and replaced) when they break; every operation has a deadline. */
  private readonly pool: LdapPool;
  private readonly knowledge: AttributeKnowledge;
  private readonly kind: DirectoryKind;
  private readonly searchBase: string;
  private readonly memberKeys: ReadonlySet<string>;
  private readonly dryRun: boolean;
  private readonly createMissingParents: boolean;

  constructor(private readonly options: DirectoryWriterOptions) {
    this.knowledge = new AttributeKnowledge(options.attributes);
    this.kind = options.directory.kind;
    this.searchBase = options.searchBase ?? options.directory.baseDn;
    this.memberKeys = new Set((options.memberAttributes ?? DEFAULT_MEMBER_ATTRIBUTES).map(attributeKey));
    this.dryRun = options.dryRun ?? false;
    this.createMissingParents = options.createMissingParents ?? false;
    this.pool = new LdapPool({ name: options.name, directory: options.directory, credentials: options.credentials, size: Math.max(1, options.connections ?? 8) });
  }

  /** The writer of a service, from the configuration: its destination, its own account, its dryRun switch. */
  static forService(config: SyncConfig, service: 'ad-writer' | 'ds-writer', overrides: Partial<DirectoryWriterOptions> = {}): DirectoryWriter {
    const block = config.services[service];
    return new DirectoryWriter({
      name: block.destination,
      directory: namedDirectory(config, block.destination),
      credentials: writerCredentials(config, service),
      dryRun: block.dryRun,
      ...withKeyring(passwordKeyring(config)),
      ...overrides,
    });
  }

  get isDryRun(): boolean {
    return this.dryRun;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }


  /**
   * Applies one request. Throws WriteError (outcome retry | stop | dead-letter) when it cannot be done now.
   * `hints.absent`: a resync found no destination entry for this request (by DN or correlation) moments ago; an
   * upsert is then added without looking again, and if the add meets an entry after all, found and compared.
   */
  async apply(request: WriteRequest, hints: ApplyHints = {}): Promise<ApplyResult> {
    const first = await this.applyOnce(request, hints.absent === true && request.op === 'upsert');
    // An add that met an existing entry (a replay, or a create racing another writer): compare and modify it now.
    if (first.raceOnAdd) {
      const second = await this.applyOnce(request, false);
      return { ...second.result, alreadyApplied: [...first.result.alreadyApplied, ...second.result.alreadyApplied] };
    }
    return first.result;
  }

  private async applyOnce(request: WriteRequest, absent: boolean): Promise<{ result: ApplyResult; raceOnAdd: boolean }> {
    let step: WriteStep = 'search';
    let dn: string | undefined = request.dn;
    try {
      const { plan, foundBy } = absent ? this.planCreate(request) : await this.plan(request);
      if (this.dryRun || plan.steps.length === 0) {
        const outcome = plan.steps.length === 0 ? 'no-op' : 'dry-run';
        return { result: { outcome, plan, foundBy, alreadyApplied: [], createdParents: [] }, raceOnAdd: false };
      }
      const alreadyApplied: string[] = [];
      const createdParents: string[] = [];
      let raceOnAdd = false;
      for (const planned of plan.steps) {
        step = this.stepKind(planned);
        dn = planned.dn;
        try {
          await this.send(planned, createdParents);
        } catch (error) {
          const verdict = classifyError(error, step, this.kind);
          if (verdict.outcome !== 'already-applied') throw error;
          alreadyApplied.push(verdict.reason);
          if (planned.kind === 'add') raceOnAdd = true;
        }
      }
      const outcome = alreadyApplied.length === plan.steps.length ? 'already-applied' : 'applied';
      return { result: { outcome, plan, foundBy, alreadyApplied, createdParents }, raceOnAdd };
    } catch (error) {
      throw this.toWriteError(error, step, request, dn);
    }
  }

  /** The create of an entry known to be absent: no read. */
  private planCreate(request: WriteRequest): { plan: WritePlan; foundBy: FoundBy } {
    const resolved = resolvePasswords(request, { kind: this.kind, keyring: this.options.keyring });
    return { plan: planWrite(resolved, null, { kind: this.kind, attributes: this.knowledge }), foundBy: 'none' };
  }

  /** Finds and reads the destination entry, then plans. Exposed for dry runs and tests. */
  async plan(request: WriteRequest): Promise<{ plan: WritePlan; foundBy: FoundBy }> {
    const planOptions = { kind: this.kind, attributes: this.knowledge };
    if (request.op === 'unlink') {
      const holders = await this.holders(request);
      return { plan: planUnlink(request, holders, planOptions), foundBy: holders.length > 0 ? 'dn' : 'none' };
    }
    // Sealed passwords are opened first: a request that cannot be opened is dead-lettered before any read.
    const resolved = resolvePasswords(request, { kind: this.kind, keyring: this.options.keyring });
    const { entry, foundBy } = await this.find(resolved);
    return { plan: planWrite(resolved, entry, planOptions), foundBy };
  }


  /** Attributes to read: those the request touches (not passwords: never readable as written), objectClass, and AD's GUID. */
  private readAttributes(request: WriteRequest): string[] {
    const names = new Set<string>(['objectClass']);
    if (this.kind === 'active-directory') names.add('objectGUID');
    for (const change of request.attributes) if (!this.knowledge.isPassword(change.name)) names.add(change.name);
    // AD: an account created without a password (546) is enabled when its first password arrives (planWrite).
    if (this.kind === 'active-directory' && request.attributes.some((c) => attributeKey(c.name) === 'unicodepwd')) names.add('userAccountControl');
    for (const list of request.correlation) for (const name of list) names.add(name);
    return [...names];
  }

  private async read(dn: string, attributes: string[]): Promise<CurrentEntry | null> {
    try {
      const { searchEntries } = await this.pool.run((client) => client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes,
        explicitBufferAttributes: this.knowledge.bufferAttributeNames(),
      }));
      const found = searchEntries[0];
      return found === undefined ? null : currentEntry(found);
    } catch (error) {
      if ((error as { code?: unknown }).code === NO_SUCH_OBJECT) return null;
      throw error;
    }
  }

  private async find(request: WriteRequest): Promise<{ entry: CurrentEntry | null; foundBy: FoundBy }> {
    const attributes = this.readAttributes(request);
    if (request.op === 'rename' && request.previousDn !== null) {
      const previous = await this.read(request.previousDn, attributes);
      if (previous !== null) return { entry: previous, foundBy: 'previous-dn' };
    }
    const byDn = await this.read(request.dn, attributes);
    if (byDn !== null) return { entry: byDn, foundBy: 'dn' };
    for (const query of correlationQueries(request)) {
      let entries: CurrentEntry[];
      try {
        const { searchEntries } = await this.pool.run((client) => client.search(this.searchBase, {
          scope: 'sub',
          filter: query.filter,
          attributes,
          sizeLimit: 2,
          explicitBufferAttributes: this.knowledge.bufferAttributeNames(),
        }));
        entries = searchEntries.map(currentEntry);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 4) throw new AmbiguousCorrelationError(query.attributes, ['more than 2 entries'], { requestId: request.requestId, dn: request.dn });
        throw error;
      }
      if (entries.length > 1) {
        throw new AmbiguousCorrelationError(
          query.attributes,
          entries.map((e) => e.dn),
          { requestId: request.requestId, dn: request.dn },
        );
      }
      const [only] = entries;
      if (only !== undefined) return { entry: only, foundBy: 'correlation' };
    }
    return { entry: null, foundBy: 'none' };
  }

  /** Entries whose member attributes (named by the unlink request) hold the removed DN. */
  private async holders(request: WriteRequest): Promise<CurrentEntry[]> {
    const removed = request.previousDn ?? request.dn;
    const names = [...new Set(request.attributes.map((change) => change.name))];
    if (names.length === 0) return [];
    const filters: Filter[] = names.map((attribute) => new EqualityFilter({ attribute, value: removed }));
    const { searchEntries } = await this.pool.run((client) => client.search(this.searchBase, {
      scope: 'sub',
      filter: filters.length === 1 ? (filters[0] as Filter) : new OrFilter({ filters }),
      attributes: names,
      paged: true,
    }));
    return searchEntries.map(currentEntry);
  }

  private stepKind(step: PlannedStep): WriteStep {
    switch (step.kind) {
      case 'add':
        return 'add';
      case 'delete':
        return 'delete';
      case 'modify-dn':
        return 'modify-dn';
      case 'modify':
        return modifyStep(step.changes, this.memberKeys);
    }
  }

  private async send(step: PlannedStep, createdParents: string[]): Promise<void> {
    switch (step.kind) {
      case 'add': {
        const attributes = step.attributes.map((a) => new Attribute({ type: a.name, values: ldapValues(a.values) }));
        await this.withParents(step.dn, createdParents, () => this.pool.run((client) => client.add(step.dn, attributes)));
        return;
      }
      case 'modify':
        await this.pool.run((client) => client.modify(step.dn, step.changes.map(toChange)));
        return;
      case 'delete':
        await this.pool.run((client) => client.del(step.dn));
        return;
      case 'modify-dn':
        // ldapts sends newSuperior when the new DN has an unescaped comma: the full DN for a move, the RDN otherwise.
        if (step.newSuperior === null) {
          await this.pool.run((client) => client.modifyDN(step.dn, step.newRdn));
        } else {
          await this.withParents(step.newDn, createdParents, () => this.pool.run((client) => client.modifyDN(step.dn, step.newDn)));
        }
        return;
    }
  }

  /** Runs an add or a move; when it fails because the parent is missing and parents may be created, creates them and runs it again. */
  private async withParents(dn: string, created: string[], operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (!this.createMissingParents || (error as { code?: unknown }).code !== NO_SUCH_OBJECT) throw error;
      const parent = parentDn(parseDn(dn));
      if (parent === null) throw error;
      await this.ensureEntry(parent, created);
      await operation();
    }
  }

  /** Creates a container and, first, its own missing parents; never above the directory's base DN. */
  private async ensureEntry(dn: Dn, created: string[]): Promise<void> {
    const text = formatDn(dn);
    if ((await this.read(text, ['objectClass'])) !== null) return;
    if (!isInSubtree(dn, this.options.directory.baseDn) || dnEquals(dn, this.options.directory.baseDn)) {
      throw new InvalidEntryError(`parent ${text} is missing and is outside the directory's base DN ${this.options.directory.baseDn}; it is not created`, { dn: text });
    }
    const parent = parentDn(dn);
    if (parent !== null) await this.ensureEntry(parent, created);
    const rdn = dn[0] ?? [];
    const [ava] = rdn;
    if (ava === undefined || rdn.length !== 1) throw new InvalidEntryError(`cannot create parent ${text}: multi-valued RDN`, { dn: text });
    const type = normalizeAttributeType(ava.type);
    const classes =
      type === 'ou' ? ['top', 'organizationalUnit'] : type === 'cn' ? (this.kind === 'active-directory' ? ['top', 'container'] : ['top', 'nsContainer']) : null;
    if (classes === null) throw new InvalidEntryError(`cannot create parent ${text}: no container class for naming attribute ${ava.type}`, { dn: text });
    try {
      await this.pool.run((client) => client.add(text, [new Attribute({ type: 'objectClass', values: classes }), new Attribute({ type: ava.type, values: [ava.value] })]));
      created.push(text);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 68) throw error; // created meanwhile by another writer: fine
    }
  }

  private toWriteError(error: unknown, step: WriteStep, request: WriteRequest, dn: string | undefined): WriteError {
    // A broken connection was already dropped by the pool; closing the others here would cut their operations short.
    const verdict: Classification = classifyError(error, step, this.kind);
    if (error instanceof WriteError) return error;
    return new WriteError(
      verdict.outcome === 'already-applied' ? 'retry' : verdict.outcome,
      `${request.op} ${request.requestId} on ${dn ?? request.dn}: ${verdict.reason}`,
      { requestId: request.requestId, dn: dn ?? request.dn, code: verdict.code, bounded: verdict.bounded },
      { cause: error },
    );
  }
}

function withKeyring(keyring: Keyring | undefined): { keyring?: Keyring } {
  return keyring === undefined ? {} : { keyring };
}

/** The step name a modify goes by in the classification table. */
export function modifyStep(changes: readonly Modification[], memberKeys: ReadonlySet<string>): WriteStep {
  if (changes.length > 0 && changes.every((c) => c.op === 'add')) {
    return changes.some((c) => memberKeys.has(attributeKey(c.name))) ? 'member-add' : 'value-add';
  }
  if (changes.length > 0 && changes.every((c) => c.op === 'delete' && c.values.length > 0)) return 'value-delete';
  return 'modify';
}

function ldapValues(values: readonly (string | Buffer)[]): string[] | Buffer[] {
  return values.every((v) => typeof v === 'string') ? (values as string[]) : values.map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v));
}

function toChange(change: Modification): Change {
  return new Change({ operation: change.op, modification: new Attribute({ type: change.name, values: ldapValues(change.values) }) });
}
