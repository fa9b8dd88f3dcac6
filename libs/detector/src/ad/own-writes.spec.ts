import { type AttributeChange, type EntryChangeEvent, type ReceiptAttribute, type WriteReceipt } from '@idsync/contracts';
import { OwnWrites, receiptValueKey } from './own-writes';

const GUID = 'c0a8e5f2-1b3d-4e7a-9f60-8d2b4c6e1a07';
const OTHER = '6f1c2a0e-93d4-4b8e-a1c5-2f7e0b9d4c31';
const T0 = 1_790_000_000_000;

function receipt(attributes: Partial<ReceiptAttribute>[], options: { at?: number; guid?: string; landedAt?: number; requestId?: string } = {}): WriteReceipt {
  return {
    service: 'ad-writer',
    directory: 'ad',
    requestId: options.requestId ?? 'r',
    entryId: { kind: 'objectGUID', value: options.guid ?? GUID },
    dn: 'CN=Jane,OU=Corp,DC=example,DC=test',
    writtenAt: options.at ?? T0,
    attributes: attributes.map((a) => ({ name: 'x', values: null, added: [], removed: [], anyValue: false, ...a })),
    landedAt: options.landedAt ?? null,
  };
}

function modify(attributes: AttributeChange[], guid = GUID): EntryChangeEvent {
  return {
    eventId: 'ad:digest:0',
    source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc', position: { kind: 'dirsync', cookieDigest: 'digest', index: 0 } },
    entryId: { kind: 'objectGUID', value: guid },
    op: 'modify',
    dn: 'CN=Jane,OU=Corp,DC=example,DC=test',
    previousDn: null,
    objectClasses: ['user'],
    attributes,
    initiator: null,
    changeTime: null,
    detectedAt: T0 + 1_000,
    after: null,
    before: null,
  };
}

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });
const SETTLE = 120_000;

describe('OwnWrites: the ad-writer’s own changes, told apart by its receipts', () => {
  it('a change that shows exactly what the writer wrote is its own: not published again', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'accountExpires', values: ['133801632000000000'] }]));
    const seen = own.recognize(modify([replace('accountExpires', '133801632000000000')]));
    expect(seen.event).toBeNull();
    expect(seen.own).toEqual([replace('accountExpires', '133801632000000000')]);
  });

  it('someone else’s value in the same attribute is published; so are other attributes and other entries', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'description', values: ['by the writer'] }]));
    expect(own.recognize(modify([replace('description', 'by an admin')])).event?.attributes).toEqual([replace('description', 'by an admin')]);
    expect(own.recognize(modify([replace('description', 'by the writer')], OTHER)).own).toEqual([]);
    // Part the writer's, part not: only the writer's part is left out.
    const mixed = own.recognize(modify([replace('description', 'by the writer'), replace('telephoneNumber', '555')]));
    expect(mixed.event?.attributes).toEqual([replace('telephoneNumber', '555')]);
    expect(mixed.own).toEqual([replace('description', 'by the writer')]);
  });

  it('set then cleared on the other side: the echo of the set, shown after the clear’s receipt is read, is still the writer’s', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'accountExpires', values: ['133801632000000000'] }], { at: T0 }));
    own.note(receipt([{ name: 'accountExpires', values: [] }], { at: T0 + 50 }));
    const set = own.recognize(modify([replace('accountExpires', '133801632000000000')]));
    expect(set.event).toBeNull();
    own.settle(set.settles, T0 + 100);
    // The clear's own echo comes next, and is the writer's too.
    const cleared = own.recognize(modify([replace('accountExpires')]));
    expect(cleared.event).toBeNull();
    own.settle(cleared.settles, T0 + 200);
    expect(own.pending).toBe(0);
  });

  it('a match settles its receipt and the ones before it, once committed; a later receipt still waits', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'userAccountControl', values: ['514'] }], { at: T0 }));
    own.note(receipt([{ name: 'userAccountControl', values: ['512'] }], { at: T0 + 10 }));
    own.note(receipt([{ name: 'userAccountControl', values: ['514'] }], { at: T0 + 20 }));
    const seen = own.recognize(modify([replace('userAccountControl', '512')]));
    expect(seen.event).toBeNull();
    // Not committed: recognized the same way again.
    expect(own.recognize(modify([replace('userAccountControl', '512')])).event).toBeNull();
    own.settle(seen.settles, T0 + 30);
    expect(own.pending).toBe(1);
    expect(own.recognize(modify([replace('userAccountControl', '512')])).event).not.toBeNull();
    expect(own.recognize(modify([replace('userAccountControl', '514')])).event).toBeNull();
  });

  it('linked values come one by one: each value the writer added or removed is its own', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'member', values: null, added: ['CN=Ann,OU=Corp,DC=example,DC=test'], removed: ['CN=Ben,OU=Corp,DC=example,DC=test'] }]));
    const seen = own.recognize(
      modify([
        { name: 'member', op: 'add', values: ['cn=ann, ou=corp, dc=example, dc=test', 'CN=Cat,OU=Corp,DC=example,DC=test'] },
        { name: 'member', op: 'delete', values: ['CN=Ben,OU=Corp,DC=example,DC=test'] },
      ]),
    );
    expect(seen.event?.attributes).toEqual([{ name: 'member', op: 'add', values: ['CN=Cat,OU=Corp,DC=example,DC=test'] }]);
    expect(seen.own).toHaveLength(2);
    own.settle(seen.settles, T0 + 10);
    expect(own.pending).toBe(0);
  });

  it('a value removed where the writer added it is someone else’s change', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'member', added: ['CN=Ann,OU=Corp,DC=example,DC=test'] }]));
    expect(own.recognize(modify([{ name: 'member', op: 'delete', values: ['CN=Ann,OU=Corp,DC=example,DC=test'] }])).own).toEqual([]);
  });

  it('a password the writer set shows as a pwdLastSet of AD’s choosing: the writer’s', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'pwdLastSet', anyValue: true }]));
    expect(own.recognize(modify([replace('pwdLastSet', '134090000000000000')])).event).toBeNull();
  });

  it('a rename without a move receipt, a delete or a snapshot is published as it is', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'description', values: ['x'] }]));
    for (const op of ['rename', 'delete', 'snapshot'] as const) {
      const event = { ...modify([replace('description', 'x')]), op };
      expect(own.recognize(event).event).toBe(event);
    }
  });

  describe('renames: a move receipt names the new DN (distinguishedName)', () => {
    const PARKED = 'CN=Parked,OU=Corp,DC=example,DC=test';
    const BACK = 'CN=Jane,OU=Moved,OU=Corp,DC=example,DC=test';
    const move = (to: string, at: number): WriteReceipt => receipt([{ name: 'distinguishedName', values: [to], added: [to] }], { at });
    const rename = (dn: string, attributes: AttributeChange[] = []): EntryChangeEvent => ({ ...modify(attributes), op: 'rename', dn, previousDn: null });

    it('the writer’s rename, shown at the DN it moved the entry to (any spelling), is not published', () => {
      const own = new OwnWrites({ settleMs: SETTLE });
      own.note(move(PARKED, T0));
      const seen = own.recognize(rename('cn=Parked, ou=corp,dc=Example,dc=test', [replace('cn', 'Parked')]));
      expect(seen.event).toBeNull();
      expect(seen.own.map((c) => c.name)).toContain('distinguishedName');
    });

    it('a swap shown only at its end (the intermediate DN never read) matches the last move and settles the earlier one', () => {
      const own = new OwnWrites({ settleMs: SETTLE });
      own.note(move(PARKED, T0));
      own.note(move(BACK, T0 + 5));
      const seen = own.recognize(rename(BACK));
      expect(seen.event).toBeNull();
      own.settle(seen.settles, T0 + 10);
      expect(own.pending).toBe(0);
      // The user's own rename to the intermediate DN later is theirs: published.
      expect(own.recognize(rename(PARKED)).event?.dn).toBe(PARKED);
    });

    it('someone else’s rename (another DN, another entry) is published whole', () => {
      const own = new OwnWrites({ settleMs: SETTLE });
      own.note(move(PARKED, T0));
      const elsewhere = rename('CN=Janet,OU=Corp,DC=example,DC=test', [replace('cn', 'Janet')]);
      expect(own.recognize(elsewhere).event).toBe(elsewhere);
      const other = { ...rename(PARKED), entryId: { kind: 'objectGUID' as const, value: OTHER } };
      expect(own.recognize(other).event).toBe(other);
    });

    describe('a move of the writer’s that someone moves on before DirSync reads it (no echo to match: superseded)', () => {
      const OUTSIDE = 'CN=Jane,OU=Outside,DC=example,DC=test';
      const landedMove = (to: string, landedAt: number, requestId = 'm1'): WriteReceipt => receipt([{ name: 'distinguishedName', values: [to], added: [to] }], { at: landedAt, landedAt, requestId });
      const firstMove = (to: string, at: number, requestId = 'm1'): WriteReceipt => receipt([{ name: 'distinguishedName', values: [to], added: [to] }], { at, requestId });

      it('landed before a read that shows the entry elsewhere: the user’s move back to that DN later is theirs, published', () => {
        const own = new OwnWrites({ settleMs: SETTLE });
        own.note(firstMove(PARKED, T0));
        own.note(landedMove(PARKED, T0 + 10));
        const away = own.recognize(rename(OUTSIDE));
        expect(away.event?.dn).toBe(OUTSIDE);
        own.settle(away.settles, T0 + 500, away.superseded === undefined ? [] : [away.superseded]);
        expect(own.pending).toBe(0);
        expect(own.recognize(rename(PARKED)).event?.dn).toBe(PARKED);
      });

      it('its second receipt read only after that read: dropped when it comes', () => {
        const own = new OwnWrites({ settleMs: SETTLE });
        own.note(firstMove(PARKED, T0));
        const away = own.recognize(rename(OUTSIDE));
        own.settle(away.settles, T0 + 500, away.superseded === undefined ? [] : [away.superseded]);
        expect(own.pending).toBe(1);
        own.note(landedMove(PARKED, T0 + 10));
        expect(own.pending).toBe(0);
        expect(own.recognize(rename(PARKED)).event?.dn).toBe(PARKED);
      });

      it('still in flight when a read shows the entry where it was: kept, and its echo is recognized after', () => {
        const own = new OwnWrites({ settleMs: SETTLE });
        own.note(firstMove(PARKED, T0));
        const before = own.recognize(modify([replace('description', 'by an admin')]));
        expect(before.superseded).toBeDefined();
        own.settle(before.settles, T0 + 5, before.superseded === undefined ? [] : [before.superseded]);
        own.note(landedMove(PARKED, T0 + 20));
        expect(own.pending).toBe(1);
        expect(own.recognize(rename(PARKED)).event).toBeNull();
      });

      it('a second receipt of another request, or of another DN, marks nothing', () => {
        const own = new OwnWrites({ settleMs: SETTLE });
        own.note(firstMove(PARKED, T0));
        const away = own.recognize(rename(OUTSIDE));
        own.settle(away.settles, T0 + 500, away.superseded === undefined ? [] : [away.superseded]);
        own.note(landedMove(PARKED, T0 + 10, 'other'));
        own.note(landedMove(BACK, T0 + 10));
        expect(own.pending).toBe(1);
      });
    });

    it('the writer’s rename with someone else’s change in the same read: that change is published as a modify', () => {
      const own = new OwnWrites({ settleMs: SETTLE });
      own.note(
        receipt(
          [
            { name: 'distinguishedName', values: [PARKED] },
            { name: 'cn', values: ['Parked'] },
          ],
          { at: T0 },
        ),
      );
      const seen = own.recognize(rename(PARKED, [replace('cn', 'Parked'), replace('description', 'by an admin')]));
      expect(seen.event).toMatchObject({ op: 'modify', dn: PARKED, previousDn: null, attributes: [replace('description', 'by an admin')] });
    });
  });

  describe('an entry the writer creates (no id before the add: its receipts go by DN)', () => {
    const DN = 'CN=Jane,OU=Corp,DC=example,DC=test';
    const created = (): OwnWrites => {
      const own = new OwnWrites({ settleMs: SETTLE });
      // The three steps of an AD create: the add at 546, the password, then 512.
      own.note({
        ...receipt(
          [
            { name: 'cn', values: ['Jane'] },
            { name: 'description', values: ['new hire'] },
            { name: 'userAccountControl', values: ['546'] },
          ],
          { at: T0 },
        ),
        entryId: null,
        dn: DN,
      });
      own.note({ ...receipt([{ name: 'pwdLastSet', anyValue: true }], { at: T0 + 1 }), entryId: null, dn: DN });
      own.note({ ...receipt([{ name: 'userAccountControl', values: ['512'] }], { at: T0 + 2 }), entryId: null, dn: DN });
      return own;
    };
    const add = (attributes: AttributeChange[]): EntryChangeEvent => ({ ...modify(attributes), op: 'add', dn: 'cn=jane, ou=corp, dc=example, dc=test' });
    const serverSet = [replace('objectSid', 'S-1-5-21-1-2-3-1105'), replace('accountExpires', '9223372036854775807')];

    it('its add, showing what the writer wrote (and what AD set itself), is the writer’s: not published', () => {
      const own = created();
      const seen = own.recognize(add([replace('cn', 'Jane'), replace('description', 'new hire'), replace('userAccountControl', '512'), replace('pwdLastSet', '134090000000000000'), ...serverSet]));
      expect(seen.event).toBeNull();
      own.settle(seen.settles, T0 + 10);
      expect(own.pending).toBe(0);
    });

    it('its add showing a value someone else wrote since is published whole, and settles nothing', () => {
      const own = created();
      const event = add([replace('cn', 'Jane'), replace('description', 'changed in AD'), replace('userAccountControl', '512'), ...serverSet]);
      const seen = own.recognize(event);
      expect(seen.event).toBe(event);
      expect(seen.settles).toEqual([]);
    });

    it('read between its steps: the add, then a modify of the new id showing the later steps, both the writer’s', () => {
      const own = created();
      const first = own.recognize(add([replace('cn', 'Jane'), replace('description', 'new hire'), replace('userAccountControl', '546'), ...serverSet]));
      expect(first.event).toBeNull();
      own.settle(first.settles, T0 + 10);
      const then = own.recognize({ ...modify([replace('userAccountControl', '512'), replace('pwdLastSet', '134090000000000000')]), dn: DN });
      expect(then.event).toBeNull();
    });

    it('receipts by id and by DN are ordered by when they were written, whatever the order they were read in', () => {
      const own = new OwnWrites({ settleMs: SETTLE });
      own.note(receipt([{ name: 'description', values: ['later'] }], { at: T0 + 20 }));
      own.note({ ...receipt([{ name: 'description', values: ['earlier'] }], { at: T0 }), entryId: null, dn: DN });
      const seen = own.recognize({ ...modify([replace('description', 'later')]), dn: DN });
      own.settle(seen.settles, T0 + 30);
      // The later one matched: the earlier one is settled with it.
      expect(own.pending).toBe(0);
    });
  });

  it('receipts older than a committed read by more than settleMs are forgotten, and late ones that old ignored', () => {
    const own = new OwnWrites({ settleMs: SETTLE });
    own.note(receipt([{ name: 'description', values: ['x'] }], { at: T0 }));
    own.note(receipt([{ name: 'title', values: ['y'] }], { at: T0 + 100_000 }));
    own.settle([], T0 + SETTLE + 1);
    expect(own.pending).toBe(1);
    expect(own.recognize(modify([replace('description', 'x')])).own).toEqual([]);
    expect(own.recognize(modify([replace('title', 'y')])).own).toHaveLength(1);
    own.note(receipt([{ name: 'description', values: ['x'] }], { at: T0 }));
    expect(own.pending).toBe(1);
  });

  it('values compare by bytes, DNs whatever their case and spacing', () => {
    expect(receiptValueKey('CN=Ann,OU=Corp')).toBe(receiptValueKey('cn=ann, ou=corp'));
    expect(receiptValueKey('Ann')).not.toBe(receiptValueKey('ann'));
    expect(receiptValueKey('abc')).toBe(receiptValueKey(Buffer.from('abc')));
  });
});
