import { type SyncConfig } from '@idsync/config';
import { decodeEntryChange, encodeWriteRequest, entryKey, LEAVE_SCOPE_HEADER, SNAPSHOT_HEADER, UndecodableRecordError, UnencodableRecordError, type WriteRequest } from '@idsync/contracts';
import { compilePipe, type CompiledPipe, type DropReason, destinationBinding, mapChange, MappingError, PASSWORD_PSEUDO_ATTRIBUTE, type ScopeChange } from '@idsync/mapping';
import { bindPassword, type Keyring } from '@idsync/secrets';

/**
 * One input record in, the output records (or the reason it cannot be mapped) out. Pure: no Kafka, no clock, no
 * random ids, so replaying the input gives byte-identical output. The Kafka handler (mapper-handler.ts) produces
 * the records and counts and logs what this returns.
 */

/** Why an event produced nothing: the mapping core's reasons, plus an event from a directory no pipe reads. */
export type MapperDropReason = DropReason | 'no-pipe';

export interface OutputRecord {
  readonly topic: string;
  /** The source entry's stable identity (sourceEntryId.value): one entry's requests stay in order. */
  readonly key: string;
  readonly value: Buffer;
  /**
   * Set on the delete of an entry that left the pipe's scope (LEAVE_SCOPE_HEADER), and on an upsert stating the whole
   * entry (SNAPSHOT_HEADER: a snapshot's, or a modify's into the scope).
   */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface PipeDrop {
  readonly pipe: string;
  readonly reason: MapperDropReason;
  readonly detail: string;
}

export interface PipeWarnings {
  readonly pipe: string;
  readonly syncClass: string;
  readonly warnings: readonly string[];
}

export type RecordMapping =
  | {
      readonly kind: 'mapped';
      readonly eventId: string;
      readonly records: readonly OutputRecord[];
      /** Requests per pipe (for counting). */
      readonly requests: readonly { readonly pipe: string; readonly op: WriteRequest['op'] }[];
      readonly drops: readonly PipeDrop[];
      readonly warnings: readonly PipeWarnings[];
      /** Renames and modifies that moved the entry into or out of a pipe's scope (for counting). */
      readonly scopeChanges: readonly { readonly pipe: string; readonly change: ScopeChange }[];
    }
  /** Cannot be mapped; nothing is produced for this record. The reason never holds attribute values. */
  | { readonly kind: 'dead-letter'; readonly reason: string; readonly code: 'undecodable' | 'unmappable' | 'schema' };

interface PipeRoute {
  readonly pipe: CompiledPipe;
  readonly topic: string;
}

const NONE: readonly never[] = [];
const SNAPSHOT: Readonly<Record<string, string>> = { [SNAPSHOT_HEADER]: 'true' };

const PASSWORD_KEY = PASSWORD_PSEUDO_ATTRIBUTE.toLowerCase();

/**
 * The request with each sealed password bound to its destination entry (pipe, destination, DN, source entry) under
 * the operation keys (@idsync/secrets operations.ts): the writer refuses it in any other request. The envelope itself
 * stays sealed; HMAC is deterministic, so a replay still gives the same bytes.
 */
export function bindPasswords(request: WriteRequest, destination: string, keys: Keyring): WriteRequest {
  if (!request.attributes.some((change) => change.name.toLowerCase() === PASSWORD_KEY)) return request;
  const binding = destinationBinding(request, destination);
  return {
    ...request,
    attributes: request.attributes.map((change) =>
      change.name.toLowerCase() === PASSWORD_KEY ? { ...change, values: change.values.map((value) => (Buffer.isBuffer(value) ? bindPassword(value, keys, binding) : value)) } : change,
    ),
  };
}

export class RecordMapper {
  private readonly routes = new Map<string, readonly PipeRoute[]>();

  /**
   * Compiles every pipe once; a pipe's destination directory kind picks its operation topic. `operationKeys`: bind
   * sealed passwords to their destination entry (without them they pass as the source sealed them).
   */
  constructor(
    config: Pick<SyncConfig, 'pipes' | 'directories' | 'kafka'>,
    private readonly operationKeys?: Keyring,
  ) {
    for (const pipe of config.pipes) {
      const destination = config.directories[pipe.destination];
      if (!destination) throw new Error(`pipe '${pipe.name}' names destination '${pipe.destination}', which is not configured`);
      const topic = destination.kind === 'active-directory' ? config.kafka.topics.adOperations.name : config.kafka.topics.dsOperations.name;
      const routes = this.routes.get(pipe.source) ?? [];
      this.routes.set(pipe.source, [...routes, { pipe: compilePipe(pipe), topic }]);
    }
  }

  /** Pipes per source directory, for the start-up report. */
  describe(): Record<string, string[]> {
    return Object.fromEntries([...this.routes].map(([source, routes]) => [source, routes.map((r) => `${r.pipe.name} -> ${r.topic}`)]));
  }

  /**
   * `onlyPipe`: the record is addressed to one pipe (a resync's snapshot events carry the `idsync-pipe` header):
   * other pipes reading the same directory leave it alone.
   */
  map(value: Buffer | null, onlyPipe?: string): RecordMapping {
    let event;
    try {
      event = decodeEntryChange(value);
    } catch (error) {
      if (error instanceof UndecodableRecordError) return { kind: 'dead-letter', reason: error.message, code: 'undecodable' };
      throw error;
    }
    const all = this.routes.get(event.source.directory) ?? NONE;
    const routes = onlyPipe === undefined ? all : all.filter((route) => route.pipe.name === onlyPipe);
    if (routes.length === 0 && onlyPipe !== undefined) {
      return {
        kind: 'mapped',
        eventId: event.eventId,
        records: NONE,
        requests: NONE,
        drops: [{ pipe: onlyPipe, reason: 'no-pipe', detail: `addressed to pipe '${onlyPipe}', which does not read directory '${event.source.directory}' here` }],
        warnings: NONE,
        scopeChanges: NONE,
      };
    }
    if (routes.length === 0) {
      return {
        kind: 'mapped',
        eventId: event.eventId,
        records: NONE,
        requests: NONE,
        drops: [{ pipe: 'none', reason: 'no-pipe', detail: `no pipe reads directory '${event.source.directory}'` }],
        warnings: NONE,
        scopeChanges: NONE,
      };
    }
    const records: OutputRecord[] = [];
    const requests: { pipe: string; op: WriteRequest['op'] }[] = [];
    const drops: PipeDrop[] = [];
    const warnings: PipeWarnings[] = [];
    const scopeChanges: { pipe: string; change: ScopeChange }[] = [];
    for (const { pipe, topic } of routes) {
      let result;
      try {
        result = mapChange(event, pipe);
      } catch (error) {
        // One pipe failing dead-letters the whole record: a re-drive then produces every pipe's requests once.
        if (error instanceof MappingError) return { kind: 'dead-letter', reason: error.message, code: 'unmappable' };
        throw error;
      }
      if (result.kind === 'dropped') {
        drops.push({ pipe: pipe.name, reason: result.reason, detail: result.detail });
        continue;
      }
      if (result.warnings.length > 0) warnings.push({ pipe: pipe.name, syncClass: result.syncClass, warnings: result.warnings });
      if (result.scopeChange !== undefined) scopeChanges.push({ pipe: pipe.name, change: result.scopeChange });
      const leaving = result.scopeChange === 'left' ? { [LEAVE_SCOPE_HEADER]: pipe.config.onLeaveScope } : undefined;
      // An upsert states the whole entry as it is now when it comes from a full read: a snapshot (a resync, or the
      // detector's read of an entry renamed into scope), or a modify into scope (the entry from its after-image).
      const fullRead = event.op === 'snapshot' || result.scopeChange === 'entered';
      for (const mapped of result.requests) {
        const request = this.operationKeys === undefined ? mapped : bindPasswords(mapped, pipe.destination, this.operationKeys);
        let encoded: Buffer;
        try {
          encoded = encodeWriteRequest(request);
        } catch (error) {
          // The encoder's problem list may quote values (a password among them): the reason names fields only.
          if (error instanceof UnencodableRecordError) {
            return { kind: 'dead-letter', reason: `write request ${request.requestId} does not fit the write-request schema (a mapper bug)`, code: 'schema' };
          }
          throw error;
        }
        const headers = leaving !== undefined && request.op === 'delete' ? leaving : fullRead && request.op === 'upsert' ? SNAPSHOT : undefined;
        records.push(headers === undefined ? { topic, key: entryKey(request.sourceEntryId), value: encoded } : { topic, key: entryKey(request.sourceEntryId), value: encoded, headers });
        requests.push({ pipe: pipe.name, op: request.op });
      }
    }
    return { kind: 'mapped', eventId: event.eventId, records, requests, drops, warnings, scopeChanges };
  }
}
