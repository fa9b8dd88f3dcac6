import { parseConfig } from '@idsync/config';
import {
  affectedRange,
  planReplay,
  type RangeCount,
  ReplayPlanError,
  type ReplayPartitionInput,
  type ReplayRow,
  resolveReplayGroup,
  selectPartitions,
  serviceTopics,
  summarizePlan,
  targetOffset,
} from './replay-plan';

const input = (topic: string, partition: number, low: number, high: number, committed: number | null, timeOffset?: number): ReplayPartitionInput => ({
  topic,
  partition,
  low,
  high,
  committed,
  ...(timeOffset === undefined ? {} : { timeOffset }),
});

const CONFIG_YAML = `
kafka:
  brokers: ["127.0.0.1:9092"]
  clientId: acme
  topics:
    adChanges: { name: acme.ad.changes }
    dsChanges: { name: acme.ds.changes }
    adOperations: { name: acme.ad.operations }
    dsOperations: { name: acme.ds.operations }
    deadLetter: { name: acme.dead-letter }
    checkpoints: { name: acme.checkpoints, partitions: 1 }
    links: { name: acme.links, partitions: 6 }
directories:
  ad: { kind: active-directory, urls: ["ldaps://dc1:636"], bindDn: "cn=a", bindPassword: "x", baseDn: "DC=a" }
  ds: { kind: ldap, urls: ["ldaps://ds1:636"], bindDn: "cn=b", bindPassword: "y", baseDn: "dc=b" }
services:
  ad-detector: { httpPort: 8181, source: ad }
  ds-detector: { httpPort: 8182, source: ds }
  mapper: { httpPort: 8183 }
  ad-writer: { httpPort: 8184, destination: ad }
  ds-writer: { httpPort: 8185, destination: ds }
`;
const config = parseConfig(CONFIG_YAML, 'test.yaml', {});

describe('target offsets', () => {
  it('takes the offset of the time, and the log end when no record is that recent', () => {
    expect(targetOffset(input('t', 0, 0, 50, 40, 12), { kind: 'time', at: 1 })).toEqual({ offset: 12, adjusted: null });
    expect(targetOffset(input('t', 0, 0, 50, 40, -1), { kind: 'time', at: 1 })).toEqual({ offset: 50, adjusted: null });
  });

  it('keeps a requested offset inside the log, and says so', () => {
    expect(targetOffset(input('t', 0, 10, 50, 40), { kind: 'offset', offset: 3 })).toMatchObject({ offset: 10, adjusted: expect.stringMatching(/deleted/) });
    expect(targetOffset(input('t', 0, 10, 50, 40), { kind: 'offset', offset: 90 })).toMatchObject({ offset: 50, adjusted: expect.stringMatching(/past the log end/) });
    expect(targetOffset(input('t', 0, 10, 50, 40), { kind: 'offset', offset: 20 })).toEqual({ offset: 20, adjusted: null });
  });

  it('knows the log start and end', () => {
    expect(targetOffset(input('t', 0, 10, 50, 40), { kind: 'beginning' }).offset).toBe(10);
    expect(targetOffset(input('t', 0, 10, 50, 40), { kind: 'end' }).offset).toBe(50);
  });
});

describe('replay plan', () => {
  it('rewinds, forwards or leaves each partition, sorted by topic and partition', () => {
    const rows = planReplay([input('b', 0, 0, 30, 30, 30), input('a', 1, 0, 20, 5, 8), input('a', 0, 0, 100, 90, 60)], { kind: 'time', at: 1 });
    expect(rows.map((r) => [r.topic, r.partition, r.from, r.target, r.direction, r.offsets])).toEqual([
      ['a', 0, 90, 60, 'replay', 30],
      ['a', 1, 5, 8, 'skip', 3],
      ['b', 0, 30, 30, 'unchanged', 0],
    ]);
  });

  it('plans a never-committed group from the log start, where its service would begin', () => {
    const [row] = planReplay([input('a', 0, 4, 20, null)], { kind: 'end' });
    expect(row).toMatchObject({ committed: null, from: 4, target: 20, direction: 'skip', offsets: 16 });
    // Already where it would start: nothing to commit.
    const [same] = planReplay([input('a', 0, 4, 20, null)], { kind: 'beginning' });
    expect(same).toMatchObject({ from: 4, target: 4, direction: 'unchanged' });
    expect(summarizePlan([same as ReplayRow], new Map()).changed).toBe(0);
  });

  it('names the records to count: processed again for a rewind, skipped for a forward', () => {
    const [replay, skip, same] = planReplay([input('a', 0, 0, 100, 90, 60), input('a', 1, 0, 20, 5, 8), input('b', 0, 0, 30, 30, 30)], { kind: 'time', at: 1 });
    expect(affectedRange(replay as ReplayRow)).toEqual({ topic: 'a', partition: 0, from: 60, to: 90 });
    expect(affectedRange(skip as ReplayRow)).toEqual({ topic: 'a', partition: 1, from: 5, to: 8 });
    expect(affectedRange(same as ReplayRow)).toBeNull();
  });

  it('totals counted records (not offsets), and falls back to offsets, approximate, where not counted', () => {
    const rows = planReplay([input('a', 0, 0, 100, 90, 60), input('a', 1, 0, 20, 5, 8), input('b', 0, 0, 30, 30, 30)], { kind: 'time', at: 1 });
    const counts = new Map<ReplayRow, RangeCount>([[rows[0] as ReplayRow, { records: 15, exact: true, firstTimestamp: 100, lastTimestamp: 200 }]]);
    expect(summarizePlan(rows, counts)).toEqual({ replay: 15, skip: 3, exact: false, changed: 2, firstTimestamp: 100, lastTimestamp: 200 });
    counts.set(rows[1] as ReplayRow, { records: 1, exact: true, firstTimestamp: 50, lastTimestamp: 50 });
    expect(summarizePlan(rows, counts)).toMatchObject({ replay: 15, skip: 1, exact: true, firstTimestamp: 50, lastTimestamp: 200 });
  });
});

describe('groups and selection', () => {
  it('resolves a stage to its group and input topics', () => {
    expect(resolveReplayGroup(config, 'ds-writer')).toEqual({ groupId: 'acme-ds-writer', service: 'ds-writer', topics: ['acme.ds.operations'] });
    expect(resolveReplayGroup(config, 'mapper')).toEqual({ groupId: 'acme-mapper', service: 'mapper', topics: ['acme.ad.changes', 'acme.ds.changes'] });
    expect(resolveReplayGroup(config, 'acme-ad-writer')).toMatchObject({ service: 'ad-writer', topics: serviceTopics(config, 'ad-writer') });
  });

  it('takes any other name as a group id, but never a detector checkpoint', () => {
    expect(resolveReplayGroup(config, 'other-group')).toEqual({ groupId: 'other-group', service: null, topics: null });
    expect(() => resolveReplayGroup(config, 'idsync.checkpoint.ad-detector.ad')).toThrow(/set-startpoint/);
  });

  const partitions = [input('a', 0, 0, 1, 0), input('a', 1, 0, 1, 0), input('b', 0, 0, 1, 0)];

  it('narrows to a topic and a partition', () => {
    expect(selectPartitions(partitions, { topic: 'a' }).map((x) => x.partition)).toEqual([0, 1]);
    expect(selectPartitions(partitions, { topic: 'a', partition: 1 })).toEqual([partitions[1]]);
    expect(selectPartitions(partitions, {})).toHaveLength(3);
  });

  it('lists the valid names when a topic or partition is wrong', () => {
    expect(() => selectPartitions(partitions, { topic: 'c' })).toThrow(new ReplayPlanError("the group does not read topic 'c' (it reads: a, b)"));
    expect(() => selectPartitions(partitions, { topic: 'a', partition: 7 })).toThrow(/partitions: 0, 1/);
    expect(() => selectPartitions(partitions, { partition: 0 })).toThrow(/--partition needs --topic/);
    expect(selectPartitions([input('a', 0, 0, 1, 0)], { partition: 0 })).toHaveLength(1);
  });
});
