import { decodeEntryState, decodeWriteRequest, encodeEntryState, encodeWriteRequest } from './codec';
import { UndecodableRecordError } from './errors';
import { currentSchema, schemaById, type SchemaVersion } from './schemas';
import { type EntryState, type WriteRequest } from './types';
import { FIXED_IDS, RegistryIds, schemaText, UnregisteredSchemaError, useWireIds, versionOfText } from './wire-ids';

const request: WriteRequest = {
  requestId: 'ad/dirsync/17/ad-to-ds/0',
  pipe: 'ad-to-ds',
  sourceEventId: 'ad/dirsync/17',
  sourceEntryId: { kind: 'objectGUID', value: 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07' },
  op: 'modify',
  dn: 'uid=zangstrom,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [{ name: 'description', op: 'replace', values: ['x'] }],
  correlation: [],
  changeTime: null,
  detectedAt: 1767225900000,
};

const state: EntryState = {
  entryId: { kind: 'entryUUID', value: '0b5c5f5e-0000-4000-8000-000000000001' },
  directory: 'ds',
  dn: 'uid=zangstrom,ou=People,dc=example,dc=com',
  objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  attributes: [{ name: 'cn', values: ['Zoë Ångström'] }],
  eventId: 'ds/changelog/17',
  changeTime: null,
  detectedAt: 1767225900000,
} as unknown as EntryState;

afterEach(() => useWireIds(FIXED_IDS));

describe('wire ids: the schema id a record carries', () => {
  it('without a registry, the fixed ids', () => {
    const record = encodeWriteRequest(request);
    expect(record.readUInt32BE(1)).toBe(currentSchema('write-request').id);
  });

  it("with a registry's ids, records carry them and decode through them; the fixed id is then unknown", () => {
    const fixed = encodeWriteRequest(request);
    useWireIds(new RegistryIds('the ids of schema registry http://registry', [[1042, currentSchema('write-request')]]));
    const record = encodeWriteRequest(request);
    expect(record.readUInt32BE(1)).toBe(1042);
    expect(record.subarray(5)).toEqual(fixed.subarray(5));
    expect(decodeWriteRequest(record)).toEqual(decodeWriteRequestFixed(fixed));
    expect(() => decodeWriteRequest(fixed)).toThrow(UndecodableRecordError);
    expect(() => decodeWriteRequest(fixed)).toThrow(/schema id 7 is not one of the ids of schema registry http:\/\/registry/);
  });

  it('a version the registry gave no id cannot be written (named in the error)', () => {
    useWireIds(new RegistryIds('registry', [[1042, currentSchema('write-request')]]));
    expect(() => encodeEntryState(state)).toThrow(UnregisteredSchemaError);
    expect(() => encodeEntryState(state)).toThrow('entry-state v1 has no id in the schema registry');
    useWireIds(FIXED_IDS);
    expect(decodeEntryState(encodeEntryState(state))).toEqual(state);
  });

  it('several ids may name one version (the first is written); one id naming two versions is refused', () => {
    const v1 = schemaById(1) as SchemaVersion;
    const v2 = schemaById(5) as SchemaVersion;
    const ids = new RegistryIds('registry', [
      [10, v2],
      [11, v2],
      [7, v1],
    ]);
    expect(ids.toWire(v2)).toBe(10);
    expect(ids.fromWire(11)).toEqual(v2);
    expect(ids.fromWire(7)).toEqual(v1);
    expect(
      () =>
        new RegistryIds('registry', [
          [10, v2],
          [10, v1],
        ]),
    ).toThrow('registry: schema id 10 names both entry-change v2 and entry-change v1');
  });
});

describe('versionOfText: which of our versions a registry-held schema text is', () => {
  it('finds each version from its own text, reformatted and without docs too', () => {
    for (const id of [1, 5, 6]) {
      const version = schemaById(id) as SchemaVersion;
      const text = schemaText(version);
      expect(versionOfText(version.subject, text)).toEqual(version);
      const compact = JSON.stringify(JSON.parse(text), (key, value: unknown) => (key === 'doc' ? undefined : value));
      expect(versionOfText(version.subject, compact)).toEqual(version);
    }
  });

  it('finds nothing for another subject, a changed schema, or text that is not a schema', () => {
    const v2 = schemaById(5) as SchemaVersion;
    expect(versionOfText('write-request', schemaText(v2))).toBeUndefined();
    const changed = JSON.parse(schemaText(v2)) as { fields: unknown[] };
    changed.fields.push({ name: 'extra', type: 'string', default: '' });
    expect(versionOfText('entry-change', JSON.stringify(changed))).toBeUndefined();
    expect(versionOfText('entry-change', '{not json')).toBeUndefined();
  });
});

function decodeWriteRequestFixed(record: Buffer): WriteRequest {
  useWireIds(FIXED_IDS);
  try {
    return decodeWriteRequest(record);
  } finally {
    useWireIds(new RegistryIds('the ids of schema registry http://registry', [[1042, currentSchema('write-request')]]));
  }
}
