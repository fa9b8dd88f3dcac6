import { detectorCheckpointGroup, detectorTransactionalId, heldTopicOf, receiptsGroupPrefix, receiptsTopicOf, redriveTransactionalId, serviceGroupId, waitTopicOf } from './groups';
import { configuredTopics, kafkaAccount, type Program, PROGRAMS, type SyncConfig } from './schema';

export type KafkaAclResource = 'topic' | 'group' | 'transactional-id';
export type KafkaAclOperation = 'read' | 'write' | 'create' | 'delete' | 'describe' | 'describe-configs';

/** One Kafka ACL: allow `principal` `operation` on the resource named `name` (exactly, or every name starting with it). */
export interface KafkaAcl {
  readonly program: Program;
  readonly principal: string;
  readonly resource: KafkaAclResource;
  readonly name: string;
  readonly pattern: 'literal' | 'prefixed';
  readonly operation: KafkaAclOperation;
}

interface Grant {
  readonly resource: KafkaAclResource;
  readonly names: readonly string[];
  readonly operations: readonly KafkaAclOperation[];
  readonly pattern?: 'literal' | 'prefixed';
}

/**
 * The ACLs each program needs, from the configuration, and nothing more (a broker with
 * allow.everyone.if.no.acl.found=false refuses the rest):
 * - every service sees the configured topics and may create them (each creates the missing ones at start);
 * - a detector writes its change topic, its checkpoint and dead letters, with its own transactional id and
 *   checkpoint group; the password agent writes AD's change topic;
 * - the mapper reads both change topics and writes both operations topics and dead letters, in transactions under
 *   its group's name;
 * - a writer reads only its own operations topic, holds deletes and waiting requests beside it (its held and wait
 *   topics), reads and writes links and its breaker's state (checkpoint topic), writes dead letters; its groups are named after its consumer group;
 * - the ad-writer writes its receipts topic (beside its operations topic), which the ad-detector reads with groups of
 *   its own (`<clientId>-ad-detector-receipts-*`, never committed);
 * - the CLI (an operator's tool) reads and writes every topic, the deployment's groups, and the detectors'
 *   checkpoints and transactional ids (set-startpoint), and redrives dead letters in its own transactions.
 * Nothing gets cluster-level rights. Empty when Kafka has no SASL accounts.
 */
export function kafkaAcls(config: SyncConfig): KafkaAcl[] {
  const { kafka, services } = config;
  if (!kafka.sasl) return [];
  const topics = kafka.topics;
  const configured = configuredTopics(topics).map((t) => t.name);
  const adReceipts = receiptsTopicOf(topics.adOperations.name);
  const detectors = [
    { program: 'ad-detector' as const, source: services['ad-detector'].source, changes: topics.adChanges.name, state: topics.adState?.name, receipts: adReceipts },
    { program: 'ds-detector' as const, source: services['ds-detector'].source, changes: topics.dsChanges.name, state: topics.dsState?.name, receipts: undefined },
  ];
  const writers = [
    { program: 'ad-writer' as const, operations: topics.adOperations.name },
    { program: 'ds-writer' as const, operations: topics.dsOperations.name },
  ];
  const seeAndCreate: Grant = { resource: 'topic', names: configured, operations: ['describe', 'create'] };
  const grants = new Map<Program, Grant[]>();
  for (const { program, source, changes, state, receipts } of detectors) {
    grants.set(program, [
      seeAndCreate,
      ...(receipts === undefined
        ? []
        : [
            { resource: 'topic', names: [receipts], operations: ['describe', 'create', 'read'] },
            { resource: 'group', names: [receiptsGroupPrefix(config)], operations: ['read'], pattern: 'prefixed' },
          ] satisfies Grant[]),
      { resource: 'topic', names: [changes, ...(state === undefined ? [] : [state]), topics.checkpoints.name, topics.deadLetter.name], operations: ['write', 'describe-configs'] },
      // The position is committed as the checkpoint group's offset on the checkpoint topic, in the transaction.
      { resource: 'topic', names: [topics.checkpoints.name], operations: ['read'] },
      { resource: 'group', names: [detectorCheckpointGroup(program, source)], operations: ['read'] },
      { resource: 'transactional-id', names: [detectorTransactionalId(program, source)], operations: ['write', 'describe'] },
    ]);
  }
  const mapperGroup = serviceGroupId(config, 'mapper');
  grants.set('mapper', [
    seeAndCreate,
    // The checkpoints topic: the pipes' pause state (idsync pipe pause), read with groups named after its own.
    { resource: 'topic', names: [topics.adChanges.name, topics.dsChanges.name, topics.checkpoints.name], operations: ['read'] },
    { resource: 'topic', names: [topics.adOperations.name, topics.dsOperations.name, topics.deadLetter.name], operations: ['write', 'describe-configs'] },
    { resource: 'group', names: [mapperGroup], operations: ['read'], pattern: 'prefixed' },
    { resource: 'transactional-id', names: [`${mapperGroup}.`], operations: ['write', 'describe'], pattern: 'prefixed' },
  ]);
  for (const { program, operations } of writers) {
    const own = [heldTopicOf(operations), waitTopicOf(operations)];
    grants.set(program, [
      seeAndCreate,
      { resource: 'topic', names: own, operations: ['describe', 'create'] },
      ...(program === 'ad-writer' ? [{ resource: 'topic', names: [receiptsTopicOf(operations)], operations: ['describe', 'create', 'write', 'describe-configs'] } satisfies Grant] : []),
      { resource: 'topic', names: [operations], operations: ['read'] },
      { resource: 'topic', names: [...own, topics.links.name, topics.checkpoints.name], operations: ['read', 'write', 'describe-configs'] },
      { resource: 'topic', names: [topics.deadLetter.name, ...(topics.audit === undefined ? [] : [topics.audit.name])], operations: ['write', 'describe-configs'] },
      { resource: 'group', names: [serviceGroupId(config, program)], operations: ['read', 'delete'], pattern: 'prefixed' },
    ]);
  }
  if (services['password-agent']) {
    grants.set('password-agent', [{ resource: 'topic', names: [topics.adChanges.name], operations: ['describe', 'write', 'describe-configs'] }]);
  }
  const everyTopic = [...configured, ...writers.flatMap((w) => [heldTopicOf(w.operations), waitTopicOf(w.operations)]), adReceipts];
  grants.set('cli', [
    { resource: 'topic', names: everyTopic, operations: ['describe', 'create', 'read', 'write', 'describe-configs'] },
    { resource: 'group', names: [`${kafka.clientId}-`], operations: ['read', 'describe', 'delete'], pattern: 'prefixed' },
    { resource: 'group', names: detectors.map((d) => detectorCheckpointGroup(d.program, d.source)), operations: ['read', 'describe', 'delete'] },
    {
      resource: 'transactional-id',
      names: [...detectors.map((d) => detectorTransactionalId(d.program, d.source)), redriveTransactionalId(topics.deadLetter.name)],
      operations: ['write', 'describe'],
    },
  ]);

  const acls: KafkaAcl[] = [];
  const seen = new Set<string>();
  for (const program of PROGRAMS) {
    const account = kafkaAccount(kafka, program);
    if (!account) continue;
    const principal = `User:${account.username}`;
    for (const grant of grants.get(program) ?? []) {
      for (const name of grant.names) {
        for (const operation of grant.operations) {
          const acl: KafkaAcl = { program, principal, resource: grant.resource, name, pattern: grant.pattern ?? 'literal', operation };
          const key = `${principal}|${acl.resource}|${acl.pattern}|${name}|${operation}`;
          if (seen.has(key)) continue;
          seen.add(key);
          acls.push(acl);
        }
      }
    }
  }
  return acls;
}
