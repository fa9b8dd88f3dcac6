import { kafkaAccount, type KafkaAcl, kafkaAcls, type Program, PROGRAMS } from '@idsync/config';
import { createKafka } from '@idsync/platform';
import { type CliCommand } from '../command';
import { CommandContext, kafkaUnreachable } from '../context';
import { table } from '../format';
import { CliError, EXIT_CODES, UsageError } from '../io';
import { GLOBAL_HELP, parseCommandArgs } from '../options';

/** The cluster administrator's account for --apply and --remove: never one of the programs'. */
export const ADMIN_USERNAME_VARIABLE = 'IDSYNC_KAFKA_ADMIN_USERNAME';
export const ADMIN_PASSWORD_VARIABLE = 'IDSYNC_KAFKA_ADMIN_PASSWORD';

const HELP = `idsync kafka-acls: the Kafka ACLs each program needs, from the configuration
usage: idsync kafka-acls [--program P] [--json]
       idsync kafka-acls (--apply | --remove) [--program P]

With one Kafka account per program (kafka.sasl.principals), each needs ACLs for exactly what it does and nothing
more: detectors write their change topic, checkpoint and dead letters; the mapper reads the change topics and writes
the operations topics; each writer reads only its own operations topic (and its held deletes, links, breaker state);
the CLI reads and writes every topic of the deployment. Without ACLs, a broker with
allow.everyone.if.no.acl.found=false refuses the program (it stops, saying Kafka denied it).

  (no option)   prints them: program, principal, resource, pattern, name, operation
  --apply       creates them (those that exist stay; nothing is removed)
  --remove      deletes them (a deployment taken down)
  --program P   only P's: ${PROGRAMS.join(', ')}
--apply and --remove connect as the cluster administrator, from $${ADMIN_USERNAME_VARIABLE} and
$${ADMIN_PASSWORD_VARIABLE} (SASL <kafka.sasl.mechanism>, TLS as in kafka: of the configuration).

${GLOBAL_HELP}
Exit status: 0 done; 1 Kafka failed or refused the administrator; 2 wrong option, or no SASL accounts configured.
`;

export const kafkaAclsCommand: CliCommand = {
  name: 'kafka-acls',
  summary: 'the Kafka ACLs of each program: print, apply or remove them',
  help: HELP,
  run: async (argv, io) => {
    const { values, positionals } = parseCommandArgs('kafka-acls', argv, {
      program: { type: 'string' },
      apply: { type: 'boolean', default: false },
      remove: { type: 'boolean', default: false },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`, 'see idsync kafka-acls --help');
    if (values.apply && values.remove) throw new UsageError('--apply or --remove, not both');
    const program = values.program;
    if (program !== undefined && !(PROGRAMS as readonly string[]).includes(program)) throw new UsageError(`no program '${program}'`, `programs: ${PROGRAMS.join(', ')}`);
    const ctx = CommandContext.load(io, values.config);
    const sasl = ctx.config.kafka.sasl;
    if (!sasl) throw new UsageError('kafka.sasl is not configured: without accounts there is nobody to give ACLs to', 'see README.md, "Kafka security"');
    const acls = kafkaAcls(ctx.config).filter((acl) => program === undefined || acl.program === (program as Program));
    if (!values.apply && !values.remove) {
      if (values.json) io.out(`${JSON.stringify(acls, null, 2)}\n`);
      else io.out(table(acls, COLUMNS));
      return EXIT_CODES.ok;
    }
    const username = io.env[ADMIN_USERNAME_VARIABLE];
    const password = io.env[ADMIN_PASSWORD_VARIABLE];
    if (!username || !password) {
      throw new UsageError(
        `--${values.apply ? 'apply' : 'remove'} needs the cluster administrator's account in $${ADMIN_USERNAME_VARIABLE} and $${ADMIN_PASSWORD_VARIABLE}`,
        "a principal in the brokers' super.users, or with ALTER on the cluster",
      );
    }
    if (PROGRAMS.some((p) => kafkaAccount(ctx.config.kafka, p)?.username === username)) {
      throw new UsageError(`${username} is one of the programs' accounts; ACLs are changed as the cluster administrator`);
    }
    const kafka = createKafka({ ...ctx.config.kafka, sasl: { mechanism: sasl.mechanism, username, password } }, 'cli', undefined, 'tool');
    kafka.setLogLevel(io.env['IDSYNC_CLI_DEBUG'] ? 'debug' : 'nothing');
    const admin = kafka.admin();
    try {
      await admin.connect();
      if (values.apply) await admin.createAcls(acls);
      else await admin.deleteAcls(acls);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw kafkaUnreachable(ctx.config, error);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const principals = new Set(acls.map((acl) => acl.principal));
    if (values.json) io.out(`${JSON.stringify({ [values.apply ? 'applied' : 'removed']: acls.length, principals: [...principals] })}\n`);
    else io.out(`${values.apply ? 'applied' : 'removed'} ${acls.length} ACLs for ${[...principals].join(', ')}\n`);
    return EXIT_CODES.ok;
  },
};

const COLUMNS = [
  { header: 'PROGRAM', value: (acl: KafkaAcl) => acl.program },
  { header: 'PRINCIPAL', value: (acl: KafkaAcl) => acl.principal },
  { header: 'RESOURCE', value: (acl: KafkaAcl) => acl.resource },
  { header: 'PATTERN', value: (acl: KafkaAcl) => acl.pattern },
  { header: 'NAME', value: (acl: KafkaAcl) => acl.name },
  { header: 'OPERATION', value: (acl: KafkaAcl) => acl.operation },
];
