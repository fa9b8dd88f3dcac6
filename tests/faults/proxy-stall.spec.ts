import { hostPort } from '../integration/support/stack';
import { eventually, sleep } from '../integration/e2e/pipeline';
import { FaultRun } from './support/fault-run';
import { socketsTo } from './support/servers';
import { TcpProxy } from './support/tcp-proxy';

/**
 * The network to the directory hangs: the services reach 389-ds through a TCP proxy, which stalls for 60 s (connections
 * stay open and new ones are accepted; no byte moves) while users are created in AD, then cuts every connection and
 * forwards again. The ds-writer and the ds-detector must keep a bounded number of sockets throughout, the ds-writer
 * must say it is not ready while stalled, and every user must arrive afterwards, without a restart.
 */

const USERS = 40;
const STALL_MS = 60_000;
let proxy: TcpProxy | undefined;
const run = new FaultRun('px', async () => proxy?.resume(), {
  pipeline: async () => {
    const target = hostPort(stackDsUrl());
    proxy = await TcpProxy.start(target.host, target.port);
    return { env: { DS_URL: `ldaps://127.0.0.1:${proxy.port}` } };
  },
});
const step = run.scenario.step;
const writerConnections = run.config.services['ds-writer'].connections;

function stackDsUrl(): string {
  const url = run.config.directories['ds']?.urls[0];
  if (url === undefined) throw new Error('the stack configuration has no ds directory');
  return url;
}

function requireProxy(): TcpProxy {
  if (!proxy) throw new Error('the proxy did not start');
  return proxy;
}

describe(`the network to the directory stalls for 60 s, then drops every connection (run ${run.suffix})`, () => {
  afterAll(async () => {
    await proxy?.close();
  });

  step('an OU created in AD reaches 389-ds through the proxy', () => run.createOu());

  step(
    `proxy stalled, ${USERS} users created in AD: sockets stay bounded, the ds-writer says not ready; after the cut all users arrive`,
    async () => {
      const tcp = requireProxy();
      const writerPid = run.live.pid('ds-writer') as number;
      const detectorPid = run.live.pid('ds-detector') as number;
      tcp.stall();
      const acceptedBefore = tcp.accepted;
      const stalledAt = Date.now();
      await run.createUsers(USERS, 'Stalled');
      let writerMost = 0;
      let detectorMost = 0;
      let notReady = false;
      while (Date.now() - stalledAt < STALL_MS) {
        writerMost = Math.max(writerMost, await socketsTo(writerPid, tcp.port));
        detectorMost = Math.max(detectorMost, await socketsTo(detectorPid, tcp.port));
        if (!notReady) notReady = (await run.health('ds-writer').catch(() => ({ status: 'error' }))).status === 'error';
        await sleep(1_000);
      }
      const opened = tcp.accepted - acceptedBefore;
      tcp.cut();
      tcp.resume();
      process.stdout.write(
        `stalled proxy: at most ${writerMost} ds-writer and ${detectorMost} ds-detector sockets open at once; ${opened} connections opened (and given up) during the ${STALL_MS / 1_000} s stall\n`,
      );
      expect(writerMost).toBeGreaterThan(0);
      expect(writerMost).toBeLessThanOrEqual(writerConnections + 2);
      expect(detectorMost).toBeLessThanOrEqual(3);
      expect(notReady).toBe(true);

      await run.waitForUsersInDirectory(USERS, 180_000);
      await eventually(
        'ds-writer /health ok again',
        () => run.health('ds-writer'),
        (h) => h.status === 'ok',
        60_000,
        1_000,
      );
      expect(run.live.crashed()).toEqual([]);
      expect(await socketsTo(writerPid, tcp.port)).toBeLessThanOrEqual(writerConnections + 2);
    },
    420_000,
  );

  step('both directories compared in full: 0 lost, 0 extra, 0 different', () => run.expectTreesEqual(USERS), 60_000);
});
