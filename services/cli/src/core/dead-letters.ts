import { type AttributeChange, type DeadLetter, decodeEntryChange, decodeWriteRequest, wireIds, type SchemaSubject } from '@idsync/contracts';
import { operationsTopicOfHeld, REQUEST_REFUSALS } from '@idsync/writer';
import { displayValues } from './display-values';

/**
 * The pure part of `idsync dlq`: dead-letter ids, filters, the re-drive bookkeeping records, record summaries with
 * passwords masked, and the re-drive plan. Nothing here touches Kafka; the command reads and produces.
 */

/** Stages that dead-letter records (the consumer loop's `stage`): the mapper and the two writers. */
export const STAGES = ['ad-detector', 'ds-detector', 'mapper', 'ad-writer', 'ds-writer'] as const;
export type Stage = (typeof STAGES)[number];

export function isStage(name: string): name is Stage {
  return (STAGES as readonly string[]).includes(name);
}

/** A dead-letter record's place on the dead-letter topic, written `<partition>:<offset>` (`1:42`). */
export interface DeadLetterId {
  readonly partition: number;
  readonly offset: bigint;
}

export function parseDeadLetterId(text: string): DeadLetterId | null {
  const match = /^(\d{1,9}):(\d{1,19})$/.exec(text.trim());
  if (!match) return null;
  const offset = BigInt(match[2] as string);
  if (offset > 0x7fff_ffff_ffff_ffffn) return null;
  return { partition: Number(match[1]), offset };
}

export function formatDeadLetterId(id: DeadLetterId): string {
  return `${id.partition}:${id.offset}`;
}

export function compareIds(a: DeadLetterId, b: DeadLetterId): number {
  if (a.partition !== b.partition) return a.partition - b.partition;
  return a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;
}

/** Parses every id; duplicates are kept once, in the order given. `invalid` holds the texts that are not ids. */
export function parseDeadLetterIds(texts: readonly string[]): { ids: DeadLetterId[]; invalid: string[] } {
  const ids: DeadLetterId[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  for (const text of texts) {
    const id = parseDeadLetterId(text);
    if (id === null) {
      invalid.push(text);
      continue;
    }
    const key = formatDeadLetterId(id);
    if (!seen.has(key)) ids.push(id);
    seen.add(key);
  }
  return { ids, invalid };
}

/** A record's place on any topic: `<topic>/<partition>/<offset>` (topic names cannot hold '/'). */
export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export function formatPosition(position: RecordPosition): string {
  return `${position.topic}/${position.partition}/${position.offset}`;
}

/** The header a re-driven record carries: where on the dead-letter topic it came from. */
export const REDRIVEN_FROM_HEADER = 'idsync-redriven-from';

/**
 * What was re-driven is kept on the compacted checkpoints topic, one record per dead letter, keyed
 * `dlq-redriven/<dead-letter topic>/<partition>/<offset>` with the JSON value {redrivenAt, to}. The key names the
 * dead-letter record (never the entry), so compaction keeps exactly the latest re-drive of each one; the record is
 * produced in the same Kafka transaction as the re-driven record, so neither exists without the other.
 */
export const REDRIVE_MARKER_PREFIX = 'dlq-redriven/';

export interface RedriveMarker {
  readonly id: DeadLetterId;
  /** Epoch milliseconds. */
  readonly redrivenAt: number;
  /** Where the record was produced. */
  readonly to: RecordPosition;
}

export function redriveMarkerKey(deadLetterTopic: string, id: DeadLetterId): string {
  return `${REDRIVE_MARKER_PREFIX}${deadLetterTopic}/${id.partition}/${id.offset}`;
}

export function redriveMarkerValue(marker: RedriveMarker): string {
  return JSON.stringify({ redrivenAt: new Date(marker.redrivenAt).toISOString(), to: formatPosition(marker.to) });
}

/**
 * Reads one checkpoints-topic record: a marker of this dead-letter topic, `removed` for a tombstone of one (someone
 * cleared it: the dead letter counts as pending again), or null for anything else (detector positions, markers of other dead-letter topics, garbage).
 */
export function parseRedriveMarker(
  deadLetterTopic: string,
  key: string | null,
  value: string | null,
): { readonly kind: 'marker'; readonly marker: RedriveMarker } | { readonly kind: 'removed'; readonly id: DeadLetterId } | null {
  const prefix = `${REDRIVE_MARKER_PREFIX}${deadLetterTopic}/`;
  if (key === null || !key.startsWith(prefix)) return null;
  const id = parseDeadLetterId(key.slice(prefix.length).replace('/', ':'));
  if (id === null) return null;
  if (value === null) return { kind: 'removed', id };
  try {
    const parsed = JSON.parse(value) as { redrivenAt?: unknown; to?: unknown };
    const at = typeof parsed.redrivenAt === 'string' ? Date.parse(parsed.redrivenAt) : Number.NaN;
    const to = typeof parsed.to === 'string' ? /^([^/]+)\/(-?\d+)\/(-?\d+)$/.exec(parsed.to) : null;
    if (Number.isNaN(at) || to === null) return null;
    return { kind: 'marker', marker: { id, redrivenAt: at, to: { topic: to[1] as string, partition: Number(to[2]), offset: to[3] as string } } };
  } catch {
    return null;
  }
}

/** One record of the dead-letter topic as the command works with it. */
export interface ListedDeadLetter {
  readonly id: DeadLetterId;
  /** Null when the dead-letter record itself cannot be decoded (`problem` says why). */
  readonly letter: DeadLetter | null;
  readonly problem: string | null;
  readonly redriven: RedriveMarker | null;
}

/** Joins dead letters with their markers (by id). */
export function withMarkers(letters: readonly Omit<ListedDeadLetter, 'redriven'>[], markers: ReadonlyMap<string, RedriveMarker>): ListedDeadLetter[] {
  return letters.map((letter) => ({ ...letter, redriven: markers.get(formatDeadLetterId(letter.id)) ?? null }));
}

export interface DeadLetterFilter {
  readonly stage?: string | undefined;
  /** Epoch milliseconds: dead letters that failed at or after. */
  readonly since?: number | undefined;
  /** Keep the most recent N. */
  readonly limit?: number | undefined;
}

/** Oldest first (by failure time, then id); `limit` keeps the most recent ones. */
export function selectDeadLetters(rows: readonly ListedDeadLetter[], filter: DeadLetterFilter): ListedDeadLetter[] {
  const kept = rows.filter((row) => {
    if (filter.stage !== undefined && row.letter?.stage !== filter.stage) return false;
    if (filter.since !== undefined && (row.letter === null || row.letter.failedAt < filter.since)) return false;
    return true;
  });
  kept.sort((a, b) => (a.letter?.failedAt ?? 0) - (b.letter?.failedAt ?? 0) || compareIds(a.id, b.id));
  return filter.limit === undefined ? kept : kept.slice(Math.max(0, kept.length - filter.limit));
}

/** ISO 8601 to the second: 2026-11-25T10:00:00Z. */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A Kafka key as text when it is printable UTF-8 (entry ids are), else hex. */
export function formatKey(key: Buffer | null): string | null {
  if (key === null) return null;
  const text = key.toString('utf8');
  // eslint-disable-next-line no-control-regex -- a key with control characters is not printable text
  return Buffer.from(text, 'utf8').equals(key) && !/[\u0000-\u001f\u007f]/.test(text) ? text : `0x${key.toString('hex')}`;
}

/**
 * The part of a reason that says why, for one table cell: the writers prefix theirs with the request, entry and DN
 * (`request <id> (entry <id>, <dn>): <op> <id> on <dn>: `), which the other columns and `dlq show` already give, and
 * end them with the server's own text (` — server said: ...`), which `dlq show` prints in full.
 */
export function reasonGist(reason: string): string {
  return reason
    .replace(/^request \S+ \(entry [^)]*\): /, '')
    .replace(/^(?:upsert|modify|delete|rename|unlink) \S+ on [^:]*: /, '')
    .replace(/ — server said: [\s\S]*$/, '');
}

/** First line of a reason's gist, at most `max` characters. */
export function shortenReason(reason: string, max = 80): string {
  const gist = reasonGist(reason);
  const line = gist.split('\n')[0]?.trim() ?? '';
  const cut = line.length > max || gist.includes('\n');
  return cut ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

export function statusText(row: ListedDeadLetter): string {
  return row.redriven === null ? 'pending' : `re-driven at ${formatTime(row.redriven.redrivenAt)}`;
}

/** One line of `dlq list`. */
export interface DeadLetterRow {
  readonly id: string;
  readonly failedAt: string;
  readonly stage: string;
  readonly original: string;
  readonly key: string | null;
  readonly reason: string;
  readonly status: string;
}

export function deadLetterRow(row: ListedDeadLetter, reasonWidth = 80): DeadLetterRow {
  const letter = row.letter;
  return {
    id: formatDeadLetterId(row.id),
    failedAt: letter === null ? '?' : formatTime(letter.failedAt),
    stage: letter?.stage ?? '?',
    original: letter === null ? '?' : formatPosition(letter),
    key: letter === null ? null : formatKey(letter.key),
    reason: shortenReason(letter?.reason ?? row.problem ?? '', reasonWidth),
    status: statusText(row),
  };
}

/** `dlq list --json` / `dlq show --json`: everything but the record bytes. */
export function deadLetterJson(row: ListedDeadLetter): Record<string, unknown> {
  const letter = row.letter;
  return {
    id: formatDeadLetterId(row.id),
    partition: row.id.partition,
    offset: row.id.offset.toString(),
    failedAt: letter === null ? null : new Date(letter.failedAt).toISOString(),
    stage: letter?.stage ?? null,
    reason: letter?.reason ?? null,
    problem: row.problem,
    original: letter === null ? null : { topic: letter.topic, partition: letter.partition, offset: letter.offset },
    key: letter === null ? null : formatKey(letter.key),
    valueBytes: letter?.value?.length ?? null,
    status: row.redriven === null ? 'pending' : 're-driven',
    redriven: row.redriven === null ? null : { at: new Date(row.redriven.redrivenAt).toISOString(), to: formatPosition(row.redriven.to) },
  };
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* The original record, summarized                                                                                   */

export { displayValues, isMaskedAttribute, MASK, MASKED_ATTRIBUTES } from './display-values';

export interface AttributeSummary {
  readonly name: string;
  readonly op: AttributeChange['op'];
  readonly values: readonly string[];
}

/** What the original record was, without a single password value. */
export type RecordSummary =
  | { readonly kind: 'empty' }
  | { readonly kind: 'undecodable'; readonly bytes: number; readonly schemaId: number | null; readonly problem: string }
  | {
      readonly kind: 'entry-change' | 'write-request';
      readonly bytes: number;
      readonly schemaId: number;
      readonly op: string;
      readonly dn: string;
      readonly previousDn: string | null;
      /** `<kind> <value>`: `objectGUID 5f1c...`. */
      readonly entryId: string;
      /** Write requests: the pipe and request id; entry changes: the event id and source directory. */
      readonly details: readonly (readonly [string, string])[];
      readonly objectClasses: readonly string[];
      readonly attributes: readonly AttributeSummary[];
    };

/** The schema id in the registry framing (magic byte 0, 4-byte id): it tells entry changes from write requests. */
export function framedSchemaId(value: Buffer): number | null {
  return value.length >= 5 && value[0] === 0 ? value.readUInt32BE(1) : null;
}

export function summarizeRecord(value: Buffer | null): RecordSummary {
  if (value === null || value.length === 0) return { kind: 'empty' };
  const schemaId = framedSchemaId(value);
  const subject: SchemaSubject | undefined = schemaId === null ? undefined : wireIds().fromWire(schemaId)?.subject;
  const undecodable = (problem: string): RecordSummary => ({ kind: 'undecodable', bytes: value.length, schemaId, problem });
  if (schemaId === null) return undecodable('no schema-registry framing (first byte is not 0x00 or the record is shorter than 5 bytes)');
  const attributes = (changes: readonly AttributeChange[]): AttributeSummary[] => changes.map((change) => ({ name: change.name, op: change.op, values: displayValues(change.name, change.values) }));
  try {
    if (subject === 'entry-change') {
      const event = decodeEntryChange(value);
      return {
        kind: 'entry-change',
        bytes: value.length,
        schemaId,
        op: event.op,
        dn: event.dn,
        previousDn: event.previousDn,
        entryId: `${event.entryId.kind} ${event.entryId.value}`,
        details: [
          ['event id', event.eventId],
          ['source', `${event.source.directory} (${event.source.system}, ${event.source.server})`],
          ...(event.initiator === null ? [] : [['initiator', event.initiator] as const]),
          ...(event.changeTime === null ? [] : [['changed at', formatTime(event.changeTime)] as const]),
        ],
        objectClasses: event.objectClasses,
        attributes: attributes(event.attributes),
      };
    }
    if (subject === 'write-request') {
      const request = decodeWriteRequest(value);
      return {
        kind: 'write-request',
        bytes: value.length,
        schemaId,
        op: request.op,
        dn: request.dn,
        previousDn: request.previousDn,
        entryId: `${request.sourceEntryId.kind} ${request.sourceEntryId.value}`,
        details: [
          ['pipe', request.pipe],
          ['request id', request.requestId],
          ...(request.correlation.length === 0 ? [] : [['correlation', request.correlation.map((list) => `[${list.join(', ')}]`).join(' then ')] as const]),
        ],
        objectClasses: request.objectClasses,
        attributes: attributes(request.attributes),
      };
    }
  } catch (error) {
    return undecodable(error instanceof Error ? error.message : String(error));
  }
  return undecodable(subject === undefined ? `schema id ${schemaId} is not one of ${wireIds().source}` : `a ${subject} record, not an entry change or a write request`);
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Re-drive                                                                                                          */

export type RedriveSelection = { readonly kind: 'ids'; readonly ids: readonly DeadLetterId[] } | { readonly kind: 'all'; readonly stage?: string | undefined; readonly since?: number | undefined };

export interface SelectedForRedrive {
  readonly selected: ListedDeadLetter[];
  /** Ids given that are not on the dead-letter topic. */
  readonly unknown: string[];
  /** --all without --force: re-driven before, left out. */
  readonly skipped: number;
}

export function selectForRedrive(rows: readonly ListedDeadLetter[], selection: RedriveSelection, force: boolean): SelectedForRedrive {
  if (selection.kind === 'ids') {
    const byId = new Map(rows.map((row) => [formatDeadLetterId(row.id), row]));
    const selected: ListedDeadLetter[] = [];
    const unknown: string[] = [];
    for (const id of selection.ids) {
      const row = byId.get(formatDeadLetterId(id));
      if (row === undefined) unknown.push(formatDeadLetterId(id));
      else selected.push(row);
    }
    return { selected, unknown, skipped: 0 };
  }
  const matching = selectDeadLetters(rows, { stage: selection.stage, since: selection.since });
  const selected = force ? matching : matching.filter((row) => row.redriven === null);
  return { selected, unknown: [], skipped: matching.length - selected.length };
}

/** One record to produce back to its original topic. */
export interface RedriveItem {
  readonly id: DeadLetterId;
  readonly stage: string;
  readonly topic: string;
  readonly key: Buffer | null;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly markerKey: string;
  /** Set when --force re-drives it again. */
  readonly previously: RedriveMarker | null;
}

export interface RedriveFailure {
  readonly id: DeadLetterId;
  readonly problem: string;
}

export interface RedrivePlan {
  readonly items: readonly RedriveItem[];
  /** Cannot be re-driven: no value, a topic that is gone, an undecodable dead letter. */
  readonly failures: readonly RedriveFailure[];
  /** Re-driven before; without --force the whole command is refused. */
  readonly alreadyRedriven: readonly ListedDeadLetter[];
}

/**
 * What re-driving the selected dead letters takes: each original key and value, to the original topic, with the
 * header naming the dead letter. Records that cannot go are failures (the others still go); records re-driven
 * before are listed apart (the command refuses them unless --force).
 */
export function planRedrive(selected: readonly ListedDeadLetter[], options: { readonly deadLetterTopic: string; readonly existingTopics: ReadonlySet<string>; readonly force: boolean }): RedrivePlan {
  const items: RedriveItem[] = [];
  const failures: RedriveFailure[] = [];
  const alreadyRedriven: ListedDeadLetter[] = [];
  for (const row of selected) {
    const { id, letter } = row;
    if (row.redriven !== null && !options.force) {
      alreadyRedriven.push(row);
      continue;
    }
    if (letter === null) {
      failures.push({ id, problem: `the dead-letter record cannot be decoded (${row.problem ?? 'unknown problem'})` });
      continue;
    }
    const original = formatPosition(letter);
    if (letter.value === null || letter.value.length === 0) {
      failures.push({ id, problem: `the original record ${original} had no value: there is nothing to re-drive` });
      continue;
    }
    const security = SECURITY_REFUSAL.exec(letter.reason);
    if (security !== null) {
      // Re-driving it would have the CLI sign a request nobody trusted: what the mapper makes is replayed or resynced instead.
      failures.push({
        id,
        problem: `the writer refused it as a security event (${security[1] ?? '?'}): a request the mapper did not make is never re-driven; if it was legitimate, replay its source event or resync the entry`,
      });
      continue;
    }
    // A delete the breaker held and an operator discarded goes back to its operations topic, to be counted afresh.
    const topic = operationsTopicOfHeld(letter.topic) ?? letter.topic;
    if (!options.existingTopics.has(topic)) {
      failures.push({ id, problem: `the original topic ${topic} no longer exists (record ${original})` });
      continue;
    }
    items.push({
      id,
      stage: letter.stage,
      topic,
      key: letter.key,
      value: letter.value,
      headers: { [REDRIVEN_FROM_HEADER]: formatPosition({ topic: options.deadLetterTopic, partition: id.partition, offset: id.offset.toString() }) },
      markerKey: redriveMarkerKey(options.deadLetterTopic, id),
      previously: row.redriven,
    });
  }
  return { items, failures, alreadyRedriven };
}

/** A writer's scope-enforcement refusal (@idsync/writer request-guard.ts) in a dead letter's reason. */
const SECURITY_REFUSAL = new RegExp(` refused \\((${REQUEST_REFUSALS.join('|')})\\): `);

/** Per dead-letter partition, the offsets to read to find the given ids: [from, to) around them. */
export function idWindows(ids: readonly DeadLetterId[]): Map<number, { from: bigint; to: bigint }> {
  const windows = new Map<number, { from: bigint; to: bigint }>();
  for (const id of ids) {
    const window = windows.get(id.partition);
    if (window === undefined) windows.set(id.partition, { from: id.offset, to: id.offset + 1n });
    else windows.set(id.partition, { from: id.offset < window.from ? id.offset : window.from, to: id.offset + 1n > window.to ? id.offset + 1n : window.to });
  }
  return windows;
}
