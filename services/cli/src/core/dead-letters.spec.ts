import { type DeadLetter, encodeDeadLetter, encodeEntryChange, encodeWriteRequest, type EntryChangeEvent, type WriteRequest } from '@idsync/contracts';
import {
  deadLetterJson,
  deadLetterRow,
  displayValues,
  formatDeadLetterId,
  formatKey,
  idWindows,
  isMaskedAttribute,
  type ListedDeadLetter,
  parseDeadLetterId,
  parseDeadLetterIds,
  parseRedriveMarker,
  planRedrive,
  type RedriveMarker,
  redriveMarkerKey,
  redriveMarkerValue,
  REDRIVEN_FROM_HEADER,
  selectDeadLetters,
  selectForRedrive,
  shortenReason,
  summarizeRecord,
  withMarkers,
} from './dead-letters';

const DLQ = 'idsync.dead-letter';
const OPS = 'idsync.ds.operations';
const USER_ID = 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07';
const SECRET = 'S3cret-never-shown';

const request: WriteRequest = {
  requestId: `ad/dirsync/abc/4/ad-to-ds/0`,
  pipe: 'ad-to-ds',
  sourceEventId: 'ad/dirsync/abc/4',
  sourceEntryId: { kind: 'objectGUID', value: USER_ID },
  op: 'rename',
  dn: 'cn=Jane Roe,ou=Sales,ou=Corp,dc=example,dc=com',
  previousDn: 'cn=Jane Doe,ou=Sales,ou=Corp,dc=example,dc=com',
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [
    { name: 'cn', op: 'replace', values: ['Jane Roe'] },
    { name: 'idsyncPassword', op: 'replace', values: [`sealed:${SECRET}`] },
    { name: 'jpegPhoto', op: 'replace', values: [Buffer.alloc(1234, 7)] },
  ],
  correlation: [['uid'], ['mail']],
  changeTime: null,
  detectedAt: 1_767_225_601_234,
};

const event: EntryChangeEvent = {
  eventId: 'ds/change-number/42',
  source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds1.example.com:636', position: { kind: 'change-number', changeNumber: '42' } },
  entryId: { kind: 'entryUUID', value: USER_ID },
  op: 'modify',
  dn: 'cn=Mary Miller,ou=Support,ou=Corp,dc=example,dc=com',
  previousDn: null,
  objectClasses: [],
  attributes: [
    { name: 'unhashed#user#password', op: 'replace', values: [SECRET] },
    { name: 'userPassword', op: 'replace', values: [Buffer.from(`{CRYPT}${SECRET}`)] },
    { name: 'description', op: 'replace', values: ['on leave'] },
  ],
  initiator: 'cn=Directory Manager',
  changeTime: 1_767_225_600_000,
  detectedAt: 1_767_225_601_234,
  after: null,
  before: null,
};

function letter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    stage: 'ds-writer',
    reason: 'request r1 (entry e1, cn=Jane Roe): rename r1 on cn=Jane Doe: entryAlreadyExists (68) on modify-dn: another entry already has that DN',
    topic: OPS,
    partition: 3,
    offset: '17',
    key: Buffer.from(USER_ID),
    value: encodeWriteRequest(request),
    failedAt: Date.parse('2026-05-01T10:00:00.500Z'),
    ...overrides,
  };
}

function row(partition: number, offset: number, overrides: Partial<DeadLetter> = {}, redriven: RedriveMarker | null = null): ListedDeadLetter {
  return { id: { partition, offset: BigInt(offset) }, letter: letter(overrides), problem: null, redriven };
}

const marker = (partition: number, offset: number): RedriveMarker => ({
  id: { partition, offset: BigInt(offset) },
  redrivenAt: Date.parse('2026-05-01T11:00:00Z'),
  to: { topic: OPS, partition: 3, offset: '99' },
});

describe('dead-letter ids', () => {
  it('are <partition>:<offset> and round-trip', () => {
    expect(parseDeadLetterId('1:42')).toEqual({ partition: 1, offset: 42n });
    expect(parseDeadLetterId(' 0:9007199254740993 ')).toEqual({ partition: 0, offset: 9_007_199_254_740_993n });
    expect(formatDeadLetterId({ partition: 2, offset: 7n })).toBe('2:7');
  });

  it('rejects anything else', () => {
    for (const text of ['', '1', '1:', ':4', '1:-4', 'a:b', '1:2:3', '1/42', '1:99999999999999999999']) expect(parseDeadLetterId(text)).toBeNull();
  });

  it('parses a list: invalid ones are named, duplicates kept once', () => {
    expect(parseDeadLetterIds(['0:1', 'x', '0:1', '2:5', '3'])).toEqual({
      ids: [
        { partition: 0, offset: 1n },
        { partition: 2, offset: 5n },
      ],
      invalid: ['x', '3'],
    });
  });

  it('give per-partition windows covering the wanted offsets', () => {
    const windows = idWindows([
      { partition: 0, offset: 5n },
      { partition: 0, offset: 2n },
      { partition: 1, offset: 9n },
    ]);
    expect(windows).toEqual(
      new Map([
        [0, { from: 2n, to: 6n }],
        [1, { from: 9n, to: 10n }],
      ]),
    );
  });
});

describe('re-drive markers on the checkpoints topic', () => {
  it('are keyed by the dead-letter record and read back', () => {
    const m = marker(1, 42);
    const key = redriveMarkerKey(DLQ, m.id);
    expect(key).toBe('dlq-redriven/idsync.dead-letter/1/42');
    expect(JSON.parse(redriveMarkerValue(m))).toEqual({ redrivenAt: '2026-05-01T11:00:00.000Z', to: `${OPS}/3/99` });
    expect(parseRedriveMarker(DLQ, key, redriveMarkerValue(m))).toEqual({ kind: 'marker', marker: m });
  });

  it('a tombstone removes the marker; other keys, other dead-letter topics and garbage are ignored', () => {
    expect(parseRedriveMarker(DLQ, 'dlq-redriven/idsync.dead-letter/1/42', null)).toEqual({ kind: 'removed', id: { partition: 1, offset: 42n } });
    expect(parseRedriveMarker(DLQ, 'ad-detector/ad', '{"position":"x","server":"y"}')).toBeNull();
    expect(parseRedriveMarker(DLQ, 'dlq-redriven/idsync.e2e.x.dead-letter/1/42', redriveMarkerValue(marker(1, 42)))).toBeNull();
    expect(parseRedriveMarker(DLQ, 'dlq-redriven/idsync.dead-letter/1/42', 'not json')).toBeNull();
    expect(parseRedriveMarker(DLQ, 'dlq-redriven/idsync.dead-letter/x/42', redriveMarkerValue(marker(1, 42)))).toBeNull();
    expect(parseRedriveMarker(DLQ, null, 'x')).toBeNull();
  });

  it('join the dead letters they name', () => {
    const rows = withMarkers(
      [
        { id: { partition: 1, offset: 42n }, letter: letter(), problem: null },
        { id: { partition: 1, offset: 43n }, letter: letter(), problem: null },
      ],
      new Map([['1:42', marker(1, 42)]]),
    );
    expect(rows.map((r) => r.redriven?.to.offset ?? null)).toEqual(['99', null]);
  });
});

describe('selecting dead letters for list', () => {
  const rows = [
    row(0, 5, { stage: 'mapper', failedAt: 3_000 }),
    row(1, 2, { stage: 'ds-writer', failedAt: 1_000 }),
    row(2, 9, { stage: 'ds-writer', failedAt: 2_000 }),
    row(0, 6, { stage: 'ad-writer', failedAt: 2_000 }),
  ];
  const ids = (list: ListedDeadLetter[]): string[] => list.map((r) => formatDeadLetterId(r.id));

  it('orders oldest first, then by id', () => {
    expect(ids(selectDeadLetters(rows, {}))).toEqual(['1:2', '0:6', '2:9', '0:5']);
  });

  it('filters by stage and by failure time (inclusive)', () => {
    expect(ids(selectDeadLetters(rows, { stage: 'ds-writer' }))).toEqual(['1:2', '2:9']);
    expect(ids(selectDeadLetters(rows, { since: 2_000 }))).toEqual(['0:6', '2:9', '0:5']);
    expect(ids(selectDeadLetters(rows, { stage: 'ds-writer', since: 1_500 }))).toEqual(['2:9']);
  });

  it('--limit keeps the most recent', () => {
    expect(ids(selectDeadLetters(rows, { limit: 2 }))).toEqual(['2:9', '0:5']);
  });

  it('an undecodable dead letter matches no stage and no --since', () => {
    const broken: ListedDeadLetter = { id: { partition: 0, offset: 1n }, letter: null, problem: 'undecodable', redriven: null };
    expect(ids(selectDeadLetters([broken, ...rows], {}))).toContain('0:1');
    expect(ids(selectDeadLetters([broken, ...rows], { stage: 'mapper' }))).toEqual(['0:5']);
  });
});

describe('list rows', () => {
  it('show the dead letter, the original record, the key, a short reason and the status', () => {
    expect(deadLetterRow(row(0, 5))).toEqual({
      id: '0:5',
      failedAt: '2026-05-01T10:00:00Z',
      stage: 'ds-writer',
      original: `${OPS}/3/17`,
      key: USER_ID,
      reason: 'entryAlreadyExists (68) on modify-dn: another entry already has that DN',
      status: 'pending',
    });
    expect(deadLetterRow(row(0, 5, {}, marker(0, 5))).status).toBe('re-driven at 2026-05-01T11:00:00Z');
  });

  it('shorten reasons to one line of their gist', () => {
    expect(shortenReason('short')).toBe('short');
    expect(
      shortenReason(
        'request ad1:c:1/ad-to-ds/0 (entry 1247-ab, cn=B,ou=X,dc=example,dc=com): rename ad1:c:1/ad-to-ds/0 on cn=A,ou=X,dc=example,dc=com: ' +
          'entryAlreadyExists (68) on modify-dn: another entry already has that DN — server said: Entry already exists',
      ),
    ).toBe('entryAlreadyExists (68) on modify-dn: another entry already has that DN');
    expect(shortenReason('undecodable entry-change record (magic-byte): first byte is 0x7b, expected 0x00')).toBe('undecodable entry-change record (magic-byte): first byte is 0x7b, expected 0x00');
    expect(shortenReason('first line\nsecond')).toBe('first line…');
    expect(shortenReason('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  it('show keys as text when printable, else as hex', () => {
    expect(formatKey(Buffer.from(USER_ID))).toBe(USER_ID);
    expect(formatKey(Buffer.from([0, 1, 0xff]))).toBe('0x0001ff');
    expect(formatKey(null)).toBeNull();
  });

  it('as JSON carry the full reason and no record bytes', () => {
    const json = deadLetterJson(row(0, 5, {}, marker(0, 5)));
    expect(json).toMatchObject({ id: '0:5', stage: 'ds-writer', reason: letter().reason, status: 're-driven', redriven: { to: `${OPS}/3/99` } });
    expect(JSON.stringify(json)).not.toContain(SECRET);
  });
});

describe('masking', () => {
  it('covers the password attributes, with options and in any case', () => {
    for (const name of ['idsyncPassword', 'unicodePwd', 'userPassword', 'unhashed#user#password', 'USERPASSWORD', 'userPassword;binary']) {
      expect(isMaskedAttribute(name)).toBe(true);
    }
    expect(isMaskedAttribute('description')).toBe(false);
  });

  it('shows passwords as *** and binary values as their size', () => {
    expect(displayValues('userPassword', ['a', Buffer.from('b')])).toEqual(['***', '***']);
    expect(displayValues('objectGUID', [Buffer.alloc(16)])).toEqual(['<16 bytes>']);
    expect(displayValues('description', ['plain text', 'bell\u0007'])).toEqual(['plain text', '<5 bytes>']);
  });
});

describe('summarizing the original record', () => {
  it('decodes a write request by its schema id, passwords masked', () => {
    const summary = summarizeRecord(encodeWriteRequest(request));
    expect(summary).toMatchObject({
      kind: 'write-request',
      schemaId: 7,
      op: 'rename',
      dn: request.dn,
      previousDn: request.previousDn,
      entryId: `objectGUID ${USER_ID}`,
      attributes: [
        { name: 'cn', op: 'replace', values: ['Jane Roe'] },
        { name: 'idsyncPassword', op: 'replace', values: ['***'] },
        { name: 'jpegPhoto', op: 'replace', values: ['<1234 bytes>'] },
      ],
    });
    expect(JSON.stringify(summary)).not.toContain(SECRET);
  });

  it('decodes an entry change by its schema id, passwords masked', () => {
    const summary = summarizeRecord(encodeEntryChange(event));
    expect(summary).toMatchObject({ kind: 'entry-change', schemaId: 5, op: 'modify', dn: event.dn, previousDn: null, entryId: `entryUUID ${USER_ID}` });
    expect(summary.kind === 'entry-change' && summary.attributes.map((a) => a.values)).toEqual([['***'], ['***'], ['on leave']]);
    expect(JSON.stringify(summary)).not.toContain(SECRET);
  });

  it('says what is wrong with a record it cannot decode', () => {
    expect(summarizeRecord(null)).toEqual({ kind: 'empty' });
    expect(summarizeRecord(Buffer.from('plain text'))).toMatchObject({ kind: 'undecodable', schemaId: null });
    expect(summarizeRecord(Buffer.from([0, 0, 0, 0, 99, 1]))).toMatchObject({ kind: 'undecodable', schemaId: 99, problem: expect.stringContaining('99') });
    expect(summarizeRecord(encodeDeadLetter(letter()))).toMatchObject({ kind: 'undecodable', schemaId: 3, problem: expect.stringContaining('dead-letter') });
    expect(summarizeRecord(Buffer.from([0, 0, 0, 0, 2, 0xff, 0xff]))).toMatchObject({ kind: 'undecodable', schemaId: 2 });
  });
});

describe('the re-drive plan', () => {
  const existing = new Set([OPS, 'idsync.ad.changes']);

  it('produces the original key and value to the original topic, with the header naming the dead letter', () => {
    const plan = planRedrive([row(1, 42)], { deadLetterTopic: DLQ, existingTopics: existing, force: false });
    expect(plan.failures).toEqual([]);
    expect(plan.items).toEqual([
      {
        id: { partition: 1, offset: 42n },
        stage: 'ds-writer',
        topic: OPS,
        key: Buffer.from(USER_ID),
        value: encodeWriteRequest(request),
        headers: { [REDRIVEN_FROM_HEADER]: `${DLQ}/1/42` },
        markerKey: 'dlq-redriven/idsync.dead-letter/1/42',
        previously: null,
      },
    ]);
  });

  it('fails, by id, records without a value and records whose topic is gone; the others still go', () => {
    const plan = planRedrive([row(0, 1, { value: null }), row(0, 2, { topic: 'idsync.gone' }), row(0, 3)], { deadLetterTopic: DLQ, existingTopics: existing, force: false });
    expect(plan.items.map((i) => formatDeadLetterId(i.id))).toEqual(['0:3']);
    expect(plan.failures.map((f) => [formatDeadLetterId(f.id), f.problem])).toEqual([
      ['0:1', expect.stringContaining('had no value')],
      ['0:2', expect.stringContaining('idsync.gone no longer exists')],
    ]);
  });

  it('never re-drives what a writer refused as a security event, even forced: re-signing it would launder it', () => {
    const rows = [
      row(0, 1, { reason: 'request e1/ad-to-ds/0 for uid=x,dc=example,dc=com refused (unsigned): no idsync-signature header; this writer obeys only requests the mapper signed' }),
      row(0, 2, { reason: "request e2/ad-to-ds/0 for uid=admin,dc=example,dc=com refused (outside-scope): the DN is outside the subtrees pipe 'ad-to-ds' writes to" }),
      row(0, 3, { reason: 'request e3/ad-to-ds/0 (entry x, uid=y): insufficientAccessRights (50)' }),
    ];
    for (const force of [false, true]) {
      const plan = planRedrive(rows, { deadLetterTopic: DLQ, existingTopics: existing, force });
      expect(plan.items.map((i) => formatDeadLetterId(i.id))).toEqual(['0:3']);
      expect(plan.failures.map((f) => [formatDeadLetterId(f.id), f.problem])).toEqual([
        ['0:1', expect.stringContaining('the writer refused it as a security event (unsigned)')],
        ['0:2', expect.stringContaining('the writer refused it as a security event (outside-scope)')],
      ]);
    }
  });

  it('sends a discarded held delete back to its operations topic, where it counts again (not to the held topic, where the discard still covers it)', () => {
    const plan = planRedrive([row(0, 5, { topic: `${OPS}.held` })], { deadLetterTopic: DLQ, existingTopics: existing, force: false });
    expect(plan.items.map((i) => i.topic)).toEqual([OPS]);
  });

  it('sets apart records re-driven before, unless forced', () => {
    const rows = [row(0, 1, {}, marker(0, 1)), row(0, 2)];
    const refused = planRedrive(rows, { deadLetterTopic: DLQ, existingTopics: existing, force: false });
    expect(refused.alreadyRedriven.map((r) => formatDeadLetterId(r.id))).toEqual(['0:1']);
    expect(refused.items.map((i) => formatDeadLetterId(i.id))).toEqual(['0:2']);
    const forced = planRedrive(rows, { deadLetterTopic: DLQ, existingTopics: existing, force: true });
    expect(forced.alreadyRedriven).toEqual([]);
    expect(forced.items.map((i) => [formatDeadLetterId(i.id), i.previously !== null])).toEqual([
      ['0:1', true],
      ['0:2', false],
    ]);
  });

  it('fails an undecodable dead letter', () => {
    const broken: ListedDeadLetter = { id: { partition: 0, offset: 1n }, letter: null, problem: 'undecodable dead-letter record (malformed)', redriven: null };
    expect(planRedrive([broken], { deadLetterTopic: DLQ, existingTopics: existing, force: false }).failures[0]?.problem).toContain('malformed');
  });
});

describe('selecting dead letters for redrive', () => {
  const rows = [row(0, 1, { stage: 'mapper', failedAt: 1_000 }, marker(0, 1)), row(0, 2, { stage: 'ds-writer', failedAt: 2_000 }), row(1, 1, { stage: 'mapper', failedAt: 3_000 })];

  it('by id, naming the ids that are not there', () => {
    const result = selectForRedrive(
      rows,
      {
        kind: 'ids',
        ids: [
          { partition: 0, offset: 2n },
          { partition: 5, offset: 1n },
        ],
      },
      false,
    );
    expect(result.selected.map((r) => formatDeadLetterId(r.id))).toEqual(['0:2']);
    expect(result.unknown).toEqual(['5:1']);
  });

  it('--all takes the pending ones matching --stage/--since; --force includes those re-driven before', () => {
    const all = selectForRedrive(rows, { kind: 'all', stage: 'mapper' }, false);
    expect(all.selected.map((r) => formatDeadLetterId(r.id))).toEqual(['1:1']);
    expect(all.skipped).toBe(1);
    expect(selectForRedrive(rows, { kind: 'all', stage: 'mapper' }, true).selected.map((r) => formatDeadLetterId(r.id))).toEqual(['0:1', '1:1']);
    expect(selectForRedrive(rows, { kind: 'all', since: 2_000 }, false).selected.map((r) => formatDeadLetterId(r.id))).toEqual(['0:2', '1:1']);
  });
});
