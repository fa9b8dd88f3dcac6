import fc from 'fast-check';
import { jsonWithList } from './json-stream';

const whole = (head: object, items: unknown[]): string => JSON.stringify({ ...head, differences: items }, null, 2);
const pieces = (head: object, items: unknown[]): string => [...jsonWithList(head, 'differences', items)].join('');

describe('jsonWithList', () => {
  it('writes the same text as JSON.stringify of the whole document, list empty or not', () => {
    const head = { pipe: 'ad-to-ds', dryRun: true, notLinkedSample: ['cn=Stray,dc=example,dc=com'], state: null, phasesMs: { destinationRead: 3 } };
    const report = { dn: 'cn=Ann,dc=example,dc=com', kind: 'update', move: null, attributes: [{ attribute: 'description', current: ['a\nb'], add: ['"c"'], remove: [], replace: true }] };
    expect(pieces(head, [])).toBe(whole(head, []));
    expect(pieces(head, [report])).toBe(whole(head, [report]));
    expect(pieces(head, [report, { ...report, dn: 'cn=Bob,dc=example,dc=com', problem: 'é ✓' }])).toBe(whole(head, [report, { ...report, dn: 'cn=Bob,dc=example,dc=com', problem: 'é ✓' }]));
    expect(pieces({}, [report])).toBe(whole({}, [report]));
  });

  it('matches JSON.stringify for any JSON values', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== 'differences' && k !== '__proto__'),
          fc.jsonValue(),
        ),
        fc.array(fc.jsonValue(), { maxLength: 5 }),
        (head, items) => {
          expect(pieces(head, items)).toBe(whole(head, items));
        },
      ),
    );
  });
});
