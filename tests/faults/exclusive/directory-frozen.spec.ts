import { hostPort } from '../../integration/support/stack';
import { sleep } from '../../integration/e2e/pipeline';
import { FaultRun } from '../support/fault-run';
import { freezeDirectoryServer, socketsTo, thawDirectoryServer } from '../support/servers';

/**
 * A destination that hangs: 389-ds frozen (SIGSTOP) for 60 s while users are created in AD. TCP connections are
 * still accepted by the kernel, nothing answers. The ds-writer must keep a bounded number of sockets to it (its
 * pool: `connections`, 8 by default, plus what a /health probe opens), close what times out, and deliver everything
 * once the server answers again, without a restart.
 */

const USERS = 50;
const FREEZE_MS = 60_000;
let frozen = false;
const run = new FaultRun('fz', async () => {
  if (frozen) await thawDirectoryServer();
});
const step = run.scenario.step;
const writerConnections = run.config.services['ds-writer'].connections;
const dsPort = hostPort(run.config.directories['ds']?.urls[0] ?? '').port;

describe(`a destination directory frozen for 60 s (run ${run.suffix})`, () => {
  step('an OU created in AD reaches 389-ds', () => run.createOu());

  step(
    `389-ds frozen, ${USERS} users created in AD: the ds-writer's sockets stay bounded; all users arrive after the thaw`,
    async () => {
      const writerPid = run.live.pid('ds-writer') as number;
      await run.closeDirectory();
      await freezeDirectoryServer();
      frozen = true;
      const frozenAt = Date.now();
      await run.createUsers(USERS, 'Frozen');
      let most = 0;
      while (Date.now() - frozenAt < FREEZE_MS) {
        most = Math.max(most, await socketsTo(writerPid, dsPort));
        await sleep(1_000);
      }
      await thawDirectoryServer();
      frozen = false;
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(writerConnections + 2);
      await run.openDirectory();
      await run.waitForUsersInDirectory(USERS, 180_000);
      expect(run.live.crashed()).toEqual([]);
      const after = await socketsTo(writerPid, dsPort);
      expect(after).toBeLessThanOrEqual(writerConnections + 2);
      process.stdout.write(`frozen directory: at most ${most} ds-writer sockets to 389-ds during the freeze, ${after} after\n`);
    },
    420_000,
  );

  step('both directories compared in full: 0 lost, 0 extra, 0 different', () => run.expectTreesEqual(USERS), 60_000);
});
