import { eventually, sleep } from '../../integration/e2e/pipeline';
import { FaultRun } from '../support/fault-run';
import { startServer, stopServer } from '../support/servers';

/**
 * The writer that silently stopped: with both demo pipes running, 389-ds is stopped for 45 s while 200 users are
 * created in AD, then started again. Every user must arrive without anyone restarting a service, the ds-writer's
 * /health must say it is not ready while its directory is away (and show its consumer loop consuming once it is
 * back), and the two trees must end equal.
 */

const USERS = 200;
const OUTAGE_MS = 45_000;
const run = new FaultRun('fo', () => startServer('ds'));
const step = run.scenario.step;

describe(`a destination directory stopped for 45 s during a burst (run ${run.suffix})`, () => {
  step('an OU created in AD reaches 389-ds', () => run.createOu());

  step(
    `389-ds stopped, ${USERS} users created in AD, 389-ds started after 45 s: all arrive, nobody restarts anything`,
    async () => {
      await run.closeDirectory();
      await stopServer('ds');
      const stoppedAt = Date.now();
      await run.createUsers(USERS, 'User');
      const notReady = await eventually(
        'ds-writer /health says not ready while 389-ds is stopped',
        () => run.health('ds-writer'),
        (h) => h.status === 'error',
        30_000,
        1_000,
      );
      expect(Object.keys(notReady.error ?? {}).some((name) => name.startsWith('directory:'))).toBe(true);
      await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
      await startServer('ds');
      await run.openDirectory();
      await run.waitForUsersInDirectory(USERS, 240_000);
      const ready = await eventually(
        'ds-writer /health ok again',
        () => run.health('ds-writer'),
        (h) => h.status === 'ok',
        30_000,
        1_000,
      );
      const loop = Object.entries(ready.info ?? {}).find(([name]) => name.startsWith('consumer:'))?.[1] as { state?: string } | undefined;
      expect(loop?.state).toMatch(/^(consuming|backing-off)$/);
      expect(run.live.crashed()).toEqual([]);
    },
    420_000,
  );

  step('both directories compared in full: 0 lost, 0 extra, 0 different', () => run.expectTreesEqual(USERS), 60_000);
});
