import { isUuidText, type LeaveScopeAction, type ReceiptAttribute, type WriteRequest } from '@idsync/contracts';
import { type DirectoryConfig, type DirectoryKind, type SyncConfig } from '@idsync/config';
import { type Dn, dnEquals, formatDn, formatRdn, isInSubtree, normalizeAttributeType, parentDn, parseDn } from '@idsync/mapping';
import { LdapPool, type LdapObserver, namedDirectory, searchAllValues, writerCredentials } from '@idsync/platform';
import { type Keyring, keyringFromConfig, operationKeyring, type SecretsConfig } from '@idsync/secrets';
import { Attribute, Change, EqualityFilter, type Filter, OrFilter } from 'ldapts';
import { attributeKey, AttributeKnowledge, type AttributeKnowledgeOptions } from './attributes';
import { classifyError, type Classification, type WriteStep } from './classify';
import { correlationQueries } from './correlation';
import { type CurrentEntry, currentEntry, type Modification } from './diff';
import { AmbiguousCorrelationError, InvalidEntryError, WriteError } from './errors';
import { endIn, entryIdOf, idAttribute, type KnownLink, LinkConflictError, otherEnd, type WriterLinks } from './links';
import { type PasswordOptions, resolvePasswords } from './passwords';
import { PostReadControl } from './post-read';
import { type PlannedStep, planUnlink, planWrite, type WritePlan } from './plan';
import { entryAfterStep, moveReceiptAttributes, receiptAttributes, stepChanges, type WriteReceiptSink } from './receipts';

export interface DirectoryWriterOptions {
  /** Name of the destination directory in the configuration (for messages). */
  readonly name: string;
  readonly directory: DirectoryConfig;
  /** The writer's own account (the one the other side's detector ignores). */
  readonly credentials: { readonly bindDn: string; readonly bindPassword: string };
  /** Plan (reads included) and report, write nothing. */
  readonly dryRun?: boolean;
  /** Told of every LDAP operation (the service's LDAP histogram, ldapObserver). */
  readonly observe?: LdapObserver;
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
  /** Operation keys (secrets.operationKeys): sealed passwords must be bound to the request's destination entry. */
  readonly operationKeys?: Keyring;
  /**
   * LDAP connections used side by side (default 8). Requests for different entries run concurrently, and a server
   * serves one connection with a few threads only (389-ds: nsslapd-maxthreadsperconn, 5 by default).
   */
  readonly connections?: number;
  /**
   * The links (source id -> destination id) this writer acts on: modify, rename and delete find the linked entry
   * by its id first, whatever its DN; DN and correlation only when no link exists. Without it the writer finds
   * entries by DN and correlation only (tools that plan without a links view).
   */
  readonly links?: WriterLinks;
  /** Source directory of each pipe whose requests this writer takes (needed with `links`). */
  readonly pipeSources?: ReadonlyMap<string, string>;
  /**
   * The subtrees each pipe writes to (its DN maps' targets). A linked entry found outside them (moved away at the
   * destination) is left alone: a pipe never writes outside its own subtrees.
   */
  readonly pipeScopes?: ReadonlyMap<string, readonly Dn[]>;
  /**
   * Where the writer says what it is about to change in an existing entry, before sending the change (receipts.ts):
   * for a directory that does not record who made a change (AD), whose detector then knows its own writer's changes.
   */
  readonly receipts?: { readonly sink: WriteReceiptSink; readonly service: string };
  /** A create whose correlation matched another source entry's linked entry creates its own beside it (logs, metrics). */
  readonly onCreatedBeside?: (beside: { readonly request: WriteRequest; readonly dn: string; readonly id: string; readonly linkedTo: string }) => void;
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
  /**
   * The request is the delete of an entry that left the pipe's scope (LEAVE_SCOPE_HEADER): only the linked entry
   * is acted on — deleted, or only unlinked — never what its DN finds.
   */
  readonly leaveScope?: LeaveScopeAction;
  /** The upsert states the source entry as it is now (SNAPSHOT_HEADER): a linked entry elsewhere is moved to its DN. */
  readonly snapshot?: boolean;
}

/** How the destination entry was found. */
export const FOUND_BY = ['link', 'dn', 'previous-dn', 'correlation', 'none'] as const;
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
  /** What became of the request's link: recorded (new), kept, removed, or none (no links, dry run, nothing found). */
  readonly link: 'recorded' | 'kept' | 'removed' | 'none';
  /** The request was a rename older than the linked entry's own later rename: not followed (values only). */
  readonly staleRename?: true;
  /** The destination entry's id (objectGUID, entryUUID), when the writer knows it (the sync log's destination id). */
  readonly destinationId: string | null;
}

/** Where the destination entry of a request was found, and the link that found it (or that the write will record). */
interface Found {
  readonly entry: CurrentEntry | null;
  readonly foundBy: FoundBy;
  /** The link the entry was found by. */
  readonly link: KnownLink | null;
  /** Set when the request needs nothing, before any plan (a delete of an entry whose link says it is gone). */
  readonly settled: string | null;
  /** A rename older than the linked entry's own later rename: its values applied, the entry not moved back. */
  readonly staleRename?: true;
}

/**
 * How a request without a link looks for its entry before writing: `thorough` reads the DN, then the correlation
 * lists; `add-first` lets an upsert try its add when the correlation lists find nothing (findByName).
 */
type Lookup = 'add-first' | 'thorough';

const DEFAULT_MEMBER_ATTRIBUTES = ['member', 'uniqueMember'];

/** An entry moved aside by parkOccupant from `previous` (its RDN value plus `~` and 8 characters of its id). */
function isParked(current: string, previous: string): boolean {
  try {
    const now = parseDn(current);
    const before = parseDn(previous);
    const [ava] = now[0] ?? [];
    const [was] = before[0] ?? [];
    if (ava === undefined || was === undefined) return false;
    const parent = parentDn(now);
    const previousParent = parentDn(before);
    const sameParent = parent !== null && previousParent !== null && dnEquals(parent, previousParent);
    return sameParent && /~[0-9a-f]{8}$/i.test(ava.value) && ava.value.toLowerCase().startsWith(was.value.slice(0, 48).toLowerCase());
  } catch {
    return false;
  }
}

function sameDn(a: string, b: string): boolean {
  try {
    return dnEquals(parseDn(a), parseDn(b));
  } catch {
    return a.toLowerCase() === b.toLowerCase();
  }
}
const NO_SUCH_OBJECT = 32;
const ENTRY_ALREADY_EXISTS = 68;

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
    this.pool = new LdapPool({
      name: options.name,
      directory: options.directory,
      credentials: options.credentials,
      size: Math.max(1, options.connections ?? 8),
      ...(options.observe ? { observe: options.observe } : {}),
    });
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
      ...withOperationKeys(operationKeyring(config.secrets)),
      ...overrides,
    });
  }

  private get passwordOptions(): PasswordOptions {
    const { keyring, operationKeys, name } = this.options;
    return { kind: this.kind, keyring, binding: operationKeys === undefined ? undefined : { operationKeys, destination: name } };
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
    if (hints.leaveScope !== undefined && request.op === 'delete') return this.leaveScope(request, hints.leaveScope);
    const absent = hints.absent === true && request.op === 'upsert';
    const first = await this.applyOnce(request, absent ? 'absent' : 'add-first', hints.snapshot === true);
    // An add that met an existing entry (a name taken, a replay, a create racing another writer): look it up by DN
    // and correlation, compare, and modify it now.
    if (first.raceOnAdd) {
      const second = await this.applyOnce(request, 'thorough', hints.snapshot === true);
      return { ...second.result, alreadyApplied: [...first.result.alreadyApplied, ...second.result.alreadyApplied] };
    }
    return first.result;
  }

  private async applyOnce(request: WriteRequest, lookup: Lookup | 'absent', snapshot: boolean): Promise<{ result: ApplyResult; raceOnAdd: boolean }> {
    try {
      const { plan, found } = lookup === 'absent' ? this.planCreate(request) : await this.planFound(request, snapshot, lookup);
      const { foundBy } = found;
      const stale = found.staleRename === true ? { staleRename: true as const } : {};
      if (this.dryRun)
        return {
          result: { outcome: plan.steps.length === 0 ? 'no-op' : 'dry-run', plan, foundBy, alreadyApplied: [], createdParents: [], link: 'none', destinationId: this.idHere(found), ...stale },
          raceOnAdd: false,
        };
      if (plan.steps.length === 0) {
        const { link, destinationId } = await this.settleLink(request, plan, found, false);
        return { result: { outcome: 'no-op', plan, foundBy, alreadyApplied: [], createdParents: [], link, destinationId, ...stale }, raceOnAdd: false };
      }
      const { alreadyApplied, createdParents, raceOnAdd, added } = await this.sendSteps(plan, request, found.entry).catch(async (error: unknown) => {
        // An add tried without reading its DN first, refused: if only because the name is taken (a server may say so
        // with another code, e.g. a schema violation of the add), the thorough lookup finds and compares that entry.
        const add = plan.steps[0];
        const refused = error instanceof WriteError && error.outcome !== 'retry';
        if (lookup !== 'add-first' || foundBy !== 'none' || add?.kind !== 'add' || !refused || (await this.read(add.dn, ['objectClass'])) === null) throw error;
        return { alreadyApplied: [], createdParents: [], raceOnAdd: true, added: null };
      });
      const outcome = alreadyApplied.length === plan.steps.length ? 'already-applied' : 'applied';
      const { link, destinationId } = raceOnAdd ? { link: 'none' as const, destinationId: null } : await this.settleLink(request, plan, found, true, added);
      return { result: { outcome, plan, foundBy, alreadyApplied, createdParents, link, destinationId, ...stale }, raceOnAdd };
    } catch (error) {
      throw this.toWriteError(error, 'search', request, request.dn);
    }
  }

  /**
   * Sends a plan's steps in order. A step the server says is done already (a replay) is noted, not failed; an add
   * that meets an existing entry sets `raceOnAdd`. Any other failure comes out as a WriteError naming its step.
   */
  private async sendSteps(
    plan: WritePlan,
    request: WriteRequest,
    target: CurrentEntry | null,
  ): Promise<{ alreadyApplied: string[]; createdParents: string[]; raceOnAdd: boolean; added: CurrentEntry | null }> {
    const alreadyApplied: string[] = [];
    const createdParents: string[] = [];
    let raceOnAdd = false;
    let added: CurrentEntry | null = null;
    // The entry as the steps sent so far leave it: what the next step's receipt starts from.
    let known = target;
    for (const planned of plan.steps) {
      const step = this.stepKind(planned);
      await this.sendReceipt(planned, known, request);
      try {
        const sent = await this.send(planned, createdParents, request, known);
        added = sent ?? added;
        known = entryAfterStep(known, planned);
        // A directory server returns the new entry's id with the add (post-read): later steps' receipts name it.
        if (sent !== null && known !== null) known = { dn: known.dn, attributes: new Map([...known.attributes, ...sent.attributes]) };
      } catch (error) {
        const verdict = classifyError(error, step, this.kind);
        if (verdict.outcome !== 'already-applied') throw this.toWriteError(error, step, request, planned.dn);
        alreadyApplied.push(verdict.reason);
        if (planned.kind === 'add') raceOnAdd = true;
      }
    }
    return { alreadyApplied, createdParents, raceOnAdd, added };
  }

  /**
   * The receipt of an add, a modify or a move, when receipts are on: by the entry's id when it was read, else (an
   * entry being created) by its DN. A failure to publish it stops the write (retried), nothing sent.
   */
  private async sendReceipt(step: PlannedStep, entry: CurrentEntry | null, request: WriteRequest): Promise<void> {
    if (this.options.receipts === undefined || step.kind === 'delete') return;
    const attributes =
      step.kind === 'modify-dn'
        ? moveReceiptAttributes(step.dn, step.newDn)
        : receiptAttributes(stepChanges(step), step.kind === 'add' ? null : entry, { isPassword: (name) => this.knowledge.isPassword(name), activeDirectory: this.kind === 'active-directory' });
    const entryId = step.kind === 'add' || entry === null ? null : entryIdOf(entry, this.kind);
    // A move's receipt names the entry by id: DirSync shows it at its new DN only.
    if (attributes.length === 0 || (step.kind === 'modify-dn' && entryId === null)) return;
    await this.publishReceipt(request, step.dn, entryId, attributes);
  }

  /**
   * Publishes a receipt: before its change (landed false: a failure stops the write, nothing sent), or once a move
   * landed (its second receipt, which tells the detector the move can be superseded; a failure retries the request,
   * which finds the entry moved already).
   */
  private async publishReceipt(request: WriteRequest, dn: string, entryId: ReturnType<typeof entryIdOf>, attributes: ReceiptAttribute[], landed = false): Promise<void> {
    const receipts = this.options.receipts;
    if (receipts === undefined) return;
    const now = Date.now();
    try {
      await receipts.sink.record({ service: receipts.service, directory: this.options.name, requestId: request.requestId, entryId, dn, writtenAt: now, attributes, landedAt: landed ? now : null });
    } catch (error) {
      const what = landed ? `the second receipt of the move of ${dn} was not published` : `the write receipt for ${dn} was not published`;
      throw new WriteError(
        'retry',
        `${what} (${error instanceof Error ? error.message : String(error)})${landed ? '' : '; nothing was written'}`,
        { requestId: request.requestId, dn },
        { cause: error },
      );
    }
  }

  /** The source entry left the pipe's scope: its linked entry is deleted or unlinked; without a link, nothing. */
  private async leaveScope(request: WriteRequest, action: LeaveScopeAction): Promise<ApplyResult> {
    const noOp = (reason: string, link: ApplyResult['link'] = 'none', destinationId: string | null = null): ApplyResult => ({
      outcome: 'no-op',
      plan: { requestId: request.requestId, op: request.op, target: null, steps: [], reason },
      foundBy: 'link',
      alreadyApplied: [],
      createdParents: [],
      link,
      destinationId,
    });
    const links = this.options.links;
    if (links === undefined) return noOp('left the scope: acted on by link only, and this writer has no links');
    try {
      const link = links.counterpart(this.sourceDirectory(request), request.sourceEntryId.value, this.options.name);
      if (link === null) return noOp(`left the scope: entry ${request.sourceEntryId.value} is linked to nothing here`);
      const id = endIn(link, this.options.name).value;
      const entry = await this.readById(id, ['objectClass']);
      if (entry === null || action === 'unlink' || this.dryRun || !this.writesTo(request.pipe, entry.dn)) {
        if (!this.dryRun) links.unlink(link);
        return noOp(entry === null ? `left the scope: the linked entry ${id} is already gone` : `left the scope: ${entry.dn} stays, unlinked`, this.dryRun ? 'none' : 'removed', id);
      }
      const plan: WritePlan = { requestId: request.requestId, op: request.op, target: entry.dn, steps: [{ kind: 'delete', dn: entry.dn }], reason: null };
      const { alreadyApplied } = await this.sendSteps(plan, request, entry);
      links.unlink(link);
      return { outcome: alreadyApplied.length > 0 ? 'already-applied' : 'applied', plan, foundBy: 'link', alreadyApplied, createdParents: [], link: 'removed', destinationId: id };
    } catch (error) {
      throw this.toWriteError(error, 'search', request, request.dn);
    }
  }

  /** The create of an entry known to be absent: no read. */
  private planCreate(request: WriteRequest): { plan: WritePlan; found: Found } {
    const resolved = resolvePasswords(request, this.passwordOptions);
    return { plan: planWrite(resolved, null, { kind: this.kind, attributes: this.knowledge }), found: { entry: null, foundBy: 'none', link: null, settled: null } };
  }

  /** Finds and reads the destination entry, then plans. Exposed for dry runs and tests. */
  async plan(request: WriteRequest, hints: ApplyHints = {}): Promise<{ plan: WritePlan; foundBy: FoundBy }> {
    const { plan, found } = await this.planFound(request, hints.snapshot === true, 'thorough');
    return { plan, foundBy: found.foundBy };
  }

  private async planFound(request: WriteRequest, snapshot: boolean, lookup: Lookup): Promise<{ plan: WritePlan; found: Found }> {
    const planOptions = { kind: this.kind, attributes: this.knowledge };
    if (request.op === 'unlink') {
      const holders = await this.holders(request);
      return { plan: planUnlink(request, holders, planOptions), found: { entry: null, foundBy: holders.length > 0 ? 'dn' : 'none', link: null, settled: null } };
    }
    // Sealed passwords are opened first: a request that cannot be opened is dead-lettered before any read.
    const resolved = resolvePasswords(request, this.passwordOptions);
    const found = await this.find(resolved, snapshot, lookup);
    if (found.settled !== null) return { plan: { requestId: request.requestId, op: request.op, target: null, steps: [], reason: found.settled }, found };
    const entry = found.entry;
    if (found.foundBy === 'link' && entry !== null && !sameDn(entry.dn, resolved.dn)) {
      // The linked entry is the one, wherever it is. A snapshot states where the source entry is now: move it there
      // (a rename this side missed, repaired by a resync). A rename moves it from where it is when that is where the
      // rename starts (or the start is unknown); a linked entry elsewhere was renamed here since — the request is
      // older than that rename (a late echo in two-way sync, a replay) and must not move it back: its values only.
      if (resolved.op === 'upsert' && snapshot) return { plan: planWrite({ ...resolved, op: 'rename', previousDn: entry.dn }, entry, planOptions), found };
      if (resolved.op === 'rename' && resolved.previousDn !== null && !sameDn(entry.dn, resolved.previousDn) && !isParked(entry.dn, resolved.previousDn)) {
        return { plan: planWrite({ ...resolved, op: 'modify' }, entry, planOptions), found: { ...found, staleRename: true } };
      }
    }
    return { plan: planWrite(resolved, entry, planOptions), found };
  }

  /** Whether `dn` lies in the subtrees the pipe writes to (no bounds configured: anywhere). */
  private writesTo(pipe: string, dn: string): boolean {
    const bases = this.options.pipeScopes?.get(pipe);
    if (bases === undefined) return true;
    try {
      const parsed = parseDn(dn);
      return bases.some((base) => isInSubtree(parsed, base));
    } catch {
      return false;
    }
  }

  /** The source directory of the request's pipe; links need it (the writer only knows its own destination). */
  private sourceDirectory(request: WriteRequest): string {
    const source = this.options.pipeSources?.get(request.pipe);
    if (source === undefined) {
      throw new InvalidEntryError(`request ${request.requestId} names pipe '${request.pipe}', which is not a pipe of this writer's configuration`, {
        requestId: request.requestId,
        dn: request.dn,
      });
    }
    return source;
  }

  /**
   * After the write: records the link of an entry this request created or found by DN or correlation, removes the
   * link of an entry it deleted. `wrote`: steps were sent (false: the destination already matched).
   */
  /** The id of the entry `found` names in this directory, when known (by its link, or read with the entry). */
  private idHere(found: Found): string | null {
    if (found.link !== null) return endIn(found.link, this.options.name).value;
    return found.entry === null ? null : (entryIdOf(found.entry, this.kind)?.value ?? null);
  }

  private async settleLink(request: WriteRequest, plan: WritePlan, found: Found, wrote: boolean, added: CurrentEntry | null = null): Promise<Pick<ApplyResult, 'link' | 'destinationId'>> {
    const links = this.options.links;
    const created = plan.steps.find((step) => step.kind === 'add');
    if (links === undefined || request.op === 'unlink')
      return { link: 'none', destinationId: created === undefined ? this.idHere(found) : added === null ? null : (entryIdOf(added, this.kind)?.value ?? null) };
    if (request.op === 'delete') {
      const destinationId = this.idHere(found);
      if (found.link !== null && wrote) {
        links.unlink(found.link);
        return { link: 'removed', destinationId };
      }
      return { link: 'none', destinationId };
    }
    if (found.link !== null) return { link: 'kept', destinationId: this.idHere(found) };
    // A created entry's id came with the add (post-read control) or is read back; an entry found by DN or
    // correlation was read with its id.
    const entry = created === undefined ? found.entry : (added ?? (await this.read(created.dn, [idAttribute(this.kind)])));
    const origin = created !== undefined || found.foundBy === 'link' || found.foundBy === 'none' ? 'created' : found.foundBy;
    if (entry === null) return { link: 'none', destinationId: null };
    const destination = entryIdOf(entry, this.kind);
    if (destination === null) return { link: 'none', destinationId: null };
    links.link({
      pipe: request.pipe,
      source: { directory: this.sourceDirectory(request), ...request.sourceEntryId },
      destination: { directory: this.options.name, ...destination },
      origin,
    });
    return { link: 'recorded', destinationId: destination.value };
  }

  /**
   * The linked entry. Directory servers search by entryUUID (a subtree search); the entry is nearly always where the
   * request says, so that DN is read first (a base read, as cheap as finding it by DN) and kept when its id matches.
   */
  private async readLinked(id: string, request: WriteRequest, attributes: string[]): Promise<CurrentEntry | null> {
    if (this.kind === 'ldap') {
      const guess = await this.read(request.op === 'rename' && request.previousDn !== null ? request.previousDn : request.dn, attributes).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 34) return null; // a DN this server cannot parse: search by id
        throw error;
      });
      if (guess !== null && entryIdOf(guess, this.kind)?.value === id.toLowerCase()) return guess;
    }
    return this.readById(id, attributes);
  }

  /** Reads the entry with this id (AD: by `<GUID=…>`; LDAP servers: `(entryUUID=…)`), or null when there is none. */
  private async readById(id: string, attributes: string[]): Promise<CurrentEntry | null> {
    if (!isUuidText(id)) throw new InvalidEntryError(`linked id '${id}' is not a UUID`);
    if (this.kind === 'active-directory') return this.read(`<GUID=${id.toLowerCase()}>`, attributes);
    const { searchEntries } = await this.pool.run((client) =>
      searchAllValues(client, this.options.directory.baseDn, {
        scope: 'sub',
        filter: new EqualityFilter({ attribute: 'entryUUID', value: id.toLowerCase() }),
        attributes,
        sizeLimit: 2,
        explicitBufferAttributes: this.knowledge.bufferAttributeNames(),
      }),
    );
    const [first] = searchEntries;
    return first === undefined ? null : currentEntry(first);
  }

  /** Attributes to read: those the request touches (not passwords: never readable as written), objectClass, and AD's GUID. */
  private readAttributes(request: WriteRequest): string[] {
    const names = new Set<string>(['objectClass', idAttribute(this.kind)]);
    for (const change of request.attributes) if (!this.knowledge.isPassword(change.name)) names.add(change.name);
    // AD: an account created without a password (546) is enabled when its first password arrives (planWrite).
    if (this.kind === 'active-directory' && request.attributes.some((c) => attributeKey(c.name) === 'unicodepwd')) names.add('userAccountControl');
    for (const list of request.correlation) for (const name of list) names.add(name);
    return [...names];
  }

  private async read(dn: string, attributes: string[]): Promise<CurrentEntry | null> {
    try {
      const { searchEntries } = await this.pool.run((client) =>
        searchAllValues(client, dn, {
          scope: 'base',
          filter: '(objectClass=*)',
          attributes,
          explicitBufferAttributes: this.knowledge.bufferAttributeNames(),
        }),
      );
      const found = searchEntries[0];
      return found === undefined ? null : currentEntry(found);
    } catch (error) {
      if ((error as { code?: unknown }).code === NO_SUCH_OBJECT) return null;
      throw error;
    }
  }

  /**
   * The destination entry of a request: the linked entry (by its id, wherever it is now); without a link, by
   * (previous) DN, then correlation, and an entry found that way must not be linked to another source entry.
   */
  private async find(request: WriteRequest, snapshot: boolean, lookup: Lookup): Promise<Found> {
    const attributes = this.readAttributes(request);
    // A dry run reports what would be written, so it never learns of a taken name from a failed add.
    const addFirst = lookup === 'add-first' && request.op === 'upsert' && !this.dryRun;
    const links = this.options.links;
    if (links === undefined) return { ...(await this.findByName(request, attributes, addFirst)), link: null, settled: null };
    const source = this.sourceDirectory(request);
    const sourceId = request.sourceEntryId.value;
    // Only a full read of the source entry (a resync) may re-create a destination entry its link says is gone.
    const recreates = request.op === 'upsert' && snapshot;
    let link = links.counterpart(source, sourceId, this.options.name);
    if (link === null && links.catchUp !== undefined) {
      await links.catchUp();
      link = links.counterpart(source, sourceId, this.options.name);
    }
    if (link !== null) {
      const gone = endIn(link, this.options.name).value;
      const entry = await this.readLinked(gone, request, attributes);
      if (entry !== null && !this.writesTo(request.pipe, entry.dn)) {
        // Moved out of the pipe's subtrees here: not this pipe's to change. A delete ends the link (its source is gone).
        if (request.op === 'delete') links.unlink(link);
        return { entry: null, foundBy: 'link', link: null, settled: `the linked entry ${entry.dn} is outside the subtrees pipe ${request.pipe} writes to: left alone` };
      }
      if (entry !== null) return { entry, foundBy: 'link', link, settled: null };
      // The linked entry is gone (deleted here): whatever a DN or a correlation finds now is another entry. The
      // link stays until the source entry's own delete ends it (or a resync re-creates the entry): in two-way sync
      // that deletion is itself on its way to the other side, whose writer needs the link to act on it.
      if (!recreates) {
        if (request.op === 'delete') links.unlink(link);
        return { entry: null, foundBy: 'link', link: null, settled: `the linked entry ${gone} is gone (deleted here); nothing to ${request.op}` };
      }
      links.unlink(link);
    } else if (!recreates && links.wasUnlinked(sourceId)) {
      // Linked until its counterpart was deleted: this is the delete that did it, its echo, or a replay of an older
      // change. Whatever has the DN now is another entry.
      return { entry: null, foundBy: 'none', link: null, settled: `entry ${sourceId} was unlinked when its counterpart was deleted; nothing to ${request.op}` };
    } else if (request.op === 'rename' && request.previousDn === null) {
      // A rename that does not say where it came from (read after a detector restart, moved in from outside the
      // source's scope, or seen by a detector that watches other subtrees) moves only a linked entry: what holds the new
      // DN or matches a correlation is not known to be this one. An entry that entered the scope comes with a snapshot.
      return { entry: null, foundBy: 'none', link: null, settled: `entry ${sourceId} has no linked entry here and the rename does not say where it came from: only a linked entry is moved` };
    }
    const found = await this.findByName(request, attributes, addFirst);
    if (found.entry === null) return { ...found, link: null, settled: null };
    const id = entryIdOf(found.entry, this.kind);
    const owner = id === null ? null : links.counterpart(this.options.name, id.value, source);
    if (id === null || owner === null || otherEnd(owner, id.value).value === sourceId) return { ...found, link: null, settled: null };
    // Found by DN or correlation, but it is another source entry's linked entry: never written to.
    const linkedTo = otherEnd(owner, id.value).value;
    if (request.op === 'upsert' && found.foundBy === 'correlation') {
      // The name is free; only a correlation value matched someone else's entry: create the new entry beside it.
      this.options.onCreatedBeside?.({ request, dn: found.entry.dn, id: id.value, linkedTo });
      return { entry: null, foundBy: 'none', link: null, settled: null };
    }
    throw new LinkConflictError(request.pipe, sourceId, { dn: found.entry.dn, id: id.value }, linkedTo, request.op === 'upsert', { requestId: request.requestId });
  }

  /**
   * By (previous) DN, then by the correlation lists. `addFirst` (an upsert that has no link: nearly always a create
   * whose name is free): the correlation lists are searched first, and when they find nothing (and can tell) the DN is
   * not read: the add is tried at once, and an entry that holds the name after all makes it fail, after which apply()
   * looks again thoroughly. Anything else takes the thorough order (the DN's entry wins over a correlation match).
   * That saves a directory read per create: on 389-ds a third of a create's cost.
   */
  private async findByName(request: WriteRequest, attributes: string[], addFirst = false): Promise<{ entry: CurrentEntry | null; foundBy: FoundBy }> {
    if (request.op === 'rename' && request.previousDn !== null) {
      const previous = await this.read(request.previousDn, attributes);
      if (previous !== null) return { entry: previous, foundBy: 'previous-dn' };
    }
    // An ambiguous or out-of-scope match is moot if the DN's entry exists: the thorough order decides (and throws).
    if (addFirst && (await this.correlate(request, attributes).catch(() => undefined)) === null) return { entry: null, foundBy: 'none' };
    const byDn = await this.read(request.dn, attributes);
    if (byDn !== null) return { entry: byDn, foundBy: 'dn' };
    const correlated = await this.correlate(request, attributes);
    return correlated === null ? { entry: null, foundBy: 'none' } : { entry: correlated, foundBy: 'correlation' };
  }

  /**
   * The entry the request's correlation lists find (each list in turn; the first that finds one decides), or null.
   * More than one is ambiguous; one outside the pipe's subtrees is never adopted (both throw).
   */
  private async correlate(request: WriteRequest, attributes: string[]): Promise<CurrentEntry | null> {
    for (const query of correlationQueries(request)) {
      let entries: CurrentEntry[];
      try {
        const { searchEntries } = await this.pool.run((client) =>
          searchAllValues(client, this.searchBase, {
            scope: 'sub',
            filter: query.filter,
            attributes,
            sizeLimit: 2,
            explicitBufferAttributes: this.knowledge.bufferAttributeNames(),
          }),
        );
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
      if (only !== undefined && !this.writesTo(request.pipe, only.dn)) {
        // Never adopted: an account elsewhere (an administrator's, another pipe's) is not this pipe's to change.
        throw new InvalidEntryError(`correlation on ${query.attributes.join(', ')} found ${only.dn}, which is outside the subtrees pipe ${request.pipe} writes to; it is not adopted`, {
          requestId: request.requestId,
          dn: request.dn,
        });
      }
      if (only !== undefined) return only;
    }
    return null;
  }

  /** Entries whose member attributes (named by the unlink request) hold the removed DN. */
  private async holders(request: WriteRequest): Promise<CurrentEntry[]> {
    const removed = request.previousDn ?? request.dn;
    const names = [...new Set(request.attributes.map((change) => change.name))];
    if (names.length === 0) return [];
    const filters: Filter[] = names.map((attribute) => new EqualityFilter({ attribute, value: removed }));
    const { searchEntries } = await this.pool.run((client) =>
      searchAllValues(client, this.searchBase, {
        scope: 'sub',
        filter: filters.length === 1 ? (filters[0] as Filter) : new OrFilter({ filters }),
        attributes: names,
        paged: true,
      }),
    );
    // Groups outside the pipe's subtrees are not its to change, whoever they list.
    return searchEntries.map(currentEntry).filter((entry) => this.writesTo(request.pipe, entry.dn));
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

  /** Sends one step (`entry`: as the steps before left it); an add returns the new entry with its id when the server answered the post-read control. */
  private async send(step: PlannedStep, createdParents: string[], request: WriteRequest, entry: CurrentEntry | null = null): Promise<CurrentEntry | null> {
    switch (step.kind) {
      case 'add': {
        const attributes = step.attributes.map((a) => new Attribute({ type: a.name, values: ldapValues(a.values) }));
        // AD has no post-read control (its GUID is read back); directory servers return the entryUUID with the add.
        const postRead = this.kind === 'ldap' && this.options.links !== undefined ? new PostReadControl([idAttribute(this.kind)]) : null;
        await this.withParents(step.dn, createdParents, () => this.pool.run((client) => client.add(step.dn, attributes, postRead ?? undefined)));
        const entry = postRead?.entry;
        if (entry === undefined) return null;
        const record: Record<string, unknown> = { dn: entry.dn };
        for (const [name, values] of entry.attributes) record[name] = values.map((value) => value.toString('utf8'));
        return currentEntry(record as { dn: string });
      }
      case 'modify':
        await this.pool.run((client) => client.modify(step.dn, step.changes.map(toChange)));
        return null;
      case 'delete':
        await this.pool.run((client) => client.del(step.dn));
        return null;
      case 'modify-dn': {
        // ldapts sends newSuperior when the new DN has an unescaped comma: the full DN for a move, the RDN otherwise.
        const move = (): Promise<void> =>
          step.newSuperior === null
            ? this.pool.run((client) => client.modifyDN(step.dn, step.newRdn))
            : this.withParents(step.newDn, createdParents, () => this.pool.run((client) => client.modifyDN(step.dn, step.newDn)));
        try {
          await move();
        } catch (error) {
          if ((error as { code?: unknown }).code !== ENTRY_ALREADY_EXISTS || !(await this.parkOccupant(step.newDn, request))) throw error;
          await move();
        }
        // Its second receipt (receipts on only: the id is not read for nothing on every move).
        const moved = this.options.receipts === undefined || entry === null ? null : entryIdOf(entry, this.kind);
        if (moved !== null) await this.publishReceipt(request, step.dn, moved, moveReceiptAttributes(step.dn, step.newDn), true);
        return null;
      }
    }
  }

  /**
   * The DN an entry must move to is held by another linked entry: two entries swapping names (DirSync may show only
   * the end state: A at B's DN, B at A's), each move waiting for the other. The occupant is moved aside to a
   * parking name next to it (its RDN value with `~<first 8 characters of its id>`); its own source entry's rename
   * finds it there by its link. An occupant linked to nobody is not ours to move: false, and the 68 stands.
   */
  private async parkOccupant(dn: string, request: WriteRequest): Promise<boolean> {
    const links = this.options.links;
    if (links === undefined) return false;
    const occupant = await this.read(dn, [idAttribute(this.kind)]);
    if (occupant === null) return true; // moved away meanwhile
    const id = entryIdOf(occupant, this.kind);
    if (id === null || links.counterpart(this.options.name, id.value, this.sourceDirectory(request)) === null) return false;
    await this.park(occupant, id, request);
    return true;
  }

  /** Moves an entry aside next to where it is: its RDN value plus `~` and the first 8 characters of its id. */
  private async park(entry: CurrentEntry, id: NonNullable<ReturnType<typeof entryIdOf>>, request: WriteRequest): Promise<void> {
    const parsed = parseDn(entry.dn);
    const [ava, ...rest] = parsed[0] ?? [];
    if (ava === undefined || rest.length > 0) throw new InvalidEntryError(`cannot move ${entry.dn} aside: multi-valued RDN`, { dn: entry.dn });
    const parked = [{ ...ava, value: `${ava.value.slice(0, 48)}~${id.value.slice(0, 8)}` }];
    const receipt = moveReceiptAttributes(entry.dn, formatDn([parked, ...parsed.slice(1)]));
    await this.publishReceipt(request, entry.dn, id, receipt);
    await this.pool.run((client) => client.modifyDN(entry.dn, formatRdn(parked)));
    await this.publishReceipt(request, entry.dn, id, receipt, true);
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
    const classes = type === 'ou' ? ['top', 'organizationalUnit'] : type === 'cn' ? (this.kind === 'active-directory' ? ['top', 'container'] : ['top', 'nsContainer']) : null;
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
      { requestId: request.requestId, dn: dn ?? request.dn, code: verdict.code, bounded: verdict.bounded, exhausted: verdict.exhausted },
      { cause: error },
    );
  }
}

function withOperationKeys(operationKeys: Keyring | undefined): { operationKeys?: Keyring } {
  return operationKeys === undefined ? {} : { operationKeys };
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
