import { type AttributeChange, type WriteRequest } from '@idsync/contracts';
import { coalesceEntryRequests } from './coalesce';

const request = (op: WriteRequest['op'], n: number, attributes: AttributeChange[] = [], dn = 'cn=Team,ou=Corp,dc=example,dc=com'): WriteRequest => ({
  requestId: `e${n}/ad-to-ds/0`,
  pipe: 'ad-to-ds',
  sourceEventId: `e${n}`,
  sourceEntryId: { kind: 'objectGUID', value: 'g1' },
  op,
  dn,
  previousDn: null,
  objectClasses: [],
  attributes,
  correlation: [],
  changeTime: null,
  detectedAt: 0,
});

describe('coalesceEntryRequests', () => {
  it('drops what comes before the entry’s delete: a replayed history does not re-create a deleted account', () => {
    const result = coalesceEntryRequests([request('upsert', 1), request('modify', 2), request('rename', 3), request('delete', 4), request('unlink', 5)]);
    expect(result.superseded).toEqual([0, 1, 2]);
    expect(result.writes.map((w) => [w.request.op, w.covers])).toEqual([
      ['delete', [3]],
      ['unlink', [4]],
    ]);
  });

  it('merges consecutive modifies in order: a member added then removed is never re-added', () => {
    const add: AttributeChange = { name: 'member', op: 'add', values: ['cn=Ben,dc=example,dc=com'] };
    const remove: AttributeChange = { name: 'member', op: 'delete', values: ['cn=Ben,dc=example,dc=com'] };
    const result = coalesceEntryRequests([request('upsert', 1), request('modify', 2, [add]), request('modify', 3, [remove])]);
    expect(result.superseded).toEqual([]);
    expect(result.writes.map((w) => [w.request.op, w.covers])).toEqual([
      ['upsert', [0]],
      ['modify', [1, 2]],
    ]);
    expect(result.writes[1]?.request.attributes).toEqual([add, remove]);
    expect(result.writes[1]?.request.requestId).toBe('e3/ad-to-ds/0');
  });

  it('never merges a password change (each is opened and checked on its own)', () => {
    const password: AttributeChange = { name: 'idsyncPassword', op: 'replace', values: [Buffer.from('sealed')] };
    const result = coalesceEntryRequests([request('modify', 1, [password]), request('modify', 2, [password]), request('modify', 3)]);
    expect(result.writes.map((w) => w.covers)).toEqual([[0], [1], [2]]);
  });

  it('keeps modifies apart across a rename (their DNs differ) and leaves a lone request as it is', () => {
    const result = coalesceEntryRequests([request('modify', 1, [], 'cn=A,dc=x'), request('rename', 2, [], 'cn=B,dc=x'), request('modify', 3, [], 'cn=B,dc=x')]);
    expect(result.writes.map((w) => w.covers)).toEqual([[0], [1], [2]]);
    expect(coalesceEntryRequests([request('upsert', 1)]).writes).toHaveLength(1);
  });
});
