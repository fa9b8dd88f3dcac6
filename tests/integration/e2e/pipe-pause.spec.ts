import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { describeRun, idsync } from '../cli/run-cli';
import { Side } from './directories';
import { eventually, Pipeline, sleep } from './pipeline';

/**
 * `idsync pipe pause|resume` on the running services: while ad-to-ds is paused, changes made in AD do not reach
 * 389-ds (the mapper holds them, and says so in its health and metrics) and ds-to-ad goes on; once resumed, they all
 * arrive, in order (the entry ends with the last value written while paused).
 */

const config = stackConfig();
const s = uniqueSuffix();
const adOu = `OU=pause${s},OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsOu = `ou=pause${s},ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
const scenario = new Scenario(180_000);
const step = scenario.step;
const cli = (args: string[]) => idsync(args, { configFile: (pipeline as Pipeline).configFile });

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s);
}, 180_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed) process.stderr.write(`pipe pause ${s}:\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 120_000);

describe(`pausing and resuming a pipe (run ${s})`, () => {
  const cn = `Paused User${s}`;
  const adUser = `CN=${cn},${adOu}`;
  const dsUser = `cn=${cn},${dsOu}`;

  step('the pipes run: an OU created in AD arrives in 389-ds', async () => {
    await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `pause${s}` });
    await eventually(
      'the OU in 389-ds',
      () => ds.read(dsOu),
      (entry) => entry !== null,
      30_000,
    );
  });

  step('paused: changes made in AD are held (health, metric and status say so), the other pipe goes on', async () => {
    const paused = await cli(['pipe', 'pause', 'ad-to-ds', '--reason', 'e2e']);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('pipe ad-to-ds paused');
    const again = await cli(['pipe', 'pause', 'ad-to-ds']);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 3, stderr: expect.stringContaining('already paused') });
    const status = await cli(['pipe', 'status', '--json']);
    expect(JSON.parse(status.stdout)).toMatchObject({
      pipes: expect.arrayContaining([expect.objectContaining({ pipe: 'ad-to-ds', state: 'paused', reason: 'e2e' }), expect.objectContaining({ pipe: 'ds-to-ad', state: 'running' })]),
    });
    const overall = await cli(['status', '--json']);
    const pipes = (JSON.parse(overall.stdout) as { pipes: { name: string; paused: { by: string; reason: string | null } | null }[] }).pipes;
    expect(pipes.find((p) => p.name === 'ad-to-ds')?.paused).toMatchObject({ reason: 'e2e' });
    expect(pipes.find((p) => p.name === 'ds-to-ad')?.paused).toBeNull();
    const running = pipeline as Pipeline;
    await eventually(
      'the mapper reports the pause',
      () => running.counter('mapper', 'idsync_mapper_pipe_paused', { pipe: 'ad-to-ds' }),
      (value) => value === 1,
      10_000,
      250,
    );

    await ad.add(adUser, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: `pause${s}`, sn: `P${s}`, description: 'one' });
    for (const value of ['two', 'three', 'four']) await ad.replace(adUser, 'description', [value]);
    // The other direction is not paused: a user created in 389-ds arrives in AD meanwhile.
    const dsOnly = `DS Only${s}`;
    await ds.add(`cn=${dsOnly},${dsOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: dsOnly, sn: `D${s}`, uid: `dsonly${s}` });
    await eventually(
      'the 389-ds user in AD while ad-to-ds is paused',
      () => ad.read(`CN=${dsOnly},${adOu}`),
      (entry) => entry !== null,
      30_000,
    );
    // Long enough for the AD detector to have published the changes (it polls every few seconds).
    await sleep(8_000);
    expect(await ds.read(dsUser)).toBeNull();
    const health = (await (await fetch(`http://127.0.0.1:${running.port('mapper')}/health`)).json()) as { details?: Record<string, { paused?: { pipe: string }[] }> };
    expect(JSON.stringify(health)).toContain('"pipe":"ad-to-ds"');
    expect(await running.counter('mapper', 'idsync_consumer_lag_records', { topic: running.topics['adChanges'] as string })).toBeGreaterThan(0);
  });

  step('resumed: everything held arrives, in order (the last value wins), and resuming again is refused', async () => {
    const resumed = await cli(['pipe', 'resume', 'ad-to-ds']);
    if (resumed.code !== 0) throw new Error(describeRun(resumed));
    const arrived = await eventually(
      'the user in 389-ds with the last value',
      () => ds.read(dsUser),
      (entry) => entry?.['description']?.[0] === 'four',
      30_000,
    );
    expect(arrived?.['description']).toEqual(['four']);
    expect((await cli(['pipe', 'resume', 'ad-to-ds'])).code).toBe(3);
    expect(await (pipeline as Pipeline).counter('mapper', 'idsync_mapper_pipe_paused', { pipe: 'ad-to-ds' })).toBe(0);
    // The ds-writer applied the held requests in their order: the create first.
    const lines = ((pipeline as Pipeline).logs().find((log) => log.name === 'ds-writer')?.text ?? '')
      .split('\n')
      .filter((line) => line.includes('"event":"sync.write"') && line.toLowerCase().includes(dsUser.toLowerCase()))
      .map((line) => JSON.parse(line) as { operation: string; outcome: string });
    expect(lines[0]).toMatchObject({ operation: 'upsert', outcome: 'applied' });
    expect(lines.every((line) => ['applied', 'no-op', 'merged', 'superseded'].includes(line.outcome))).toBe(true);
    expect((pipeline as Pipeline).crashed()).toEqual([]);
  });
});
