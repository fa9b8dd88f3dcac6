import { canonicalGuid, canonicalUuid, type LinkEnd } from '@idsync/contracts';
import { type Dn } from '@idsync/mapping';
import { type Client, type Entry, EqualityFilter } from 'ldapts';
import { type CliCommand } from '../command';
import { CommandContext } from '../context';
import {
  CSV_HEADER,
  type DirectoryBase,
  directoryOfDn,
  type DnLookup,
  EXPORT_FORMATS,
  type ExportFormat,
  exportSummary,
  idLookup,
  isExportFormat,
  linkCsvLine,
  linkJsonLine,
  linkStats,
  parseEntryArgument,
  type PipeStats,
  type RemovedLink,
  renderShow,
  type ShownLink,
  type ShowReport,
  showJson,
} from '../core/links-report';
import { table } from '../format';
import { CliError, type CliIo, EXIT_CODES, UsageError } from '../io';
import { entryIdAttribute, searchAtOnce } from '@idsync/detector';
import { type LoadedLinks, loadLinks } from '../links-topic';
import { GLOBAL_HELP, parseCommandArgs } from '../options';

const SUBCOMMANDS = ['show', 'export', 'stats'] as const;

const HELP = `idsync links: which destination entry each source entry is synchronized with

usage: idsync links show <id|dn> [--directory NAME] [--json]
       idsync links export [--format jsonl|csv] [--pipe NAME]
       idsync links stats [--json]

The writers record a link when they create a destination entry for a source entry or find an existing one (by DN
or correlation), and act on the linked entry by its id from then on, whatever its DN. Links are kept on the
compacted links topic (kafka.topics.links), key <pipe>/<source id>/<destination id>; a tombstone removes one (an
entry of the pair was deleted or found gone). Every subcommand reads the topic from its beginning up to its current
end, then stops. Nothing is changed.

Subcommands:
  show <id|dn>  the live links of one entry, whichever end of them it is: pipe, both ends (directory, id attribute,
                id) and each end's current DN, read by id from its directory (Active Directory: base search on
                <GUID=id>; an LDAP directory: entryUUID under its baseDn), origin (created, dn, previous-dn,
                correlation, resync), when and by which service it was linked. Then the pairs with this id whose
                link was removed recently: their tombstones are still on the topic (kept for the topic's
                delete.retention.ms, one day by default), with the tombstone's time.
                <id>  an objectGUID or entryUUID as a UUID (8-4-4-4-12 hex, any case, braces allowed)
                <dn>  the entry is read from the directory whose baseDn holds the DN, with the directory's
                      configured account, for its objectGUID (Active Directory) or entryUUID
    --directory NAME  read <dn> from this directory (when the baseDns of several hold it)
                A directory that cannot be reached shows its ends' DNs as unknown; the links are still shown.

  export        every live link, one per line on stdout, in no particular order (no DN lookups), then a summary
                on stderr: how many links were exported and how many removed links (tombstones) are still on the
                topic.
    --format F  jsonl (default): one JSON object per line: key, pipe, source {directory, kind, value},
                destination {directory, kind, value}, origin, linkedAt (ISO time), linkedBy;
                csv: a header line, then ${CSV_HEADER.trim()}
    --pipe NAME only the links of this pipe

  stats         per pipe: live links, by origin, links whose ends are not in the pipe's configured directories
                (recorded under an earlier configuration), and removed links still on the topic. Pipes found on
                the topic but not in the configuration are listed too.

${GLOBAL_HELP}
  (export writes JSON lines already; --json there is --format jsonl)

--json (show) prints one object:
  { "topic", "id", "entry": { "directory", "dn" } | null,
    "links": [{ "key", "pipe", "source": { "directory", "kind", "value", "dn", "dnProblem" },
                "destination": { ... }, "origin", "linkedAt" (ISO), "linkedBy" }],
    "removed": [{ "key", "pipe", "source", "destination", "removedAt" (ISO) }] }
  "dn" is null when the entry was not found or its directory not read; "dnProblem" says why.
--json (stats) prints { "topic", "pipes": [{ "pipe", "configured": { "source", "destination" } | null, "links",
  "removed", "byOrigin": { origin: count }, "otherDirectories" }], "total": { "links", "removed" }, "skipped" }.

Examples:
  idsync links show 6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31
  idsync links show 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=com'
  idsync links show 'uid=jdoe,ou=People,dc=example,dc=com' --json | jq '.links[].destination.dn'
  idsync links export --pipe ad-to-ds > ad-to-ds-links.jsonl
  idsync links export --format csv > links.csv
  idsync links stats

Exit status: 0 found, done; 1 the entry has no live links (show), the links topic does not exist, or a server
failed; 2 wrong subcommand or option, an argument that is neither a UUID nor a DN, a DN that names no entry.
`;

export const linksCommand: CliCommand = {
  name: 'links',
  summary: 'links between synchronized entries: show one, export all, counts',
  help: HELP,
  run: async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(sub === undefined ? 'which subcommand?' : `unknown subcommand '${sub}'`, `subcommands: ${SUBCOMMANDS.join(', ')}; see idsync links --help`);
    }
    if (sub === 'show') return show(rest, io);
    if (sub === 'export') return exportLinks(rest, io);
    return stats(rest, io);
  },
};

/* ---------------------------------------------------------------------------------------------------------------- */
/* Subcommands                                                                                                       */

async function show(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('links', argv, { directory: { type: 'string' } });
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'which entry? give its id (a UUID) or its DN' : 'one entry at a time (quote a DN that has spaces)', 'see idsync links --help');
  }
  const argument = parseEntryArgument(positionals[0] as string);
  if (argument.kind === 'invalid') throw new UsageError(argument.problem, 'give an objectGUID or entryUUID (8-4-4-4-12 hex) or the DN of an entry');
  if (argument.kind === 'id' && values.directory !== undefined) throw new UsageError('--directory goes with a DN, not with an id', 'an id is looked up in every link, whichever directory it is in');
  const ctx = await CommandContext.open(io, values.config);
  const directories = configuredDirectories(ctx);
  let loaded: LoadedLinks | undefined;
  try {
    // The directory first: a DN that names no entry stops the command before the topic is read.
    const entry = argument.kind === 'dn' ? await entryOfDn(ctx, argument.dn, argument.parsed, values.directory) : null;
    const id = argument.kind === 'id' ? argument.id : (entry?.id ?? '');
    loaded = await loadLinks(ctx);
    const { store, tombstones, topic } = loaded;
    const lookups = new DnLookups(ctx, directories);
    const links: ShownLink[] = [];
    for (const link of store.linksOf(id)) {
      links.push({ ...link, source: { ...link.source, dn: await lookups.dnOf(link.source) }, destination: { ...link.destination, dn: await lookups.dnOf(link.destination) } });
    }
    const removed: RemovedLink[] = store.retired(id).map((r) => ({ key: r.key, pipe: r.pipe, source: r.source, destination: r.destination, removedAt: tombstones.removedAt(r.key) }));
    const report: ShowReport = { topic, id, entry: entry === null ? null : { directory: entry.directory, dn: entry.dn }, links, removed };
    // Nothing at all to show: the error below says so (once).
    if (values.json) io.out(`${JSON.stringify(showJson(report), null, 2)}\n`);
    else if (links.length > 0 || removed.length > 0) io.out(renderShow(report));
    if (links.length === 0) {
      throw new CliError(`no live links of ${id}${entry === null ? '' : ` (${entry.dn})`} on ${topic}`, {
        hint:
          removed.length > 0
            ? 'its links were removed recently (listed above): an entry of the pair was deleted or found gone'
            : 'the writers record a link when they create or find the counterpart of an entry while applying a change: an entry not changed since links exist (and not repaired by idsync resync) has none yet',
      });
    }
    return EXIT_CODES.ok;
  } finally {
    loaded?.store.close();
    await ctx.close();
  }
}

async function exportLinks(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('links', argv, { format: { type: 'string' }, pipe: { type: 'string' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'to see the links of one entry: idsync links show <id|dn>');
  const format: ExportFormat = values.format === undefined ? 'jsonl' : isExportFormat(values.format) ? values.format : badFormat(values.format);
  if (values.json && format !== 'jsonl') throw new UsageError(`--json writes JSON lines: it does not go with --format ${format}`);
  const ctx = await CommandContext.open(io, values.config);
  const pipe = values.pipe === undefined ? undefined : pipeOption(ctx, values.pipe);
  let loaded: LoadedLinks | undefined;
  try {
    loaded = await loadLinks(ctx);
    const { store, tombstones, topic, skipped } = loaded;
    const line = format === 'csv' ? linkCsvLine : linkJsonLine;
    let chunk = format === 'csv' ? CSV_HEADER : '';
    let exported = 0;
    for (const link of store.all()) {
      if (pipe !== undefined && link.pipe !== pipe) continue;
      chunk += line(link);
      exported += 1;
      if (chunk.length >= 64 * 1024) {
        io.out(chunk);
        chunk = '';
      }
    }
    if (chunk.length > 0) io.out(chunk);
    const removed = pipe === undefined ? tombstones.size : (tombstones.byPipe().get(pipe) ?? 0);
    io.err(exportSummary({ exported, removed, skipped }, topic, pipe));
    return EXIT_CODES.ok;
  } finally {
    loaded?.store.close();
    await ctx.close();
  }
}

async function stats(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('links', argv, {});
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'stats counts every link; to see one entry: idsync links show <id|dn>');
  const ctx = await CommandContext.open(io, values.config);
  let loaded: LoadedLinks | undefined;
  try {
    loaded = await loadLinks(ctx);
    const { store, tombstones, topic, skipped } = loaded;
    const rows = linkStats(store.all(), tombstones.byPipe(), ctx.config.pipes);
    const total = { links: rows.reduce((sum, r) => sum + r.links, 0), removed: rows.reduce((sum, r) => sum + r.removed, 0) };
    if (values.json) {
      io.out(`${JSON.stringify({ topic, pipes: rows, total, skipped }, null, 2)}\n`);
      return EXIT_CODES.ok;
    }
    io.out(renderStats(rows, total));
    io.out(
      `\n${total.links.toLocaleString('en-US')} live link${total.links === 1 ? '' : 's'} on ${topic}, ${total.removed.toLocaleString('en-US')} removed (tombstones still on the topic)${skipped > 0 ? `; ${skipped.toLocaleString('en-US')} record${skipped === 1 ? '' : 's'} skipped (not a link)` : ''}\n`,
    );
    return EXIT_CODES.ok;
  } finally {
    loaded?.store.close();
    await ctx.close();
  }
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Options and output                                                                                                */

function badFormat(text: string): never {
  throw new UsageError(`no export format '${text}'`, `formats: ${EXPORT_FORMATS.join(', ')}`);
}

function pipeOption(ctx: CommandContext, name: string): string {
  if (!ctx.config.pipes.some((p) => p.name === name)) {
    throw new UsageError(`no pipe '${name}' in ${ctx.configFile}`, `pipes: ${ctx.config.pipes.map((p) => p.name).join(', ') || 'none'}; idsync links stats lists the pipes on the topic`);
  }
  return name;
}

function renderStats(rows: readonly PipeStats[], total: { links: number; removed: number }): string {
  const origins = (row: PipeStats): string =>
    Object.entries(row.byOrigin)
      .filter(([, n]) => n > 0)
      .map(([origin, n]) => `${origin} ${n.toLocaleString('en-US')}`)
      .join(', ') || '-';
  return table(
    [...rows, null],
    [
      { header: 'PIPE', value: (r) => (r === null ? 'total' : r.pipe) },
      { header: 'DIRECTORIES', value: (r) => (r === null ? '' : r.configured === null ? '(not configured)' : `${r.configured.source} -> ${r.configured.destination}`) },
      { header: 'LINKS', value: (r) => (r === null ? total.links : r.links), align: 'right' },
      { header: 'REMOVED', value: (r) => (r === null ? total.removed : r.removed), align: 'right' },
      { header: 'OTHER DIRS', value: (r) => (r === null ? '' : r.configured === null ? '-' : r.otherDirectories), align: 'right' },
      { header: 'BY ORIGIN', value: (r) => (r === null ? '' : origins(r)) },
    ],
  );
}

/* ---------------------------------------------------------------------------------------------------------------- */
/* Directories                                                                                                       */

function configuredDirectories(ctx: CommandContext): DirectoryBase[] {
  return Object.entries(ctx.config.directories).map(([name, dir]) => ({ name, kind: dir.kind, baseDn: dir.baseDn }));
}

const NO_SUCH_OBJECT = 32;
const INVALID_DN_SYNTAX = 34;

function ldapCode(error: unknown): unknown {
  return (error as { code?: unknown }).code;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An attribute's values whatever case the server wrote its name in. */
function attributeValues(entry: Entry, name: string): (string | Buffer)[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

interface EntryOfDn {
  readonly directory: string;
  readonly dn: string;
  readonly id: string;
}

/** Reads the entry a DN names from the directory that holds it, for its id (objectGUID or entryUUID). */
async function entryOfDn(ctx: CommandContext, dn: string, parsed: Dn, only: string | undefined): Promise<EntryOfDn> {
  const directories = only === undefined ? configuredDirectories(ctx) : [{ name: only, kind: ctx.directory(only).kind, baseDn: ctx.directory(only).baseDn }];
  const choice = directoryOfDn(parsed, directories);
  if ('problem' in choice) throw new UsageError(`${choice.problem}: ${dn}`, choice.hint);
  const { name, kind } = choice.directory;
  const attribute = entryIdAttribute(kind);
  const session = await ctx.ldap(name);
  let found: Entry[] | null;
  try {
    found = await searchAtOnce(session.client, dn, { scope: 'base', filter: '(objectClass=*)', attributes: [attribute], explicitBufferAttributes: kind === 'active-directory' ? [attribute] : [] }, 1);
  } catch (error) {
    if (ldapCode(error) === NO_SUCH_OBJECT) throw new UsageError(`no entry ${dn} in directory '${name}' (${session.url})`, 'check the DN (idsync links show also takes the entry id)');
    if (ldapCode(error) === INVALID_DN_SYNTAX) throw new UsageError(`directory '${name}' refuses the DN ${dn}: ${errorText(error)}`);
    throw new CliError(`reading ${dn} from directory '${name}' (${session.url}) failed: ${errorText(error)}`, { retriable: true, cause: error });
  }
  const entry = found?.[0];
  if (entry === undefined) throw new UsageError(`no entry ${dn} in directory '${name}' (${session.url})`, 'check the DN (idsync links show also takes the entry id)');
  const [value] = attributeValues(entry, attribute);
  try {
    if (kind === 'active-directory' && Buffer.isBuffer(value)) return { directory: name, dn: entry.dn, id: canonicalGuid(value) };
    if (kind === 'ldap' && value !== undefined) return { directory: name, dn: entry.dn, id: canonicalUuid(value.toString()) };
  } catch (error) {
    throw new CliError(`entry ${entry.dn} in directory '${name}' has an unreadable ${attribute}: ${errorText(error)}`, { cause: error });
  }
  throw new CliError(`entry ${entry.dn} in directory '${name}' has no ${attribute}`, {
    hint: `the configured account of directories.${name} may not be allowed to read it; give the entry id instead`,
  });
}

/**
 * Current DNs of link ends, read by id: one session per directory, opened on first use; a directory that cannot be
 * reached (or is not configured) leaves its ends' DNs unknown with the reason, and is not tried again.
 */
class DnLookups {
  private readonly sessions = new Map<string, Promise<{ client: Client } | { problem: string }>>();
  private readonly found = new Map<string, DnLookup>();

  constructor(
    private readonly ctx: CommandContext,
    private readonly directories: readonly DirectoryBase[],
  ) {}

  async dnOf(end: LinkEnd): Promise<DnLookup> {
    const cacheKey = `${end.directory}\u0000${end.kind}\u0000${end.value}`;
    const cached = this.found.get(cacheKey);
    if (cached !== undefined) return cached;
    const result = await this.lookUp(end);
    this.found.set(cacheKey, result);
    return result;
  }

  private async lookUp(end: LinkEnd): Promise<DnLookup> {
    const directory = this.directories.find((d) => d.name === end.directory);
    if (directory === undefined) return { kind: 'unknown', problem: `no directory '${end.directory}' in the configuration` };
    const how = idLookup(directory, end);
    if (how.kind === 'none') return { kind: 'unknown', problem: how.problem };
    const session = await this.session(directory.name);
    if ('problem' in session) return { kind: 'unknown', problem: session.problem };
    try {
      const entries =
        how.kind === 'base'
          ? await searchAtOnce(session.client, how.base, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] }, 1)
          : await searchAtOnce(session.client, how.base, { scope: 'sub', filter: new EqualityFilter({ attribute: how.attribute, value: how.value }), attributes: ['1.1'] }, 2);
      if (entries === null || entries.length > 1) return { kind: 'unknown', problem: `several entries of directory '${directory.name}' have this ${end.kind}` };
      const [entry] = entries;
      return entry === undefined ? { kind: 'missing' } : { kind: 'found', dn: entry.dn };
    } catch (error) {
      if (ldapCode(error) === NO_SUCH_OBJECT) return { kind: 'missing' };
      return { kind: 'unknown', problem: `reading directory '${directory.name}' failed: ${errorText(error)}` };
    }
  }

  private session(name: string): Promise<{ client: Client } | { problem: string }> {
    let session = this.sessions.get(name);
    if (session === undefined) {
      session = this.ctx.ldap(name).then(
        (s) => ({ client: s.client }),
        // The error names the directory and its URLs (DirectoryUnavailableError, DirectoryBindError).
        (error: unknown) => ({ problem: errorText(error) }),
      );
      this.sessions.set(name, session);
    }
    return session;
  }
}
