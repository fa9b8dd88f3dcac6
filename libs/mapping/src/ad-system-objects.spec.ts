import { type AttributeValue } from '@idsync/contracts';
import { adSystemObjectReason } from './ad-system-objects';
import { parseDn } from './dn';
import { type FilterEntry } from './filter';

const unknown: FilterEntry = { values: () => undefined };
const entry = (values: Record<string, AttributeValue[]>): FilterEntry => ({ values: (key) => values[key] });

function reason(dn: string, view: FilterEntry = unknown): string | null {
  return adSystemObjectReason(parseDn(dn), view);
}

describe('adSystemObjectReason', () => {
  it.each([
    ['CN=Administrators,CN=Builtin,DC=example,DC=test', 'in the CN=Builtin system container'],
    ['CN=AdminSDHolder,CN=System,DC=example,DC=test', 'in the CN=System system container'],
    ['CN=S-1-5-11,CN=ForeignSecurityPrincipals,DC=example,DC=test', 'in the CN=ForeignSecurityPrincipals system container'],
    ['CN=Jane Doe\\0ADEL:4f1c,CN=Deleted Objects,DC=example,DC=test', 'in the CN=Deleted Objects system container'],
    ['CN=Sites,CN=Configuration,DC=example,DC=test', 'in the CN=Configuration system container'],
    ['CN=Person,CN=Schema,CN=Configuration,DC=example,DC=test', 'in the CN=Configuration system container'],
    ['DC=@,DC=example.test,CN=MicrosoftDNS,DC=DomainDnsZones,DC=example,DC=test', 'in the DomainDnsZones application partition'],
    ['CN=krbtgt,CN=Users,DC=example,DC=test', "the well-known CN=Users object 'krbtgt'"],
    ['CN=krbtgt_12345,CN=Users,DC=example,DC=test', "the well-known CN=Users object 'krbtgt_12345'"],
    ['CN=Administrator,CN=Users,DC=example,DC=test', "the well-known CN=Users object 'Administrator'"],
    ['CN=Guest,CN=Users,DC=example,DC=test', "the well-known CN=Users object 'Guest'"],
    ['CN=Domain Admins,CN=Users,DC=example,DC=test', "the well-known CN=Users object 'Domain Admins'"],
    ['DC=example,DC=test', 'the domain root object'],
  ])('recognizes %s', (dn, expected) => {
    expect(reason(dn)).toBe(expected);
  });

  it.each([
    'CN=Jane Doe,OU=Sales,OU=Corp,DC=example,DC=test',
    'CN=Jane Doe,CN=Users,DC=example,DC=test',
    'CN=Administrator,OU=Corp,DC=example,DC=test',
    'CN=Builtin,OU=Corp,DC=example,DC=test',
    'uid=jdoe,ou=People,dc=example,dc=com',
  ])('leaves %s alone', (dn) => {
    expect(reason(dn)).toBeNull();
  });

  it('excludes anything marked isCriticalSystemObject=TRUE when the event says so', () => {
    expect(reason('CN=Renamed Admin,CN=Users,DC=example,DC=test', entry({ iscriticalsystemobject: ['TRUE'] }))).toBe('isCriticalSystemObject is TRUE');
    expect(reason('CN=Jane,CN=Users,DC=example,DC=test', entry({ iscriticalsystemobject: ['FALSE'] }))).toBeNull();
  });
});
