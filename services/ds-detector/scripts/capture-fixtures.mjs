// Captures real cn=changelog entries from the local stack's 389-ds into libs/detector/src/ds/__fixtures__/ (one JSON per change).
// Run from the repository root: node services/ds-detector/scripts/capture-fixtures.mjs
// It writes a small, uniquely named set of entries (as the directory's reader account), reads back their changelog
// entries exactly as ldapts returns them (attribute names as the server spells them, `changes` as raw bytes),
// replaces every password value with a dummy, and deletes what it created (the deletes are captured too).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Client, Attribute, Change } from 'ldapts';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', '..', 'libs', 'detector', 'src', 'ds', '__fixtures__');
const env = Object.fromEntries(
  readFileSync('/var/lib/idsync-stack/stack.env', 'utf8')
    .split('\n')
    .map((l) => /^([A-Z_][A-Z0-9_]*)='(.*)'$/.exec(l.trim()))
    .filter(Boolean)
    .map((m) => [m[1], m[2]]),
);
const tls = { ca: [readFileSync(env.DS_CA_FILE)], servername: env.DS_TLS_SERVER_NAME || undefined };
const client = new Client({ url: env.DS_URL, tlsOptions: tls });
await client.bind(env.DS_BIND_DN, env.DS_BIND_PASSWORD);

const base = env.DS_BASE_DN;
const s = Date.now().toString(36);
const people = `ou=People,${base}`;
const user = `uid=fx-${s},${people}`;
const renamed = `uid=fx-${s}-renamed,${people}`;
const ou = `ou=fx-${s},${people}`;
const moved = `uid=fx-${s}-renamed,${ou}`;
const group = `cn=fx-group-${s},ou=Groups,${base}`;
const seedMember = `uid=mmiller,${people}`;
const secrets = [randomBytes(12).toString('hex'), randomBytes(12).toString('hex')];

const dse = await client.search('', { scope: 'base', attributes: ['lastchangenumber'] });
const start = Number(dse.searchEntries[0].lastchangenumber) + 1;
const steps = [];
const step = async (name, fn) => {
  await fn();
  steps.push(name);
};

await step('add-user', () =>
  client.add(user, {
    objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    uid: `fx-${s}`,
    cn: 'Fixture User',
    sn: 'User',
    mail: [`fx-${s}@example.com`, `fx-${s}.alt@example.com`],
    userPassword: secrets[0],
  }),
);
await step('modify-multi', () =>
  client.modify(user, [
    new Change({ operation: 'replace', modification: new Attribute({ type: 'description', values: ['Ünïcode déscription ' + 'long '.repeat(30)] }) }),
    new Change({ operation: 'add', modification: new Attribute({ type: 'mail', values: [`fx-${s}.third@example.com`] }) }),
    new Change({ operation: 'delete', modification: new Attribute({ type: 'mail', values: [`fx-${s}.alt@example.com`] }) }),
    new Change({ operation: 'replace', modification: new Attribute({ type: 'telephoneNumber', values: ['+1 555 0100', '+1 555 0101'] }) }),
    new Change({ operation: 'add', modification: new Attribute({ type: 'jpegPhoto', values: [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x80, 0xfe])] }) }),
  ]),
);
await step('modify-single', () => client.modify(user, [new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Engineer'] }) })]));
await step('add-group', () => client.add(group, { objectClass: ['top', 'groupOfNames'], cn: `fx-group-${s}`, member: [seedMember] }));
await step('group-member-add', () => client.modify(group, [new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [user] }) })]));
await step('group-member-remove', () => client.modify(group, [new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [seedMember] }) })]));
await step('password-change', () => client.modify(user, [new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [secrets[1]] }) })]));
await step('modrdn-rename', () => client.modifyDN(user, `uid=fx-${s}-renamed`));
await step('add-ou', () => client.add(ou, { objectClass: ['top', 'organizationalUnit'], ou: `fx-${s}` }));
await step('modrdn-move', () => client.modifyDN(renamed, moved));
await step('delete-user', () => client.del(moved));
await step('delete-group', () => client.del(group));
await step('delete-ou', () => client.del(ou));

// The retro changelog is written after the operation returns: wait until the last delete is readable.
// The password change adds one entry of its own (389's password policy resets passwordGraceUserTime).
const names = [...steps.slice(0, steps.indexOf('password-change') + 1), 'password-policy-update', ...steps.slice(steps.indexOf('password-change') + 1)];
let mine = [];
for (let attempt = 0; attempt < 50 && mine.length < names.length; attempt++) {
  if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
  const { searchEntries } = await client.search('cn=changelog', {
    filter: `(&(changeNumber>=${start})(changeNumber<=${start + 200}))`,
    explicitBufferAttributes: ['changes'],
  });
  mine = searchEntries
    .filter((e) =>
      String(e.targetDn ?? e.targetdn)
        .toLowerCase()
        .includes(s),
    )
    .sort((a, b) => Number(a.changeNumber) - Number(b.changeNumber));
}
await client.unbind();
if (mine.length !== names.length) throw new Error(`expected ${names.length} changelog entries, found ${mine.length}`);

/** Password values (clear and hashed) become dummies; everything else stays as captured. */
const scrub = (text) => {
  const out = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    if (skipping && line.startsWith(' ')) continue; // continuation of a folded password value
    skipping = false;
    const m = /^(userpassword|unhashed#user#password)(::?) ?(.*)$/i.exec(line);
    if (!m) out.push(line);
    else {
      skipping = true;
      out.push(/^unhashed/i.test(m[1]) ? `${m[1]}: dummy-clear-password` : `${m[1]}: {PBKDF2-SHA512}dummy-hash`);
    }
  }
  return out.join('\n');
};

mkdirSync(out, { recursive: true });
mine.forEach((entry, k) => {
  const fixture = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'changes') {
      const bytes = Array.isArray(value) ? value[0] : value;
      const text = bytes.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(bytes)) throw new Error('changes is not UTF-8 text');
      fixture[key] = scrub(text);
    } else fixture[key] = value;
  }
  const json = JSON.stringify(fixture, null, 2);
  for (const secret of secrets) if (json.includes(secret)) throw new Error('a password survived scrubbing');
  writeFileSync(join(out, `${names[k]}.json`), `${json}\n`);
});
console.log(`captured ${mine.length} changelog entries (change numbers ${mine[0].changeNumber}..${mine.at(-1).changeNumber}) into ${out}`);
