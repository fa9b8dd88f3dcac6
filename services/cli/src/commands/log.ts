import { type SyncLogRecord } from '@idsync/writer';
import { type CliCommand } from '../command';
import { CommandContext, kafkaCall } from '../context';
import { parseEntryArgument } from '../core/links-report';
import { entryHistory, historyRow, parseSyncLine } from '../core/sync-history';
import { table } from '../format';
import { CliError, EXIT_CODES, UsageError } from '../io';
import { GLOBAL_HELP, integerOption, parseCommandArgs, timeOption } from '../options';
import { readWindows, topicWindows } from '../topic-windows';

const HELP = `idsync log: what the writers did to one entry (the sync log)

usage: idsync log --entry <id|dn> [--since T] [--limit N] [--json]

Every writer logs one line per write request it settles (the sync log: "event":"sync.write" on its stdout) and, when
kafka.topics.audit is set, puts the same line on that topic, keyed by the source entry's id. This command reads the
audit topic from its beginning (or --since) up to its current end and shows the lines of one entry, oldest first:
when, which writer and pipe, the operation and the LDAP changes sent (add, modify, delete, modify-dn), the outcome
(applied, no-op, already-applied, dry-run, superseded, merged, parked, held, dead-letter, refused, with its reason),
the DN, the names of the attributes written (never their values) and the latency from the source change (* from its
detection, when the source recorded no time). Nothing is changed.

  --entry <id|dn>  the entry: a source or destination id (objectGUID, entryUUID: a UUID, any case, braces
                   allowed), or a DN it had at either end (before or after a rename; case and spaces do not matter)
  --since T        only lines since T: ISO 8601 time, epoch ms, or a duration ago (30m, 2h, 7d)
  --limit N        only the N most recent lines

${GLOBAL_HELP}

--json prints one JSON object per line: the sync log lines as the writers wrote them (event, at, service, pipe,
requestId, sourceEventId, sourceId, destinationId, dn, previousDn, foundAt, operation, changes, attributes, outcome,
endToEndMs, pipelineMs, reason, covers).

Examples:
  idsync log --entry 6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31
  idsync log --entry 'uid=jdoe,ou=People,dc=example,dc=com' --since 2h
  idsync log --entry 6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31 --json | jq -c 'select(.outcome != "no-op")'

Exit status: 0 lines found; 1 none found, the audit topic is not configured or does not exist, or Kafka failed;
2 wrong option, an --entry that is neither a UUID nor a DN.
`;

export const logCommand: CliCommand = {
  name: 'log',
  summary: "one entry's history from the sync log (the writers' audit topic)",
  help: HELP,
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('log', argv, { entry: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'give the entry with --entry <id|dn>');
    if (values.entry === undefined) throw new UsageError('which entry? give --entry <id|dn>', 'see idsync log --help');
    const entry = parseEntryArgument(values.entry);
    if (entry.kind === 'invalid') throw new UsageError(entry.problem, 'an entry is a UUID (objectGUID, entryUUID) or a DN');
    const since = values.since === undefined ? undefined : timeOption('log', 'since', values.since, io.now());
    const limit = integerOption('log', 'limit', values.limit, 1);
    const ctx = await CommandContext.open(io, values.config);
    try {
      const topic = ctx.config.kafka.topics.audit?.name;
      if (topic === undefined) {
        throw new CliError("no audit topic is configured: the sync log is only on the writers' stdout", {
          hint: 'set kafka.topics.audit (e.g. { name: idsync.audit }) and restart the writers; the lines written from then on can be read here',
        });
      }
      const admin = await ctx.admin();
      if (!(await kafkaCall(ctx, () => admin.listTopics())).includes(topic))
        throw new CliError(`the audit topic ${topic} does not exist yet`, { hint: 'the writers create it when they start with kafka.topics.audit set' });
      const lines: SyncLogRecord[] = [];
      let others = 0;
      await readWindows(ctx, await topicWindows(ctx, admin, topic, since), (record) => {
        const line = parseSyncLine(record.value);
        if (line === null) others++;
        else lines.push(line);
      });
      const history = entryHistory(since === undefined ? lines : lines.filter((line) => Date.parse(line.at) >= since), entry);
      const shown = limit === undefined ? history : history.slice(-limit);
      if (values.json) {
        for (const line of shown) io.out(`${JSON.stringify(line)}\n`);
        return shown.length > 0 ? EXIT_CODES.ok : EXIT_CODES.failed;
      }
      if (shown.length === 0) {
        io.out(`no sync log lines for ${values.entry} among ${lines.length} on ${topic}${since === undefined ? '' : ' in that time'}\n`);
        return EXIT_CODES.failed;
      }
      io.out(
        table(shown.map(historyRow), [
          { header: 'AT', value: (r) => r.at },
          { header: 'WRITER', value: (r) => r.service },
          { header: 'PIPE', value: (r) => r.pipe },
          { header: 'OPERATION', value: (r) => r.operation },
          { header: 'OUTCOME', value: (r) => r.outcome },
          { header: 'DN', value: (r) => r.dn },
          { header: 'ATTRIBUTES', value: (r) => r.attributes },
          { header: 'LATENCY', value: (r) => r.latency },
        ]),
      );
      const of = shown.length < history.length ? `the ${shown.length} most recent of ${history.length}` : `${shown.length}`;
      io.out(`\n${of} line${history.length === 1 ? '' : 's'} for ${values.entry} (read ${lines.length} from ${topic}${others > 0 ? `, ${others} records that are not sync log lines skipped` : ''})\n`);
      return EXIT_CODES.ok;
    } finally {
      await ctx.close();
    }
  },
};
