import { canonicalGuid } from '@idsync/contracts';
import { afterImageAttributes, compilePipe, pipeSchema, type PipeInput } from '@idsync/mapping';
import { type DetectorsConfig, sourceDetector, sourceEntry, sourceReading } from './resync-source';

const adToDs: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [{ from: '**,OU=Corp,DC=example,DC=test', to: '{1},ou=Corp,dc=example,dc=com' }],
  correlation: [['uid']],
  syncClasses: [{ name: 'users', evaluationOrder: 30, objectClasses: ['user'], destinationObjectClasses: ['top', 'inetOrgPerson'], attributeMappings: [{ from: 'sAMAccountName', to: 'uid' }] }],
};
const pipes = [compilePipe(pipeSchema.parse(adToDs))];
const detector = (source: string, afterImage: Partial<DetectorsConfig['services']['ad-detector']['afterImage']> = {}) => ({
  source,
  afterImage: { enabled: true, include: [], exclude: [], ...afterImage },
});
const config = (overrides: { ad?: ReturnType<typeof detector> } = {}): DetectorsConfig => ({
  services: { 'ad-detector': overrides.ad ?? detector('ad', { include: ['mail'] }), 'ds-detector': detector('ds') },
});

const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
/** An AD user as ldapts returns it: one value unwrapped, the GUID as bytes. */
const raw = { dn: 'CN=Ann,OU=Corp,DC=example,DC=test', objectClass: ['top', 'person', 'user'], sAMAccountName: 'ann', mail: 'ann@example.test', objectGUID: guid };

describe('sourceDetector', () => {
  it('is the detector whose source the directory is, with its after-image set', () => {
    const found = sourceDetector(config(), pipes, 'ad');
    expect(found?.service).toBe('ad-detector');
    expect(found?.set).toEqual(afterImageAttributes('ad', pipes, { include: ['mail'] }));
    expect(sourceDetector(config(), pipes, 'ds')?.service).toBe('ds-detector');
  });

  it('has no set when the detector reads no after-images, and is null for a directory no detector reads', () => {
    expect(sourceDetector(config({ ad: detector('ad', { enabled: false }) }), pipes, 'ad')?.set).toBeNull();
    expect(sourceDetector(config(), pipes, 'hr')).toBeNull();
  });
});

describe('sourceReading', () => {
  const set = afterImageAttributes('ad', pipes, { include: ['mail'] });

  it("requests the pipe's attributes and the after-image set's, each once, and compares only the pipe's", () => {
    const reading = sourceReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], set);
    expect(reading.attributes).toEqual(['objectClass', 'objectGUID', 'sAMAccountName', 'mail']);
    expect(reading.compared).toEqual(new Set(['objectclass', 'objectguid', 'samaccountname']));
  });

  it('requests every user attribute when the set is all of them, and compares everything read when the pipe reads all', () => {
    const everything = afterImageAttributes('ad', [compilePipe(pipeSchema.parse({ ...adToDs, autoMapSameNames: true }))]);
    expect(sourceReading('active-directory', ['objectClass', 'objectGUID'], everything).attributes).toEqual(['objectClass', 'objectGUID', '*']);
    expect(sourceReading('active-directory', ['*', 'objectGUID'], everything)).toMatchObject({ attributes: ['*', 'objectGUID'], compared: null });
  });

  it("requests only the pipe's when the detector reads no after-images", () => {
    expect(sourceReading('ldap', ['objectClass', 'entryUUID', 'uid'], null).attributes).toEqual(['objectClass', 'entryUUID', 'uid']);
  });
});

describe('sourceEntry', () => {
  const set = afterImageAttributes('ad', pipes, { include: ['mail', 'telephoneNumber'] });
  const reading = sourceReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], set);

  it('is keyed by the canonical id, with the object classes read', () => {
    expect(sourceEntry(raw, reading)).toMatchObject({ dn: raw.dn, entryId: { kind: 'objectGUID', value: canonicalGuid(guid) }, objectClasses: ['top', 'person', 'user'] });
  });

  it("compares only the pipe's attributes, even when the read returned more for the image", () => {
    expect([...(sourceEntry(raw, reading)?.attributes.keys() ?? [])]).toEqual(['objectclass', 'samaccountname', 'objectguid']);
  });

  it("has the after-image the detector would read: the set's attributes in its spelling, [] for none, never the id", () => {
    expect(sourceEntry(raw, reading)?.after).toEqual([
      { name: 'mail', values: ['ann@example.test'] },
      { name: 'objectClass', values: ['top', 'person', 'user'] },
      { name: 'sAMAccountName', values: ['ann'] },
      { name: 'telephoneNumber', values: [] },
    ]);
  });

  it('has no after-image when the detector reads none, and is null without an id', () => {
    expect(sourceEntry(raw, sourceReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], null))?.after).toBeNull();
    const { objectGUID: _, ...withoutId } = raw;
    expect(sourceEntry(withoutId, reading)).toBeNull();
  });
});
