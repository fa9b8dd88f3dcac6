import { canonicalGuid } from '@idsync/contracts';
import { afterImageAttributes, compilePipe, pipeSchema, type PipeInput } from '@idsync/mapping';
import { snapshotEntry, snapshotEvent, snapshotReading } from './snapshot';

/** A directory read whole, as the detectors key and image it (resync's source side). */

const adToDs: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [{ from: '**,OU=Corp,DC=example,DC=test', to: '{1},ou=Corp,dc=example,dc=com' }],
  correlation: [['uid']],
  syncClasses: [{ name: 'users', evaluationOrder: 30, objectClasses: ['user'], destinationObjectClasses: ['top', 'inetOrgPerson'], attributeMappings: [{ from: 'sAMAccountName', to: 'uid' }] }],
};
const pipes = [compilePipe(pipeSchema.parse(adToDs))];
const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
/** An AD user as ldapts returns it: one value unwrapped, the GUID as bytes. */
const raw = { dn: 'CN=Ann,OU=Corp,DC=example,DC=test', objectClass: ['top', 'person', 'user'], sAMAccountName: 'ann', mail: 'ann@example.test', objectGUID: guid };

describe('snapshotReading', () => {
  const set = afterImageAttributes('ad', pipes, { include: ['mail'] });

  it("requests the pipe's attributes and the after-image set's, each once, and compares only the pipe's", () => {
    const reading = snapshotReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], set);
    expect(reading.attributes).toEqual(['objectClass', 'objectGUID', 'sAMAccountName', 'mail']);
    expect(reading.compared).toEqual(new Set(['objectclass', 'objectguid', 'samaccountname']));
  });

  it('requests every user attribute when the set is all of them, and compares everything read when the pipe reads all', () => {
    const everything = afterImageAttributes('ad', [compilePipe(pipeSchema.parse({ ...adToDs, autoMapSameNames: true }))]);
    expect(snapshotReading('active-directory', ['objectClass', 'objectGUID'], everything).attributes).toEqual(['objectClass', 'objectGUID', '*']);
    expect(snapshotReading('active-directory', ['*', 'objectGUID'], everything)).toMatchObject({ attributes: ['*', 'objectGUID'], compared: null });
  });

  it("requests only the pipe's when the detector reads no after-images", () => {
    expect(snapshotReading('ldap', ['objectClass', 'entryUUID', 'uid'], null).attributes).toEqual(['objectClass', 'entryUUID', 'uid']);
  });
});

describe('snapshotEntry', () => {
  const set = afterImageAttributes('ad', pipes, { include: ['mail', 'telephoneNumber'] });
  const reading = snapshotReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], set);

  it('is keyed by the canonical id, with the object classes read', () => {
    expect(snapshotEntry(raw, reading)).toMatchObject({ dn: raw.dn, entryId: { kind: 'objectGUID', value: canonicalGuid(guid) }, objectClasses: ['top', 'person', 'user'] });
  });

  it("compares only the pipe's attributes, even when the read returned more for the image", () => {
    expect([...(snapshotEntry(raw, reading)?.attributes.keys() ?? [])]).toEqual(['objectclass', 'samaccountname', 'objectguid']);
  });

  it("has the after-image the detector would read: the set's attributes in its spelling, [] for none, never the id", () => {
    expect(snapshotEntry(raw, reading)?.after).toEqual([
      { name: 'mail', values: ['ann@example.test'] },
      { name: 'objectClass', values: ['top', 'person', 'user'] },
      { name: 'sAMAccountName', values: ['ann'] },
      { name: 'telephoneNumber', values: [] },
    ]);
  });

  it('has no after-image when the detector reads none, and is null without an id', () => {
    expect(snapshotEntry(raw, snapshotReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], null))?.after).toBeNull();
    const { objectGUID: _, ...withoutId } = raw;
    expect(snapshotEntry(withoutId, reading)).toBeNull();
  });
});

describe('snapshotEvent', () => {
  const attributes = new Map([['cn', { name: 'cn', values: ['Ann'] }]]);
  const context = { system: 'active-directory' as const, directory: 'ad', server: 'ldaps://dc1', runId: 'run1', detectedAt: 5 };

  it('is a full read: op snapshot, every attribute a replace, keyed by the stable id, deterministic id per run', () => {
    const event = snapshotEvent({ dn: 'CN=Ann,DC=example,DC=test', entryId: { kind: 'objectGUID', value: 'abc' }, objectClasses: ['user'], attributes, after: null }, 7, context);
    expect(event).toMatchObject({
      op: 'snapshot',
      eventId: 'ad:snapshot:run1:abc',
      source: { position: { kind: 'snapshot', runId: 'run1', index: 7 } },
      attributes: [{ name: 'cn', op: 'replace', values: ['Ann'] }],
    });
  });

  it("carries the entry's after-image, as a detector's events do, and null when the detector reads none", () => {
    const after = [
      { name: 'cn', values: ['Ann'] },
      { name: 'mail', values: [] },
    ];
    const entry = { dn: 'CN=Ann,DC=example,DC=test', entryId: { kind: 'objectGUID' as const, value: 'abc' }, objectClasses: ['user'], attributes };
    expect(snapshotEvent({ ...entry, after }, 0, context)).toMatchObject({ after, before: null });
    expect(snapshotEvent({ ...entry, after: null }, 0, context).after).toBeNull();
  });
});
