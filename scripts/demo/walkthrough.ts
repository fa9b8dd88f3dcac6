// A live walkthrough for `npm run demo`: makes changes on each side and shows them arriving on the other.
// Runs with Node 24's type stripping against the built packages; reads the same configuration as the services.
import { createRequire } from 'node:module';
import type * as Ldapts from 'ldapts' with { 'resolution-mode': 'require' };
import { loadConfig } from '@idsync/config';
import { namedDirectory, openLdapSession } from '@idsync/platform';

// ldapts' CommonJS build, the one @idsync/platform's clients come from (an `import` would load its ES module build,
// whose classes are others): the Change and filter classes built here are those the session clients take.
const { Attribute, Change, EqualityFilter } = createRequire(import.meta.url)('ldapts') as typeof Ldapts;
type Client = Ldapts.Client;

const { config } = loadConfig(process.env);
const ad = namedDirectory(config, 'ad');
const ds = namedDirectory(config, 'ds');
const adSession = await openLdapSession('ad', ad);
const dsSession = await openLdapSession('ds', ds);
const adCorp = `OU=Corp,${ad.baseDn}`;
const dsCorp = `ou=Corp,${ds.baseDn}`;
const stamp = Date.now().toString(36);
const timeoutMs = 30_000;

const say = (text: string): void => void process.stdout.write(`[walkthrough] ${text}\n`);

async function waitFor<T>(what: string, started: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await probe();
    if (found !== undefined) {
      say(`  -> ${what} after ${Date.now() - started} ms`);
      return found;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not seen within ${timeoutMs / 1000} s (check the services' logs above)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function findOne(client: Client, base: string, attribute: string, value: string, attributes: string[]) {
  const { searchEntries } = await client.search(base, { filter: new EqualityFilter({ attribute, value }), attributes });
  return searchEntries[0];
}

const values = (entry: Record<string, unknown> | undefined, name: string): string[] => [entry?.[name] ?? []].flat().map(String);

try {
  const sam = `demo${stamp}`.slice(0, 20);
  const adUser = `CN=Demo ${stamp},OU=Sales,${adCorp}`;
  say(`AD: creating ${adUser} (sAMAccountName ${sam})`);
  let started = Date.now();
  await adSession.client.add(adUser, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: sam,
    givenName: 'Demo',
    sn: stamp,
    mail: `${sam}@example.test`,
    userAccountControl: '514',
  });
  const dsUser = await waitFor('389-ds has the user', started, () => findOne(dsSession.client, dsCorp, 'uid', sam, ['cn', 'mail', 'sn']));
  say(`  ${dsUser.dn}  mail=${values(dsUser, 'mail').join(',')}`);

  const groupName = `Demo Group ${stamp}`;
  const adGroup = `CN=${groupName},OU=Groups,${adCorp}`;
  say(`AD: creating ${adGroup}`);
  started = Date.now();
  await adSession.client.add(adGroup, { objectClass: ['top', 'group'], sAMAccountName: `grp${stamp}`.slice(0, 20) });
  await waitFor('389-ds has the group', started, () => findOne(dsSession.client, dsCorp, 'cn', groupName, ['cn']));
  say('AD: adding the user to the group');
  started = Date.now();
  await adSession.client.modify(adGroup, [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [adUser] }) })]);
  await waitFor('389-ds group has the member, at its mirrored DN', started, async () => {
    const group = await findOne(dsSession.client, dsCorp, 'cn', groupName, ['member']);
    return values(group, 'member').some((m) => m.toLowerCase() === dsUser.dn.toLowerCase()) ? group : undefined;
  });

  say(`389-ds: setting description on ${dsUser.dn}`);
  started = Date.now();
  await dsSession.client.modify(dsUser.dn, [new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['edited in the directory'] }) })]);
  await waitFor('AD has the description', started, async () => {
    const entry = await findOne(adSession.client, adCorp, 'sAMAccountName', sam, ['description']);
    return values(entry, 'description').includes('edited in the directory') ? entry : undefined;
  });

  const dsOnly = `cn=Directory ${stamp},ou=Support,${dsCorp}`;
  const uid = `dir${stamp}`.slice(0, 20);
  say(`389-ds: creating ${dsOnly} (uid ${uid})`);
  started = Date.now();
  await dsSession.client.add(dsOnly, { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn: `Directory ${stamp}`, sn: stamp, uid });
  const adCopy = await waitFor('AD has the user', started, () => findOne(adSession.client, adCorp, 'sAMAccountName', uid, ['cn']));
  say(`  ${adCopy.dn}`);

  say('cleaning up: deleting both users where they were created');
  started = Date.now();
  await adSession.client.del(adUser);
  await adSession.client.del(adGroup);
  await dsSession.client.del(dsOnly);
  await waitFor('both deletes arrived on the other side', started, async () => {
    const left = [await findOne(dsSession.client, dsCorp, 'uid', sam, ['cn']), await findOne(adSession.client, adCorp, 'sAMAccountName', uid, ['cn'])];
    return left.every((e) => e === undefined) ? true : undefined;
  });
  say('done: changes flowed both ways with no loop');
} finally {
  await adSession.client.unbind();
  await dsSession.client.unbind();
}
