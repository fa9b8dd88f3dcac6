import { stackConfig, uniqueSuffix, requireStackServers, hostPort } from '../integration/support/stack';
import { Scenario } from '../integration/support/scenario';
import { Side } from '../integration/e2e/directories';
import { eventually, Pipeline, sleep } from '../integration/e2e/pipeline';
import { compareTrees, describeDifference } from './support/compare';
import { freezeDirectoryServer, socketsTo, thawDirectoryServer } from './support/servers';

/**
 * A destination that hangs: 389-ds frozen (SIGSTOP) for 60 s while users are created in AD. TCP connections are
 * still accepted by the kernel, nothing answers. The ds-writer must keep a bounded number of sockets to it
 * (its pool: `connections`, 8 by default, plus the health probe's), close what times out, and deliver
 * everything once the server answers again, without a restart.
 */

const config = stackConfig();
const s = uniqueSuffix();
const adCorp = `OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsCorp = `ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;
const OU = `fz${s}`;
const adOu = `OU=${OU},${adCorp}`;
const dsOu = `ou=${OU},${dsCorp}`;
const USERS = 50;
const FREEZE_MS = 60_000;
const WRITER_CONNECTIONS = config.services['ds-writer'].connections ?? 8;
const DS_PORT = hostPort(config.directories['ds']?.urls[0] ?? '').port;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side | undefined;
let frozen = false;
const scenario = new Scenario(300_000);
const step = scenario.step;

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s);
}, 180_000);

afterAll(async () => {
  if (frozen) await thawDirectoryServer();
  if (pipeline) {
    const crashed = pipeline.crashed();
    if (scenario.failed || crashed.length > 0) process.stderr.write(`faults ${s}: crashed: ${crashed.join(', ') || 'none'}\n${pipeline.tails(80)}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 180_000);

describe(`a destination directory frozen for 60 s (run ${s})`, () => {
  step('an OU created in AD reaches 389-ds', async () => {
    await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
    await eventually('the OU in 389-ds', () => (ds as Side).read(dsOu), (e) => e !== null, 30_000);
  });

  step(`389-ds frozen, ${USERS} users created in AD: the ds-writer's sockets stay bounded; all users arrive after the thaw`, async () => {
    const live = pipeline as Pipeline;
    const writerPid = live.pid('ds-writer') as number;
    await ds?.close();
    ds = undefined;
    await freezeDirectoryServer();
    frozen = true;
    const frozenAt = Date.now();
    for (let i = 0; i < USERS; i++) {
      const sam = `fz${i}x${s}`.slice(0, 20);
      await ad.add(`CN=Frozen ${i} ${s},${adOu}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: `Frozen ${i} ${s}`,
        sAMAccountName: sam,
        givenName: `Frozen${i}`,
        sn: s,
        mail: `${sam}@example.test`,
      });
    }
    let most = 0;
    while (Date.now() - frozenAt < FREEZE_MS) {
      most = Math.max(most, await socketsTo(writerPid, DS_PORT));
      await sleep(1_000);
    }
    await thawDirectoryServer();
    frozen = false;
    // The pool's connections plus at most a few opened by /health probes (each bounded by the connect timeout).
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(WRITER_CONNECTIONS + 2);
    ds = await Side.open(config, 'ds');
    await eventually(
      `all ${USERS} users in 389-ds`,
      async () => (await (ds as Side).below(dsOu, '(objectClass=inetOrgPerson)', ['1.1'])).size,
      (n) => n === USERS,
      180_000,
      2_000,
    );
    expect(live.crashed()).toEqual([]);
    const after = await socketsTo(writerPid, DS_PORT);
    expect(after).toBeLessThanOrEqual(WRITER_CONNECTIONS + 2);
    process.stdout.write(`frozen directory: at most ${most} ds-writer sockets to 389-ds during the freeze, ${after} after\n`);
  }, 420_000);

  step('both directories compared in full: 0 lost, 0 extra, 0 different', async () => {
    const diff = await compareTrees(ad, adOu, ds as Side, dsOu, adCorp, dsCorp);
    expect({ lost: diff.lost.length, extra: diff.extra.length, different: diff.different.length, detail: describeDifference(diff) }).toEqual({
      lost: 0,
      extra: 0,
      different: 0,
      detail: expect.any(String),
    });
    expect(diff.matched).toBe(USERS);
  }, 60_000);
});
