import { randomUUID } from 'node:crypto';
import { type AttributeChange, canonicalGuid, type EntryId, type WriteRequest } from '@idsync/contracts';
import { type DirectoryConfig, type SyncConfig } from '@idsync/config';
import { LinkRegistry, LinkStore } from '@idsync/links';
import { openLdapSession } from '@idsync/platform';
import { parseDn } from '@idsync/mapping';
import { applyRequest, DirectoryWriter, LinkConflictError, PostReadControl, WriteError } from '@idsync/writer';
import { type Client } from 'ldapts';
import { deleteTree } from '../support/ldap-tree';
import { hostPort, requireServer, stackConfig, uniqueSuffix } from '../support/stack';

/**
 * The writer with links, against the real servers (no Kafka: the registry's store is the view). Every write names
 * its entry by the source entry's id: the linked entry is acted on wherever it is; an entry found by DN that is
 * linked to another source entry is never touched.
 */

interface Profile {
  readonly service: 'ds-writer' | 'ad-writer';
  readonly directory: 'ds' | 'ad';
  readonly container: (suffix: string) => string;
  readonly user: (name: string, parent: string) => string;
  readonly userClasses: readonly string[];
  readonly login: string;
  /** Id kind of the (imaginary) source entries: the other directory's. */
  readonly sourceKind: EntryId['kind'];
}

const PROFILES: readonly Profile[] = [
  {
    service: 'ds-writer',
    directory: 'ds',
    container: (s) => `ou=lt-${s}`,
    user: (name, parent) => `uid=${name},${parent}`,
    userClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    login: 'uid',
    sourceKind: 'objectGUID',
  },
  {
    service: 'ad-writer',
    directory: 'ad',
    container: (s) => `OU=lt-${s}`,
    user: (name, parent) => `CN=${name},${parent}`,
    userClasses: ['top', 'person', 'organizationalPerson', 'user'],
    login: 'sAMAccountName',
    sourceKind: 'entryUUID',
  },
];

const PIPE = 'links-test';
const SOURCE = 'src';
let sequence = 0;

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });

async function idAt(client: Client, dn: string, kind: 'ad' | 'ds'): Promise<string | null> {
  try {
    const attribute = kind === 'ad' ? 'objectGUID' : 'entryUUID';
    const { searchEntries } = await client.search(dn, { scope: 'base', attributes: [attribute], explicitBufferAttributes: ['objectGUID'] });
    const value = searchEntries[0]?.[attribute];
    if (value === undefined) return null;
    return Buffer.isBuffer(value) ? canonicalGuid(value) : String(value).toLowerCase();
  } catch (error) {
    if ((error as { code?: unknown }).code === 32) return null;
    throw error;
  }
}

describe.each(PROFILES)('DirectoryWriter with links, into $directory ($service)', (profile) => {
  const config: SyncConfig = stackConfig();
  const dir = config.directories[profile.directory] as DirectoryConfig;
  const suffix = uniqueSuffix();
  const container = `${profile.container(suffix)},${dir.baseDn}`;
  let admin: Client;
  let store: LinkStore;
  let links: LinkRegistry;
  let writer: DirectoryWriter;

  const sourceId = (): EntryId => ({ kind: profile.sourceKind, value: randomUUID() });
  const request = (op: WriteRequest['op'], source: EntryId, dn: string, attributes: AttributeChange[], extra: Partial<WriteRequest> = {}): WriteRequest => {
    sequence += 1;
    return {
      requestId: `lt-${sequence}/${PIPE}/0`,
      pipe: PIPE,
      sourceEventId: `lt-${sequence}`,
      sourceEntryId: source,
      op,
      dn,
      previousDn: null,
      objectClasses: op === 'upsert' ? profile.userClasses : [],
      attributes,
      correlation: [],
      changeTime: null,
      detectedAt: Date.now(),
      ...extra,
    };
  };
  const userAttributes = (login: string, description: string): AttributeChange[] => [replace(profile.login, login), replace('sn', 'Linked'), replace('description', description)];
  const linkedTo = (source: EntryId): string | null => {
    const link = store.counterpart(SOURCE, source.value, profile.directory);
    if (link === null) return null;
    return link.source.value === source.value ? link.destination.value : link.source.value;
  };

  beforeAll(async () => {
    const { host, port } = hostPort(dir.urls[0] ?? '');
    await requireServer(`${profile.directory} (LDAPS)`, host, port);
    admin = (await openLdapSession(profile.directory, dir)).client;
    await admin.add(container, { objectClass: ['top', 'organizationalUnit'], ou: `lt-${suffix}` });
    store = LinkStore.open();
    links = new LinkRegistry({ store, topic: 'unused', service: profile.service });
    writer = DirectoryWriter.forService(config, profile.service, { links, pipeSources: new Map([[PIPE, SOURCE]]) });
  });

  afterAll(async () => {
    await writer?.close();
    store?.close();
    if (admin) {
      await deleteTree(admin, container);
      await admin.unbind();
    }
  });

  it('links the entry it creates to the source entry, by the ids of both', async () => {
    const source = sourceId();
    const dn = profile.user(`c${suffix}`, container);
    const result = await writer.apply(request('upsert', source, dn, userAttributes(`c${suffix}`, 'created')));
    expect(result).toMatchObject({ outcome: 'applied', link: 'recorded' });
    expect(linkedTo(source)).toBe(await idAt(admin, dn, profile.directory));
    expect(store.counterpart(SOURCE, source.value, profile.directory)).toMatchObject({ pipe: PIPE, origin: 'created', linkedBy: profile.service });
  });

  it("learns a new entry's id with the add where the server has the post-read control (389-ds), and without it (AD ignores the non-critical control)", async () => {
    const dn = profile.user(`pr${suffix}`, container);
    const control = new PostReadControl([profile.directory === 'ad' ? 'objectGUID' : 'entryUUID']);
    await admin.add(dn, { objectClass: [...profile.userClasses], [profile.login]: `pr${suffix}`, sn: 'PostRead', cn: `pr${suffix}` }, control);
    const id = await idAt(admin, dn, profile.directory);
    expect(id).not.toBeNull();
    if (profile.directory === 'ds') {
      expect(parseDn(control.entry?.dn ?? '')).toEqual(parseDn(dn));
      expect(control.entry?.attributes.get('entryUUID')?.map(String)).toEqual([id]);
    } else {
      expect(control.entry).toBeUndefined();
    }
  });

  it('finds the linked entry wherever it is: a modify changes it in place, a snapshot moves it to its DN, a rename needs no previous DN, a stale rename does not move it back', async () => {
    const source = sourceId();
    const first = profile.user(`r${suffix}`, container);
    await writer.apply(request('upsert', source, first, userAttributes(`r${suffix}`, 'before')));
    const id = await idAt(admin, first, profile.directory);
    const elsewhere = profile.user(`moved${suffix}`, container);
    await admin.modifyDN(first, elsewhere.split(',')[0] as string);

    // An older request (an echo, a replay) naming the old DN: values land on the linked entry, which stays put.
    const modified = await writer.apply(request('modify', source, first, [replace('description', 'after')]));
    expect(modified).toMatchObject({ outcome: 'applied', foundBy: 'link', link: 'kept' });
    expect(await idAt(admin, elsewhere, profile.directory)).toBe(id);

    // A full read of the source entry (resync) says where it is now: moved there.
    const snapshot = await writer.apply(request('upsert', source, first, userAttributes(`r${suffix}`, 'after')), { snapshot: true });
    expect(snapshot).toMatchObject({ outcome: 'applied', foundBy: 'link' });
    expect(await idAt(admin, first, profile.directory)).toBe(id);
    expect(await idAt(admin, elsewhere, profile.directory)).toBeNull();

    const renamed = profile.user(`r2${suffix}`, container);
    const rename = await writer.apply(request('rename', source, renamed, [], { previousDn: null }));
    expect(rename).toMatchObject({ outcome: 'applied', foundBy: 'link' });
    expect(await idAt(admin, renamed, profile.directory)).toBe(id);

    // A rename from a DN the entry left since (the late echo of an earlier rename): not moved back, values applied.
    const stale = await writer.apply(request('rename', source, first, [replace('description', 'late')], { previousDn: elsewhere }));
    expect(stale).toMatchObject({ outcome: 'applied', foundBy: 'link', staleRename: true });
    expect(await idAt(admin, renamed, profile.directory)).toBe(id);
  });

  it('delete then re-create under the same DN, the create first: the create waits (never takes the old entry over), the old delete frees the DN', async () => {
    const old = sourceId();
    const dn = profile.user(`x${suffix}`, container);
    await writer.apply(request('upsert', old, dn, userAttributes(`x${suffix}`, 'the old account')));
    const oldId = await idAt(admin, dn, profile.directory);

    // The new account's create overtakes the old one's delete (different keys, different partitions).
    const fresh = sourceId();
    const create = request('upsert', fresh, dn, userAttributes(`x${suffix}`, 'the new account'));
    const blocked = await writer.apply(create).catch((error: unknown) => error);
    expect(blocked).toBeInstanceOf(LinkConflictError);
    expect(blocked).toMatchObject({ retriable: true, waits: true, linkedTo: old.value });
    expect(await idAt(admin, dn, profile.directory)).toBe(oldId);

    const deleted = await writer.apply(request('delete', old, dn, []));
    expect(deleted).toMatchObject({ outcome: 'applied', foundBy: 'link', link: 'removed' });
    expect(linkedTo(old)).toBeNull();

    const created = await writer.apply(create);
    expect(created).toMatchObject({ outcome: 'applied', link: 'recorded' });
    const newId = await idAt(admin, dn, profile.directory);
    expect(newId).not.toBeNull();
    expect(newId).not.toBe(oldId);
    expect(linkedTo(fresh)).toBe(newId);

    // The old entry's delete again (a replay, or the echo from the other side), or a late modify: the new entry stays.
    const echo = await writer.apply(request('delete', old, dn, []));
    expect(echo.outcome).toBe('no-op');
    expect(echo.plan.reason).toMatch(/unlinked/);
    const late = await writer.apply(request('modify', old, dn, [replace('description', 'stale')]));
    expect(late.outcome).toBe('no-op');
    expect(await idAt(admin, dn, profile.directory)).toBe(newId);
  });

  it('a forged delete for a DN whose entry belongs to another source entry deletes nothing', async () => {
    const owner = sourceId();
    const dn = profile.user(`f${suffix}`, container);
    await writer.apply(request('upsert', owner, dn, userAttributes(`f${suffix}`, 'owned')));
    const id = await idAt(admin, dn, profile.directory);

    const forged = request('delete', sourceId(), dn, []);
    const outcome = await applyRequest(writer, forged, {
      sleep: async () => {
        throw new Error('a conflict is not retried');
      },
    });
    expect(outcome).toMatchObject({ kind: 'dead-letter', reason: expect.stringMatching(new RegExp(`linked to source entry ${owner.value}`)) });
    expect(outcome.kind === 'dead-letter' && outcome.error).toBeInstanceOf(LinkConflictError);
    expect(await idAt(admin, dn, profile.directory)).toBe(id);
  });

  it('links an existing entry it finds by DN (first start with no links), and acts on it by link from then on', async () => {
    const dn = profile.user(`e${suffix}`, container);
    const preexisting: Record<string, string | string[]> =
      profile.directory === 'ad'
        ? { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `e${suffix}`, sn: 'Existing' }
        : { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: `e${suffix}`, cn: `e${suffix}`, sn: 'Existing' };
    await admin.add(dn, preexisting);
    const id = await idAt(admin, dn, profile.directory);
    const source = sourceId();
    const found = await writer.apply(request('upsert', source, dn, userAttributes(`e${suffix}`, 'found by DN')));
    expect(found).toMatchObject({ outcome: 'applied', foundBy: 'dn', link: 'recorded' });
    expect(store.counterpart(SOURCE, source.value, profile.directory)).toMatchObject({ origin: 'dn' });
    expect(linkedTo(source)).toBe(id);
    const again = await writer.apply(request('modify', source, dn, [replace('description', 'by link')]));
    expect(again).toMatchObject({ outcome: 'applied', foundBy: 'link' });
  });

  it('a rename that does not say where it came from touches no unlinked entry, neither the one at its DN nor one a correlation finds', async () => {
    const dn = profile.user(`u${suffix}`, container);
    const preexisting: Record<string, string | string[]> =
      profile.directory === 'ad'
        ? { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `u${suffix}`, sn: 'Unlinked', description: 'untouched' }
        : { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: `u${suffix}`, cn: `u${suffix}`, sn: 'Unlinked', description: 'untouched' };
    await admin.add(dn, preexisting);
    const id = await idAt(admin, dn, profile.directory);
    const source = sourceId();
    // Seen by a detector that watches other subtrees (or after its restart): the new DN only, no link, stale values.
    const atDn = await writer.apply(request('rename', source, dn, [replace('description', 'stale')], { previousDn: null }));
    expect(atDn).toMatchObject({ outcome: 'no-op', link: 'none' });
    expect(atDn.plan.reason).toMatch(/no linked entry here and the rename does not say where it came from/);
    const byCorrelation = await writer.apply(
      request('rename', source, profile.user(`elsewhere${suffix}`, container), [replace(profile.login, `u${suffix}`), replace('description', 'stale')], {
        previousDn: null,
        correlation: [[profile.login]],
      }),
    );
    expect(byCorrelation).toMatchObject({ outcome: 'no-op', link: 'none' });
    const { searchEntries } = await admin.search(dn, { scope: 'base', attributes: ['description'] });
    expect(searchEntries[0]?.['description']).toBe('untouched');
    expect(await idAt(admin, dn, profile.directory)).toBe(id);
    expect(linkedTo(source)).toBeNull();
  });

  it('a linked entry deleted at the destination: a change keeps the link, the delete of its source entry changes nothing and ends it', async () => {
    const source = sourceId();
    const dn = profile.user(`g${suffix}`, container);
    await writer.apply(request('upsert', source, dn, userAttributes(`g${suffix}`, 'here')));
    await admin.del(dn);
    // A change that is not the source entry's delete changes nothing and keeps the link: in two-way sync the
    // destination's delete is on its way to the source side, whose writer acts on it by this link.
    const changed = await writer.apply(request('modify', source, dn, [replace('description', 'meanwhile')]));
    expect(changed.outcome).toBe('no-op');
    expect(linkedTo(source)).not.toBeNull();
    const deleted = await writer.apply(request('delete', source, dn, []));
    expect(deleted).toMatchObject({ outcome: 'no-op' });
    expect(deleted.plan.reason).toMatch(/is gone \(deleted here\)/);
    expect(linkedTo(source)).toBeNull();
  });

  it('two linked entries swapping DNs: the first move parks the other entry, whose own rename then finds it by link', async () => {
    const first = sourceId();
    const second = sourceId();
    const dnA = profile.user(`sa${suffix}`, container);
    const dnB = profile.user(`sb${suffix}`, container);
    await writer.apply(request('upsert', first, dnA, userAttributes(`sa${suffix}`, 'first')));
    await writer.apply(request('upsert', second, dnB, userAttributes(`sb${suffix}`, 'second')));
    const [idFirst, idSecond] = [await idAt(admin, dnA, profile.directory), await idAt(admin, dnB, profile.directory)];

    // The source shows only the end state (DirSync merges A -> tmp -> B): each wants the other's DN.
    const moved = await writer.apply(request('rename', first, dnB, [], { previousDn: null }));
    expect(moved).toMatchObject({ outcome: 'applied', foundBy: 'link' });
    expect(await idAt(admin, dnB, profile.directory)).toBe(idFirst);
    expect(await idAt(admin, dnA, profile.directory)).toBeNull();
    const back = await writer.apply(request('rename', second, dnA, [], { previousDn: null }));
    expect(back).toMatchObject({ outcome: 'applied', foundBy: 'link' });
    expect(await idAt(admin, dnA, profile.directory)).toBe(idSecond);

    // An entry linked to nobody at the target is not moved aside: the rename waits (bounded) and is dead-lettered.
    const stranger = profile.user(`st${suffix}`, container);
    await admin.add(
      stranger,
      profile.directory === 'ad'
        ? { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `st${suffix}` }
        : { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], uid: `st${suffix}`, cn: `st${suffix}`, sn: 'Stranger' },
    );
    const blocked = await applyRequest(writer, request('rename', first, stranger, [], { previousDn: null }), { attempts: 2, sleep: async () => undefined });
    expect(blocked).toMatchObject({ kind: 'dead-letter', reason: expect.stringMatching(/entryAlreadyExists \(68\)/) });
    expect(await idAt(admin, dnB, profile.directory)).toBe(idFirst);
  });

  it("leaves alone a linked entry moved out of the subtrees its pipe writes to, even for its source entry's delete", async () => {
    const outside = `${profile.container(`${suffix}x`)},${dir.baseDn}`;
    await admin.add(outside, { objectClass: ['top', 'organizationalUnit'], ou: `lt-${suffix}x` });
    const scoped = DirectoryWriter.forService(config, profile.service, { links, pipeSources: new Map([[PIPE, SOURCE]]), pipeScopes: new Map([[PIPE, [parseDn(container)]]]) });
    try {
      const source = sourceId();
      const dn = profile.user(`o${suffix}`, container);
      await scoped.apply(request('upsert', source, dn, userAttributes(`o${suffix}`, 'inside')));
      const id = await idAt(admin, dn, profile.directory);
      const moved = profile.user(`o${suffix}`, outside);
      await admin.modifyDN(dn, moved);
      const changed = await scoped.apply(request('modify', source, dn, [replace('description', 'changed')]));
      expect(changed.outcome).toBe('no-op');
      expect(changed.plan.reason).toMatch(/outside the subtrees pipe links-test writes to/);
      const deleted = await scoped.apply(request('delete', source, dn, []));
      expect(deleted.outcome).toBe('no-op');
      expect(await idAt(admin, moved, profile.directory)).toBe(id);
      expect(linkedTo(source)).toBeNull();
    } finally {
      await scoped.close();
      await deleteTree(admin, outside);
    }
  });

  it('refuses a request for a pipe it does not know', async () => {
    const stray = { ...request('delete', sourceId(), profile.user(`f${suffix}`, container), []), pipe: 'no-such-pipe' };
    await expect(writer.apply(stray)).rejects.toThrow(WriteError);
    await expect(writer.apply(stray)).rejects.toThrow(/no-such-pipe/);
  });
});
