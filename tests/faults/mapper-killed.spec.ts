import { decodeEntryChange, decodeWriteRequest } from '@idsync/contracts';
import { eventually, sleep, type TopicRecord } from '../integration/e2e/pipeline';
import { FaultRun } from './support/fault-run';

/**
 * The mapper killed (SIGKILL) between producing write requests and committing its input, twice in a burst of
 * modifications: the writers must see every request exactly once and, per entry, in the order of the source's
 * changes — no older value re-applied after a newer one — and the directories must end equal.
 *
 * The kill comes the moment the first request of the attempt is written to the operations topic (seen by a
 * read-uncommitted watcher), before the mapper could commit it with its input offsets.
 */

const USERS = 24;
const STEPS = 12;
const KILLS = 2;
const run = new FaultRun('mk', async () => {
  if (!run.live.isRunning('mapper')) await run.live.startService('mapper');
});
const step = run.scenario.step;
const pad = (n: number): string => String(n).padStart(3, '0');

describe(`the mapper killed between producing and committing (run ${run.suffix})`, () => {
  const s = run.suffix;
  const userDn = (side: 'ad' | 'ds', i: number): string => (side === 'ad' ? `CN=User ${i} ${s},${run.adOu}` : `cn=User ${i} ${s},${run.dsOu}`);

  step(
    `${USERS} users created in AD reach 389-ds`,
    async () => {
      await run.createOu();
      await run.createUsers(USERS, 'User');
      await run.waitForUsersInDirectory(USERS, 120_000);
    },
    240_000,
  );

  step(
    `mapper stopped; ${USERS * STEPS} modifications in AD, detected while it is away`,
    async () => {
      await run.live.stopService('mapper');
      for (let n = 1; n <= STEPS; n++) {
        for (let i = 0; i < USERS; i++) await run.ad.replace(userDn('ad', i), 'description', [`step-${pad(n)}`]);
      }
      // The detector publishes them to the change topic; the writers have nothing to do until the mapper is back.
      await eventually(
        'the last modifications on the change topic',
        () => lastDescriptions(),
        (last) => last.size === USERS && [...last.values()].every((d) => d === `step-${pad(STEPS)}`),
        60_000,
        1_000,
      );
    },
    240_000,
  );

  step(
    `mapper started and killed the moment its output appears, ${KILLS} times; then started for good: all applied`,
    async () => {
      for (let kill = 1; kill <= KILLS; kill++) {
        let seen = 0;
        let killed = false;
        const watcher = await run.live.watch('dsOperations', () => {
          seen++;
          const pid = run.live.pid('mapper');
          if (!killed && pid !== undefined) {
            killed = true;
            process.kill(pid, 'SIGKILL');
          }
        });
        try {
          run.live.launch('mapper');
          await eventually(
            `kill ${kill}: the mapper's first output`,
            async () => seen,
            (n) => n > 0,
            120_000,
            100,
          );
          await run.live.kill('mapper');
        } finally {
          await watcher.stop();
        }
      }
      await run.live.startService('mapper');
      for (let i = 0; i < USERS; i++) await run.arrives('ds', userDn('ds', i), `step-${pad(STEPS)}`, 180_000);
    },
    600_000,
  );

  step(
    'the operations topic, read committed: every request once, per entry in the order of the source changes',
    async () => {
      const changeOrder = new Map<string, number>();
      for (const [index, record] of (await run.live.records('adChanges')).entries()) changeOrder.set(decodeEntryChange(record.value).eventId, index);
      const requests = (await run.live.records('dsOperations')).map((record: TopicRecord) => decodeWriteRequest(record.value));
      const requestIds = requests.map((r) => r.requestId);
      expect(requestIds.length).toBeGreaterThan(USERS * 2);
      expect(requestIds.length - new Set(requestIds).size).toBe(0);
      const outOfOrder: string[] = [];
      const lastByEntry = new Map<string, number>();
      for (const request of requests) {
        const order = changeOrder.get(request.sourceEventId);
        if (order === undefined) continue; // from the other pipe (directory changes echoed back)
        const entry = request.sourceEntryId.value;
        if ((lastByEntry.get(entry) ?? -1) > order) outOfOrder.push(`${request.dn}: ${request.requestId}`);
        lastByEntry.set(entry, order);
      }
      expect(outOfOrder).toEqual([]);
    },
    240_000,
  );

  step(
    'both directories compared in full: 0 lost, 0 extra, 0 different; nothing dead-lettered',
    async () => {
      await run.expectTreesEqual(USERS);
      await sleep(1_000);
      expect(await run.live.deadLetters()).toEqual([]);
    },
    120_000,
  );
});

/** The last description value per entry on the run's AD change topic. */
async function lastDescriptions(): Promise<Map<string, string>> {
  const last = new Map<string, string>();
  for (const record of await run.live.records('adChanges')) {
    const event = decodeEntryChange(record.value);
    const description = event.attributes.find((a) => a.name.toLowerCase() === 'description')?.values[0];
    if (typeof description === 'string' && description.startsWith('step-')) last.set(event.entryId.value, description);
  }
  return last;
}
