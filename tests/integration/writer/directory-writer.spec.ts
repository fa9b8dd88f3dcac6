import { type AttributeChange, canonicalGuid, type WriteReceipt, type WriteRequest } from '@idsync/contracts';
import { type DirectoryConfig, type SyncConfig } from '@idsync/config';
import { openLdapSession } from '@idsync/platform';
import { DirectoryWriter, type DirectoryWriterOptions, InvalidEntryError, WriteError } from '@idsync/writer';
import { type Client } from 'ldapts';
import { deleteTree } from '../support/ldap-tree';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';

/**
 * The writer against the real servers: WriteRequests applied directly (no Kafka), each scenario checked by reading
 * the destination back with the directory's own administrator account. Everything lives in an OU made for the run.
 */

interface Profile {
  readonly service: 'ds-writer' | 'ad-writer';
  readonly directory: 'ds' | 'ad';
  /** RDN of the test container below the base DN. */
  readonly container: (suffix: string) => string;
  readonly user: (name: string, parent: string) => string;
  readonly group: (name: string, parent: string) => string;
  readonly ou: (name: string, parent: string) => string;
  readonly userClasses: readonly string[];
  readonly groupClasses: readonly string[];
  /** The account name attribute used for correlation. */
  readonly login: string;
  /** A multi-valued attribute of users, written value by value in the test. */
  readonly multi: string;
  /** The attribute that changes on every write to an entry. */
  readonly changeMarker: string;
  /** Whether the server refuses a member DN that does not exist. */
  readonly checksMembers: boolean;
}

const PROFILES: readonly Profile[] = [
  {
    service: 'ds-writer',
    directory: 'ds',
    container: (s) => `ou=wt-${s}`,
    user: (name, parent) => `uid=${name},${parent}`,
    group: (name, parent) => `cn=${name},${parent}`,
    ou: (name, parent) => `ou=${name},${parent}`,
    userClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    groupClasses: ['top', 'groupOfNames'],
    login: 'uid',
    multi: 'telephoneNumber',
    changeMarker: 'modifyTimestamp',
    checksMembers: false,
  },
  {
    service: 'ad-writer',
    directory: 'ad',
    container: (s) => `OU=wt-${s}`,
    user: (name, parent) => `CN=${name},${parent}`,
    group: (name, parent) => `CN=${name},${parent}`,
    ou: (name, parent) => `OU=${name},${parent}`,
    userClasses: ['top', 'person', 'organizationalPerson', 'user'],
    groupClasses: ['top', 'group'],
    login: 'sAMAccountName',
    multi: 'otherTelephone',
    changeMarker: 'uSNChanged',
    checksMembers: true,
  },
];

let sequence = 0;
function request(op: WriteRequest['op'], dn: string, attributes: AttributeChange[], extra: Partial<WriteRequest> = {}): WriteRequest {
  sequence += 1;
  return {
    requestId: `it-${sequence}/writer-test/0`,
    pipe: 'writer-test',
    sourceEventId: `it-${sequence}`,
    sourceEntryId: { kind: 'entryUUID', value: '00000000-0000-4000-8000-000000000000' },
    op,
    dn,
    previousDn: null,
    objectClasses: [],
    attributes,
    correlation: [],
    changeTime: null,
    detectedAt: Date.now(),
    ...extra,
  };
}
const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });

async function read(client: Client, dn: string, attributes: string[]): Promise<Record<string, string[]> | null> {
  try {
    const { searchEntries } = await client.search(dn, { scope: 'base', attributes: [...attributes, 'objectGUID'], explicitBufferAttributes: ['objectGUID'] });
    const entry = searchEntries[0];
    if (entry === undefined) return null;
    const out: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(entry)) {
      out[key.toLowerCase()] = [value].flat().map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    }
    return out;
  } catch (error) {
    if ((error as { code?: unknown }).code === 32) return null;
    throw error;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(PROFILES)('DirectoryWriter into $directory ($service)', (profile) => {
  const config: SyncConfig = stackConfig();
  const dir = config.directories[profile.directory] as DirectoryConfig;
  const suffix = uniqueSuffix();
  const container = `${profile.container(suffix)},${dir.baseDn}`;
  const writers: DirectoryWriter[] = [];
  let admin: Client;
  const writer = (overrides: Partial<DirectoryWriterOptions> = {}): DirectoryWriter => {
    const created = DirectoryWriter.forService(config, profile.service, overrides);
    writers.push(created);
    return created;
  };
  const marker = async (dn: string): Promise<string | undefined> => (await read(admin, dn, [profile.changeMarker]))?.[profile.changeMarker.toLowerCase()]?.[0];

  const alice = `a${suffix}`;
  const bob = `b${suffix}`;
  const userDn = profile.user(alice, container);
  const groupDn = profile.group(`g${suffix}`, container);
  const userAttributes = (): AttributeChange[] => [replace(profile.login, alice), replace('givenName', 'Alice'), replace('sn', 'Tester'), replace('description', 'created by the writer test')];

  beforeAll(async () => {
    const { host, port } = hostPort(dir.urls[0] ?? '');
    await requireServer(`${profile.directory} (LDAPS)`, host, port);
    admin = (await openLdapSession(profile.directory, dir)).client;
    await admin.add(container, { objectClass: ['top', 'organizationalUnit'], ou: `wt-${suffix}` });
  });

  afterAll(async () => {
    for (const w of writers) await w.close();
    if (admin) {
      await deleteTree(admin, container);
      await admin.unbind();
    }
  });

  it('creates a user with what the destination requires, then finds a replay already applied', async () => {
    const w = writer();
    const create = request('upsert', userDn, userAttributes(), { objectClasses: profile.userClasses });
    const first = await w.apply(create);
    expect(first.outcome).toBe('applied');
    expect(first.plan.steps.map((s) => s.kind)).toEqual(['add']);
    const entry = await read(admin, userDn, ['givenName', 'sn', 'description', profile.login, 'userAccountControl', 'cn']);
    expect(entry).toMatchObject({ givenname: ['Alice'], sn: ['Tester'], [profile.login.toLowerCase()]: [alice] });
    if (profile.directory === 'ad') expect(entry?.['useraccountcontrol']).toEqual(['546']);
    else expect(entry?.['cn']).toEqual([alice]);

    const before = await marker(userDn);
    await sleep(1_100); // modifyTimestamp has one-second resolution
    const again = await w.apply(create);
    expect(again.outcome).toBe('no-op');
    expect(await marker(userDn)).toBe(before);

    // Told "absent" (a resync's hint) although the entry exists: the add meets it, and the writer compares instead.
    const hinted = await w.apply(request('upsert', userDn, [...userAttributes(), replace('description', 'after a hinted add')], { objectClasses: profile.userClasses }), { absent: true });
    expect(hinted.outcome).toBe('applied');
    expect(hinted.alreadyApplied).toEqual([expect.stringMatching(/68|already exists/i)]);
    expect((await read(admin, userDn, ['description']))?.['description']).toEqual(['after a hinted add']);
  });

  it('modifies single-valued and multi-valued attributes, only what changed', async () => {
    const w = writer();
    const single = await w.apply(request('modify', userDn, [replace('description', 'changed'), replace('givenName', 'Alice')]));
    expect(single.plan.steps).toEqual([{ kind: 'modify', dn: userDn, changes: [{ op: 'replace', name: 'description', values: ['changed'] }] }]);

    await w.apply(request('modify', userDn, [{ name: profile.multi, op: 'add', values: ['+1 555 0001', '+1 555 0002'] }]));
    await w.apply(request('modify', userDn, [{ name: profile.multi, op: 'delete', values: ['+1 555 0001'] }]));
    const entry = await read(admin, userDn, ['description', profile.multi]);
    expect(entry?.['description']).toEqual(['changed']);
    expect(entry?.[profile.multi.toLowerCase()]).toEqual(['+1 555 0002']);

    const replay = await w.apply(request('modify', userDn, [{ name: profile.multi, op: 'delete', values: ['+1 555 0001'] }]));
    expect(replay.outcome).toBe('no-op');
  });

  it('publishes a write receipt of what a modify or a create leaves before sending it; a receipt that cannot be published sends nothing', async () => {
    const receipts: WriteReceipt[] = [];
    const markersAtReceipt: (string | undefined)[] = [];
    const w = writer({
      receipts: {
        service: profile.service,
        sink: {
          record: async (receipt) => {
            receipts.push(receipt);
            markersAtReceipt.push(await marker(userDn));
          },
        },
      },
    });
    const before = await read(admin, userDn, [profile.multi, profile.directory === 'ad' ? 'objectGUID' : 'entryUUID']);
    const id = profile.directory === 'ad' ? canonicalGuid(Buffer.from(before?.['objectguid']?.[0] ?? '', 'hex')) : before?.['entryuuid']?.[0];
    const markerBefore = await marker(userDn);
    await sleep(1_100);
    const applied = await w.apply(request('modify', userDn, [replace('description', 'with a receipt'), { name: profile.multi, op: 'add', values: ['+1 555 0003'] }]));
    expect(applied.outcome).toBe('applied');
    expect(receipts).toHaveLength(1);
    expect(receipts[0]).toMatchObject({ service: profile.service, directory: profile.directory, requestId: applied.plan.requestId, entryId: { value: id } });
    expect(receipts[0]?.attributes).toEqual([
      { name: 'description', values: ['with a receipt'], added: ['with a receipt'], removed: ['changed'], anyValue: false },
      { name: profile.multi, values: ['+1 555 0002', '+1 555 0003'], added: ['+1 555 0003'], removed: [], anyValue: false },
    ]);
    // Published before the modify was sent: the entry was still as before when the receipt went out.
    expect(markersAtReceipt).toEqual([markerBefore]);
    expect(await marker(userDn)).not.toBe(markerBefore);

    // A create names its entry by DN (no id before the add), with everything the add writes.
    const newcomer = profile.user(`rcpt${suffix}`, container);
    await w.apply(request('upsert', newcomer, [replace(profile.login, `rcpt${suffix}`), replace('sn', 'Receipt')], { objectClasses: profile.userClasses }));
    expect(receipts.at(-1)).toMatchObject({ entryId: null, dn: newcomer });
    expect(receipts.at(-1)?.attributes).toEqual(expect.arrayContaining([{ name: 'sn', values: ['Receipt'], added: ['Receipt'], removed: [], anyValue: false }]));

    const failing = writer({ receipts: { service: profile.service, sink: { record: () => Promise.reject(new Error('Kafka is away')) } } });
    const refused = await failing.apply(request('modify', userDn, [replace('description', 'never written')])).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WriteError);
    expect(refused).toMatchObject({ outcome: 'retry', message: expect.stringContaining('Kafka is away') });
    expect((await read(admin, userDn, ['description']))?.['description']).toEqual(['with a receipt']);
  });

  it('creates a group, adds and removes a member, and a repeated member add changes nothing', async () => {
    const w = writer();
    await w.apply(request('upsert', groupDn, [replace('description', 'test group')], { objectClasses: profile.groupClasses }));
    const add = request('modify', groupDn, [{ name: 'member', op: 'add', values: [userDn] }]);
    expect((await w.apply(add)).outcome).toBe('applied');
    expect((await read(admin, groupDn, ['member']))?.['member']?.map((m) => m.toLowerCase())).toEqual([userDn.toLowerCase()]);
    const usn = await marker(groupDn);
    await sleep(1_100);
    expect((await w.apply(add)).outcome).toBe('no-op');
    expect(await marker(groupDn)).toBe(usn);

    await w.apply(request('modify', groupDn, [{ name: 'member', op: 'delete', values: [userDn.toUpperCase()] }]));
    expect((await read(admin, groupDn, ['member']))?.['member'] ?? []).toEqual([]);
  });

  it('classifies a member that does not exist yet as retry on AD (the directory server accepts any DN)', async () => {
    const w = writer();
    const ghost = profile.user(`ghost${suffix}`, container);
    const attempt = w.apply(request('modify', groupDn, [{ name: 'member', op: 'add', values: [ghost] }]));
    if (profile.checksMembers) {
      const error = await attempt.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WriteError);
      expect(error).toMatchObject({ outcome: 'retry', bounded: true, retriable: true });
      expect((error as WriteError).message).toMatch(/member-add/);
    } else {
      await expect(attempt).resolves.toMatchObject({ outcome: 'applied' });
      await w.apply(request('modify', groupDn, [{ name: 'member', op: 'delete', values: [ghost] }]));
    }
  });

  it('finds the entry by correlation when the DN differs, and modifies that entry', async () => {
    const w = writer();
    const elsewhere = profile.user(alice, profile.ou('Nowhere', container));
    const result = await w.apply(
      request('upsert', elsewhere, [replace(profile.login, alice), replace('description', 'found by correlation')], {
        objectClasses: profile.userClasses,
        correlation: [['mail'], [profile.login]],
      }),
    );
    expect(result.foundBy).toBe('correlation');
    expect(result.plan.target?.toLowerCase()).toBe(userDn.toLowerCase());
    expect((await read(admin, userDn, ['description']))?.['description']).toEqual(['found by correlation']);
    expect(await read(admin, elsewhere, ['description'])).toBeNull();
  });

  /** An entry made by the administrator (not by the writer): a user with this login and description. */
  const occupy = async (dn: string, login: string, description: string): Promise<void> => {
    const rdn = dn.split(',')[0]?.split('=')[1] ?? login;
    await admin.add(
      dn,
      profile.directory === 'ad'
        ? { objectClass: [...profile.userClasses], cn: rdn, sAMAccountName: login, description }
        : { objectClass: [...profile.userClasses], cn: rdn, sn: 'Occupant', uid: login, description },
    );
  };

  it('creates without reading the DN first; a name already taken makes the add fail, and that entry is compared and modified', async () => {
    const w = writer();
    const taken = profile.user(`taken${suffix}`, container);
    await occupy(taken, `taken${suffix}`, 'made by the administrator');
    const result = await w.apply(request('upsert', taken, [replace('description', 'written over the taken name')], { objectClasses: profile.userClasses, correlation: [[profile.login]] }));
    expect(result.outcome).toBe('applied');
    expect(result.foundBy).toBe('dn');
    expect(result.alreadyApplied).toEqual([expect.stringMatching(/68|already exists/i)]);
    expect(result.plan.steps.map((step) => step.kind)).toEqual(['modify']);
    expect((await read(admin, taken, ['description']))?.['description']).toEqual(['written over the taken name']);
  });

  it('a create whose correlation finds an entry elsewhere still goes to the entry holding its DN', async () => {
    const w = writer();
    const login = `corr${suffix}`;
    const atDn = profile.user(`holder${suffix}`, container);
    const elsewhere = profile.user(`else${suffix}`, container);
    await occupy(atDn, `holder${suffix}`, 'holds the DN');
    await occupy(elsewhere, login, 'matches the correlation');
    const result = await w.apply(
      request('upsert', atDn, [replace(profile.login, `holder${suffix}`), replace('description', 'the DN wins')], { objectClasses: profile.userClasses, correlation: [[profile.login]] }),
    );
    expect(result.foundBy).toBe('dn');
    expect((await read(admin, atDn, ['description']))?.['description']).toEqual(['the DN wins']);
    expect((await read(admin, elsewhere, ['description']))?.['description']).toEqual(['matches the correlation']);
  });

  if (profile.directory === 'ad') {
    it('an add refused for another reason than the taken name (Samba checks the schema first) still finds the entry holding the name', async () => {
      const w = writer();
      // An OU holds the DN; a user cannot be named OU=…: Samba answers the add with namingViolation (64), not 68.
      const ouDn = profile.ou(`ou${suffix}`, container);
      await admin.add(ouDn, { objectClass: ['top', 'organizationalUnit'], ou: `ou${suffix}`, description: 'an OU' });
      const attempt = w.apply(request('upsert', ouDn, [replace('description', 'a user named like an OU')], { objectClasses: profile.userClasses }));
      // Found by its DN and compared, as a thorough lookup would: only the description differs, and it is written.
      await expect(attempt).resolves.toMatchObject({ outcome: 'applied', foundBy: 'dn' });
      expect((await read(admin, ouDn, ['description']))?.['description']).toEqual(['a user named like an OU']);
    });
  }

  it('renames in place, then moves to another OU with newSuperior; replays are no-ops', async () => {
    const w = writer();
    const renamed = profile.user(`r${suffix}`, container);
    const rename = request('rename', renamed, [], { previousDn: userDn });
    const done = await w.apply(rename);
    expect(done.plan.steps).toEqual([expect.objectContaining({ kind: 'modify-dn', newSuperior: null })]);
    expect(await read(admin, userDn, ['cn'])).toBeNull();
    expect(await read(admin, renamed, ['cn'])).not.toBeNull();
    expect((await w.apply(rename)).outcome).toBe('no-op');

    const sub = profile.ou('Moved', container);
    await w.apply(request('upsert', sub, [], { objectClasses: ['top', 'organizationalUnit'] }));
    const moved = profile.user(`r${suffix}`, sub);
    const move = await w.apply(request('rename', moved, [], { previousDn: renamed }));
    expect(move.plan.steps).toEqual([expect.objectContaining({ kind: 'modify-dn', newSuperior: sub })]);
    expect(await read(admin, moved, ['cn'])).not.toBeNull();
    expect(await read(admin, renamed, ['cn'])).toBeNull();
  });

  it('unlinks a deleted member from the groups holding it, then deletes; replays are no-ops', async () => {
    const w = writer();
    const bobDn = profile.user(bob, container);
    await w.apply(request('upsert', bobDn, [replace(profile.login, bob), replace('sn', 'Bob')], { objectClasses: profile.userClasses }));
    await w.apply(request('modify', groupDn, [{ name: 'member', op: 'add', values: [bobDn] }]));

    const del = request('delete', bobDn, []);
    expect((await w.apply(del)).plan.steps).toEqual([{ kind: 'delete', dn: bobDn }]);
    expect(await read(admin, bobDn, ['cn'])).toBeNull();
    const unlink = request('unlink', bobDn, [{ name: 'member', op: 'delete', values: [bobDn] }], { previousDn: bobDn });
    const unlinked = await w.apply(unlink);
    if (profile.checksMembers) {
      // AD removes a deleted object from groups itself: nothing left to unlink.
      expect(unlinked.outcome).toBe('no-op');
    } else {
      expect(unlinked.plan.steps).toEqual([{ kind: 'modify', dn: groupDn, changes: [{ op: 'delete', name: 'member', values: [bobDn] }] }]);
    }
    expect((await read(admin, groupDn, ['member']))?.['member'] ?? []).toEqual([]);
    expect((await w.apply(unlink)).outcome).toBe('no-op');
    expect((await w.apply(del)).outcome).toBe('no-op');
  });

  it('creates missing parent containers when configured', async () => {
    const w = writer({ createMissingParents: true });
    const deep = profile.user(`p${suffix}`, profile.ou('Inner', profile.ou('Outer', container)));
    const result = await w.apply(request('upsert', deep, [replace(profile.login, `p${suffix}`), replace('sn', 'P')], { objectClasses: profile.userClasses }));
    expect(result.createdParents).toHaveLength(2);
    expect(await read(admin, deep, ['sn'])).not.toBeNull();
  });

  it('plans and counts in dry-run mode without writing', async () => {
    const w = writer({ dryRun: true });
    const dn = profile.user(`d${suffix}`, container);
    const result = await w.apply(request('upsert', dn, [replace(profile.login, `d${suffix}`), replace('sn', 'D')], { objectClasses: profile.userClasses }));
    expect(result.outcome).toBe('dry-run');
    expect(result.plan.steps.map((s) => s.kind)).toEqual(['add']);
    expect(await read(admin, dn, ['sn'])).toBeNull();
  });

  if (profile.directory === 'ad') {
    it('rejects an invalid sAMAccountName with a clear reason, writing nothing', async () => {
      const w = writer();
      const dn = profile.user(`x${suffix}`, container);
      const attempt = w.apply(request('upsert', dn, [replace('sAMAccountName', 'this-name-is-far-too-long'), replace('sn', 'X')], { objectClasses: profile.userClasses }));
      await expect(attempt).rejects.toBeInstanceOf(InvalidEntryError);
      await expect(attempt).rejects.toMatchObject({ outcome: 'dead-letter', retriable: false });
      await expect(attempt).rejects.toThrow(/sAMAccountName 'this-name-is-far-too-long' is 25 characters long; AD allows at most 20/);
      expect(await read(admin, dn, ['sn'])).toBeNull();
    });
  }
});
