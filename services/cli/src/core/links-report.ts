import { type DirectoryKind } from '@idsync/config';
import { type EntryLink, type LinkEnd, LINK_ORIGINS, type LinkOrigin, parseLinkKey } from '@idsync/contracts';
import { type Dn, isInSubtree, parseDn } from '@idsync/mapping';

/**
 * `idsync links`: what the argument of `links show` names, which directory a DN belongs to, how an end of a link is
 * found by its id, what the tombstones on the topic say, and the text, JSON, CSV and counts printed. Pure: links,
 * directories and lookup results in, text out; the command reads the topic and the directories.
 */

/* ---------------------------------------------------------------------------------------------------------------- */
/* The entry asked about                                                                                            */

/** What `links show` was given: an entry id (either end of a link) or the DN of an entry to read its id from. */
export type EntryArgument = { readonly kind: 'id'; readonly id: string } | { readonly kind: 'dn'; readonly dn: string; readonly parsed: Dn } | { readonly kind: 'invalid'; readonly problem: string };

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in 8-4-4-4-12 form (any case, Windows' braces allowed) to the canonical lower-case text; else null. */
export function parseEntryId(text: string): string | null {
  const trimmed = text.trim();
  const bare = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1) : trimmed;
  return UUID_TEXT.test(bare) ? bare.toLowerCase() : null;
}

export function parseEntryArgument(text: string): EntryArgument {
  const id = parseEntryId(text);
  if (id !== null) return { kind: 'id', id };
  if (text.trim() === '') return { kind: 'invalid', problem: 'an empty argument is neither an entry id nor a DN' };
  try {
    const parsed = parseDn(text.trim());
    if (parsed.length > 0) return { kind: 'dn', dn: text.trim(), parsed };
  } catch (error) {
    if (!text.includes('=')) return { kind: 'invalid', problem: `'${text}' is neither an entry id (a UUID) nor a DN` };
    return { kind: 'invalid', problem: error instanceof Error ? error.message : String(error) };
  }
  return { kind: 'invalid', problem: `'${text}' is neither an entry id (a UUID) nor a DN` };
}

/** A configured directory as far as choosing one by DN goes. */
export interface DirectoryBase {
  readonly name: string;
  readonly kind: DirectoryKind;
  readonly baseDn: string;
}

export type DirectoryChoice = { readonly directory: DirectoryBase } | { readonly problem: string; readonly hint: string };

/**
 * The directory a DN belongs to: the one whose baseDn holds it, the deepest baseDn when several do. Two directories
 * with the same deepest baseDn cannot be told apart (the caller names one); a baseDn that does not parse holds nothing.
 */
export function directoryOfDn(dn: Dn | string, directories: readonly DirectoryBase[]): DirectoryChoice {
  const holding: { directory: DirectoryBase; depth: number }[] = [];
  for (const directory of directories) {
    let base: Dn;
    try {
      base = parseDn(directory.baseDn);
    } catch {
      continue;
    }
    if (isInSubtree(dn, base)) holding.push({ directory, depth: base.length });
  }
  const list = directories.map((d) => `${d.name} (${d.baseDn})`).join(', ') || 'none';
  if (holding.length === 0) {
    return { problem: 'the DN is under the baseDn of no configured directory', hint: `directories: ${list}` };
  }
  const deepest = Math.max(...holding.map((h) => h.depth));
  const chosen = holding.filter((h) => h.depth === deepest);
  if (chosen.length > 1) {
    return {
      problem: `the DN is under the baseDn of ${chosen.map((c) => `'${c.directory.name}'`).join(' and ')}`,
      hint: 'name the directory to read it from with --directory NAME',
    };
  }
  const [only] = chosen;
  return only === undefined ? { problem: 'no directory', hint: `directories: ${list}` } : { directory: only.directory };
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Finding an end of a link by its id                                                                                */

/**
 * How an end's entry is read by its id: AD by a base search on `<GUID=…>` (the id is a checked UUID, so the
 * extended DN holds nothing else); an LDAP directory by a subtree search under its baseDn for the id attribute
 * (the caller builds the filter with a filter class). `problem` when it cannot be read that way.
 */
export type IdLookup =
  | { readonly kind: 'base'; readonly base: string }
  | { readonly kind: 'subtree'; readonly base: string; readonly attribute: 'entryUUID'; readonly value: string }
  | { readonly kind: 'none'; readonly problem: string };

export function idLookup(directory: DirectoryBase, end: LinkEnd): IdLookup {
  const id = parseEntryId(end.value);
  if (id === null) return { kind: 'none', problem: `the id '${end.value}' is not a UUID` };
  if (directory.kind === 'active-directory') {
    if (end.kind !== 'objectGUID') return { kind: 'none', problem: `an Active Directory entry is found by objectGUID, not ${end.kind}` };
    return { kind: 'base', base: `<GUID=${id}>` };
  }
  if (end.kind !== 'entryUUID') return { kind: 'none', problem: `entries of an LDAP directory are looked up by entryUUID, not ${end.kind}` };
  return { kind: 'subtree', base: directory.baseDn, attribute: 'entryUUID', value: id };
}

/** What looking up an end's current DN found. */
export type DnLookup =
  | { readonly kind: 'found'; readonly dn: string }
  /** The directory answered: no entry has this id (deleted, or out of the base). */
  | { readonly kind: 'missing' }
  /** Not looked up or not answered: unreachable directory, unknown directory, an id it cannot search by... */
  | { readonly kind: 'unknown'; readonly problem: string };

export function dnText(lookup: DnLookup): string {
  switch (lookup.kind) {
    case 'found':
      return lookup.dn;
    case 'missing':
      return '(no entry with this id: deleted?)';
    default:
      return `(unknown: ${lookup.problem})`;
  }
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Tombstones                                                                                                        */

/**
 * Keys whose latest record on the links topic is a tombstone, with that record's time. Records of one key share a
 * partition, so noting them in offset order per partition leaves each key's latest. Keys that do not parse as link
 * keys are ignored (they remove nothing).
 */
export class Tombstones {
  private readonly at = new Map<string, number>();

  note(key: string, tombstone: boolean, timestamp: number): void {
    if (!tombstone) this.at.delete(key);
    else if (parseLinkKey(key) !== null) this.at.set(key, timestamp);
  }

  /** When the key's link was removed (the tombstone's timestamp); null when its latest record is no tombstone. */
  removedAt(key: string): number | null {
    return this.at.get(key) ?? null;
  }

  get size(): number {
    return this.at.size;
  }

  byPipe(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const key of this.at.keys()) {
      const pipe = parseLinkKey(key)?.pipe;
      if (pipe !== undefined) counts.set(pipe, (counts.get(pipe) ?? 0) + 1);
    }
    return counts;
  }
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* links show                                                                                                        */

export interface ShownEnd extends LinkEnd {
  readonly dn: DnLookup;
}

export interface ShownLink {
  readonly key: string;
  readonly pipe: string;
  readonly source: ShownEnd;
  readonly destination: ShownEnd;
  readonly origin: LinkOrigin;
  readonly linkedAt: number;
  readonly linkedBy: string;
}

/** A pair with the id at one end whose link was removed (its tombstone is still on the topic). */
export interface RemovedLink {
  readonly key: string;
  readonly pipe: string;
  readonly source: string;
  readonly destination: string;
  /** The tombstone's time; null when not known. */
  readonly removedAt: number | null;
}

export interface ShowReport {
  readonly topic: string;
  readonly id: string;
  /** The entry read when the argument was a DN. */
  readonly entry: { readonly directory: string; readonly dn: string } | null;
  readonly links: readonly ShownLink[];
  readonly removed: readonly RemovedLink[];
}

export function isoTime(ms: number | null): string | null {
  return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

function endJson(end: ShownEnd): Record<string, unknown> {
  return {
    directory: end.directory,
    kind: end.kind,
    value: end.value,
    dn: end.dn.kind === 'found' ? end.dn.dn : null,
    dnProblem: end.dn.kind === 'found' ? null : end.dn.kind === 'missing' ? 'no entry with this id' : end.dn.problem,
  };
}

export function showJson(report: ShowReport): Record<string, unknown> {
  return {
    topic: report.topic,
    id: report.id,
    entry: report.entry,
    links: report.links.map((link) => ({
      key: link.key,
      pipe: link.pipe,
      source: endJson(link.source),
      destination: endJson(link.destination),
      origin: link.origin,
      linkedAt: isoTime(link.linkedAt),
      linkedBy: link.linkedBy,
    })),
    removed: report.removed.map((r) => ({ key: r.key, pipe: r.pipe, source: r.source, destination: r.destination, removedAt: isoTime(r.removedAt) })),
  };
}

export function renderShow(report: ShowReport): string {
  const lines: string[] = [];
  const field = (name: string, value: string): void => void lines.push(`  ${name.padEnd(15)} ${value}`);
  const endText = (end: LinkEnd): string => `${end.directory} ${end.kind} ${end.value}${end.value === report.id ? ' (this entry)' : ''}`;
  const entry = report.entry === null ? '' : ` (${report.entry.dn} in ${report.entry.directory})`;
  const count = report.links.length;
  lines.push(`${count === 0 ? 'no live links' : `${count} live link${count === 1 ? '' : 's'}`} of ${report.id}${entry} on ${report.topic}`);
  for (const link of report.links) {
    lines.push('', `link ${link.key}`);
    field('pipe', link.pipe);
    field('source', endText(link.source));
    field('source dn', dnText(link.source.dn));
    field('destination', endText(link.destination));
    field('destination dn', dnText(link.destination.dn));
    field('origin', link.origin);
    field('linked at', isoTime(link.linkedAt) ?? '?');
    field('linked by', link.linkedBy);
  }
  if (report.removed.length > 0) {
    lines.push('', `removed recently (tombstones still on ${report.topic}):`);
    for (const r of report.removed) lines.push(`  ${r.key}  removed at ${isoTime(r.removedAt) ?? '?'}`);
  }
  return `${lines.join('\n')}\n`;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* links export                                                                                                      */

export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(text: string): text is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(text);
}

/** One link as a JSON line: the Avro record's fields (linkedAt as ISO time) and its key. */
export function linkJsonLine(link: EntryLink & { readonly key: string }): string {
  return `${JSON.stringify({
    key: link.key,
    pipe: link.pipe,
    source: { directory: link.source.directory, kind: link.source.kind, value: link.source.value },
    destination: { directory: link.destination.directory, kind: link.destination.kind, value: link.destination.value },
    origin: link.origin,
    linkedAt: isoTime(link.linkedAt),
    linkedBy: link.linkedBy,
  })}\n`;
}

export const CSV_HEADER = 'pipe,source_directory,source_kind,source_id,destination_directory,destination_kind,destination_id,origin,linked_at,linked_by\n';

/** RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function linkCsvLine(link: EntryLink): string {
  const { source, destination } = link;
  return `${[link.pipe, source.directory, source.kind, source.value, destination.directory, destination.kind, destination.value, link.origin, isoTime(link.linkedAt) ?? '', link.linkedBy].map(csvField).join(',')}\n`;
}

export function exportSummary(counts: { readonly exported: number; readonly removed: number; readonly skipped: number }, topic: string, pipe: string | undefined): string {
  const plural = (n: number, one: string, many: string): string => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
  const of = pipe === undefined ? '' : ` of pipe ${pipe}`;
  const parts = [`${plural(counts.exported, 'link', 'links')}${of} exported from ${topic}`, `${plural(counts.removed, 'removed link', 'removed links')}${of} (tombstones) still on the topic`];
  if (counts.skipped > 0) parts.push(`${plural(counts.skipped, 'record', 'records')} skipped (not a link)`);
  return `${parts.join('; ')}\n`;
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* links stats                                                                                                       */

export interface ConfiguredPipe {
  readonly name: string;
  readonly source: string;
  readonly destination: string;
}

export interface PipeStats {
  readonly pipe: string;
  /** The pipe's directories in the configuration; null when the configuration has no such pipe (any more). */
  readonly configured: { readonly source: string; readonly destination: string } | null;
  readonly links: number;
  readonly removed: number;
  readonly byOrigin: Readonly<Record<LinkOrigin, number>>;
  /** Links whose ends are not in the configured pipe's source and destination directories. */
  readonly otherDirectories: number;
}

/** Live links and tombstones per pipe: configured pipes first (in configuration order), then others by name. */
export function linkStats(links: Iterable<EntryLink>, removedByPipe: ReadonlyMap<string, number>, pipes: readonly ConfiguredPipe[]): PipeStats[] {
  interface Counting {
    links: number;
    otherDirectories: number;
    byOrigin: Record<LinkOrigin, number>;
  }
  const counting = new Map<string, Counting>();
  const configured = new Map(pipes.map((p) => [p.name, p]));
  const of = (pipe: string): Counting => {
    let entry = counting.get(pipe);
    if (entry === undefined) {
      entry = { links: 0, otherDirectories: 0, byOrigin: Object.fromEntries(LINK_ORIGINS.map((o) => [o, 0])) as Record<LinkOrigin, number> };
      counting.set(pipe, entry);
    }
    return entry;
  };
  for (const pipe of pipes) of(pipe.name);
  for (const pipe of removedByPipe.keys()) of(pipe);
  for (const link of links) {
    const entry = of(link.pipe);
    entry.links += 1;
    entry.byOrigin[link.origin] = (entry.byOrigin[link.origin] ?? 0) + 1;
    const pipe = configured.get(link.pipe);
    if (pipe !== undefined && (link.source.directory !== pipe.source || link.destination.directory !== pipe.destination)) entry.otherDirectories += 1;
  }
  const others = [...counting.keys()].filter((name) => !configured.has(name)).sort();
  return [...pipes.map((p) => p.name), ...others].map((name) => {
    const entry = counting.get(name) as Counting;
    const pipe = configured.get(name);
    return {
      pipe: name,
      configured: pipe === undefined ? null : { source: pipe.source, destination: pipe.destination },
      links: entry.links,
      removed: removedByPipe.get(name) ?? 0,
      byOrigin: entry.byOrigin,
      otherDirectories: entry.otherDirectories,
    };
  });
}
