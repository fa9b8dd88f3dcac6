/**
 * Captures the DirSync fixtures under libs/detector/src/ad/__fixtures__ from a real AD DC (the local Samba stack):
 *   npm run build && set -a && . /var/lib/idsync-stack/stack.env && set +a && \
 *   IDSYNC_CONFIG=config/demo.yaml node services/ad-detector/dist/tools/capture-fixtures.js
 * It creates a scratch OU under OU=Corp, makes one kind of change at a time, reads the DirSync page after each,
 * saves the entries about its own objects, and deletes what it created. Development tool only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attribute, Change, type Client } from 'ldapts';
import { loadConfig } from '@idsync/config';
import { openLdapSession } from '@idsync/platform';
import { DIRSYNC_FLAGS, DirSyncControl, AD_BINARY_ATTRIBUTES, fromLdaptsEntry, rawEntryToJson, type LdaptsEntry, type RawEntry } from '@idsync/detector/ad';

const OUT = join(__dirname, '..', '..', '..', '..', 'libs', 'detector', 'src', 'ad', '__fixtures__');

async function pass(client: Client, baseDn: string, cookie: Buffer): Promise<{ entries: RawEntry[]; cookie: Buffer; raw: Buffer }> {
  const control = new DirSyncControl({ flags: DIRSYNC_FLAGS.incrementalValues, maxBytes: 0, cookie });
  const { searchEntries } = await client.search(baseDn, { scope: 'sub', filter: '(objectClass=*)', explicitBufferAttributes: [...AD_BINARY_ATTRIBUTES] }, control);
  if (!control.response || !control.rawResponse) throw new Error('no DirSync response control');
  return { entries: searchEntries.map((e) => fromLdaptsEntry(e as LdaptsEntry)), cookie: control.response.cookie, raw: control.rawResponse };
}

async function main(): Promise<void> {
  const { config } = loadConfig(process.env);
  const ad = config.directories['ad'];
  if (!ad) throw new Error('no directory ad');
  const { client } = await openLdapSession('ad', ad);
  mkdirSync(OUT, { recursive: true });
  const save = (name: string, data: unknown): void => writeFileSync(join(OUT, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
  const base = ad.baseDn;
  const ou = `OU=fixtures,OU=Corp,${base}`;
  const ou2 = `OU=fixtures-moved,OU=Corp,${base}`;
  const mine = (e: RawEntry): boolean => (/fixtures|Deleted Objects/i.test(e.dn) && !/^OU=fixtures/i.test(e.dn)) || /^OU=fixtures/i.test(e.dn);

  let cookie: Buffer = Buffer.alloc(0);
  let first = true;
  for (;;) {
    const page = await pass(client, base, cookie);
    if (first) {
      save('first-pass-user', rawEntryToJson(page.entries.find((e) => /^CN=Jane Doe,/i.test(e.dn)) as RawEntry));
      first = false;
    }
    cookie = page.cookie;
    if (page.entries.length === 0) {
      save('response-control', { base64: page.raw.toString('base64') });
      break;
    }
  }
  const step = async (name: string, change: () => Promise<void>): Promise<void> => {
    await change();
    const page = await pass(client, base, cookie);
    cookie = page.cookie;
    save(name, page.entries.filter(mine).map(rawEntryToJson));
    process.stdout.write(`${name}: ${page.entries.length} entries (${page.entries.map((e) => e.dn).join(' | ')})\n`);
  };
  const user = `CN=Fixture User,${ou}`;
  const group = `CN=Fixture Group,${ou}`;
  await step('add-ous', async () => {
    await client.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: 'fixtures' });
    await client.add(ou2, { objectClass: ['top', 'organizationalUnit'], ou: 'fixtures-moved' });
  });
  await step('add-user', async () => {
    await client.add(user, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn: 'Fixture User', sAMAccountName: 'fixture.user', givenName: 'Fixture', sn: 'User' });
  });
  await step('modify-description', async () => {
    await client.modify(user, new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['first description'] }) }));
  });
  await step('modify-multi-add', async () => {
    await client.modify(user, new Change({ operation: 'add', modification: new Attribute({ type: 'otherTelephone', values: ['+1 555 0100', '+1 555 0101'] }) }));
  });
  await step('modify-multi-delete', async () => {
    await client.modify(user, new Change({ operation: 'delete', modification: new Attribute({ type: 'otherTelephone', values: ['+1 555 0100'] }) }));
  });
  await step('modify-remove-attribute', async () => {
    await client.modify(user, new Change({ operation: 'delete', modification: new Attribute({ type: 'description', values: [] }) }));
  });
  await step('add-group', async () => {
    await client.add(group, { objectClass: ['top', 'group'], cn: 'Fixture Group', sAMAccountName: 'fixture.group' });
  });
  await step('group-member-add', async () => {
    await client.modify(group, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [user, `CN=Jane Doe,OU=Sales,OU=Corp,${base}`] }) }));
  });
  await step('group-member-delete', async () => {
    await client.modify(group, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [`CN=Jane Doe,OU=Sales,OU=Corp,${base}`] }) }));
  });
  await step('password-reset', async () => {
    await client.modify(user, new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from('"Fixture-Pass-1"', 'utf16le')] }) }));
  });
  await step('rename', async () => {
    await client.modifyDN(user, `CN=Fixture Renamed,${ou}`);
  });
  await step('move', async () => {
    await client.modifyDN(`CN=Fixture Renamed,${ou}`, `CN=Fixture Renamed,${ou2}`);
  });
  await step('delete-user', async () => {
    await client.del(`CN=Fixture Renamed,${ou2}`);
  });
  await step('cleanup', async () => {
    await client.del(group);
    await client.del(ou);
    await client.del(ou2);
  });
  await client.unbind();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
