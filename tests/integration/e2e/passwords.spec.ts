import { Attribute, Change } from 'ldapts';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';
import { Scenario } from '../support/scenario';
import { canBind, Side } from './directories';
import { eventually, PASSWORD_AGENT, Pipeline, SERVICES, sleep } from './pipeline';

/**
 * Passwords end to end on the local stack: the five services plus the password agent (samba-tool syncpasswords
 * beside the local Samba DC, with a samba-tool cache of this run's own). A password set in one directory by its
 * administrator must become the user's password in the other one (the old one stops working there), and no clear
 * password may appear on any of the run's topics or in any process's output.
 */

const config = stackConfig();
const s = uniqueSuffix();
const PASSWORD_MS = 30_000;
const STEP_MS = 60_000;

const adDir = config.directories['ad'];
const dsDir = config.directories['ds'];
if (!adDir || !dsDir) throw new Error('the demo configuration needs the directories ad and ds');
const adCorp = `OU=Corp,${adDir.baseDn}`;
const dsCorp = `ou=Corp,${dsDir.baseDn}`;
/** Test OUs: one created in 389-ds (users from the directory), one created in AD (users from AD). */
const OU = { d: `e2epd${s}`, a: `e2epa${s}` } as const;

/** Distinct, policy-compliant passwords of this run (AD's complexity rules: length, three character classes). */
const PASSWORDS = {
  dsOld: `Ds-old-${s}-7q!`,
  dsNew: `Ds-new-${s}-4k#`,
  adOld: `Ad-old-${s}-2w$`,
  adNew: `Ad-new-${s}-9z%`,
} as const;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
const scenario = new Scenario(180_000);
const step = scenario.step;

const binds = (which: 'ad' | 'ds', dn: string, password: string): Promise<boolean> => canBind(config, which, dn, password);

/** Polls until the new password binds and the old one does not (both observed in the same round). */
async function passwordSwitched(which: 'ad' | 'ds', dn: string, oldPassword: string, newPassword: string): Promise<void> {
  await eventually(
    `${which}: bind as ${dn} with the new password and not with the old one`,
    async () => ({ newBinds: await binds(which, dn, newPassword), oldBinds: await binds(which, dn, oldPassword) }),
    (r) => r.newBinds && !r.oldBinds,
    PASSWORD_MS,
    1_000,
  );
}

/** AD's unicodePwd value: the password in double quotes, UTF-16LE. */
const unicodePwd = (password: string): Buffer => Buffer.from(`"${password}"`, 'utf16le');

/** The byte sequences that would give a clear password away: UTF-8, UTF-16LE (bare and as unicodePwd), base64 of each. */
export function giveaways(password: string): Buffer[] {
  const forms = [Buffer.from(password, 'utf8'), Buffer.from(password, 'utf16le'), unicodePwd(password)];
  const out: Buffer[] = [...forms];
  for (const form of forms) {
    // base64 at each of the three alignments it can have inside a longer base64 text (without the edge characters).
    for (let shift = 0; shift < 3; shift += 1) {
      const text = Buffer.concat([Buffer.alloc(shift), form]).toString('base64');
      const inner = text.slice(Math.ceil((shift * 4) / 3) + (shift > 0 ? 1 : 0), text.length - 4);
      if (inner.length >= 8) out.push(Buffer.from(inner, 'ascii'));
    }
  }
  return out;
}

beforeAll(async () => {
  for (const [what, url] of [
    ['Kafka', config.kafka.brokers[0] ?? ''],
    ['Samba AD', adDir.urls[0] ?? ''],
    ['389-ds', dsDir.urls[0] ?? ''],
  ] as const) {
    const { host, port } = hostPort(url);
    await requireServer(what, host, port);
  }
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  // The agent's first start takes the DC's current end as its position: no pass over the domain's accounts.
  pipeline = await Pipeline.start(s, 90_000, { passwordAgent: true });
}, 300_000);

afterAll(async () => {
  if (pipeline) {
    const crashed = pipeline.crashed();
    if (scenario.failed || crashed.length > 0) process.stderr.write(`e2e passwords ${s}: crashed: ${crashed.join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  for (const ou of Object.values(OU)) {
    await ad?.deleteTree(`OU=${ou},${adCorp}`).catch(() => undefined);
    await ds?.deleteTree(`ou=${ou},${dsCorp}`).catch(() => undefined);
  }
  await ad?.close();
  await ds?.close();
}, 120_000);

describe(`password sync through the running services (run ${s})`, () => {
  step('389-ds -> AD: a userPassword set in the directory becomes the AD password; the old one stops working', async () => {
    const cn = `Pat D${s}`;
    const uid = `pd${s}`;
    const dsUser = `cn=${cn},ou=${OU.d},${dsCorp}`;
    const adUser = `CN=${cn},OU=${OU.d},${adCorp}`;
    await ds.add(`ou=${OU.d},${dsCorp}`, { objectClass: ['top', 'organizationalUnit'], ou: OU.d });
    await ds.add(dsUser, {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      cn,
      sn: `D${s}`,
      uid,
      mail: `${uid}@example.com`,
    });
    await eventually(
      'the user in AD',
      () => ad.read(adUser, ['cn']),
      (e) => e !== null,
      STEP_MS,
    );
    // 389-ds's changelog keeps the clear value of a userPassword modify only (an add records the hash alone).
    await ds.replace(dsUser, 'userPassword', [PASSWORDS.dsOld]);
    // The first password arrives in AD (which enables the account once it has one).
    await eventually(
      'the user in AD, binding with its first password',
      () => binds('ad', adUser, PASSWORDS.dsOld),
      (ok) => ok,
      STEP_MS,
      1_000,
    );
    // AD's copy of that password comes back through the agent as a {CRYPT} hash; let it land before the change,
    // so the echo of the old password cannot overtake the new one.
    await eventually(
      'the echo of the first password in 389-ds',
      () => ds.read(dsUser, ['userPassword']),
      (e) => (e?.['userpassword']?.[0] ?? '').startsWith('{CRYPT}'),
      STEP_MS,
      500,
    ).catch(() => undefined);

    await ds.replace(dsUser, 'userPassword', [PASSWORDS.dsNew]);
    await passwordSwitched('ad', adUser, PASSWORDS.dsOld, PASSWORDS.dsNew);
    // And the directory itself still takes the new password once the echo has come back.
    await sleep(3_000);
    expect(await binds('ds', dsUser, PASSWORDS.dsNew)).toBe(true);
  });

  step('AD -> 389-ds: a unicodePwd reset in AD becomes the directory password; the old one stops working', async () => {
    const cn = `Pat A${s}`;
    const sam = `pa${s}`;
    const adUser = `CN=${cn},OU=${OU.a},${adCorp}`;
    const dsUser = `cn=${cn},ou=${OU.a},${dsCorp}`;
    await ad.add(`OU=${OU.a},${adCorp}`, { objectClass: ['top', 'organizationalUnit'], ou: OU.a });
    await ad.add(adUser, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn,
      sAMAccountName: sam,
      sn: `A${s}`,
      mail: `${sam}@example.test`,
    });
    // The account's create first (a password that overtakes it is dead-lettered: see the agent's settle time).
    await eventually(
      'the user in 389-ds',
      () => ds.read(dsUser, ['cn']),
      (e) => e !== null,
      STEP_MS,
    );
    await ad.client.modify(adUser, [new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [unicodePwd(PASSWORDS.adOld)] }) })]);
    await ad.replace(adUser, 'userAccountControl', ['512']);
    await eventually(
      'the user in 389-ds, binding with its first password',
      () => binds('ds', dsUser, PASSWORDS.adOld),
      (ok) => ok,
      STEP_MS,
      1_000,
    );

    await ad.client.modify(adUser, [new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [unicodePwd(PASSWORDS.adNew)] }) })]);
    await passwordSwitched('ds', dsUser, PASSWORDS.adOld, PASSWORDS.adNew);
    // AD itself is unchanged by the round trip.
    expect(await binds('ad', adUser, PASSWORDS.adNew)).toBe(true);
  });

  step("the sync log: one line per applied write on each writer's output and on the audit topic, password attributes named", async () => {
    const running = pipeline as Pipeline;
    const syncLines = (text: string): Record<string, unknown>[] =>
      text
        .split('\n')
        .filter((line) => line.includes('"event":"sync.write"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const audit = (await running.records('audit')).map((record) => JSON.parse(String(record.value)) as Record<string, unknown>);
    for (const [writer, password] of [
      ['ds-writer', 'userPassword'],
      ['ad-writer', 'unicodePwd'],
    ] as const) {
      const lines = syncLines(running.logs().find((log) => log.name === writer)?.text ?? '');
      const applied = lines.filter((line) => line['outcome'] === 'applied');
      expect(applied.length).toBe(await running.counter(writer, 'idsync_writer_requests_total', { result: 'applied' }));
      expect(applied.some((line) => (line['attributes'] as string[]).includes(password))).toBe(true);
      for (const line of applied)
        expect(line).toMatchObject({ service: writer, sourceId: expect.any(String), destinationId: expect.any(String), dn: expect.any(String), pipelineMs: expect.any(Number) });
      // The audit topic has the very same lines (keyed by source entry id).
      const onTopic = audit.filter((line) => line['service'] === writer).map((line) => `${String(line['requestId'])} ${String(line['outcome'])}`);
      expect(onTopic.sort()).toEqual(lines.map((line) => `${String(line['requestId'])} ${String(line['outcome'])}`).sort());
    }
  });

  step('no clear password on any topic of the run, in any process output or in any metrics', async () => {
    const running = pipeline as Pipeline;
    const metrics = await Promise.all([...SERVICES, PASSWORD_AGENT].map(async (name) => ({ name, text: await running.metrics(name).catch(() => '') })));
    const records = await running.allRecords();
    // The run did carry passwords: sealed password events on both change topics.
    const total = records.reduce((n, r) => n + r.bytes.length, 0);
    expect(total).toBeGreaterThan(0);
    const haystacks: { where: string; bytes: Buffer }[] = [
      ...records.flatMap((r) => r.bytes.map((bytes, i) => ({ where: `topic ${r.topic} #${i}`, bytes }))),
      ...running.logs().map((l) => ({ where: `${l.name} output`, bytes: Buffer.from(l.text, 'utf8') })),
      ...metrics.map((m) => ({ where: `${m.name} /metrics`, bytes: Buffer.from(m.text, 'utf8') })),
    ];
    const found: string[] = [];
    for (const [label, password] of Object.entries(PASSWORDS)) {
      const needles = giveaways(password);
      for (const { where, bytes } of haystacks) {
        if (needles.some((needle) => bytes.includes(needle))) found.push(`${label} in ${where}`);
      }
    }
    expect(found).toEqual([]);
    expect(running.crashed()).toEqual([]);
  });
});
