import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from 'avsc';
import { decodeEntryChange } from '@idsync/contracts';
import { afterImageAttributes, compilePipe } from '@idsync/mapping';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { type Entry, normalizeDn, Side } from './directories';
import { eventually, Pipeline, sleep } from './pipeline';

/**
 * Whole entries on the change topics, end to end on the local stack: the ad-to-ds users class selects by an attribute
 * (department) that most modifies do not change, and renders displayName from two attributes; the detector reads
 * each changed entry's after-image, so the mapper decides on the whole entry. A subscriber then rebuilds the test's
 * entries from the state topic alone, decoding with nothing but the .avsc files, and finds them equal to AD.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 30_000;
const adCorp = `OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsCorp = `ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;
const OU = `e2eai${s}`;
const adOu = `OU=${OU},${adCorp}`;
const dsOu = `ou=${OU},${dsCorp}`;
const people = {
  sales: { cn: `Sal Es${s}`, sam: `sal${s}`, department: 'Sales' },
  hr: { cn: `Har Ry${s}`, sam: `har${s}`, department: 'HR' },
} as const;
const adUser = (cn: string): string => `CN=${cn},${adOu}`;
const dsUser = (cn: string): string => `cn=${cn},${dsOu}`;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
const scenario = new Scenario(240_000);
const step = scenario.step;
const first = (entry: Entry | null, name: string): string | undefined => entry?.[name.toLowerCase()]?.[0];

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s, 90_000, {
    pipes: (pipes) => {
      const users = pipes.find((pipe) => pipe.name === 'ad-to-ds')?.syncClasses.find((syncClass) => syncClass.name === 'users');
      if (!users) throw new Error('config/demo.yaml has no ad-to-ds users class');
      users.includeFilter = '(&(!(objectClass=computer))(department=Sales))';
      users.attributeMappings = [...(users.attributeMappings ?? []), { to: 'displayName', template: '{givenName} {sn}' }];
    },
  });
  await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: OU });
  await eventually(
    'the test OU in the directory',
    () => ds.read(dsOu),
    (entry) => entry !== null,
    STEP_MS,
  );
}, 240_000);

afterAll(async () => {
  if (pipeline) {
    if (scenario.failed || pipeline.crashed().length > 0) process.stderr.write(`after-images ${s}: crashed: ${pipeline.crashed().join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
}, 120_000);

describe(`after-images and state topics (run ${s})`, () => {
  step('a class filter on an attribute a modify does not change still routes the modify (and still keeps others out)', async () => {
    for (const person of Object.values(people)) {
      await ad.add(adUser(person.cn), {
        objectClass: ['top', 'person', 'organizationalPerson', 'user'],
        cn: person.cn,
        sAMAccountName: person.sam,
        givenName: person.cn.split(' ')[0] as string,
        sn: person.cn.split(' ')[1] as string,
        department: person.department,
        telephoneNumber: '+1 555 0100',
      });
    }
    const created = await eventually(
      'the Sales user in the directory',
      () => ds.read(dsUser(people.sales.cn)),
      (entry) => entry !== null,
      STEP_MS,
    );
    expect(first(created, 'displayName')).toBe(people.sales.cn);
    // Only the phone changes: the event carries telephoneNumber, the after-image says department=Sales.
    for (const person of Object.values(people)) await ad.replace(adUser(person.cn), 'telephoneNumber', ['+1 555 0199']);
    await eventually(
      'the new phone number in the directory',
      () => ds.read(dsUser(people.sales.cn)),
      (entry) => first(entry, 'telephoneNumber') === '+1 555 0199',
      STEP_MS,
    );
    await sleep(3_000);
    expect(await ds.read(dsUser(people.hr.cn))).toBeNull();
  });

  step('a template mapping is rendered from the after-image when one of its inputs changes', async () => {
    await ad.replace(adUser(people.sales.cn), 'sn', [`Ales${s}`]);
    const renamed = await eventually(
      'displayName from givenName (unchanged) and the new sn',
      () => ds.read(dsUser(people.sales.cn)),
      (entry) => first(entry, 'sn') === `Ales${s}`,
      STEP_MS,
    );
    expect(first(renamed, 'displayName')).toBe(`${people.sales.cn.split(' ')[0]} Ales${s}`);
  });

  step('a subscriber rebuilds every entry of the test from the state topic alone, equal to an LDAP read of AD', async () => {
    await ad.del(adUser(people.hr.cn));
    const run = pipeline as Pipeline;
    const adName = Object.keys(run.config.directories).find((name) => run.config.directories[name]?.kind === 'active-directory') as string;
    const detector = run.config.services['ad-detector'];
    const set = afterImageAttributes(adName, run.config.pipes.map(compilePipe), detector.afterImage);
    // What a subscriber in any language does: the schema id picks an .avsc file; a null value deletes the key.
    const writers = new Map([[6, Type.forSchema(JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'libs', 'contracts', 'schemas', 'entry-state', 'v1.avsc'), 'utf8')))]]);
    const rebuild = async () => {
      const state = new Map<string, { dn: string; attributes: { name: string; values: (string | Buffer)[] }[] }>();
      for (const record of await run.records('adState')) {
        const key = record.key?.toString() ?? '';
        if (record.value === null) {
          state.delete(key);
          continue;
        }
        const writer = writers.get(record.value.readUInt32BE(1));
        if (record.value[0] !== 0 || writer === undefined) throw new Error(`state record ${key}: not an entry-state record`);
        state.set(key, writer.fromBuffer(record.value.subarray(5)) as { dn: string; attributes: { name: string; values: (string | Buffer)[] }[] });
      }
      return new Map([...state.values()].filter((entry) => normalizeDn(entry.dn).endsWith(normalizeDn(adOu))).map((entry) => [normalizeDn(entry.dn), entry]));
    };
    const rebuilt = await eventually(
      'the state topic up to date (the HR user deleted, the new sn)',
      rebuild,
      (entries) => !entries.has(normalizeDn(adUser(people.hr.cn))) && entries.get(normalizeDn(adUser(people.sales.cn)))?.attributes.some((a) => a.name === 'sn' && a.values[0] === `Ales${s}`) === true,
      STEP_MS,
    );
    const live = await ad.below(adCorp, '(objectClass=*)', [...set.names]);
    const expected = new Map([...live].filter(([dn]) => normalizeDn(dn).endsWith(normalizeDn(adOu))).map(([dn, entry]) => [normalizeDn(dn), entry]));
    expect([...rebuilt.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [dn, entry] of rebuilt) {
      const fromState = Object.fromEntries(entry.attributes.filter((a) => a.values.length > 0).map((a) => [a.name.toLowerCase(), a.values.map(String).sort()]));
      const fromLdap = Object.fromEntries(
        Object.entries(expected.get(dn) ?? {})
          .filter(([, values]) => values.length > 0)
          .map(([name, values]) => [name, [...values].sort()]),
      );
      expect({ dn, attributes: fromState }).toEqual({ dn, attributes: fromLdap });
    }
    expect(rebuilt.size).toBe(2); // the OU and the Sales user
  });

  step("a delete carries what AD's tombstone kept of the entry (before), and no after-image", async () => {
    const run = pipeline as Pipeline;
    const deleted = (await run.records('adChanges'))
      .map((record) => decodeEntryChange(record.value))
      .find((event) => event.op === 'delete' && normalizeDn(event.dn) === normalizeDn(adUser(people.hr.cn)));
    expect(deleted?.after).toBeNull();
    const kept = Object.fromEntries((deleted?.before ?? []).map((attribute) => [attribute.name.toLowerCase(), attribute.values.map(String)]));
    expect(kept).toMatchObject({ samaccountname: [people.hr.sam] });
    expect(Object.keys(kept)).not.toContain('unicodepwd');
  });
});
