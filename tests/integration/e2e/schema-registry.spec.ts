import { Type } from 'avsc';
import { stackEnv } from '../support/local-stack';
import { hostPort, requireServer, requireStackServers, stackConfig, uniqueSuffix } from '../support/stack';
import { Scenario } from '../support/scenario';
import { normalizeDn, Side } from './directories';
import { eventually, Pipeline } from './pipeline';

/**
 * Schema registry mode on the local stack's Apicurio Registry: every service registers our schemas under the run's
 * `<topic>-value` subjects at start, and records carry the registry's ids. A user created in AD arrives in the
 * directory through them; a subscriber that knows nothing of this repository decodes the change and the write
 * request with only what the registry serves for a record's id.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 30_000;
const registryUrl = stackEnv()['SCHEMA_REGISTRY_URL'];
const adCorp = `OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsCorp = `ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;
const OU = `e2esr${s}`;
const adOu = `OU=${OU},${adCorp}`;
const dsOu = `ou=${OU},${dsCorp}`;
const cn = `Reg Istry${s}`;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
const scenario = new Scenario(240_000);
const step = scenario.step;

async function registry(path: string): Promise<unknown> {
  const response = await fetch(`${registryUrl}/${path}`);
  if (!response.ok) throw new Error(`schema registry: GET ${path} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

beforeAll(async () => {
  await requireStackServers(config);
  if (!registryUrl) throw new Error('the local stack has no schema registry (SCHEMA_REGISTRY_URL missing from stack.env): run npm run stack -- up');
  const { host, port } = hostPort(registryUrl);
  await requireServer('the schema registry', host, port);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s, 90_000, { schemaRegistry: { url: registryUrl } });
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
}, 240_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed || pipeline.crashed().length > 0) process.stderr.write(`schema-registry ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 120_000);

describe(`schema registry mode (run ${s})`, () => {
  step("a user created in AD arrives in the directory through records that carry the registry's ids", async () => {
    await ad.add(`CN=${cn},${adOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: `reg${s}`, givenName: 'Reg', sn: `Istry${s}` });
    const arrived = await eventually(
      'the user in the directory',
      () => ds.read(`cn=${cn},${dsOu}`),
      (entry) => entry !== null,
      STEP_MS,
    );
    expect(arrived?.['sn']).toEqual([`Istry${s}`]);
  });

  step("each topic's records carry the id the registry holds under <topic>-value, and decode with the schema it serves", async () => {
    const run = pipeline as Pipeline;
    const seen: Record<string, unknown>[] = [];
    for (const [topic, name] of [
      ['adChanges', 'dn'],
      ['dsOperations', 'dn'],
    ] as const) {
      const subject = `${run.config.kafka.topics[topic].name}-value`;
      const latest = (await registry(`subjects/${encodeURIComponent(subject)}/versions/latest`)) as { id: number };
      const records = (await run.records(topic)).filter((record) => record.value !== null);
      expect(records.length).toBeGreaterThan(0);
      const ids = new Set(records.map((record) => (record.value as Buffer).readUInt32BE(1)));
      expect([...ids]).toEqual([latest.id]);
      // A subscriber's whole knowledge: the id in the record, and what the registry serves for it.
      const { schema } = (await registry(`schemas/ids/${latest.id}`)) as { schema: string };
      const type = Type.forSchema(JSON.parse(schema) as Parameters<typeof Type.forSchema>[0], { wrapUnions: 'auto' });
      const decoded = records.map((record) => type.fromBuffer((record.value as Buffer).subarray(5)) as Record<string, unknown>);
      const mine = decoded.find((value) => normalizeDn(String(value[name])).startsWith(normalizeDn(topic === 'adChanges' ? `CN=${cn}` : `cn=${cn}`)));
      expect(mine).toBeDefined();
      seen.push(mine as Record<string, unknown>);
    }
    expect(seen[0]?.['op']).toBe('add');
    expect(seen[1]?.['op']).toBe('upsert');
  });
});
