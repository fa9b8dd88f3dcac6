import { type AttributeChange, type ChangeOperation, type EntryChangeEvent } from '@idsync/contracts';
import { EntryView } from './entry-view';

function event(op: ChangeOperation, attributes: AttributeChange[], objectClasses: string[] = []): EntryChangeEvent {
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
    after: null,
    before: null,
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
});
