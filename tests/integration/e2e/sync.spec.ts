import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { type Entry, normalizeDn, sameDn, Side } from './directories';
import { eventually, Pipeline, type ServiceName, sleep } from './pipeline';

/**
 * End to end on the local stack: the five real services (built dist, child processes) on the demo pipes, isolated
 * by topics, consumer groups and checkpoints of their own. Changes are made in one directory as an administrator
 * would, and the other directory is polled until it shows them. The demo pipes mirror OU=Corp of the domain and
 * ou=Corp of the directory (users cn=<name> on both sides, sAMAccountName <-> uid, groups with mapped members);
 * every run works in OUs of its own below them and removes them at the end.
 *
 * The detectors start from "now" (no initial load): only changes made after the start flow.
 */

const config = stackConfig();
const s = uniqueSuffix();
const STEP_MS = 20_000;

const adCorp = `OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsCorp = `ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;
const adOu = (ou: string): string => `OU=${ou},${adCorp}`;
const dsOu = (ou: string): string => `ou=${ou},${dsCorp}`;
const adDn = (cn: string, ou: string): string => `CN=${cn},${adOu(ou)}`;
const dsDn = (cn: string, ou: string): string => `cn=${cn},${dsOu(ou)}`;

/** Test OUs: AD->DS, its move target, DS->AD, its move target. */
const OU = { a: `e2ea${s}`, am: `e2eam${s}`, d: `e2ed${s}`, dm: `e2edm${s}` } as const;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
const scenario = new Scenario(180_000);
const step = scenario.step;

const first = (entry: Entry | null, name: string): string | undefined => entry?.[name.toLowerCase()]?.[0];
const values = (entry: Entry | null, name: string): string[] => entry?.[name.toLowerCase()] ?? [];
const hasDn = (list: string[], dn: string): boolean => list.some((v) => sameDn(v, dn));

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s);
}, 180_000);

afterAll(async () => {
  if (pipeline) {
    const crashed = pipeline.crashed();
    if (scenario.failed || crashed.length > 0) process.stderr.write(`e2e ${s}: crashed: ${crashed.join(', ') || 'none'}\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  for (const ou of Object.values(OU)) {
    await ad?.deleteTree(adOu(ou)).catch(() => undefined);
    await ds?.deleteTree(dsOu(ou)).catch(() => undefined);
  }
  await ad?.close();
  await ds?.close();
}, 120_000);

/** Runs a test body; on failure, prints the services' output tails before rethrowing. */
describe(`end-to-end sync on the demo pipes (run ${s})`, () => {
  step('containers: OUs created in AD arrive in 389-ds and OUs created in 389-ds arrive in AD', async () => {
    await ad.add(adOu(OU.a), { objectClass: ['top', 'organizationalUnit'], ou: OU.a, description: 'e2e: AD to directory' });
    await ad.add(adOu(OU.am), { objectClass: ['top', 'organizationalUnit'], ou: OU.am });
    await ds.add(dsOu(OU.d), { objectClass: ['top', 'organizationalUnit'], ou: OU.d, description: 'e2e: directory to AD' });
    await ds.add(dsOu(OU.dm), { objectClass: ['top', 'organizationalUnit'], ou: OU.dm });
    const [inDs, inAd] = await eventually(
      'the OUs on the other side',
      async () => [await Promise.all([ds.read(dsOu(OU.a)), ds.read(dsOu(OU.am))]), await Promise.all([ad.read(adOu(OU.d)), ad.read(adOu(OU.dm))])] as const,
      ([d, a]) => [...d, ...a].every((e) => e !== null),
      STEP_MS,
    );
    expect(first(inDs[0] ?? null, 'description')).toBe('e2e: AD to directory');
    expect(first(inAd[0] ?? null, 'description')).toBe('e2e: directory to AD');
  });

  step('AD -> 389-ds: create, modify, group member add/remove, rename, move and delete of a user arrive', async () => {
    const sam = `ada${s}`;
    const cn = `Ada L${s}`;
    await ad.add(adDn(cn, OU.a), {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      cn,
      sAMAccountName: sam,
      givenName: 'Ada',
      sn: `L${s}`,
      mail: `${sam}@example.test`,
    });
    const created = await eventually(
      'user created in 389-ds',
      () => ds.read(dsDn(cn, OU.a)),
      (e) => e !== null,
      STEP_MS,
    );
    expect({ uid: first(created, 'uid'), givenName: first(created, 'givenName'), sn: first(created, 'sn'), mail: first(created, 'mail') }).toEqual({
      uid: sam,
      givenName: 'Ada',
      sn: `L${s}`,
      mail: `${sam}@example.test`,
    });

    await ad.replace(adDn(cn, OU.a), 'description', ['first change']);
    await eventually(
      'description in 389-ds',
      () => ds.read(dsDn(cn, OU.a)),
      (e) => first(e, 'description') === 'first change',
      STEP_MS,
    );
    await ad.replace(adDn(cn, OU.a), 'telephoneNumber', ['+1 555 0100']);
    await eventually(
      'telephoneNumber in 389-ds',
      () => ds.read(dsDn(cn, OU.a)),
      (e) => values(e, 'telephoneNumber').join('|') === '+1 555 0100',
      STEP_MS,
    );

    const group = `ga${s}`;
    await ad.add(adDn(group, OU.a), { objectClass: ['top', 'group'], cn: group, sAMAccountName: group });
    await eventually(
      'group created in 389-ds',
      () => ds.read(dsDn(group, OU.a)),
      (e) => e !== null,
      STEP_MS,
    );
    await ad.addValue(adDn(group, OU.a), 'member', adDn(cn, OU.a));
    await eventually(
      'member added in 389-ds',
      () => ds.read(dsDn(group, OU.a)),
      (e) => hasDn(values(e, 'member'), dsDn(cn, OU.a)),
      STEP_MS,
    );
    await ad.deleteValue(adDn(group, OU.a), 'member', adDn(cn, OU.a));
    await eventually(
      'member removed in 389-ds',
      () => ds.read(dsDn(group, OU.a)),
      (e) => e !== null && !hasDn(values(e, 'member'), dsDn(cn, OU.a)),
      STEP_MS,
    );

    const renamed = `Ada R${s}`;
    await ad.rename(adDn(cn, OU.a), adDn(renamed, OU.a));
    await eventually(
      'rename in 389-ds',
      async () => [await ds.read(dsDn(renamed, OU.a)), await ds.read(dsDn(cn, OU.a))] as const,
      ([now, before]) => now !== null && before === null && first(now, 'uid') === sam,
      STEP_MS,
    );

    await ad.rename(adDn(renamed, OU.a), adDn(renamed, OU.am));
    await eventually(
      'move in 389-ds',
      async () => [await ds.read(dsDn(renamed, OU.am)), await ds.read(dsDn(renamed, OU.a))] as const,
      ([now, before]) => now !== null && before === null && first(now, 'description') === 'first change',
      STEP_MS,
    );

    await ad.del(adDn(renamed, OU.am));
    await eventually(
      'delete in 389-ds',
      () => ds.read(dsDn(renamed, OU.am)),
      (e) => e === null,
      STEP_MS,
    );
  });

  step('389-ds -> AD: create, modify, group member add/remove, rename, move and delete of a user arrive', async () => {
    const uid = `bo${s}`;
    const cn = `Bo K${s}`;
    await ds.add(dsDn(cn, OU.d), {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      cn,
      uid,
      givenName: 'Bo',
      sn: `K${s}`,
      mail: `${uid}@example.com`,
    });
    const created = await eventually(
      'user created in AD',
      () => ad.read(adDn(cn, OU.d)),
      (e) => e !== null,
      STEP_MS,
    );
    expect({ sam: first(created, 'sAMAccountName'), givenName: first(created, 'givenName'), sn: first(created, 'sn'), mail: first(created, 'mail') }).toEqual({
      sam: uid,
      givenName: 'Bo',
      sn: `K${s}`,
      mail: `${uid}@example.com`,
    });
    expect(values(created, 'objectClass').map((c) => c.toLowerCase())).toContain('user');

    await ds.replace(dsDn(cn, OU.d), 'description', ['from the directory']);
    await eventually(
      'description in AD',
      () => ad.read(adDn(cn, OU.d)),
      (e) => first(e, 'description') === 'from the directory',
      STEP_MS,
    );
    await ds.replace(dsDn(cn, OU.d), 'telephoneNumber', ['+1 555 0199']);
    await eventually(
      'telephoneNumber in AD',
      () => ad.read(adDn(cn, OU.d)),
      (e) => values(e, 'telephoneNumber').join('|') === '+1 555 0199',
      STEP_MS,
    );

    const group = `gd${s}`;
    await ds.add(dsDn(group, OU.d), { objectClass: ['top', 'groupOfNames'], cn: group });
    await eventually(
      'group created in AD',
      () => ad.read(adDn(group, OU.d)),
      (e) => e !== null,
      STEP_MS,
    );
    await ds.addValue(dsDn(group, OU.d), 'member', dsDn(cn, OU.d));
    await eventually(
      'member added in AD',
      () => ad.read(adDn(group, OU.d)),
      (e) => hasDn(values(e, 'member'), adDn(cn, OU.d)),
      STEP_MS,
    );
    await ds.deleteValue(dsDn(group, OU.d), 'member', dsDn(cn, OU.d));
    await eventually(
      'member removed in AD',
      () => ad.read(adDn(group, OU.d)),
      (e) => e !== null && !hasDn(values(e, 'member'), adDn(cn, OU.d)),
      STEP_MS,
    );

    const renamed = `Bo R${s}`;
    await ds.rename(dsDn(cn, OU.d), dsDn(renamed, OU.d));
    await eventually(
      'rename in AD',
      async () => [await ad.read(adDn(renamed, OU.d)), await ad.read(adDn(cn, OU.d))] as const,
      ([now, before]) => now !== null && before === null && first(now, 'sAMAccountName') === uid,
      STEP_MS,
    );

    await ds.rename(dsDn(renamed, OU.d), dsDn(renamed, OU.dm));
    await eventually(
      'move in AD',
      async () => [await ad.read(adDn(renamed, OU.dm)), await ad.read(adDn(renamed, OU.d))] as const,
      ([now, before]) => now !== null && before === null && first(now, 'description') === 'from the directory',
      STEP_MS,
    );

    await ds.del(dsDn(renamed, OU.dm));
    await eventually(
      'delete in AD',
      () => ad.read(adDn(renamed, OU.dm)),
      (e) => e === null,
      STEP_MS,
    );
  });

  /**
   * 20 users created in the source, then a burst of 20 modifies (one per user) with `victim` killed (SIGKILL: no
   * shutdown hook, nothing committed on the way out) half-way and restarted with the same configuration.
   */
  const burstAcrossCrash = async (victim: ServiceName, from: 'ad' | 'ds', tag: string): Promise<void> => {
    const live = pipeline as Pipeline;
    const [source, destination] = from === 'ad' ? [ad, ds] : [ds, ad];
    const ou = from === 'ad' ? OU.a : OU.d;
    const sourceDn = (cn: string): string => (from === 'ad' ? adDn(cn, ou) : dsDn(cn, ou));
    const destinationDn = (cn: string): string => (from === 'ad' ? dsDn(cn, ou) : adDn(cn, ou));
    const users = Array.from({ length: 20 }, (_, i) => ({ cn: `${tag}${i} U${s}`, login: `${tag}${i}x${s}`, given: `${tag}${i}` }));
    for (const u of users) {
      await source.add(
        sourceDn(u.cn),
        from === 'ad'
          ? { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: u.cn, sAMAccountName: u.login, givenName: u.given, sn: `U${s}` }
          : { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: u.cn, uid: u.login, givenName: u.given, sn: `U${s}` },
      );
    }
    await eventually(
      `the 20 users in ${destination.name}`,
      async () => Promise.all(users.map((u) => destination.read(destinationDn(u.cn), ['cn']))),
      (entries) => entries.every((e) => e !== null),
      60_000,
    );
    for (const [i, u] of users.entries()) {
      await source.replace(sourceDn(u.cn), 'description', [`burst ${tag} ${i}`]);
      // Half-way, let the detector pick the first half up (1 s polls) and kill the victim while it flows.
      if (i === 9) {
        await sleep(1_200);
        await live.kill(victim);
      }
    }
    await sleep(500);
    await live.restart(victim);
    await eventually(
      `all 20 modifies in ${destination.name} after ${victim} was killed and restarted`,
      async () => Promise.all(users.map((u, i) => destination.read(destinationDn(u.cn), ['description']).then((e) => first(e, 'description') === `burst ${tag} ${i}`))),
      (arrived) => arrived.every(Boolean),
      90_000,
      1_000,
    );
  };

  step('a mapper killed mid-stream and restarted: all 20 modifies of a burst arrive', () => burstAcrossCrash('mapper', 'ad', 'km'), 240_000);
  step('a ds-writer killed mid-stream and restarted: all 20 modifies of a burst arrive', () => burstAcrossCrash('ds-writer', 'ad', 'kw'), 240_000);
  step('an ad-detector killed mid-stream and restarted: all 20 modifies of a burst arrive', () => burstAcrossCrash('ad-detector', 'ad', 'kd'), 240_000);
  step('a ds-detector killed mid-stream and restarted: all 20 modifies of a burst arrive', () => burstAcrossCrash('ds-detector', 'ds', 'ke'), 240_000);
  step('an ad-writer killed mid-stream and restarted: all 20 modifies of a burst arrive', () => burstAcrossCrash('ad-writer', 'ds', 'kv'), 240_000);

  step('both pipes at once end with equal directories on the mapped attributes, and no echo loop', async () => {
    const live = pipeline as Pipeline;
    await sleep(5_000);
    const userAttrs = { ad: ['sAMAccountName', 'givenName', 'sn', 'mail', 'description'], ds: ['uid', 'givenName', 'sn', 'mail', 'description'] };
    const snapshot = async (): Promise<{ ad: Record<string, unknown>; ds: Record<string, unknown> }> => {
      const out = { ad: {} as Record<string, unknown>, ds: {} as Record<string, unknown> };
      for (const ou of Object.values(OU)) {
        const adUsers = await ad.below(adOu(ou), '(&(objectClass=user)(!(objectClass=computer)))', userAttrs.ad);
        const dsUsers = await ds.ofClass(dsOu(ou), ['inetOrgPerson'], userAttrs.ds);
        const adGroups = await ad.below(adOu(ou), '(objectClass=group)', ['member']);
        const dsGroups = await ds.ofClass(dsOu(ou), ['groupOfNames'], ['member']);
        // Keys: the DN relative to the side's Corp OU, so both sides' keys compare.
        const rel = (dn: string, corp: string): string => normalizeDn(dn).replace(`,${normalizeDn(corp)}`, '');
        for (const [dn, e] of adUsers) out.ad[rel(dn, adCorp)] = { login: first(e, 'sAMAccountName'), ...pick(e, ['givenName', 'sn', 'mail', 'description']) };
        for (const [dn, e] of dsUsers) out.ds[rel(dn, dsCorp)] = { login: first(e, 'uid'), ...pick(e, ['givenName', 'sn', 'mail', 'description']) };
        for (const [dn, e] of adGroups)
          out.ad[rel(dn, adCorp)] = {
            member: values(e, 'member')
              .map((m) => rel(m, adCorp))
              .sort(),
          };
        for (const [dn, e] of dsGroups)
          out.ds[rel(dn, dsCorp)] = {
            member: values(e, 'member')
              .map((m) => rel(m, dsCorp))
              .sort(),
          };
      }
      return out;
    };
    const { ad: adSide, ds: dsSide } = await snapshot();
    expect(Object.keys(adSide).length).toBeGreaterThan(20);
    expect(dsSide).toEqual(adSide);

    const applied = async (): Promise<number[]> => [
      await live.counter('ds-writer', 'idsync_writer_requests_total', { result: 'applied' }),
      await live.counter('ad-writer', 'idsync_writer_requests_total', { result: 'applied' }),
      await live.counter('ds-writer', 'idsync_writer_requests_total'),
      await live.counter('ad-writer', 'idsync_writer_requests_total'),
    ];
    const before = await applied();
    await sleep(5_000);
    const after = await applied();
    expect(after).toEqual(before);
    expect(pipeline?.crashed()).toEqual([]);
  });

  step('the metrics show each pipe’s latency, the LDAP operations, and lags near zero once everything is applied', async () => {
    const live = pipeline as Pipeline;
    expect(await live.counter('ds-writer', 'idsync_writer_end_to_end_latency_seconds_count', { pipe: 'ad-to-ds', operation: 'upsert' })).toBeGreaterThan(0);
    expect(await live.counter('ad-writer', 'idsync_writer_end_to_end_latency_seconds_count', { pipe: 'ds-to-ad' })).toBeGreaterThan(0);
    expect(await live.counter('ds-writer', 'idsync_writer_pipeline_latency_seconds_count', { pipe: 'ad-to-ds' })).toBeGreaterThan(0);
    expect(await live.counter('ds-writer', 'idsync_ldap_operation_duration_seconds_count', { operation: 'add', result: 'success' })).toBeGreaterThan(0);
    expect(await live.counter('ad-detector', 'idsync_ldap_operation_duration_seconds_count', { operation: 'search', result: 'success' })).toBeGreaterThan(0);
    for (const stage of ['mapper', 'ds-writer', 'ad-writer'] as const) {
      const lags = await live.samples(stage, 'idsync_consumer_lag_records');
      expect(lags.length).toBeGreaterThan(0);
      // Caught up: nothing left but, at most, the commit marker of the last transaction on each partition.
      expect(lags.filter((lag) => lag.value > 1)).toEqual([]);
    }
    for (const detector of ['ad-detector', 'ds-detector'] as const) {
      expect(await live.counter(detector, 'idsync_detector_lag_seconds')).toBeLessThan(30);
      expect(await live.counter(detector, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    }
  });

  step('nothing is dead-lettered: the echoes of the writers’ own changes end as no-ops', async () => {
    const letters = (await (pipeline as Pipeline).deadLetters()).map((l) => `${l.stage} ${l.topic}[${l.partition}]@${l.offset}: ${l.reason}`);
    expect(letters).toEqual([]);
  });
});

function pick(entry: Entry, names: string[]): Record<string, string | undefined> {
  return Object.fromEntries(names.map((n) => [n, entry[n.toLowerCase()]?.[0]]));
}
