import { canonicalGuid, decodeEntryState } from '@idsync/contracts';
import { afterImageAttributes, compilePipe, pipeSchema, type PipeInput } from '@idsync/mapping';
import { snapshotEntry, snapshotEvent, snapshotReading } from '@idsync/detector';
import { type DetectorsConfig, inDetectorScope, type SourceDetector, sourceDetector, snapshotState, stateRecord, stateTarget } from './resync-source';

const adToDs: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [{ from: '**,OU=Corp,DC=example,DC=test', to: '{1},ou=Corp,dc=example,dc=com' }],
  correlation: [['uid']],
  syncClasses: [{ name: 'users', evaluationOrder: 30, objectClasses: ['user'], destinationObjectClasses: ['top', 'inetOrgPerson'], attributeMappings: [{ from: 'sAMAccountName', to: 'uid' }] }],
};
const pipes = [compilePipe(pipeSchema.parse(adToDs))];
const detector = (source: string, afterImage: Partial<DetectorsConfig['services']['ad-detector']['afterImage']> = {}, scope: { includeBaseDns?: string[]; includeObjectClasses?: string[] } = {}) => ({
  source,
  includeBaseDns: scope.includeBaseDns ?? [],
  includeObjectClasses: scope.includeObjectClasses ?? [],
  afterImage: { enabled: true, include: [], exclude: [], ...afterImage },
});
const config = (overrides: { ad?: ReturnType<typeof detector>; adState?: string } = {}): DetectorsConfig => ({
  services: { 'ad-detector': overrides.ad ?? detector('ad', { include: ['mail'] }), 'ds-detector': detector('ds') },
  kafka: { topics: { ...(overrides.adState === undefined ? {} : { adState: { name: overrides.adState } }), dsState: { name: 'idsync.ds.state' } } },
  directories: { ad: { baseDn: 'DC=example,DC=test' }, ds: { baseDn: 'dc=example,dc=com' } },
});

const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
/** An AD user as ldapts returns it: one value unwrapped, the GUID as bytes. */
const raw = { dn: 'CN=Ann,OU=Corp,DC=example,DC=test', objectClass: ['top', 'person', 'user'], sAMAccountName: 'ann', mail: 'ann@example.test', objectGUID: guid };

describe('sourceDetector', () => {
  it('is the detector whose source the directory is, with its after-image set and state topic, its base when it names none', () => {
    const found = sourceDetector(config({ adState: 'idsync.ad.state' }), pipes, 'ad');
    expect(found).toMatchObject({ service: 'ad-detector', stateTopic: 'idsync.ad.state', stateTopicKey: 'kafka.topics.adState', includeBaseDns: ['DC=example,DC=test'] });
    expect(found?.set).toEqual(afterImageAttributes('ad', pipes, { include: ['mail'] }));
    expect(sourceDetector(config(), pipes, 'ds')).toMatchObject({ service: 'ds-detector', stateTopic: 'idsync.ds.state', stateTopicKey: 'kafka.topics.dsState' });
  });

  it('has no set when the detector reads no after-images, no state topic when none is configured, and is null for a directory no detector reads', () => {
    expect(sourceDetector(config({ ad: detector('ad', { enabled: false }) }), pipes, 'ad')).toMatchObject({ set: null, stateTopic: null });
    expect(sourceDetector(config(), pipes, 'hr')).toBeNull();
  });
});

describe('stateTarget', () => {
  it("is the source detector's state topic", () => {
    expect(stateTarget(sourceDetector(config({ adState: 'idsync.ad.state' }), pipes, 'ad'), 'ad')).toMatchObject({ kind: 'publish', topic: 'idsync.ad.state', detector: { service: 'ad-detector' } });
  });

  it('refuses, naming the key, without a state topic, without after-images, and for a directory no detector reads', () => {
    expect(stateTarget(sourceDetector(config(), pipes, 'ad'), 'ad')).toEqual({
      kind: 'refused',
      problem: "directory 'ad' has no state topic: kafka.topics.adState is not set in the configuration",
      hint: expect.stringContaining('set kafka.topics.adState'),
    });
    const disabled = sourceDetector(config({ ad: detector('ad', { enabled: false }), adState: 'idsync.ad.state' }), pipes, 'ad');
    expect(stateTarget(disabled, 'ad')).toMatchObject({ kind: 'refused', problem: expect.stringContaining('services.ad-detector.afterImage.enabled is false') });
    expect(stateTarget(null, 'hr')).toMatchObject({ kind: 'refused', problem: expect.stringContaining("no detector reads directory 'hr'") });
  });
});

describe('the state record of a source entry', () => {
  const set = afterImageAttributes('ad', pipes, { include: ['mail'] });
  const reading = snapshotReading('active-directory', ['objectClass', 'objectGUID', 'sAMAccountName'], set);
  const context = { system: 'active-directory' as const, directory: 'ad', server: 'ldaps://dc1', runId: 'run1', detectedAt: 1_700_000_000_000 };
  const eventOf = (entry: typeof raw) => {
    const read = snapshotEntry(entry, reading);
    if (read === null) throw new Error('no id');
    return snapshotEvent(read, 3, context);
  };
  const adDetector = (scope: { includeBaseDns?: string[]; includeObjectClasses?: string[] } = {}): SourceDetector => {
    const found = sourceDetector(config({ ad: detector('ad', { include: ['mail'] }, scope), adState: 'idsync.ad.state' }), pipes, 'ad');
    if (found === null) throw new Error('no detector');
    return found;
  };

  it("is the detector's record: the after-image, the entry's DN and classes, the snapshot's id, no change time, read now", () => {
    const event = eventOf(raw);
    expect(snapshotState(event)).toEqual({
      entryId: { kind: 'objectGUID', value: canonicalGuid(guid) },
      directory: 'ad',
      dn: raw.dn,
      objectClasses: ['top', 'person', 'user'],
      attributes: event.after,
      eventId: `ad:snapshot:run1:${canonicalGuid(guid)}`,
      changeTime: null,
      detectedAt: 1_700_000_000_000,
    });
    expect(event.after).not.toBeNull();
  });

  it('is keyed by the entry id and decodes to that state', () => {
    const event = eventOf(raw);
    const record = stateRecord(event, adDetector(), 1_000_000);
    expect(record).toMatchObject({ kind: 'record', key: canonicalGuid(guid) });
    if (record.kind !== 'record') throw new Error(record.kind);
    expect(decodeEntryState(record.value)).toEqual(snapshotState(event));
  });

  it('leaves out entries the detector does not publish (outside its base DNs or classes), and records over the limit', () => {
    expect(stateRecord(eventOf(raw), adDetector({ includeBaseDns: ['OU=Other,DC=example,DC=test'] }), 1_000_000).kind).toBe('outside-detector-scope');
    expect(stateRecord(eventOf(raw), adDetector({ includeObjectClasses: ['group'] }), 1_000_000).kind).toBe('outside-detector-scope');
    expect(stateRecord(eventOf(raw), adDetector({ includeBaseDns: ['ou=corp,dc=example,dc=test'], includeObjectClasses: ['USER'] }), 1_000_000).kind).toBe('record');
    expect(stateRecord(eventOf(raw), adDetector(), 100)).toMatchObject({ kind: 'too-large', limit: 100 });
  });

  it('is none for an event without an after-image', () => {
    const event = { ...eventOf(raw), after: null };
    expect(snapshotState(event)).toBeNull();
    expect(inDetectorScope(adDetector(), event)).toBe(true);
    expect(stateRecord(event, adDetector(), 1_000_000).kind).toBe('outside-detector-scope');
  });
});
