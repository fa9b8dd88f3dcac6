import { type AttributeChange, type ChangeOperation, type EntryChangeEvent, type EntryImage } from '@idsync/contracts';
import { EntryView } from './entry-view';

function event(op: ChangeOperation, attributes: AttributeChange[], objectClasses: string[] = [], images: { after?: EntryImage; before?: EntryImage } = {}): EntryChangeEvent {
  return {
    eventId: 'e1',
    source: { system: 'ldap', directory: 'ds', server: 'ldap://ds', position: { kind: 'change-number', changeNumber: '1' } },
    entryId: { kind: 'entryUUID', value: '6f1c0b3e-0000-4000-8000-000000000001' },
    op,
    dn: 'uid=jdoe,ou=People,dc=example,dc=com',
    previousDn: null,
    objectClasses,
    attributes,
    initiator: null,
    changeTime: null,
    detectedAt: 0,
    after: images.after ?? null,
    before: images.before ?? null,
  };
}

describe('EntryView', () => {
  it('knows every attribute of an add: absent ones have no values', () => {
    const view = new EntryView(event('add', [{ name: 'CN', op: 'replace', values: ['Jane Doe'] }]));
    expect(view.values('cn')).toEqual(['Jane Doe']);
    expect(view.values('mail')).toEqual([]);
    expect(view.first('cn')).toBe('Jane Doe');
  });

  it('knows only replaced attributes of a modify', () => {
    const view = new EntryView(
      event('modify', [
        { name: 'mail', op: 'replace', values: ['jane@example.com'] },
        { name: 'member', op: 'add', values: ['uid=a'] },
      ]),
    );
    expect(view.values('mail')).toEqual(['jane@example.com']);
    expect(view.values('member')).toBeUndefined();
    expect(view.values('cn')).toBeUndefined();
    expect(view.changes('member')).toHaveLength(1);
  });

  it('answers objectClass from the event envelope when the source reported it', () => {
    expect(new EntryView(event('modify', [], ['top', 'person'])).values('objectclass')).toEqual(['top', 'person']);
    expect(new EntryView(event('modify', [])).values('objectclass')).toBeUndefined();
  });

  it('answers from the after-image for every attribute it lists, [] meaning known absent', () => {
    const view = new EntryView(
      event('modify', [{ name: 'telephoneNumber', op: 'replace', values: ['+1 555 0100'] }], [], {
        after: [
          { name: 'Department', values: ['Sales'] },
          { name: 'mail', values: [] },
          { name: 'telephoneNumber', values: ['+1 555 0100'] },
        ],
      }),
    );
    expect(view.values('department')).toEqual(['Sales']);
    expect(view.values('mail')).toEqual([]);
    expect(view.values('cn')).toBeUndefined();
  });

  it('gives the full value of an attribute changed value by value when the after-image lists it', () => {
    const change: AttributeChange = { name: 'member', op: 'add', values: ['uid=b'] };
    expect(new EntryView(event('rename', [change], [], { after: [{ name: 'member', values: ['uid=a', 'uid=b'] }] })).values('member')).toEqual(['uid=a', 'uid=b']);
    expect(new EntryView(event('modify', [change], [], { after: [{ name: 'cn', values: ['x'] }] })).values('member')).toBeUndefined();
  });

  it("prefers the after-image's objectClass to the envelope", () => {
    const view = new EntryView(event('modify', [], ['top', 'person', 'inetOrgPerson'], { after: [{ name: 'objectClass', values: ['top', 'person'] }] }));
    expect(view.values('objectclass')).toEqual(['top', 'person']);
  });

  it("knows the values a delete's before-image keeps, and nothing about what it leaves out", () => {
    const view = new EntryView(
      event('delete', [{ name: 'isDeleted', op: 'replace', values: ['TRUE'] }], [], {
        before: [
          { name: 'department', values: ['HR'] },
          { name: 'mail', values: [] },
        ],
      }),
    );
    expect(view.values('department')).toEqual(['HR']);
    expect(view.values('mail')).toBeUndefined();
    expect(view.values('sn')).toBeUndefined();
    expect(view.values('isdeleted')).toEqual(['TRUE']);
  });

  it('answers an add from the event itself, the whole entry as of the change', () => {
    const view = new EntryView(event('add', [{ name: 'sn', op: 'replace', values: ['Doe'] }], [], { after: [{ name: 'sn', values: ['Smith'] }] }));
    expect(view.values('sn')).toEqual(['Doe']);
  });
});
