/** Test accounts as an administrator creates them: an AD user, a directory inetOrgPerson. */
export function adUser(cn: string, sam: string, description: string, sn = 'Tester'): Record<string, string | string[]> {
  return { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: sam, sn, description };
}

export function dsPerson(cn: string, uid: string, description: string, sn = 'Tester'): Record<string, string | string[]> {
  return { objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'], cn, uid, sn, description };
}
