import { currentEntry } from './diff';
import { entryAfterStep, moveReceiptAttributes, receiptAttributes, stepChanges } from './receipts';

const isPassword = (name: string): boolean => ['unicodepwd', 'userpassword'].includes(name.toLowerCase());
const ad = { isPassword, activeDirectory: true };
const jane = currentEntry({
  dn: 'CN=Jane,OU=Corp,DC=example,DC=test',
  userAccountControl: '512',
  description: ['one', 'two'],
  member: ['CN=A,OU=Corp,DC=example,DC=test', 'CN=B,OU=Corp,DC=example,DC=test'],
});

describe('receiptAttributes: what a modify leaves in each attribute it touches', () => {
  it('a replace holds exactly its values, and lists what it added and removed', () => {
    expect(receiptAttributes([{ op: 'replace', name: 'description', values: ['two', 'three'] }], jane, ad)).toEqual([
      { name: 'description', values: ['two', 'three'], added: ['three'], removed: ['one'], anyValue: false },
    ]);
  });

  it('a cleared attribute holds nothing (replace with no values, or delete without values)', () => {
    const cleared = { name: 'description', values: [], added: [], removed: ['one', 'two'], anyValue: false };
    expect(receiptAttributes([{ op: 'replace', name: 'description', values: [] }], jane, ad)).toEqual([cleared]);
    expect(receiptAttributes([{ op: 'delete', name: 'description', values: [] }], jane, ad)).toEqual([cleared]);
  });

  it('value-level changes of a multi-valued attribute: the values after them, and the ones added and removed', () => {
    const changes = [
      { op: 'add' as const, name: 'member', values: ['CN=C,OU=Corp,DC=example,DC=test'] },
      { op: 'delete' as const, name: 'member', values: ['CN=A,OU=Corp,DC=example,DC=test'] },
    ];
    expect(receiptAttributes(changes, jane, ad)).toEqual([
      {
        name: 'member',
        values: ['CN=B,OU=Corp,DC=example,DC=test', 'CN=C,OU=Corp,DC=example,DC=test'],
        added: ['CN=C,OU=Corp,DC=example,DC=test'],
        removed: ['CN=A,OU=Corp,DC=example,DC=test'],
        anyValue: false,
      },
    ]);
  });

  it('a value added then removed in one modify is neither added nor held', () => {
    const changes = [
      { op: 'add' as const, name: 'description', values: ['three'] },
      { op: 'delete' as const, name: 'description', values: ['three'] },
    ];
    expect(receiptAttributes(changes, jane, ad)).toEqual([{ name: 'description', values: ['one', 'two'], added: [], removed: [], anyValue: false }]);
  });

  it('an attribute the entry lacked starts empty; binary values are compared by their bytes', () => {
    const photo = Buffer.from([0xff, 0xd8, 0x01]);
    expect(receiptAttributes([{ op: 'add', name: 'thumbnailPhoto', values: [photo, Buffer.from(photo)] }], jane, ad)).toEqual([
      { name: 'thumbnailPhoto', values: [photo], added: [photo], removed: [], anyValue: false },
    ]);
  });

  it('attribute names are matched whatever their case; the first spelling is kept', () => {
    const changes = [
      { op: 'replace' as const, name: 'UserAccountControl', values: ['514'] },
      { op: 'replace' as const, name: 'userAccountControl', values: ['546'] },
    ];
    expect(receiptAttributes(changes, jane, ad)).toEqual([{ name: 'UserAccountControl', values: ['546'], added: ['546'], removed: ['512'], anyValue: false }]);
  });

  it('never lists a password; in AD a password set lists pwdLastSet as set to a value of the server’s choosing', () => {
    const changes = [
      { op: 'replace' as const, name: 'unicodePwd', values: [Buffer.from('"secret"', 'utf16le')] },
      { op: 'replace' as const, name: 'userAccountControl', values: ['512'] },
    ];
    const attributes = receiptAttributes(changes, jane, ad);
    expect(attributes.map((a) => a.name)).toEqual(['userAccountControl', 'pwdLastSet']);
    expect(attributes[1]).toEqual({ name: 'pwdLastSet', values: null, added: [], removed: [], anyValue: true });
    expect(JSON.stringify(attributes)).not.toContain('secret');
    expect(receiptAttributes(changes, jane, { isPassword, activeDirectory: false }).map((a) => a.name)).toEqual(['userAccountControl']);
  });

  it('pwdLastSet -1 in AD (no longer must change; AD writes the current time): listed as a value of AD’s choosing', () => {
    expect(receiptAttributes([{ op: 'replace', name: 'pwdLastSet', values: ['-1'] }], jane, ad)).toEqual([{ name: 'pwdLastSet', values: null, added: [], removed: [], anyValue: true }]);
    expect(receiptAttributes([{ op: 'replace', name: 'pwdLastSet', values: ['-1'] }], jane, { isPassword, activeDirectory: false })[0]?.values).toEqual(['-1']);
  });

  it('a pwdLastSet the writer sets itself (must change at next logon) is listed with its value, not as any', () => {
    const changes = [
      { op: 'replace' as const, name: 'unicodePwd', values: ['x'] },
      { op: 'replace' as const, name: 'pwdLastSet', values: ['0'] },
    ];
    expect(receiptAttributes(changes, jane, ad)).toEqual([{ name: 'pwdLastSet', values: ['0'], added: ['0'], removed: [], anyValue: false }]);
  });
});

describe('entryAfterStep: the entry as a plan’s steps leave it, for the next step’s receipt', () => {
  const dn = 'CN=New,OU=Corp,DC=example,DC=test';
  const values = (entry: ReturnType<typeof entryAfterStep>, name: string) => entry?.attributes.get(name.toLowerCase())?.values;

  it('an add is the whole entry; a modify after it starts from what the add wrote', () => {
    const add = {
      kind: 'add' as const,
      dn,
      attributes: [
        { name: 'cn', values: ['New'] },
        { name: 'userAccountControl', values: ['546'] },
      ],
    };
    expect(stepChanges(add)).toEqual([
      { op: 'replace', name: 'cn', values: ['New'] },
      { op: 'replace', name: 'userAccountControl', values: ['546'] },
    ]);
    const created = entryAfterStep(null, add);
    expect(created?.dn).toBe(dn);
    expect(values(created, 'userAccountControl')).toEqual(['546']);
    const enabled = { kind: 'modify' as const, dn, changes: [{ op: 'replace' as const, name: 'userAccountControl', values: ['512'] }] };
    expect(receiptAttributes(stepChanges(enabled), created, ad)).toEqual([{ name: 'userAccountControl', values: ['512'], added: ['512'], removed: ['546'], anyValue: false }]);
    const after = entryAfterStep(created, enabled);
    expect(values(after, 'userAccountControl')).toEqual(['512']);
    expect(values(after, 'cn')).toEqual(['New']);
  });

  it('a cleared attribute is gone, a rename moves the DN, a delete leaves nothing', () => {
    const modified = entryAfterStep(jane, { kind: 'modify', dn: jane.dn, changes: [{ op: 'delete', name: 'description', values: [] }] });
    expect(modified?.attributes.has('description')).toBe(false);
    expect(values(modified, 'member')).toHaveLength(2);
    expect(entryAfterStep(modified, { kind: 'modify-dn', dn: jane.dn, newDn: 'CN=Janet,OU=Corp,DC=example,DC=test', newRdn: 'CN=Janet', newSuperior: null })?.dn).toBe(
      'CN=Janet,OU=Corp,DC=example,DC=test',
    );
    expect(entryAfterStep(modified, { kind: 'delete', dn: jane.dn })).toBeNull();
  });
});

describe('moveReceiptAttributes: what a rename or move leaves', () => {
  it('a rename: the new DN, and the naming attribute’s new value', () => {
    expect(moveReceiptAttributes('CN=Bea,OU=Corp,DC=example,DC=test', 'CN=Parked,OU=Corp,DC=example,DC=test')).toEqual([
      { name: 'distinguishedName', values: ['CN=Parked,OU=Corp,DC=example,DC=test'], added: ['CN=Parked,OU=Corp,DC=example,DC=test'], removed: ['CN=Bea,OU=Corp,DC=example,DC=test'], anyValue: false },
      { name: 'CN', values: ['Parked'], added: ['Parked'], removed: ['Bea'], anyValue: false },
    ]);
  });

  it('a move under another parent with the same name: the DN only', () => {
    expect(moveReceiptAttributes('CN=Dan,OU=Corp,DC=example,DC=test', 'CN=Dan,OU=Moved,OU=Corp,DC=example,DC=test').map((a) => a.name)).toEqual(['distinguishedName']);
  });
});
