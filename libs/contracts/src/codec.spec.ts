import fc from 'fast-check';
import {
  decodeDeadLetter,
  decodeEntryChange,
  decodeEntryState,
  decodeLink,
  decodeWriteReceipt,
  decodeWriteRequest,
  encodeDeadLetter,
  encodeEntryChange,
  encodeEntryState,
  encodeLink,
  encodeWriteReceipt,
  encodeWriteRequest,
} from './codec';
import { avroType, schemaById, type SchemaVersion } from './schemas';
import { UndecodableRecordError, UnencodableRecordError } from './errors';
import { canonicalGuid } from './guid';
import { entryKey, linkKey, parseLinkKey } from './keys';
import {
  CHANGE_OPERATIONS,
  ENTRY_ID_KINDS,
  SOURCE_SYSTEMS,
  VALUE_OPERATIONS,
  WRITE_OPERATIONS,
  type AttributeChange,
  type AttributePolicy,
  type DeadLetter,
  type EntryChangeEvent,
  type EntryImage,
  type EntryLink,
  type EntryState,
  LINK_ORIGINS,
  type SourcePosition,
  type WriteReceipt,
  type WriteRequest,
} from './types';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex');

/** objectGUID of the group, as AD stores it (mixed-endian): 6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31. */
const GROUP_GUID = hex('0e2a1c6f d493 8e4b a1c5 2f7e0b9d4c31');
/** objectGUID of the user: c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07. */
const USER_GUID = hex('f2e5a8c0 3d1b 7a4e 9f60 8d2b4c6e1a07');
/** objectSid S-1-5-21-1004336348-1177238915-682003330-1104. */
const USER_SID = hex('0105000000000005 15000000 dcf4dc3b 833d2b46 828ba628 50040000');

const AD = { system: 'active-directory', directory: 'ad', server: 'ldaps://dc01.corp.example.com:636' } as const;
const DS = { system: 'ldap', directory: 'ds', server: 'ldaps://ds1.example.com:636' } as const;
const COOKIE_DIGEST = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

const groupMemberAdded: EntryChangeEvent = {
  eventId: `ad/dirsync/${COOKIE_DIGEST}/3`,
  source: { ...AD, position: { kind: 'dirsync', cookieDigest: COOKIE_DIGEST, index: 3 } },
  entryId: { kind: 'objectGUID', value: '6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31' },
  op: 'modify',
  dn: 'CN=Finance Team,OU=Groups,DC=corp,DC=example,DC=com',
  previousDn: null,
  objectClasses: ['top', 'group'],
  attributes: [
    { name: 'objectGUID', op: 'replace', values: [GROUP_GUID] },
    { name: 'member', op: 'add', values: ['CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com'] },
    { name: 'member', op: 'delete', values: ['CN=John Roe,OU=Staff,DC=corp,DC=example,DC=com'] },
  ],
  initiator: null,
  changeTime: null,
  detectedAt: 1767225601234,
  after: null,
  before: null,
};

const userTombstoned: EntryChangeEvent = {
  eventId: `ad/dirsync/${COOKIE_DIGEST}/4`,
  source: { ...AD, position: { kind: 'dirsync', cookieDigest: COOKIE_DIGEST, index: 4 } },
  entryId: { kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
  op: 'delete',
  dn: 'CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com',
  previousDn: null,
  objectClasses: [],
  attributes: [
    { name: 'objectGUID', op: 'replace', values: [USER_GUID] },
    { name: 'isDeleted', op: 'replace', values: ['TRUE'] },
  ],
  initiator: null,
  changeTime: 1767225700000,
  detectedAt: 1767225702500,
  after: null,
  before: null,
};

const dsUserMoved: EntryChangeEvent = {
  eventId: 'ds/changelog/1042',
  source: { ...DS, position: { kind: 'change-number', changeNumber: '1042' } },
  entryId: { kind: 'entryUUID', value: '3f2a9c1e-5b7d-4e80-9a1b-2c3d4e5f6a7b' },
  op: 'rename',
  dn: 'uid=jdoe,ou=Alumni,dc=example,dc=com',
  previousDn: 'uid=jdoe,ou=People,dc=example,dc=com',
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [],
  initiator: 'cn=Directory Manager',
  changeTime: 1767225800000,
  detectedAt: 1767225800420,
  after: null,
  before: null,
};

/** A modify of one attribute that carries the entry after it, as a v2 detector publishes it. */
const dsUserPhoneChanged: EntryChangeEvent = {
  eventId: 'ds/changelog/1043',
  source: { ...DS, position: { kind: 'change-number', changeNumber: '1043' } },
  entryId: { kind: 'entryUUID', value: '3f2a9c1e-5b7d-4e80-9a1b-2c3d4e5f6a7b' },
  op: 'modify',
  dn: 'uid=jdoe,ou=Alumni,dc=example,dc=com',
  previousDn: null,
  objectClasses: [],
  attributes: [{ name: 'telephoneNumber', op: 'replace', values: ['+1 555 0100'] }],
  initiator: 'cn=Directory Manager',
  changeTime: 1767225900000,
  detectedAt: 1767225900310,
  after: [
    { name: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'] },
    { name: 'mail', values: ['jane.doe@example.com'] },
    { name: 'departmentNumber', values: ['4021'] },
    { name: 'telephoneNumber', values: ['+1 555 0100'] },
    { name: 'manager', values: [] },
    { name: 'jpegPhoto', values: [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00])] },
  ],
  before: null,
};

const userSnapshot: EntryChangeEvent = {
  eventId: 'ad/snapshot/resync-2026-01-01/17',
  source: { ...AD, position: { kind: 'snapshot', runId: 'resync-2026-01-01', index: 17 } },
  entryId: { kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
  op: 'snapshot',
  dn: 'CN=Zoë Ångström,OU=Staff,DC=corp,DC=example,DC=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
  attributes: [
    { name: 'objectGUID', op: 'replace', values: [USER_GUID] },
    { name: 'objectSid', op: 'replace', values: [USER_SID] },
    { name: 'sAMAccountName', op: 'replace', values: ['zangstrom'] },
    { name: 'displayName', op: 'replace', values: ['Zoë Ångström'] },
    {
      name: 'memberOf',
      op: 'replace',
      values: ['CN=Finance Team,OU=Groups,DC=corp,DC=example,DC=com', 'CN=All Staff,OU=Groups,DC=corp,DC=example,DC=com'],
    },
  ],
  initiator: null,
  changeTime: null,
  detectedAt: 1767225900000,
  after: null,
  before: null,
};

const upsertUser: WriteRequest = {
  requestId: 'ad/snapshot/resync-2026-01-01/17/ad-to-ds/0',
  pipe: 'ad-to-ds',
  sourceEventId: 'ad/snapshot/resync-2026-01-01/17',
  sourceEntryId: { kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
  op: 'upsert',
  dn: 'uid=zangstrom,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [
    { name: 'uid', op: 'replace', values: ['zangstrom'] },
    { name: 'cn', op: 'replace', values: ['Zoë Ångström'] },
    { name: 'adObjectGuid', op: 'replace', values: [USER_GUID] },
  ],
  correlation: [['adObjectGuid'], ['uid', 'mail']],
  changeTime: null,
  detectedAt: 1767225900000,
};

const unlinkDeletedUser: WriteRequest = {
  requestId: `ad/dirsync/${COOKIE_DIGEST}/4/ad-to-ds/1`,
  pipe: 'ad-to-ds',
  sourceEventId: `ad/dirsync/${COOKIE_DIGEST}/4`,
  sourceEntryId: { kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
  op: 'unlink',
  dn: 'uid=jdoe,ou=People,dc=example,dc=com',
  previousDn: 'uid=jdoe,ou=People,dc=example,dc=com',
  objectClasses: [],
  attributes: [{ name: 'uniqueMember', op: 'delete', values: [] }],
  correlation: [],
  changeTime: 1767225700000,
  detectedAt: 1767225702500,
};

const undecodableDeadLetter: DeadLetter = {
  stage: 'mapper',
  reason: 'UndecodableRecordError: undecodable entry-change record (magic-byte): first byte is 0x7b, expected 0x00',
  topic: 'idsync.ad.changes',
  partition: 2,
  offset: '9007199254740993',
  key: Buffer.from('c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07'),
  value: Buffer.from('{"op":"modify"}'),
  failedAt: 1767226000000,
};

describe('entry-change records', () => {
  it.each([
    ['an AD group member-add modify with incremental values', groupMemberAdded],
    ['an AD tombstone delete carrying the last known DN', userTombstoned],
    ['a 389-ds rename with its previous DN', dsUserMoved],
    ['an AD snapshot read with objectGUID and objectSid', userSnapshot],
    ['a 389-ds modify with the entry after it (text, binary and empty attributes)', dsUserPhoneChanged],
    ['an AD delete with the last state its tombstone kept', { ...userTombstoned, before: [{ name: 'sAMAccountName', values: ['jdoe'] }] }],
  ])('round-trips %s', (_name, event) => {
    expect(decodeEntryChange(encodeEntryChange(event))).toStrictEqual(event);
  });

  it('keeps binary values as Buffers, byte for byte, and text values as strings', () => {
    const [guid, sid, account] = decodeEntryChange(encodeEntryChange(userSnapshot)).attributes.map((a) => a.values[0]);
    expect(Buffer.isBuffer(guid) && guid.equals(USER_GUID)).toBe(true);
    expect(Buffer.isBuffer(sid) && sid.equals(USER_SID)).toBe(true);
    expect(account).toBe('zangstrom');
  });

  it('frames the body for the schema registry: magic byte 0, then schema id 5 (entry-change v2) big-endian', () => {
    expect(encodeEntryChange(groupMemberAdded).subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 5]));
  });

  it('encodes the same event to the same bytes every time', () => {
    expect(encodeEntryChange(dsUserMoved).equals(encodeEntryChange(structuredClone(dsUserMoved)))).toBe(true);
  });

  it('round-trips any event', () => {
    fc.assert(
      fc.property(entryChangeArbitrary, (event) => {
        expect(decodeEntryChange(encodeEntryChange(event))).toStrictEqual(event);
      }),
    );
  });

  it('refuses an event that does not fit the schema, naming the field', () => {
    const event = { ...dsUserMoved, changeTime: 1767225800000.5 };
    expect(() => encodeEntryChange(event)).toThrow(UnencodableRecordError);
    expect(() => encodeEntryChange(event)).toThrow(/changeTime/);
  });
});

describe('entry-change v1 and v2 records', () => {
  const V1 = schemaById(1) as SchemaVersion;
  const V2 = schemaById(5) as SchemaVersion;
  const framed = (id: number, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), body]);
  /** What a subscriber built with v1 reads from a record a v2 detector wrote: Avro resolution, nothing of ours. */
  const readAsV1 = (record: Buffer): unknown => avroType(V1).decode(record, 5, avroType(V1).createResolver(avroType(V2))).value;
  const v1Record = (event: EntryChangeEvent) => framed(1, avroType(V1).toBuffer(readAsV1(encodeEntryChange(event))));

  it.each([
    ['a modify with an after-image', dsUserPhoneChanged],
    ['a group member add', groupMemberAdded],
    ['an AD snapshot with binary values', userSnapshot],
  ])('a reader built with v1 reads %s written as v2, every v1 field intact', (_name, event) => {
    const asV1 = readAsV1(encodeEntryChange(event)) as Record<string, unknown>;
    expect(Object.keys(asV1)).not.toContain('after');
    // Written back as v1 (id 1) and read by today's decoder: the same event, minus what v1 cannot hold.
    expect(decodeEntryChange(v1Record(event))).toStrictEqual({ ...event, after: null, before: null });
  });

  it('records v1 detectors wrote (schema id 1) decode with no after-image and no last state', () => {
    const record = v1Record(dsUserMoved);
    expect(record.readUInt32BE(1)).toBe(1);
    const decoded = decodeEntryChange(record);
    expect(decoded.after).toBeNull();
    expect(decoded.before).toBeNull();
    expect(decoded).toStrictEqual(dsUserMoved);
  });

  it('any v2 event reads as v1 and back without losing a v1 field', () => {
    fc.assert(
      fc.property(entryChangeArbitrary, (event) => {
        expect(decodeEntryChange(v1Record(event))).toStrictEqual({ ...event, after: null, before: null });
      }),
    );
  });
});

describe('entry-state records', () => {
  const state: EntryState = {
    entryId: dsUserPhoneChanged.entryId,
    directory: 'ds',
    dn: dsUserPhoneChanged.dn,
    objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    attributes: dsUserPhoneChanged.after ?? [],
    eventId: dsUserPhoneChanged.eventId,
    changeTime: dsUserPhoneChanged.changeTime,
    detectedAt: dsUserPhoneChanged.detectedAt,
  };

  it('round-trip with schema id 6, binary values as Buffers', () => {
    const encoded = encodeEntryState(state);
    expect(encoded.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 6]));
    expect(decodeEntryState(encoded)).toStrictEqual(state);
  });

  it('round-trip any state', () => {
    fc.assert(
      fc.property(entryStateArbitrary, (any) => {
        expect(decodeEntryState(encodeEntryState(any))).toStrictEqual(any);
      }),
    );
  });

  it('refuse a tombstone (a deleted entry: read the id from the key) and a change record', () => {
    expect(() => decodeEntryState(null)).toThrow(UndecodableRecordError);
    expect(() => decodeEntryState(encodeEntryChange(dsUserPhoneChanged))).toThrow(/wrong-subject|schema id 5 is entry-change v2, not entry-state/);
  });
});

describe('record keys', () => {
  it('are the entry id value, never the DN, which a rename changes', () => {
    expect(entryKey(dsUserMoved.entryId)).toBe('3f2a9c1e-5b7d-4e80-9a1b-2c3d4e5f6a7b');
  });

  it('for AD entries are the canonical text of objectGUID', () => {
    expect(entryKey(groupMemberAdded.entryId)).toBe(canonicalGuid(GROUP_GUID));
  });
});

describe('write-request records', () => {
  it.each([
    ['an upsert with binary values and correlation rules', upsertUser],
    ['an unlink of a deleted member', unlinkDeletedUser],
  ])('round-trip %s', (_name, request) => {
    expect(decodeWriteRequest(encodeWriteRequest(request))).toStrictEqual(request);
  });

  it('carry schema id 7 (write-request v2)', () => {
    expect(encodeWriteRequest(upsertUser).subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 7]));
  });

  it('round-trip attribute policies (authority, bit mask, auxiliary class)', () => {
    const request: WriteRequest = {
      ...upsertUser,
      attributePolicies: [
        { name: 'userAccountControl', authority: 'force', bitMask: '2', auxiliaryClass: null },
        { name: 'telephoneNumber', authority: 'keep', bitMask: null, auxiliaryClass: null },
        { name: 'nsAccountLock', authority: 'force', bitMask: null, auxiliaryClass: 'nsAccount' },
      ],
    };
    expect(decodeWriteRequest(encodeWriteRequest(request))).toStrictEqual(request);
  });

  it('round-trip any request', () => {
    fc.assert(
      fc.property(writeRequestArbitrary, (request) => {
        expect(decodeWriteRequest(encodeWriteRequest(request))).toStrictEqual(request);
      }),
    );
  });
});

describe('write-request v1 and v2 records', () => {
  const V1 = schemaById(2) as SchemaVersion;
  const V2 = schemaById(7) as SchemaVersion;
  const framed = (id: number, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), body]);
  /** What a writer built with v1 reads from a record a v2 mapper wrote: Avro resolution, nothing of ours. */
  const readAsV1 = (record: Buffer): unknown => avroType(V1).decode(record, 5, avroType(V1).createResolver(avroType(V2))).value;
  const v1Record = (request: WriteRequest) => framed(2, avroType(V1).toBuffer(readAsV1(encodeWriteRequest(request))));

  it('a reader built with v1 reads any v2 request, every v1 field intact; policies are what v1 cannot hold', () => {
    fc.assert(
      fc.property(writeRequestArbitrary, (request) => {
        const asV1 = readAsV1(encodeWriteRequest(request)) as Record<string, unknown>;
        expect(Object.keys(asV1)).not.toContain('attributePolicies');
        const { attributePolicies: _dropped, ...v1Fields } = request;
        expect(decodeWriteRequest(v1Record(request))).toStrictEqual(v1Fields);
      }),
    );
  });

  it('records a v1 mapper wrote (schema id 2) decode as requests without policies', () => {
    fc.assert(
      fc.property(writeRequestV1Arbitrary, (request) => {
        const record = framed(2, avroType(V1).toBuffer(request));
        expect(decodeWriteRequest(record)).toStrictEqual(request);
      }),
    );
  });
});

describe('dead-letter records', () => {
  it('round-trip the failed record byte for byte, with schema id 3', () => {
    const encoded = encodeDeadLetter(undecodableDeadLetter);
    expect(encoded.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 3]));
    expect(decodeDeadLetter(encoded)).toStrictEqual(undecodableDeadLetter);
  });

  it('round-trip any dead letter, including ones without key or value', () => {
    fc.assert(
      fc.property(deadLetterArbitrary, (letter) => {
        expect(decodeDeadLetter(encodeDeadLetter(letter))).toStrictEqual(letter);
      }),
    );
  });
});

describe('link records', () => {
  const link: EntryLink = {
    pipe: 'ad-to-ds',
    source: { directory: 'ad', kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
    destination: { directory: 'ds', kind: 'entryUUID', value: '7145e626-b475-4e2a-a8c8-8b33d773cbcc' },
    origin: 'created',
    linkedAt: 1_790_000_000_000,
    linkedBy: 'ds-writer',
  };

  it('round-trip with schema id 4', () => {
    const encoded = encodeLink(link);
    expect(encoded.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 4]));
    expect(decodeLink(encoded)).toStrictEqual(link);
  });

  it('are keyed by pipe, source id and destination id, and the key reads back', () => {
    expect(linkKey(link)).toBe('ad-to-ds/c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07/7145e626-b475-4e2a-a8c8-8b33d773cbcc');
    expect(parseLinkKey(linkKey(link))).toEqual({
      pipe: 'ad-to-ds',
      source: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07',
      destination: '7145e626-b475-4e2a-a8c8-8b33d773cbcc',
    });
  });

  it.each(['', 'ad-to-ds', 'ad-to-ds/x/y', 'AD/c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07/7145e626-b475-4e2a-a8c8-8b33d773cbcc', 'a/b/c/d'])('key %j is not a link key', (key) =>
    expect(parseLinkKey(key)).toBeNull(),
  );

  it('round-trip any link', () => {
    const end = (directory: string) => fc.record({ directory: fc.constant(directory), kind: fc.constantFrom(...ENTRY_ID_KINDS), value: fc.uuid() });
    fc.assert(
      fc.property(
        fc.record({
          pipe: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
          source: end('ad'),
          destination: end('ds'),
          origin: fc.constantFrom(...LINK_ORIGINS),
          linkedAt: fc.integer({ min: 0, max: 2 ** 45 }),
          linkedBy: fc.constantFrom('ad-writer', 'ds-writer', 'cli'),
        }),
        (any) => {
          expect(decodeLink(encodeLink(any))).toEqual(any);
          expect(parseLinkKey(linkKey(any))).toEqual({ pipe: any.pipe, source: any.source.value, destination: any.destination.value });
        },
      ),
    );
  });

  it('refuse to decode a tombstone as a link', () => {
    expect(() => decodeLink(null)).toThrow(UndecodableRecordError);
  });
});

describe('write-receipt records', () => {
  const receipt: WriteReceipt = {
    service: 'ad-writer',
    directory: 'ad',
    requestId: 'ds:42/ds-to-ad/0',
    entryId: { kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
    dn: 'CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com',
    writtenAt: 1_790_000_000_000,
    attributes: [
      { name: 'accountExpires', values: ['133801632000000000'], added: [], removed: [], anyValue: false },
      { name: 'member', values: null, added: ['CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com'], removed: [], anyValue: false },
      { name: 'thumbnailPhoto', values: [Buffer.from([0xff, 0xd8, 0x00])], added: [], removed: [], anyValue: false },
      { name: 'pwdLastSet', values: null, added: [], removed: [], anyValue: true },
    ],
    landedAt: null,
  };

  it("round-trip with schema id 9, binary values as Buffers; a create's has no entry id yet; a move's second receipt says when it landed", () => {
    const encoded = encodeWriteReceipt(receipt);
    expect(encoded.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 9]));
    expect(decodeWriteReceipt(encoded)).toStrictEqual(receipt);
    const create = { ...receipt, entryId: null };
    expect(decodeWriteReceipt(encodeWriteReceipt(create))).toStrictEqual(create);
    const landed = {
      ...receipt,
      attributes: [{ name: 'distinguishedName', values: ['CN=Jane,OU=Staff,DC=corp,DC=example,DC=com'], added: [], removed: [], anyValue: false }],
      landedAt: 1_790_000_000_012,
    };
    expect(decodeWriteReceipt(encodeWriteReceipt(landed))).toStrictEqual(landed);
  });

  it('receipts a v1 writer published (schema id 8) decode as receipts sent before their change', () => {
    const V1 = schemaById(8) as SchemaVersion;
    const framed = (id: number, body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), body]);
    const { landedAt: _none, ...v1Fields } = receipt;
    expect(decodeWriteReceipt(framed(8, avroType(V1).toBuffer(v1Fields)))).toStrictEqual(receipt);
  });

  it('round-trip any receipt', () => {
    const values = fc.array(fc.oneof(text, bytes(16)), { maxLength: 4 });
    fc.assert(
      fc.property(
        record({
          service: text,
          directory: text,
          requestId: text,
          entryId: nullable(entryId),
          dn: text,
          writtenAt: long,
          attributes: fc.array(record({ name: text, values: nullable(values), added: values, removed: values, anyValue: fc.boolean() }), { maxLength: 4 }),
          landedAt: nullable(long),
        }),
        (any) => expect(decodeWriteReceipt(encodeWriteReceipt(any))).toEqual(any),
      ),
    );
  });
});

describe('undecodable records', () => {
  const valid = encodeEntryChange(groupMemberAdded);
  const header = (id: number): Buffer => {
    const bytes = Buffer.alloc(5);
    bytes.writeUInt32BE(id, 1);
    return bytes;
  };

  it.each([
    { name: 'an empty value', record: Buffer.alloc(0), reason: 'empty', message: /no value/ },
    { name: 'a null value (tombstone)', record: null, reason: 'empty', message: /no value/ },
    { name: 'a JSON value', record: Buffer.from('{"op":"modify"}'), reason: 'magic-byte', message: /0x7b/ },
    { name: 'a value shorter than its header', record: Buffer.from([0, 0, 1]), reason: 'truncated', message: /3 bytes/ },
    {
      name: 'an id no schema has',
      record: Buffer.concat([header(999), valid.subarray(5)]),
      reason: 'unknown-schema-id',
      message: /schema id 999 is not one of the fixed schema ids/,
    },
    {
      name: 'a write request',
      record: encodeWriteRequest(upsertUser),
      reason: 'wrong-subject',
      message: /schema id 7 is write-request v2, not entry-change/,
    },
    { name: 'a cut-off body', record: valid.subarray(0, -4), reason: 'truncated', message: /body ends before/ },
    {
      name: 'a body followed by extra bytes',
      record: Buffer.concat([valid, Buffer.from([0])]),
      reason: 'malformed',
      message: /1 bytes left after/,
    },
    {
      // eventId '', then source.system enum index 7 of 2 symbols.
      name: 'a body that is not Avro of the schema',
      record: Buffer.concat([header(1), Buffer.from([0x00, 0x0e])]),
      reason: 'malformed',
      message: /enum index/,
    },
    {
      // Eleven empty or first-branch fields up to objectClasses, which then claims 2^30 items.
      name: 'a body claiming more array items than it has bytes',
      record: Buffer.concat([header(1), Buffer.alloc(11), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08])]),
      reason: 'malformed',
      message: /claims 1073741824 items with 0 bytes left/,
    },
  ])('rejects $name as $reason', ({ record, reason, message }) => {
    const error = captureError(() => decodeEntryChange(record));
    expect(error).toBeInstanceOf(UndecodableRecordError);
    expect(error).toMatchObject({ reason, subject: 'entry-change', retriable: false });
    expect((error as Error).message).toMatch(message);
  });

  it('rejects any bytes after a valid header with UndecodableRecordError or decodes them, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (body) => {
        const error = captureError(() => decodeEntryChange(Buffer.concat([header(1), body])));
        if (error !== undefined) expect(error).toBeInstanceOf(UndecodableRecordError);
      }),
      { numRuns: 1000 },
    );
  });
});

function captureError(run: () => unknown): unknown {
  try {
    run();
    return undefined;
  } catch (error) {
    return error;
  }
}

const text = fc.string({ unit: 'binary', maxLength: 40 });
/** avsc reads longs exactly within ±2^52 only (it rejects 2^53-1 and garbles some below -2^52): ample for epoch ms. */
const long = fc.integer({ min: -(2 ** 52), max: 2 ** 52 });
const index = fc.integer({ min: 0, max: 2 ** 52 });
const nullable = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });
/** Decoded records are plain objects; fast-check's default null-prototype objects would not compare equal. */
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(model, { noNullPrototype: true });

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

const attributeChange: fc.Arbitrary<AttributeChange> = record({
  name: text,
  op: fc.constantFrom(...VALUE_OPERATIONS),
  values: fc.array(fc.oneof(text, bytes(32)), { maxLength: 4 }),
});
const attributes = fc.array(attributeChange, { maxLength: 5 });
const image: fc.Arbitrary<EntryImage> = fc.array(record({ name: text, values: fc.array(fc.oneof(text, bytes(32)), { maxLength: 4 }) }), { maxLength: 5 });
const entryId = record({ kind: fc.constantFrom(...ENTRY_ID_KINDS), value: fc.uuid() });
const position: fc.Arbitrary<SourcePosition> = fc.oneof(
  record({ kind: fc.constant('change-number'), changeNumber: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String) }),
  record({ kind: fc.constant('dirsync'), cookieDigest: text, index }),
  record({ kind: fc.constant('snapshot'), runId: text, index }),
);

const entryChangeArbitrary: fc.Arbitrary<EntryChangeEvent> = record({
  eventId: text,
  source: record({ system: fc.constantFrom(...SOURCE_SYSTEMS), directory: text, server: text, position }),
  entryId,
  op: fc.constantFrom(...CHANGE_OPERATIONS),
  dn: text,
  previousDn: nullable(text),
  objectClasses: fc.array(text, { maxLength: 4 }),
  attributes,
  initiator: nullable(text),
  changeTime: nullable(long),
  detectedAt: long,
  after: nullable(image),
  before: nullable(image),
});

const writeRequestV1Arbitrary: fc.Arbitrary<WriteRequest> = record({
  requestId: text,
  pipe: text,
  sourceEventId: text,
  sourceEntryId: entryId,
  op: fc.constantFrom(...WRITE_OPERATIONS),
  dn: text,
  previousDn: nullable(text),
  objectClasses: fc.array(text, { maxLength: 4 }),
  attributes,
  correlation: fc.array(fc.array(text, { maxLength: 3 }), { maxLength: 3 }),
  changeTime: nullable(long),
  detectedAt: long,
});
const attributePolicy: fc.Arbitrary<AttributePolicy> = record({
  name: text,
  authority: fc.constantFrom('force', 'keep', 'merge'),
  bitMask: nullable(fc.bigInt({ min: 1n, max: 2n ** 32n }).map(String)),
  auxiliaryClass: nullable(text),
});
/** v2: some requests with attribute policies, others without (the field then absent, as the mapper writes them). */
const writeRequestArbitrary: fc.Arbitrary<WriteRequest> = fc
  .tuple(writeRequestV1Arbitrary, fc.option(fc.array(attributePolicy, { minLength: 1, maxLength: 3 }), { nil: undefined }))
  .map(([request, attributePolicies]) => (attributePolicies === undefined ? request : { ...request, attributePolicies }));

const entryStateArbitrary: fc.Arbitrary<EntryState> = record({
  entryId,
  directory: text,
  dn: text,
  objectClasses: fc.array(text, { maxLength: 4 }),
  attributes: image,
  eventId: text,
  changeTime: nullable(long),
  detectedAt: long,
});

const deadLetterArbitrary: fc.Arbitrary<DeadLetter> = record({
  stage: text,
  reason: text,
  topic: text,
  partition: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
  key: nullable(bytes(64)),
  value: nullable(bytes(256)),
  failedAt: long,
});
