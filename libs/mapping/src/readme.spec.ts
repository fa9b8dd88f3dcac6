import { type AttributeChange, type EntryChangeEvent } from '@idsync/contracts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { compilePipe, type CompiledPipe } from './compile-pipe';
import { mapChange } from './map-change';
import { pipesSchema } from './pipe';

/** The YAML examples operators copy from README.md must be valid and do what the text around them says. */
const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

function pipes(): Map<string, CompiledPipe> {
  const all = new Map<string, CompiledPipe>();
  for (const text of examples) {
    for (const pipe of pipesSchema.parse((parse(text) as { pipes: unknown }).pipes)) all.set(pipe.name, compilePipe(pipe));
  }
  return all;
}

const replace = (name: string, ...values: string[]): AttributeChange => ({ name, op: 'replace', values });

function event(fields: Pick<EntryChangeEvent, 'op' | 'dn' | 'objectClasses' | 'attributes'>): EntryChangeEvent {
  return {
    eventId: 'readme:1',
    source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1.example.test', position: { kind: 'dirsync', cookieDigest: 'x', index: 0 } },
    entryId: { kind: 'objectGUID', value: '6f1c0b3e-7a2d-4c1b-9e8f-0a1b2c3d4e5f' },
    previousDn: null,
    initiator: null,
    changeTime: null,
    detectedAt: 0,
    after: null,
    before: null,
    ...fields,
  };
}

describe('README examples', () => {
  it('has two YAML examples that validate', () => {
    expect(examples).toHaveLength(2);
    expect([...pipes().keys()]).toEqual(['ad-to-ds', 'ds-to-ad']);
  });

  it('ad-to-ds: Jane goes to ou=People, her group membership and her delete follow', () => {
    const adToDs = pipes().get('ad-to-ds') as CompiledPipe;
    const jane = 'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test';
    const add = mapChange(
      event({
        op: 'add',
        dn: jane,
        objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
        attributes: [replace('sAMAccountName', 'jdoe'), replace('cn', 'Jane Doe'), replace('givenName', 'Jane'), replace('sn', 'Doe')],
      }),
      adToDs,
    );
    expect(add).toMatchObject({
      kind: 'mapped',
      syncClass: 'users',
      requests: [{ op: 'upsert', dn: 'CN=Jane Doe,ou=People,dc=example,dc=com', objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'] }],
    });
    const member = mapChange(
      event({ op: 'modify', dn: 'CN=Sales Team,OU=Groups,OU=Corp,DC=example,DC=test', objectClasses: ['top', 'group'], attributes: [{ name: 'member', op: 'add', values: [jane] }] }),
      adToDs,
    );
    expect(member).toMatchObject({
      kind: 'mapped',
      syncClass: 'groups',
      requests: [{ op: 'modify', dn: 'CN=Sales Team,ou=Groups,dc=example,dc=com', attributes: [{ name: 'member', op: 'add', values: ['CN=Jane Doe,ou=People,dc=example,dc=com'] }] }],
    });
    const remove = mapChange(event({ op: 'delete', dn: jane, objectClasses: [], attributes: [] }), adToDs);
    expect(remove).toMatchObject({ kind: 'mapped', requests: [{ op: 'delete' }, { op: 'unlink', attributes: [{ name: 'member' }] }] });
  });

  it('ds-to-ad: uid=jdoe becomes CN=jdoe under OU=People,OU=Corp', () => {
    const dsToAd = pipes().get('ds-to-ad') as CompiledPipe;
    const result = mapChange(
      event({ op: 'add', dn: 'uid=jdoe,ou=People,dc=example,dc=com', objectClasses: ['inetOrgPerson'], attributes: [replace('uid', 'jdoe'), replace('givenName', 'Jane'), replace('sn', 'Doe')] }),
      dsToAd,
    );
    expect(result).toMatchObject({
      kind: 'mapped',
      requests: [{ op: 'upsert', dn: 'CN=jdoe,OU=People,OU=Corp,DC=example,DC=test', attributes: expect.arrayContaining([replace('sAMAccountName', 'jdoe'), replace('displayName', 'Jane Doe')]) }],
    });
  });
});
