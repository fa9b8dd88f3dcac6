import { afterImageAttributes, ConflictingAfterImageError, isImagedAttribute } from './after-image-attributes';
import { compilePipe } from './compile-pipe';
import { type PipeInput, pipeSchema } from './pipe';

const adToDs: PipeInput = {
  name: 'ad-to-ds',
  source: 'ad',
  destination: 'ds',
  dnMaps: [{ from: '*,OU=Sales,OU=Corp,DC=example,DC=test', to: 'uid={sAMAccountName},ou=People,dc=example,dc=com' }],
  attributeMappings: [{ from: 'mail', to: 'mail' }],
  syncClasses: [
    {
      name: 'users',
      evaluationOrder: 10,
      includeFilter: '(&(objectClass=user)(!(department=Contractors)))',
      excludeAdSystemObjects: true,
      destinationObjectClasses: ['inetOrgPerson'],
      attributeMappings: [
        { from: 'sAMAccountName', to: 'uid' },
        { to: 'cn', template: '{givenName} {SN}' },
      ],
    },
    { name: 'groups', evaluationOrder: 20, objectClasses: ['group'], destinationObjectClasses: ['groupOfUniqueNames'], attributeMappings: [{ from: 'member', to: 'uniqueMember', dn: true }] },
  ],
};

const dsToAd: PipeInput = {
  name: 'ds-to-ad',
  source: 'ds',
  destination: 'ad',
  attributeMappings: [{ from: 'telephoneNumber', to: 'telephoneNumber' }],
  syncClasses: [{ name: 'people', evaluationOrder: 1, includeFilter: '(employeeType=staff)', destinationObjectClasses: ['user'] }],
};

const pipes = [adToDs, dsToAd].map((pipe) => compilePipe(pipeSchema.parse(pipe)));

describe('the after-image attribute set of a detector', () => {
  const ad = afterImageAttributes('ad', pipes);

  it('holds what the pipes reading its directory need: criteria, filters, mappings, templates, DN maps', () => {
    expect(ad.names).toEqual(['department', 'givenName', 'isCriticalSystemObject', 'mail', 'member', 'objectClass', 'sAMAccountName', 'SN']);
    expect(ad.allUserAttributes).toBe(false);
  });

  it('says why each attribute is there', () => {
    expect(ad.needs.find((need) => need.name === 'department')?.neededBy).toBe('pipe ad-to-ds, class users: includeFilter');
    expect(ad.needs.find((need) => need.name === 'SN')?.neededBy).toBe('pipe ad-to-ds, class users: template for cn');
  });

  it('never holds a password or secret attribute, even one a subscriber asks for', () => {
    const set = afterImageAttributes('ad', pipes, { include: ['userPassword', 'unicodePwd', 'supplementalCredentials', 'idsyncPassword', 'title'] });
    expect(set.names).not.toContain('unicodePwd');
    expect(set.names.map((name) => name.toLowerCase())).not.toEqual(expect.arrayContaining(['userpassword']));
    expect(set.names).not.toContain('supplementalCredentials');
    expect(set.names).not.toContain('idsyncPassword');
    expect(set.names).toContain('title');
    expect(isImagedAttribute(set, 'unicodePwd')).toBe(false);
    expect(isImagedAttribute(set, 'userPassword;binary')).toBe(false);
    expect(isImagedAttribute(set, 'title')).toBe(true);
  });

  it('leaves out pipes of other sources', () => {
    const ds = afterImageAttributes('ds', pipes);
    expect(ds.names).toEqual(['employeeType', 'objectClass', 'telephoneNumber']);
    expect(afterImageAttributes('elsewhere', pipes).names).toEqual([]);
  });

  it('adds what subscribers ask for, once, in the first spelling met', () => {
    expect(afterImageAttributes('ad', pipes, { include: ['MAIL', 'title'] }).names).toEqual(expect.arrayContaining(['mail', 'title']));
    expect(afterImageAttributes('ad', pipes, { include: ['MAIL'] }).names).not.toContain('MAIL');
  });

  it('drops excluded attributes nobody needs, and refuses to exclude one a pipe needs, naming the pipe', () => {
    const set = afterImageAttributes('ad', pipes, { include: ['thumbnailPhoto'], exclude: ['thumbnailPhoto', 'jpegPhoto'] });
    expect(set.names).not.toContain('thumbnailPhoto');
    expect(isImagedAttribute(set, 'jpegPhoto')).toBe(false);
    expect(() => afterImageAttributes('ad', pipes, { exclude: ['Department'] })).toThrow(ConflictingAfterImageError);
    expect(() => afterImageAttributes('ad', pipes, { exclude: ['Department'] })).toThrow(/department \(pipe ad-to-ds, class users: includeFilter\)/);
  });

  it('reads every user attribute when a class copies same-named attributes', () => {
    const auto = compilePipe(pipeSchema.parse({ ...dsToAd, autoMapSameNames: true }));
    const set = afterImageAttributes('ds', [auto], { exclude: ['jpegPhoto'] });
    expect(set.allUserAttributes).toBe(true);
    expect(isImagedAttribute(set, 'jpegPhoto')).toBe(false);
    expect(isImagedAttribute(set, 'userPassword')).toBe(false);
    expect(isImagedAttribute(set, 'description')).toBe(true);
  });
});
