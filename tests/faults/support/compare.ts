import { type Entry, normalizeDn, type Side } from '../../integration/e2e/directories';

/**
 * A full comparison of one subtree of AD with its mirror in the directory, as the demo pipes map them (same RDNs
 * below OU=Corp / ou=Corp; users sAMAccountName <-> uid; groups with DN-mapped members; OUs). Every entry on
 * either side is accounted for: lost (in the source only), extra (in the destination only), or different (an
 * attribute whose values differ).
 */

export interface TreeDifference {
  readonly lost: string[];
  readonly extra: string[];
  readonly different: { dn: string; attribute: string; ad: string[]; ds: string[] }[];
  /** Entries compared (found on both sides). */
  readonly matched: number;
}

type Kind = 'user' | 'group' | 'ou';

/** AD attribute -> directory attribute, per kind of entry (the demo pipes' mappings, in both directions). */
const MAPPED: Record<Kind, readonly (readonly [string, string])[]> = {
  user: [
    ['sAMAccountName', 'uid'],
    ['cn', 'cn'],
    ['givenName', 'givenName'],
    ['sn', 'sn'],
    ['mail', 'mail'],
    ['description', 'description'],
    ['telephoneNumber', 'telephoneNumber'],
  ],
  group: [
    ['cn', 'cn'],
    ['description', 'description'],
    ['member', 'member'],
  ],
  ou: [
    ['ou', 'ou'],
    ['description', 'description'],
  ],
};

const ATTRIBUTES = ['objectClass', ...new Set(Object.values(MAPPED).flatMap((pairs) => pairs.flatMap(([a, d]) => [a, d])))];

function kindOf(entry: Entry): Kind | undefined {
  const classes = (entry['objectclass'] ?? []).map((c) => c.toLowerCase());
  if (classes.includes('organizationalunit')) return 'ou';
  if (classes.includes('group') || classes.includes('groupofnames')) return 'group';
  if (classes.includes('user') || classes.includes('inetorgperson')) return 'user';
  return undefined;
}

/** The part of a normalized DN below `base` (normalized too), or undefined when outside. */
function relative(dn: string, base: string): string | undefined {
  const n = normalizeDn(dn);
  return n.endsWith(`,${base}`) ? n.slice(0, -base.length - 1) : n === base ? '' : undefined;
}

export async function compareTrees(ad: Side, adBase: string, ds: Side, dsBase: string, adRoot: string, dsRoot: string): Promise<TreeDifference> {
  const [adEntries, dsEntries] = await Promise.all([
    ad.below(adBase, '(|(objectClass=user)(objectClass=group)(objectClass=organizationalUnit))', ATTRIBUTES),
    ds.ofClass(dsBase, ['inetOrgPerson', 'groupOfNames', 'organizationalUnit'], ATTRIBUTES),
  ]);
  const adRootN = normalizeDn(adRoot);
  const dsRootN = normalizeDn(dsRoot);
  const byRelative = (entries: Map<string, Entry>, root: string): Map<string, { dn: string; entry: Entry }> =>
    new Map([...entries].map(([dn, entry]) => [relative(dn, root) ?? `!${dn}`, { dn, entry }]));
  const adSide = byRelative(adEntries, adRootN);
  const dsSide = byRelative(dsEntries, dsRootN);
  const lost: string[] = [];
  const extra: string[] = [];
  const different: TreeDifference['different'] = [];
  let matched = 0;
  // Member DNs compared by their place below the mirrored roots.
  const memberKey = (value: string, root: string): string => relative(value, root) ?? `!${normalizeDn(value)}`;
  for (const [rel, { dn, entry }] of adSide) {
    const mirror = dsSide.get(rel);
    if (!mirror) {
      lost.push(dn);
      continue;
    }
    matched++;
    const kind = kindOf(entry);
    if (kind === undefined || kind !== kindOf(mirror.entry)) {
      different.push({ dn, attribute: 'objectClass', ad: entry['objectclass'] ?? [], ds: mirror.entry['objectclass'] ?? [] });
      continue;
    }
    for (const [adName, dsName] of MAPPED[kind]) {
      let a = entry[adName.toLowerCase()] ?? [];
      let d = mirror.entry[dsName.toLowerCase()] ?? [];
      if (adName === 'member') {
        a = a.map((v) => memberKey(v, adRootN));
        d = d.map((v) => memberKey(v, dsRootN));
      }
      const norm = (values: string[]): string[] => [...values].map((v) => (adName === 'cn' || adName === 'ou' ? v.toLowerCase() : v)).sort();
      if (JSON.stringify(norm(a)) !== JSON.stringify(norm(d))) different.push({ dn, attribute: adName, ad: a, ds: d });
    }
  }
  for (const [rel, { dn }] of dsSide) if (!adSide.has(rel)) extra.push(dn);
  return { lost, extra, different, matched };
}

/** One line for an assertion message: the counts and the first few of each. */
export function describeDifference(diff: TreeDifference): string {
  const few = (list: readonly unknown[]): string => JSON.stringify(list.slice(0, 5));
  return `${diff.matched} matched, ${diff.lost.length} lost ${few(diff.lost)}, ${diff.extra.length} extra ${few(diff.extra)}, ${diff.different.length} different ${few(diff.different)}`;
}
