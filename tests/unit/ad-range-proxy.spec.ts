import { EqualityFilter, PagedResultsControl, SearchRequest } from 'ldapts';
import { rewriteSearchAttributes, slicedDescription } from '../integration/support/ad-range-proxy';

/** The test proxy that makes Samba answer like AD over MaxValRange: what it asks Samba for instead. */

const MEMBER = new Set(['member']);

describe('slicedDescription', () => {
  it('asks for the first slice of a sliced attribute requested whole, whatever its case', () => {
    expect(slicedDescription('member', 1_500, MEMBER)).toBe('member;range=0-1499');
    expect(slicedDescription('Member', 1_500, MEMBER)).toBe('Member;range=0-1499');
  });

  it('cuts a range longer than the limit, and leaves shorter ranges and other attributes alone', () => {
    expect(slicedDescription('member;range=1500-*', 1_500, MEMBER)).toBe('member;range=1500-2999');
    expect(slicedDescription('member;range=0-4999', 1_500, MEMBER)).toBe('member;range=0-1499');
    expect(slicedDescription('member;range=1500-1599', 1_500, MEMBER)).toBe('member;range=1500-1599');
    for (const name of ['cn', '*', '1.1', 'memberOf']) expect(slicedDescription(name, 1_500, MEMBER)).toBe(name);
  });
});

describe('rewriteSearchAttributes', () => {
  const search = (attributes: string[]): Buffer =>
    new SearchRequest({
      messageId: 300,
      baseDN: 'CN=Big,OU=Corp,DC=example,DC=test',
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'objectClass', value: 'group' }),
      attributes,
      controls: [new PagedResultsControl({ value: { size: 1_000 } })],
    }).write();

  it('gives the bytes ldapts would send for the rewritten attribute list, controls kept', () => {
    const rename = (name: string): string => slicedDescription(name, 1_500, MEMBER);
    expect(rewriteSearchAttributes(search(['cn', 'member']), rename)).toEqual(search(['cn', 'member;range=0-1499']));
    // Long enough for multi-byte BER lengths.
    const many = Array.from({ length: 200 }, (_, i) => `attribute${i}`);
    expect(rewriteSearchAttributes(search([...many, 'member']), rename)).toEqual(search([...many, 'member;range=0-1499']));
  });

  it('passes a search it has nothing to change, and any other message, through as they are', () => {
    const plain = search(['cn']);
    expect(rewriteSearchAttributes(plain, (name) => name)).toBe(plain);
    const notSearch = Buffer.from([0x30, 0x05, 0x02, 0x01, 0x03, 0x42, 0x00]); // an unbind request
    expect(rewriteSearchAttributes(notSearch, () => 'member;range=0-1')).toBe(notSearch);
  });
});
