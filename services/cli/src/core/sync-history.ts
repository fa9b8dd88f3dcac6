import { normalizeDn } from '@idsync/mapping';
import { SYNC_LOG_EVENT, SYNC_OUTCOMES, type SyncLogRecord } from '@idsync/writer';
import { type EntryArgument } from './links-report';

/** One sync log line from the audit topic, or null when the record is not one (another producer's, a bad value). */
export function parseSyncLine(value: Buffer | null): SyncLogRecord | null {
  if (value === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const line = parsed as Partial<SyncLogRecord>;
  if (line.event !== SYNC_LOG_EVENT || typeof line.requestId !== 'string' || typeof line.at !== 'string' || typeof line.sourceId !== 'string') return null;
  if (!(SYNC_OUTCOMES as readonly string[]).includes(String(line.outcome))) return null;
  return line as SyncLogRecord;
}

/** DNs compared as the directories do: case, spaces around separators and escapes do not matter. */
function sameDn(a: string | null | undefined, b: string): boolean {
  if (a === null || a === undefined) return false;
  try {
    return normalizeDn(a) === b;
  } catch {
    return a.toLowerCase() === b;
  }
}

/** Whether a line is about the entry: its source or destination id, or a DN it had (before or after the write). */
export function lineMatches(line: SyncLogRecord, entry: Extract<EntryArgument, { kind: 'id' | 'dn' }>): boolean {
  if (entry.kind === 'id') return line.sourceId.toLowerCase() === entry.id || line.destinationId?.toLowerCase() === entry.id;
  const dn = normalizeDn(entry.dn);
  return sameDn(line.dn, dn) || sameDn(line.previousDn, dn) || sameDn(line.foundAt, dn);
}

/**
 * The lines of one entry's history, oldest first. Lines of one source entry are in order on their partition; across
 * partitions (a DN two source entries held in turn) they are ordered by their time.
 */
export function entryHistory(lines: readonly SyncLogRecord[], entry: Extract<EntryArgument, { kind: 'id' | 'dn' }>): SyncLogRecord[] {
  return lines
    .map((line, index) => ({ line, index }))
    .filter(({ line }) => lineMatches(line, entry))
    .sort((a, b) => a.line.at.localeCompare(b.line.at) || a.index - b.index)
    .map(({ line }) => line);
}

export interface HistoryRow {
  readonly at: string;
  readonly service: string;
  readonly pipe: string;
  readonly operation: string;
  readonly outcome: string;
  readonly dn: string;
  readonly attributes: string;
  readonly latency: string;
}

export function historyRow(line: SyncLogRecord): HistoryRow {
  const attributes = line.attributes.length > 6 ? `${line.attributes.slice(0, 6).join(', ')} +${line.attributes.length - 6}` : line.attributes.join(', ');
  const moved = line.previousDn !== null && line.operation === 'rename' ? ` (from ${line.previousDn})` : '';
  return {
    at: line.at,
    service: line.service,
    pipe: line.pipe,
    operation: line.changes.length > 0 ? `${line.operation}: ${line.changes.join('+')}` : line.operation,
    outcome: line.reason === undefined ? line.outcome : `${line.outcome}: ${shorten(line.reason, 60)}`,
    dn: `${line.dn}${moved}`,
    attributes,
    latency: line.endToEndMs === null ? `${(line.pipelineMs / 1_000).toFixed(1)} s*` : `${(line.endToEndMs / 1_000).toFixed(1)} s`,
  };
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
