import { stackConfig, uniqueSuffix, requireStackServers } from '../integration/support/stack';
import { Scenario } from '../integration/support/scenario';
import { Side } from '../integration/e2e/directories';
import { eventually, Pipeline, sleep } from '../integration/e2e/pipeline';
import { compareTrees, describeDifference } from './support/compare';
import { startServer, stopServer } from './support/servers';

/**
 * The writer that silently stopped: with both demo pipes running, 389-ds is stopped for 45 s while 200 users are
 * created in AD, then started again. Every user must arrive without anyone restarting a service, the ds-writer's
 * /health must say it is not ready while its directory is away, and the two trees must end equal.
 */

const config = stackConfig();
const s = uniqueSuffix();
const adCorp = `OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsCorp = `ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;
const OU = `fo${s}`;
const adOu = `OU=${OU},${adCorp}`;
const dsOu = `ou=${OU},${dsCorp}`;
const USERS = 200;
const OUTAGE_MS = 45_000;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side | undefined;
const scenario = new Scenario(300_000);
const step = scenario.step;

async function health(name: 'ds-writer'): Promise<{ status?: string; info?: Record<string, unknown>; error?: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${pipeline?.ports[name]}/health`, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()) as { status?: string };
}

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s);
}, 180_000);

afterAll(async () => {
  await startServer('ds').catch(() => undefined);
  if (pipeline) {
    const crashed = pipeline.crashed();
    if (scenario.failed || crashed.length > 0) process.stderr.write(`faults ${s}: crashed: ${crashed.join(', ') || 'none'}\n${pipeline.tails(80)}\n`);
    await pipeline.stop();
  }
  ds ??= await Side.open(config, 'ds').catch(() => undefined);
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 180_000);

describe(`a destination directory stopped for 45 s during a burst (run ${s})`, () => {
  step('an OU created in AD reaches 389-ds', async () => {
    await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
    await eventually('the OU in 389-ds', () => (ds as Side).read(dsOu), (e) => e !== null, 30_000);
  });

  step(`389-ds stopped, ${USERS} users created in AD, 389-ds started after 45 s: all arrive, nobody restarts anything`, async () => {
    const live = pipeline as Pipeline;
    await ds?.close();
    ds = undefined;
    await stopServer('ds');
    const stoppedAt = Date.now();
    for (let i = 0; i < USERS; i++) {
      const sam = `fo${i}x${s}`.slice(0, 20);
      await ad.add(`CN=User ${i} ${s},${adOu}`, {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: `User ${i} ${s}`,
        sAMAccountName: sam,
        givenName: `User${i}`,
        sn: s,
        mail: `${sam}@example.test`,
      });
    }
    const notReady = await eventually('ds-writer /health says not ready while 389-ds is stopped', () => health('ds-writer'), (h) => h.status === 'error', 30_000, 1_000);
    expect(JSON.stringify(notReady.error)).toContain('directory:ds');
    await sleep(Math.max(0, stoppedAt + OUTAGE_MS - Date.now()));
    await startServer('ds');
    ds = await Side.open(config, 'ds');
    await eventually(
      `all ${USERS} users in 389-ds`,
      async () => (await (ds as Side).below(dsOu, '(objectClass=inetOrgPerson)', ['1.1'])).size,
      (n) => n === USERS,
      240_000,
      2_000,
    );
    const ready = await eventually('ds-writer /health ok again', () => health('ds-writer'), (h) => h.status === 'ok', 30_000, 1_000);
    expect(ready.status).toBe('ok');
    expect(live.crashed()).toEqual([]);
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
