import { type WriteRequest } from '@idsync/contracts';
import { type SyncLogRecord, syncLogRecord } from '@idsync/writer';
import { entryHistory, historyRow, parseSyncLine } from './sync-history';
import { parseEntryArgument } from './links-report';

const SOURCE = '6c1f1e4a-9b0e-4d3c-8a55-1f2e3d4c5b6a';
const DEST = '7145e626-b475-4e2a-a8c8-8b33d773cbcc';
const request = (n: number, extra: Partial<WriteRequest> = {}): WriteRequest => ({
  requestId: `e${n}/ad-to-ds/0`,
  pipe: 'ad-to-ds',
  sourceEventId: `e${n}`,
  sourceEntryId: { kind: 'objectGUID', value: SOURCE },
  op: 'upsert',
  dn: 'uid=jdoe,ou=People,dc=example,dc=com',
  previousDn: null,
  objectClasses: [],
  attributes: [{ name: 'mail', op: 'replace', values: ['j@example.com'] }],
  correlation: [],
  changeTime: 1_000,
  detectedAt: 1_500,
  ...extra,
});
const line = (n: number, at: number, extra: Partial<WriteRequest> = {}, destinationId: string | null = DEST): SyncLogRecord =>
  syncLogRecord({ service: 'ds-writer', request: request(n, extra), outcome: 'applied', now: at, destinationId });
const asRecord = (record: SyncLogRecord): Buffer => Buffer.from(JSON.stringify(record));

describe('sync history (idsync log)', () => {
  it('reads sync log lines from the audit topic and ignores anything else', () => {
    expect(parseSyncLine(asRecord(line(1, 2_000)))).toMatchObject({ requestId: 'e1/ad-to-ds/0', outcome: 'applied' });
    expect(parseSyncLine(Buffer.from('not json'))).toBeNull();
    expect(parseSyncLine(Buffer.from(JSON.stringify({ event: 'other' })))).toBeNull();
    expect(parseSyncLine(Buffer.from(JSON.stringify({ ...line(1, 2_000), outcome: 'made-up' })))).toBeNull();
    expect(parseSyncLine(null)).toBeNull();
  });

  it("finds an entry's lines by source id, destination id, or any DN it had, in time order", () => {
    const other = line(9, 2_500, { sourceEntryId: { kind: 'objectGUID', value: '0f0f0f0f-0000-4000-8000-000000000009' }, dn: 'uid=other,ou=People,dc=example,dc=com' }, null);
    const renamed = line(3, 4_000, { op: 'rename', dn: 'uid=jane,ou=People,dc=example,dc=com', previousDn: 'uid=jdoe,ou=People,dc=example,dc=com' });
    const lines = [line(2, 3_000), other, renamed, line(1, 2_000)];
    const ids = (entry: string): string[] => {
      const parsed = parseEntryArgument(entry);
      if (parsed.kind === 'invalid') throw new Error(parsed.problem);
      return entryHistory(lines, parsed).map((l) => l.requestId);
    };
    expect(ids(SOURCE.toUpperCase())).toEqual(['e1/ad-to-ds/0', 'e2/ad-to-ds/0', 'e3/ad-to-ds/0']);
    expect(ids(DEST)).toEqual(['e1/ad-to-ds/0', 'e2/ad-to-ds/0', 'e3/ad-to-ds/0']);
    // The old DN finds the lines before the rename and the rename itself; the new one, the rename.
    expect(ids('UID=jdoe, ou=People,dc=example,dc=com')).toEqual(['e1/ad-to-ds/0', 'e2/ad-to-ds/0', 'e3/ad-to-ds/0']);
    expect(ids('uid=jane,ou=People,dc=example,dc=com')).toEqual(['e3/ad-to-ds/0']);
    expect(ids('uid=nobody,dc=example,dc=com')).toEqual([]);
  });

  it('shows a line as a table row: the LDAP changes, the outcome with its reason, the latency', () => {
    const failed = syncLogRecord({ service: 'ad-writer', request: request(4, { changeTime: null }), outcome: 'dead-letter', now: 3_500, reason: 'objectClassViolation (65): no such class' });
    expect(historyRow(failed)).toMatchObject({ operation: 'upsert', outcome: 'dead-letter: objectClassViolation (65): no such class', attributes: 'mail', latency: '2.0 s*' });
    expect(historyRow(line(1, 3_000))).toMatchObject({ latency: '2.0 s', service: 'ds-writer' });
  });
});
