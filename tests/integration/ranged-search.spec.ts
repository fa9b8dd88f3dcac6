import { type DirectoryConfig } from '@idsync/config';
import { openLdapSession, searchAllValues, searchAllValuesPaginated } from '@idsync/platform';
import { Attribute, type Client, type Entry } from 'ldapts';
import { AdRangeProxy, sambaPlainLdap } from './support/ad-range-proxy';
import { requireStackServers, stackConfig, uniqueSuffix } from './support/stack';
import { deleteTree } from './support/ldap-tree';

/**
 * searchAllValues against the real servers: Samba answering in slices as AD does (through AdRangeProxy, here with
 * slices of 100 values so that one entry needs three reads), and 389-ds, which never slices.
 */

const config = stackConfig();
const ad = config.directories['ad'] as DirectoryConfig;
const ds = config.directories['ds'] as DirectoryConfig;
const s = uniqueSuffix();
const ou = `OU=rr${s},OU=Corp,${ad.baseDn}`;
const person = `CN=Many Values ${s},${ou}`;
const PHONES = Array.from({ length: 250 }, (_, i) => `+1 555 01${String(i).padStart(3, '0')}`);
const URLS = Array.from({ length: 120 }, (_, i) => `https://example.test/${s}/${i}`);
// Bytes that happen to be valid UTF-8 (ldapts hands those over as text unless told otherwise), one of them starting
// with a byte-order mark (which a UTF-8 decoder drops).
const CERTIFICATES = Array.from({ length: 150 }, (_, i) => (i === 120 ? Buffer.from([0xef, 0xbb, 0xbf, 0x41]) : Buffer.from(`certificate ${i}`)));

let admin: Client;
let proxy: AdRangeProxy;
let sliced: Client;

const hex = (values: unknown): string[] =>
  [values]
    .flat()
    .map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : `text:${String(v)}`))
    .sort();
const sorted = (values: unknown): string[] => [values].flat().map(String).sort();

beforeAll(async () => {
  await requireStackServers(config);
  admin = (await openLdapSession('ad', ad)).client;
  await admin.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `rr${s}` });
  await admin.add(person, [
    new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
    new Attribute({ type: 'sAMAccountName', values: [`rr${s}`.slice(0, 20)] }),
    new Attribute({ type: 'otherTelephone', values: PHONES }),
    new Attribute({ type: 'url', values: URLS }),
    new Attribute({ type: 'userCertificate', values: CERTIFICATES }),
  ]);
  proxy = await AdRangeProxy.start({ target: sambaPlainLdap(ad.urls[0] ?? ''), maxValRange: 100, attributes: ['otherTelephone', 'url', 'userCertificate'] });
  sliced = (await openLdapSession('ad', { ...ad, urls: [proxy.url], startTls: false, allowInsecure: true })).client;
});

afterAll(async () => {
  await sliced?.unbind().catch(() => undefined);
  await proxy?.close();
  await deleteTree(admin, ou).catch(() => undefined);
  await admin?.unbind().catch(() => undefined);
});

describe('searchAllValues', () => {
  it('reads every value of two attributes AD answers in slices (250 in three reads, 120 in two), as plain attributes', async () => {
    // What a plain search gets: the first slice only.
    const plain = (await sliced.search(person, { scope: 'base', attributes: ['otherTelephone', 'url'] })).searchEntries[0] as Entry;
    expect(plain['otherTelephone;range=0-99']).toHaveLength(100);
    expect(plain['url;range=0-99']).toHaveLength(100);

    const [entry] = (await searchAllValues(sliced, person, { scope: 'base', attributes: ['otherTelephone', 'url', 'sAMAccountName'] })).searchEntries;
    expect(sorted(entry?.['otherTelephone'])).toEqual([...PHONES].sort());
    expect(sorted(entry?.['url'])).toEqual([...URLS].sort());
    expect(entry?.['sAMAccountName']).toBe(`rr${s}`.slice(0, 20));
    expect(Object.keys(entry ?? {}).filter((name) => name.includes(';'))).toEqual([]);
  });

  it('keeps binary values as the exact bytes across slices, also where they happen to be valid UTF-8', async () => {
    const [entry] = (await searchAllValues(sliced, person, { scope: 'base', attributes: ['userCertificate'], explicitBufferAttributes: ['userCertificate'] })).searchEntries;
    const values = [entry?.['userCertificate']].flat();
    expect(values.every((v) => Buffer.isBuffer(v))).toBe(true);
    expect(hex(values)).toEqual(hex(CERTIFICATES));
  });

  it('completes the entries of every page of a paged subtree search', async () => {
    const pages: Entry[][] = [];
    for await (const page of searchAllValuesPaginated(sliced, ou, { scope: 'sub', filter: '(objectClass=*)', attributes: ['otherTelephone'], paged: { pageSize: 1 } })) pages.push(page.searchEntries);
    const found = pages.flat().find((e) => e.dn.toLowerCase() === person.toLowerCase());
    expect(pages.length).toBeGreaterThanOrEqual(2);
    expect(sorted(found?.['otherTelephone'])).toEqual([...PHONES].sort());
  });

  it('changes nothing on 389-ds, which never answers in slices', async () => {
    const { client } = await openLdapSession('ds', ds);
    try {
      // The seeded group (two members).
      const group = `cn=Support,ou=Groups,ou=Corp,${ds.baseDn}`;
      const options = { scope: 'base' as const, attributes: ['cn', 'member', 'entryUUID'], explicitBufferAttributes: ['entryUUID'] };
      const plain = await client.search(group, options);
      const complete = await searchAllValues(client, group, options);
      expect(plain.searchEntries[0]?.['member']).toHaveLength(2);
      expect(complete.searchEntries).toEqual(plain.searchEntries);
    } finally {
      await client.unbind();
    }
  });
});
