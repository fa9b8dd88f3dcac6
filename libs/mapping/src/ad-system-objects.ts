/**
 * Active Directory objects that exist for AD itself and have no place in another directory: the Builtin
 * container, System, ForeignSecurityPrincipals, Deleted Objects, the Configuration and Schema partitions, the
 * DNS application partitions, the well-known accounts and groups in CN=Users, and anything marked
 * isCriticalSystemObject=TRUE. Used by a sync class's `excludeAdSystemObjects` switch.
 */
import { type Dn, normalizeAttributeType, normalizeDnValue, type Rdn } from './dn';
import { type FilterEntry } from './filter';

/** Containers directly below the domain (or forest) root whose whole subtree is AD's own. */
export const AD_SYSTEM_CONTAINERS = [
  'Builtin',
  'System',
  'ForeignSecurityPrincipals',
  'Deleted Objects',
  'Configuration', // CN=Configuration,DC=... and CN=Schema,CN=Configuration,DC=...
  'LostAndFound',
  'Infrastructure',
  'NTDS Quotas',
  'Program Data',
  'TPM Devices',
  'Keys',
] as const;

/** Application partitions, recognized by a `DC=` RDN anywhere in the DN. */
export const AD_SYSTEM_PARTITIONS = ['DomainDnsZones', 'ForestDnsZones'] as const;

/** Accounts and groups AD creates in CN=Users (English names; renamed ones are caught by isCriticalSystemObject). */
export const AD_WELL_KNOWN_USERS_OBJECTS = [
  'Administrator',
  'Guest',
  'krbtgt',
  'DefaultAccount',
  'WDAGUtilityAccount',
  'Domain Admins',
  'Domain Users',
  'Domain Guests',
  'Domain Computers',
  'Domain Controllers',
  'Schema Admins',
  'Enterprise Admins',
  'Enterprise Read-only Domain Controllers',
  'Read-only Domain Controllers',
  'Cloneable Domain Controllers',
  'Cert Publishers',
  'Group Policy Creator Owners',
  'RAS and IAS Servers',
  'Allowed RODC Password Replication Group',
  'Denied RODC Password Replication Group',
  'Protected Users',
  'Key Admins',
  'Enterprise Key Admins',
  'DnsAdmins',
  'DnsUpdateProxy',
] as const;

const CONTAINERS = new Set(AD_SYSTEM_CONTAINERS.map((name) => name.toLowerCase()));
const PARTITIONS = new Set(AD_SYSTEM_PARTITIONS.map((name) => name.toLowerCase()));
const USERS_OBJECTS = new Set(AD_WELL_KNOWN_USERS_OBJECTS.map((name) => name.toLowerCase()));

/** A single-valued RDN's type and value, case-folded for comparison, and the value as written for messages. */
function single(rdn: Rdn | undefined): { type: string; value: string; written: string } | null {
  const ava = rdn?.length === 1 ? rdn[0] : undefined;
  return ava ? { type: normalizeAttributeType(ava.type), value: normalizeDnValue(ava.value), written: ava.value } : null;
}

/**
 * Why `dn` is an AD system object, or null when it is not (or the event cannot tell). `entry` supplies
 * isCriticalSystemObject when the event carries it.
 */
export function adSystemObjectReason(dn: Dn, entry: FilterEntry): string | null {
  // The domain root is the trailing run of DC= RDNs; the container of interest sits just above it.
  let root = dn.length;
  while (root > 0 && single(dn[root - 1])?.type === 'dc') {
    root--;
    const dc = single(dn[root]);
    if (dc && PARTITIONS.has(dc.value)) return `in the ${dc.written} application partition`;
  }
  if (root === 0 && dn.length > 0) return 'the domain root object';
  const top = single(dn[root - 1]);
  if (top?.type === 'cn' && CONTAINERS.has(top.value)) return `in the CN=${top.written} system container`;
  if (top?.type === 'cn' && top.value === 'users' && root === 2) {
    const name = single(dn[0]);
    if (name && (USERS_OBJECTS.has(name.value) || /^krbtgt_[0-9]+$/.test(name.value))) {
      return `the well-known CN=Users object '${name.written}'`;
    }
  }
  const critical = entry.values('iscriticalsystemobject');
  if (critical?.some((value) => typeof value === 'string' && value.toUpperCase() === 'TRUE')) {
    return 'isCriticalSystemObject is TRUE';
  }
  return null;
}
