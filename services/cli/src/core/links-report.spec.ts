import { type EntryLink, linkKey } from '@idsync/contracts';
import {
  CSV_HEADER,
  csvField,
  type DirectoryBase,
  directoryOfDn,
  exportSummary,
  idLookup,
  isExportFormat,
  linkCsvLine,
  linkJsonLine,
  linkStats,
  parseEntryArgument,
  parseEntryId,
  renderShow,
  type ShowReport,
  showJson,
  Tombstones,
} from './links-report';

const AD_ID = '6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31';
const DS_ID = '7145e626-b475-4e2a-a8c8-8b33d773cbcc';
const OTHER_ID = 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07';
const LINKED_AT = Date.UTC(2026, 10, 25, 10, 0, 0, 123);

const link = (overrides: Partial<EntryLink> = {}): EntryLink => ({
  pipe: 'ad-to-ds',
  source: { directory: 'ad', kind: 'objectGUID', value: AD_ID },
  destination: { directory: 'ds', kind: 'entryUUID', value: DS_ID },
  origin: 'created',
  linkedAt: LINKED_AT,
  linkedBy: 'ds-writer',
  ...overrides,
});

const AD: DirectoryBase = { name: 'ad', kind: 'active-directory', baseDn: 'DC=example,DC=test' };
const DS: DirectoryBase = { name: 'ds', kind: 'ldap', baseDn: 'dc=example,dc=com' };

describe('parseEntryId', () => {
  it('gives the canonical lower-case text of a UUID, with or without Windows braces', () => {
    expect(parseEntryId(AD_ID.toUpperCase())).toBe(AD_ID);
    expect(parseEntryId(`{${AD_ID}}`)).toBe(AD_ID);
    expect(parseEntryId(`  ${AD_ID} `)).toBe(AD_ID);
  });

  it('refuses anything else, including a UUID without its hyphens or with one brace', () => {
    expect(parseEntryId(AD_ID.replaceAll('-', ''))).toBeNull();
    expect(parseEntryId(`{${AD_ID}`)).toBeNull();
    expect(parseEntryId(`${AD_ID}x`)).toBeNull();
    expect(parseEntryId('jdoe')).toBeNull();
  });
});

describe('parseEntryArgument', () => {
  it('reads a UUID as an id', () => {
    expect(parseEntryArgument(AD_ID.toUpperCase())).toEqual({ kind: 'id', id: AD_ID });
  });

  it('reads anything else that parses as a DN as a DN', () => {
    const argument = parseEntryArgument('CN=Doe\\, Jane,OU=Corp,DC=example,DC=test');
    expect(argument.kind).toBe('dn');
    expect(argument.kind === 'dn' && argument.parsed[0]?.[0]).toEqual({ type: 'CN', value: 'Doe, Jane' });
  });

  it('says what is wrong with a word, an empty argument and a broken DN', () => {
    expect(parseEntryArgument('jdoe')).toEqual({ kind: 'invalid', problem: "'jdoe' is neither an entry id (a UUID) nor a DN" });
    expect(parseEntryArgument(' ')).toEqual({ kind: 'invalid', problem: 'an empty argument is neither an entry id nor a DN' });
    const broken = parseEntryArgument('cn=a,,dc=example');
    expect(broken.kind).toBe('invalid');
    expect(broken.kind === 'invalid' && broken.problem).toContain("invalid DN 'cn=a,,dc=example'");
  });
});

describe('directoryOfDn', () => {
  it('picks the directory whose baseDn holds the DN, ignoring case and spaces', () => {
    expect(directoryOfDn('cn=Jane,ou=People, DC=Example,dc=COM', [AD, DS])).toEqual({ directory: DS });
    expect(directoryOfDn('CN=Jane,OU=Corp,DC=example,DC=test', [AD, DS])).toEqual({ directory: AD });
  });

  it('counts the baseDn itself as held', () => {
    expect(directoryOfDn('dc=example,dc=com', [AD, DS])).toEqual({ directory: DS });
  });

  it('prefers the deepest baseDn when several hold the DN', () => {
    const corp: DirectoryBase = { name: 'corp', kind: 'ldap', baseDn: 'ou=Corp,dc=example,dc=com' };
    expect(directoryOfDn('cn=Jane,ou=Corp,dc=example,dc=com', [DS, corp])).toEqual({ directory: corp });
    expect(directoryOfDn('cn=Jane,ou=Other,dc=example,dc=com', [DS, corp])).toEqual({ directory: DS });
  });

  it('asks for --directory when two directories have the same deepest baseDn', () => {
    const twin: DirectoryBase = { name: 'ds2', kind: 'ldap', baseDn: 'DC=example,DC=com' };
    expect(directoryOfDn('cn=Jane,dc=example,dc=com', [DS, twin])).toEqual({
      problem: "the DN is under the baseDn of 'ds' and 'ds2'",
      hint: 'name the directory to read it from with --directory NAME',
    });
  });

  it('lists the directories and their baseDns when none holds the DN; a baseDn that does not parse holds nothing', () => {
    const broken: DirectoryBase = { name: 'broken', kind: 'ldap', baseDn: 'not a dn' };
    expect(directoryOfDn('cn=Jane,dc=other,dc=org', [AD, DS, broken])).toEqual({
      problem: 'the DN is under the baseDn of no configured directory',
      hint: 'directories: ad (DC=example,DC=test), ds (dc=example,dc=com), broken (not a dn)',
    });
  });
});

describe('idLookup', () => {
  it('reads an Active Directory end by a base search on <GUID=…>, lower-case', () => {
    expect(idLookup(AD, { directory: 'ad', kind: 'objectGUID', value: AD_ID.toUpperCase() })).toEqual({ kind: 'base', base: `<GUID=${AD_ID}>` });
  });

  it('reads an LDAP end by its entryUUID under the baseDn (the value goes to a filter class, not into text)', () => {
    expect(idLookup(DS, { directory: 'ds', kind: 'entryUUID', value: DS_ID })).toEqual({ kind: 'subtree', base: 'dc=example,dc=com', attribute: 'entryUUID', value: DS_ID });
  });

  it('does not look up an id that is not a UUID: nothing of it reaches a DN or a filter', () => {
    expect(idLookup(AD, { directory: 'ad', kind: 'objectGUID', value: `${AD_ID}>,CN=x` })).toEqual({ kind: 'none', problem: `the id '${AD_ID}>,CN=x' is not a UUID` });
    expect(idLookup(DS, { directory: 'ds', kind: 'entryUUID', value: '*)(uid=*' }).kind).toBe('none');
  });

  it('says when the id attribute does not fit the directory', () => {
    expect(idLookup(AD, { directory: 'ad', kind: 'entryUUID', value: AD_ID })).toEqual({ kind: 'none', problem: 'an Active Directory entry is found by objectGUID, not entryUUID' });
    expect(idLookup(DS, { directory: 'ds', kind: 'nsUniqueId', value: DS_ID })).toEqual({ kind: 'none', problem: 'entries of an LDAP directory are looked up by entryUUID, not nsUniqueId' });
  });
});

describe('Tombstones', () => {
  const removedKey = linkKey(link());
  const otherKey = linkKey(link({ pipe: 'ds-to-ad', source: { directory: 'ds', kind: 'entryUUID', value: DS_ID }, destination: { directory: 'ad', kind: 'objectGUID', value: OTHER_ID } }));

  it("keeps a key's latest tombstone time; a later link record takes the key off", () => {
    const tombstones = new Tombstones();
    tombstones.note(removedKey, true, 1_000);
    tombstones.note(removedKey, true, 2_000);
    tombstones.note(otherKey, true, 3_000);
    tombstones.note(otherKey, false, 4_000);
    expect(tombstones.removedAt(removedKey)).toBe(2_000);
    expect(tombstones.removedAt(otherKey)).toBeNull();
    expect(tombstones.size).toBe(1);
  });

  it('counts per pipe, and ignores keys that are not link keys', () => {
    const tombstones = new Tombstones();
    tombstones.note(removedKey, true, 1);
    tombstones.note(otherKey, true, 2);
    tombstones.note('not-a-link', true, 3);
    expect(tombstones.size).toBe(2);
    expect(tombstones.byPipe()).toEqual(
      new Map([
        ['ad-to-ds', 1],
        ['ds-to-ad', 1],
      ]),
    );
  });
});

describe('links show output', () => {
  const shown = { ...link(), key: linkKey(link()) };
  const report: ShowReport = {
    topic: 'idsync.links',
    id: AD_ID,
    entry: { directory: 'ad', dn: 'CN=Jane,OU=Corp,DC=example,DC=test' },
    links: [
      {
        ...shown,
        source: { ...shown.source, dn: { kind: 'found', dn: 'CN=Jane,OU=Corp,DC=example,DC=test' } },
        destination: { ...shown.destination, dn: { kind: 'missing' } },
      },
      {
        ...shown,
        key: `ds-to-ad/${OTHER_ID}/${AD_ID}`,
        pipe: 'ds-to-ad',
        source: { directory: 'ds', kind: 'entryUUID', value: OTHER_ID, dn: { kind: 'unknown', problem: "directory 'ds' unreachable: ECONNREFUSED" } },
        destination: { ...shown.source, dn: { kind: 'found', dn: 'CN=Jane,OU=Corp,DC=example,DC=test' } },
        origin: 'correlation',
        linkedBy: 'ad-writer',
      },
    ],
    removed: [{ key: `ad-to-ds/${AD_ID}/${OTHER_ID}`, pipe: 'ad-to-ds', source: AD_ID, destination: OTHER_ID, removedAt: LINKED_AT - 60_000 }],
  };

  it('prints every link with both ends, their DNs or why not, origin, time and service; then the removed pairs', () => {
    expect(renderShow(report)).toBe(
      [
        `2 live links of ${AD_ID} (CN=Jane,OU=Corp,DC=example,DC=test in ad) on idsync.links`,
        '',
        `link ad-to-ds/${AD_ID}/${DS_ID}`,
        '  pipe            ad-to-ds',
        `  source          ad objectGUID ${AD_ID} (this entry)`,
        '  source dn       CN=Jane,OU=Corp,DC=example,DC=test',
        `  destination     ds entryUUID ${DS_ID}`,
        '  destination dn  (no entry with this id: deleted?)',
        '  origin          created',
        '  linked at       2026-11-25T10:00:00.123Z',
        '  linked by       ds-writer',
        '',
        `link ds-to-ad/${OTHER_ID}/${AD_ID}`,
        '  pipe            ds-to-ad',
        `  source          ds entryUUID ${OTHER_ID}`,
        "  source dn       (unknown: directory 'ds' unreachable: ECONNREFUSED)",
        `  destination     ad objectGUID ${AD_ID} (this entry)`,
        '  destination dn  CN=Jane,OU=Corp,DC=example,DC=test',
        '  origin          correlation',
        '  linked at       2026-11-25T10:00:00.123Z',
        '  linked by       ad-writer',
        '',
        'removed recently (tombstones still on idsync.links):',
        `  ad-to-ds/${AD_ID}/${OTHER_ID}  removed at 2026-11-25T09:59:00.123Z`,
        '',
      ].join('\n'),
    );
  });

  it('says "no live links" when there are none', () => {
    expect(renderShow({ ...report, entry: null, links: [], removed: [] })).toBe(`no live links of ${AD_ID} on idsync.links\n`);
  });

  it('gives JSON with ISO times, DNs, and why a DN is missing', () => {
    const json = showJson(report) as { links: { source: unknown; destination: unknown; linkedAt: string }[]; removed: { removedAt: string }[] };
    expect(json.links[0]?.source).toEqual({ directory: 'ad', kind: 'objectGUID', value: AD_ID, dn: 'CN=Jane,OU=Corp,DC=example,DC=test', dnProblem: null });
    expect(json.links[0]?.destination).toEqual({ directory: 'ds', kind: 'entryUUID', value: DS_ID, dn: null, dnProblem: 'no entry with this id' });
    expect(json.links[1]?.source).toMatchObject({ dn: null, dnProblem: "directory 'ds' unreachable: ECONNREFUSED" });
    expect(json.links[0]?.linkedAt).toBe('2026-11-25T10:00:00.123Z');
    expect(json.removed[0]?.removedAt).toBe('2026-11-25T09:59:00.123Z');
  });
});

describe('links export output', () => {
  it('knows its formats', () => {
    expect(isExportFormat('jsonl')).toBe(true);
    expect(isExportFormat('csv')).toBe(true);
    expect(isExportFormat('json')).toBe(false);
  });

  it('writes a link as one JSON line: the record with its key, linkedAt as ISO time', () => {
    const line = linkJsonLine({ ...link(), key: linkKey(link()) });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      key: `ad-to-ds/${AD_ID}/${DS_ID}`,
      pipe: 'ad-to-ds',
      source: { directory: 'ad', kind: 'objectGUID', value: AD_ID },
      destination: { directory: 'ds', kind: 'entryUUID', value: DS_ID },
      origin: 'created',
      linkedAt: '2026-11-25T10:00:00.123Z',
      linkedBy: 'ds-writer',
    });
  });

  it('writes a link as a CSV row under the header', () => {
    expect(CSV_HEADER).toBe('pipe,source_directory,source_kind,source_id,destination_directory,destination_kind,destination_id,origin,linked_at,linked_by\n');
    expect(linkCsvLine(link())).toBe(`ad-to-ds,ad,objectGUID,${AD_ID},ds,entryUUID,${DS_ID},created,2026-11-25T10:00:00.123Z,ds-writer\n`);
    expect(linkCsvLine(link({ linkedBy: 'cli, "by hand"' }))).toMatch(/,"cli, ""by hand"""\n$/);
  });

  it('quotes CSV fields with commas, quotes and line breaks only', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });

  it('sums up what was exported and the tombstones left, and says when records were skipped', () => {
    expect(exportSummary({ exported: 1_234, removed: 1, skipped: 0 }, 'idsync.links', undefined)).toBe('1,234 links exported from idsync.links; 1 removed link (tombstones) still on the topic\n');
    expect(exportSummary({ exported: 1, removed: 0, skipped: 2 }, 'idsync.links', 'ad-to-ds')).toBe(
      '1 link of pipe ad-to-ds exported from idsync.links; 0 removed links of pipe ad-to-ds (tombstones) still on the topic; 2 records skipped (not a link)\n',
    );
  });
});

describe('linkStats', () => {
  const pipes = [
    { name: 'ad-to-ds', source: 'ad', destination: 'ds' },
    { name: 'ds-to-ad', source: 'ds', destination: 'ad' },
  ];

  it('counts live links per pipe and origin, and the tombstones per pipe; configured pipes first, even without links', () => {
    const rows = linkStats(
      [link(), link({ origin: 'correlation' }), link({ origin: 'correlation' }), link({ pipe: 'old-pipe' })],
      new Map([
        ['ad-to-ds', 2],
        ['gone-pipe', 1],
      ]),
      pipes,
    );
    expect(rows.map((r) => [r.pipe, r.links, r.removed])).toEqual([
      ['ad-to-ds', 3, 2],
      ['ds-to-ad', 0, 0],
      ['gone-pipe', 0, 1],
      ['old-pipe', 1, 0],
    ]);
    expect(rows[0]?.byOrigin).toEqual({ created: 1, dn: 0, 'previous-dn': 0, correlation: 2, resync: 0 });
    expect(rows[0]?.configured).toEqual({ source: 'ad', destination: 'ds' });
    expect(rows[3]?.configured).toBeNull();
  });

  it("counts links whose ends are not the configured pipe's directories", () => {
    const renamed = link({ source: { directory: 'ad-old', kind: 'objectGUID', value: AD_ID } });
    const [adToDs] = linkStats([link(), renamed], new Map(), pipes);
    expect(adToDs).toMatchObject({ links: 2, otherDirectories: 1 });
  });
});
