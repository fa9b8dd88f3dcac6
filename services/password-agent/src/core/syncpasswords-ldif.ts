/**
 * The LDIF `samba-tool user syncpasswords --script` hands the script on stdin: one object, its current state
 * (not a diff), with the attributes the cache was initialized with (`--attributes`) plus objectGUID, isDeleted,
 * isRecycled. Lines may be folded (continuation lines start with one space) and values may be base64 (`name:: `).
 *
 * ```
 * dn: CN=jdoe,OU=Sales,OU=Corp,DC=example,DC=test
 * objectClass: top ... user
 * objectGUID: 2f858209-dd45-49f1-a7e6-7a962db82589
 * sAMAccountName: jdoe
 * pwdLastSet: 134401066900405970
 * virtualCryptSHA512: {CRYPT}$6$Vh54Je.a63fZIyH2$...
 * ```
 */

export class MalformedSyncPasswordsLdifError extends Error {
  readonly retriable = false;
  constructor(reason: string) {
    super(`samba-tool syncpasswords output cannot be read: ${reason}`);
    this.name = 'MalformedSyncPasswordsLdifError';
  }
}

/** A {CRYPT} hash held in memory; prints and serializes as `***` (a hash is still a secret: offline cracking). */
export class PasswordHash {
  readonly #bytes: Buffer;
  constructor(bytes: Buffer) {
    this.#bytes = Buffer.from(bytes);
  }
  reveal(): Buffer {
    return this.#bytes;
  }
  toJSON(): string {
    return '***';
  }
  toString(): string {
    return '***';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'PasswordHash(***)';
  }
}

export interface SyncPasswordsObject {
  readonly dn: string;
  /** Canonical lower-case hyphenated text, as samba-tool prints it. */
  readonly objectGuid: string;
  readonly objectClasses: readonly string[];
  readonly samAccountName: string | null;
  /** Windows FILETIME (100 ns since 1601), as text; null when not asked for or absent. */
  readonly pwdLastSet: string | null;
  readonly deleted: boolean;
  /** virtualCryptSHA512 (`{CRYPT}$6$...`), when Samba has one (see `password hash userPassword schemes`). */
  readonly cryptSha512: PasswordHash | null;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Unfolds and splits LDIF into (name, value) pairs; values of `name::` are base64-decoded. */
function attributes(text: string): { name: string; value: Buffer }[] {
  const lines: string[] = [];
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    const last = lines.length - 1;
    if (raw.startsWith(' ') && last >= 0) lines[last] = `${lines[last] ?? ''}${raw.slice(1)}`;
    else if (raw !== '' && !raw.startsWith('#')) lines.push(raw);
  }
  return lines.map((line) => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MalformedSyncPasswordsLdifError(`a line without 'name:' (${line.length} characters)`);
    const name = line.slice(0, colon);
    if (line[colon + 1] === ':') return { name, value: Buffer.from(line.slice(colon + 2).trim(), 'base64') };
    if (line[colon + 1] === '<') throw new MalformedSyncPasswordsLdifError(`${name}: URL values are not supported`);
    return { name, value: Buffer.from(line.slice(colon + 1).replace(/^ /, ''), 'utf8') };
  });
}

/** Reads one object. Errors name attributes and lengths, never values. */
export function parseSyncPasswordsLdif(text: string): SyncPasswordsObject {
  const pairs = attributes(text);
  const all = (name: string): Buffer[] => pairs.filter((p) => p.name.toLowerCase() === name.toLowerCase()).map((p) => p.value);
  const one = (name: string): string | null => all(name)[0]?.toString('utf8') ?? null;
  const dn = one('dn');
  if (dn === null || dn === '') throw new MalformedSyncPasswordsLdifError('no dn');
  const guid = (one('objectGUID') ?? '').trim().toLowerCase();
  if (!GUID.test(guid)) throw new MalformedSyncPasswordsLdifError('no objectGUID in text form (ask for objectGUID in --attributes)');
  const hash = all('virtualCryptSHA512')[0];
  return {
    dn,
    objectGuid: guid,
    objectClasses: all('objectClass').map((v) => v.toString('utf8')),
    samAccountName: one('sAMAccountName'),
    pwdLastSet: one('pwdLastSet')?.trim() ?? null,
    deleted: (one('isDeleted') ?? '').trim().toUpperCase() === 'TRUE',
    cryptSha512: hash === undefined ? null : new PasswordHash(hash),
  };
}
