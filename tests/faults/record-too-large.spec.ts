import { ConfigResourceTypes } from 'kafkajs';
import { testKafka } from '../integration/support/kafka';
import { describeRun, idsync } from '../integration/cli/run-cli';
import { eventually } from '../integration/e2e/pipeline';
import { FaultRun } from './support/fault-run';

/**
 * A write request over the broker's size limit: the operations topic's max.message.bytes is lowered while the
 * services run (as a broker or topic limit smaller than a big group's request), and a group whose request does not
 * fit is created in AD among ordinary users. The mapper must dead-letter that one event with its reason — not retry it
 * forever, not stop — and everything after it must arrive. With the limit raised again, `idsync dlq redrive` brings
 * the group, and both directories end equal.
 */

const USERS = 60;
/** Bytes: a user's write request (~600) fits; the group's, with 60 member DNs (~4,500), does not. */
const SMALL_LIMIT = 3_000;
const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

const run = new FaultRun('rl', () => setOperationsLimit(KAFKA_DEFAULT_MAX_MESSAGE_BYTES));
const step = run.scenario.step;
const s = run.suffix;

async function setOperationsLimit(bytes: number): Promise<void> {
  const topic = run.live.topics['dsOperations'];
  if (topic === undefined) throw new Error('the configuration names no dsOperations topic');
  // Changing a topic's settings is not something the product does: kafkajs' own admin.
  const admin = testKafka(run.config.kafka, `idsync-faults-${s}`, 'tool').kafkajs.admin();
  await admin.connect();
  try {
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] }] });
  } finally {
    await admin.disconnect();
  }
}

describe(`a write request over the broker's size limit (run ${s})`, () => {
  const groupDn = (side: 'ad' | 'ds'): string => (side === 'ad' ? `CN=Big Group ${s},${run.adOu}` : `cn=Big Group ${s},${run.dsOu}`);
  const memberDns = (): string[] => Array.from({ length: USERS }, (_, i) => `CN=User ${i} ${s},${run.adOu}`);

  step(
    `${USERS} users created in AD reach 389-ds`,
    async () => {
      await run.createOu();
      await run.createUsers(USERS, 'User');
      await run.waitForUsersInDirectory(USERS, 180_000);
    },
    300_000,
  );

  step(
    `with the operations topic limited to ${SMALL_LIMIT} bytes, a ${USERS}-member group is dead-lettered alone; a user created after it arrives`,
    async () => {
      await setOperationsLimit(SMALL_LIMIT);
      await run.ad.add(groupDn('ad'), { objectClass: ['top', 'group'], cn: `Big Group ${s}`, sAMAccountName: `big${s}`.slice(0, 20), description: 'many members', member: memberDns() });
      await run.ad.replace(`CN=User 0 ${s},${run.adOu}`, 'description', ['after the group']);
      await run.arrives('ds', `cn=User 0 ${s},${run.dsOu}`, 'after the group', 120_000);

      const letters = await eventually(
        "the mapper's dead letter for the group",
        () => run.live.deadLetters(),
        (l) => l.some((letter) => letter.stage === 'mapper'),
        60_000,
        1_000,
      );
      const mapperLetters = letters.filter((letter) => letter.stage === 'mapper');
      expect(mapperLetters).toHaveLength(1);
      expect(mapperLetters[0]?.reason).toMatch(/MESSAGE_TOO_LARGE|larger than the max message size|over the limit/i);
      expect(mapperLetters[0]?.topic).toBe(run.live.topics['adChanges']);
      // DirSync may deliver the group as its creation and then its member values: what fitted may be there, not all members.
      expect((await run.directory.read(groupDn('ds'), ['member']))?.['member']?.length ?? 0).toBeLessThan(USERS);
      expect((await run.health('mapper')).status).toBe('ok');
      expect(run.live.crashed()).toEqual([]);
    },
    240_000,
  );

  step(
    'the limit raised again and the dead letter re-driven: the group arrives with every member; both directories equal',
    async () => {
      await setOperationsLimit(KAFKA_DEFAULT_MAX_MESSAGE_BYTES);
      const redrive = await idsync(['dlq', 'redrive', '--all', '--yes'], { configFile: run.live.configFile });
      expect(redrive.code).toBe(0);
      await eventually(
        'the group in 389-ds with every member',
        () => run.directory.read(groupDn('ds'), ['member']),
        (entry) => entry?.['member']?.length === USERS,
        120_000,
        1_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${describeRun(redrive)}`);
      });
      await run.expectTreesEqual(USERS + 1);
    },
    240_000,
  );
});
