import { ChangeNumber } from './change-number';
import { type ChangelogRecord } from './changelog-entry';
import { NO_PASSWORD } from './passwords';
import { ObjectClassMemory } from './object-class-memory';

const record = (n: number, fields: Partial<ChangelogRecord>): ChangelogRecord => ({
  changeNumber: ChangeNumber.parse(String(n)),
  changeType: 'modify',
  op: 'modify',
  dn: 'uid=a,dc=x',
  previousDn: null,
  entryUuid: 'u1',
  objectClasses: null,
  attributes: [],
  initiator: null,
  changeTime: null,
  passwordValuesExcluded: 0,
  password: NO_PASSWORD,
  lastState: null,
  ...fields,
});

describe('ObjectClassMemory', () => {
  it('gives a modify the classes an earlier add showed, even if the entry is gone by the time it is read', () => {
    const memory = new ObjectClassMemory();
    const add = record(1, { changeType: 'add', op: 'add', objectClasses: ['top', 'person'] });
    const modify = record(2, {});
    const known = memory.learn([add, modify]);
    expect(known.get(modify)).toEqual(['top', 'person']);
    expect(memory.recall('u1')).toEqual(['top', 'person']);
  });

  it('forgets an entry whose objectClass a modify changed', () => {
    const memory = new ObjectClassMemory();
    memory.remember('u1', ['top', 'person']);
    const changed = record(3, { attributes: [{ name: 'objectClass', op: 'add', values: ['posixAccount'] }] });
    const later = record(4, {});
    const known = memory.learn([changed, later]);
    expect(known.has(changed)).toBe(false);
    expect(known.has(later)).toBe(false);
  });

  it('holds at most its capacity, forgetting the oldest first', () => {
    const memory = new ObjectClassMemory(2);
    memory.remember('a', ['x']);
    memory.remember('b', ['y']);
    memory.remember('c', ['z']);
    expect(memory.recall('a')).toBeNull();
    expect(memory.recall('c')).toEqual(['z']);
  });
});
