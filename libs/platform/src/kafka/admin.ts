import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, type Admin, type AclEntry, ConfigResourceTypes, ResourcePatternTypes } from 'kafkajs';
import { configuredTopics, type KafkaAcl, type KafkaConfig, RECEIPTS_RETENTION_MS, receiptsTopicOf } from '@idsync/config';
import { type OffsetRange } from './topic-ranges';

/**
 * The admin operations the product uses, with plain results. Offsets are numbers (exact up to 2^53, which no
 * partition reaches); a group with nothing committed on a partition has `offset: null` there.
 */

/** Answers that mean a partition's leader is being elected or has moved: asked again (topicOffsets). */
const LEADER_MOVING = new Set(['NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION']);
const LEADER_ATTEMPTS = 6;

/** A partition's log start (`low`, the first offset still held) and end (`high`, the offset the next record gets). */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

export interface PartitionOffset {
  readonly partition: number;
  readonly offset: number;
}

/** What a consumer group committed on one partition: the next offset to read, and the metadata stored with it. */
export interface CommittedOffset {
  readonly partition: number;
  /** Null: nothing committed on this partition. */
  readonly offset: number | null;
  readonly metadata: string | null;
}

export interface TopicCommittedOffsets {
  readonly topic: string;
  readonly partitions: readonly CommittedOffset[];
}

export interface NewTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Topic configuration entries, e.g. `cleanup.policy: compact`. */
  readonly config?: Readonly<Record<string, string>>;
}

export interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
}

/** A consumer group as the coordinator describes it: `state` is Kafka's (Empty, Stable, PreparingRebalance, Dead...). */
export interface GroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly members: readonly GroupMember[];
}

export interface GroupListing {
  readonly groupId: string;
  readonly protocolType: string;
}

export interface ClusterDescription {
  readonly clusterId: string;
  readonly controller: number | null;
  readonly brokers: readonly { readonly nodeId: number; readonly host: string; readonly port: number }[];
}

/** Kafka's admin client, reduced to what the product does with it. `connect` before use, `disconnect` after. */
export class KafkaAdmin {
  /** Made by KafkaClient.admin(). */
  constructor(private readonly admin: Admin) {}

  async connect(): Promise<void> {
    await this.admin.connect();
  }

  async disconnect(): Promise<void> {
    await this.admin.disconnect();
  }

  listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  /** Creates the topics and waits until each partition has a leader. */
  async createTopics(topics: readonly NewTopic[]): Promise<void> {
    await this.admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        ...(t.config ? { configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })) } : {}),
      })),
    });
  }

  /**
   * Every partition of `topic` with its log start and end. A leader that is still being elected or has just moved
   * (a topic created a moment ago, a broker restarting) is asked again a few times: kafkajs does not retry that here.
   */
  async topicOffsets(topic: string): Promise<PartitionOffsets[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await this.admin.fetchTopicOffsets(topic);
        return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }));
      } catch (error) {
        if (attempt >= LEADER_ATTEMPTS || !LEADER_MOVING.has((error as { type?: unknown }).type as string)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  /** Per partition, the first offset whose record is at or after `timestamp` (ms), else the partition's end. */
  async offsetsAtTime(topic: string, timestamp: number): Promise<PartitionOffset[]> {
    const offsets = await this.admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    return offsets.map((o) => ({ partition: o.partition, offset: Number(o.offset) }));
  }

  /** What `groupId` committed on the partitions of `topics`; without topics, on every topic it committed on. */
  async committedOffsets(groupId: string, topics: readonly string[] = []): Promise<TopicCommittedOffsets[]> {
    const fetched = await this.admin.fetchOffsets({ groupId, topics: [...topics] });
    return fetched.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        const offset = Number(p.offset);
        return { partition: p.partition, offset: offset < 0 ? null : offset, metadata: p.metadata || null };
      }),
    }));
  }

  /**
   * Per partition of `topic`, what `groupId` has not consumed yet: from its committed offset (else the log start) to
   * the end now.
   */
  async unconsumedRanges(groupId: string, topic: string): Promise<OffsetRange[]> {
    const [committed] = await this.committedOffsets(groupId, [topic]);
    return (await this.topicOffsets(topic)).map((end) => {
      const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? null;
      return { topic, partition: end.partition, from: at ?? end.low, to: end.high };
    });
  }

  /** Moves the committed offsets of a group without members (Kafka refuses it for a running group). */
  async setGroupOffsets(groupId: string, topic: string, partitions: readonly PartitionOffset[]): Promise<void> {
    await this.admin.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: String(p.offset) })) });
  }

  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    const { groups } = await this.admin.describeGroups([...groupIds]);
    return groups.map((g) => ({
      groupId: g.groupId,
      state: g.state,
      members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost })),
    }));
  }

  async listGroups(): Promise<GroupListing[]> {
    const { groups } = await this.admin.listGroups();
    return groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType }));
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    await this.admin.deleteGroups([...groupIds]);
  }

  /** Creates the ACLs (an ACL that exists already stays as it is); needs a principal allowed to alter the cluster. */
  async createAcls(acls: readonly KafkaAcl[]): Promise<void> {
    if (acls.length === 0) return;
    await this.admin.createAcls({ acl: acls.map(aclEntry) });
  }

  /** Deletes exactly these ACLs (those missing are no error). */
  async deleteAcls(acls: readonly KafkaAcl[]): Promise<void> {
    if (acls.length === 0) return;
    await this.admin.deleteAcls({ filters: acls.map(aclEntry) });
  }

  async describeCluster(): Promise<ClusterDescription> {
    const cluster = await this.admin.describeCluster();
    return { clusterId: cluster.clusterId, controller: cluster.controller, brokers: cluster.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port })) };
  }

  /**
   * `max.message.bytes` of each topic the broker described: its number, or undefined when the broker gave no value.
   * Topics the broker did not describe are left out.
   */
  async maxMessageBytes(topics: readonly string[]): Promise<Map<string, number | undefined>> {
    const limits = new Map<string, number | undefined>();
    if (topics.length === 0) return limits;
    const described = await this.admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes'] })),
    });
    for (const resource of described.resources) {
      const entry = resource.configEntries.find((e) => e.configName === 'max.message.bytes');
      limits.set(resource.resourceName, entry ? Number(entry.configValue) : undefined);
    }
    return limits;
  }
}

/** Creates the configured topics that do not exist yet; existing ones are left as they are. */
export async function ensureTopics(admin: KafkaAdmin, topics: KafkaConfig['topics']): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = configuredTopics(topics).filter((t) => !existing.has(t.name));
  if (missing.length === 0) return [];
  await admin.createTopics(
    missing.map((t) => ({
      name: t.name,
      partitions: t.partitions,
      replicationFactor: t.replicationFactor,
      // Only the latest position per detector, the latest state of each link and of each entry matter.
      ...([topics.checkpoints, topics.links, topics.adState, topics.dsState].includes(t) ? { config: { 'cleanup.policy': 'compact' } } : {}),
    })),
  );
  return missing.map((t) => t.name);
}

/**
 * The ad-writer's receipts topic (beside its operations topic, same partitions), created when missing: the ad-writer
 * writes it and the ad-detector follows it, whichever starts first. Kept an hour: receipts matter for seconds.
 */
export async function ensureReceiptsTopic(admin: KafkaAdmin, topics: KafkaConfig['topics']): Promise<string[]> {
  const name = receiptsTopicOf(topics.adOperations.name);
  if ((await admin.listTopics()).includes(name)) return [];
  await admin.createTopics([
    {
      name,
      partitions: topics.adOperations.partitions,
      replicationFactor: topics.adOperations.replicationFactor,
      config: { 'retention.ms': String(RECEIPTS_RETENTION_MS), 'segment.ms': String(RECEIPTS_RETENTION_MS / 6) },
    },
  ]);
  return [name];
}

const ACL_RESOURCES: Record<KafkaAcl['resource'], AclResourceTypes> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  'transactional-id': AclResourceTypes.TRANSACTIONAL_ID,
};

const ACL_OPERATIONS: Record<KafkaAcl['operation'], AclOperationTypes> = {
  read: AclOperationTypes.READ,
  write: AclOperationTypes.WRITE,
  create: AclOperationTypes.CREATE,
  delete: AclOperationTypes.DELETE,
  describe: AclOperationTypes.DESCRIBE,
  'describe-configs': AclOperationTypes.DESCRIBE_CONFIGS,
};

function aclEntry(acl: KafkaAcl): AclEntry {
  return {
    resourceType: ACL_RESOURCES[acl.resource],
    resourceName: acl.name,
    resourcePatternType: acl.pattern === 'prefixed' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
    principal: acl.principal,
    host: '*',
    operation: ACL_OPERATIONS[acl.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}
