import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Attribute, Ber, BerWriter, Change, Control } from 'ldapts';
import { type Side } from '../../integration/e2e/directories';
import { stackEnv } from '../../integration/support/stack';

/**
 * Object-level refusals as operators meet them: one entry that refuses the writer's account while every other
 * entry takes its writes (AD: an explicit deny ACE, as AdminSDHolder or a delegated OU give; 389-ds: a deny ACI on
 * the entry). Each `deny…` returns the function that lifts it again.
 */

const run = promisify(execFile);

/** LDAP_SERVER_SD_FLAGS_OID: read and write only the DACL of a security descriptor. */
class SdFlagsControl extends Control {
  constructor(private readonly flags: number) {
    super('1.2.840.113556.1.4.801', { critical: true });
  }

  override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(this.flags);
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }
}
const DACL_ONLY = 4;

/** The SID of an AD account as text (S-1-5-21-…). */
async function sidOf(ad: Side, dn: string): Promise<string> {
  const { searchEntries } = await ad.client.search(dn, { scope: 'base', attributes: ['objectSid'], explicitBufferAttributes: ['objectSid'] });
  const sid = searchEntries[0]?.['objectSid'];
  if (!Buffer.isBuffer(sid)) throw new Error(`no objectSid on ${dn}`);
  const count = sid.readUInt8(1);
  const authority = sid.readUIntBE(2, 6);
  const subs = Array.from({ length: count }, (_, i) => sid.readUInt32LE(8 + 4 * i));
  return `S-${sid.readUInt8(0)}-${authority}-${subs.join('-')}`;
}

/**
 * Denies the ad-writer's account every property write on one AD entry (an explicit deny ACE, which wins over its
 * Domain Admins rights), with samba-tool as the administrator. Returns the undo: the entry's DACL as it was.
 */
export async function denyAdWriter(ad: Side, dn: string): Promise<() => Promise<void>> {
  const env = stackEnv();
  const writer = env['AD_WRITER_BIND_DN'];
  const password = env['AD_BIND_PASSWORD'];
  if (writer === undefined || password === undefined) throw new Error('stack.env has no AD_WRITER_BIND_DN / AD_BIND_PASSWORD');
  const sdFlags = new SdFlagsControl(DACL_ONLY);
  const { searchEntries } = await ad.client.search(dn, { scope: 'base', attributes: ['nTSecurityDescriptor'], explicitBufferAttributes: ['nTSecurityDescriptor'] }, sdFlags);
  const before = searchEntries[0]?.['nTSecurityDescriptor'];
  if (!Buffer.isBuffer(before)) throw new Error(`cannot read the security descriptor of ${dn}`);
  const sid = await sidOf(ad, writer);
  await run('samba-tool', ['dsacl', 'set', '-H', 'ldap://127.0.0.1', '-U', `Administrator%${password}`, `--objectdn=${dn}`, `--sddl=(D;;WP;;;${sid})`], { timeout: 60_000 });
  return async () => {
    await ad.client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'nTSecurityDescriptor', values: [before] }) }), new SdFlagsControl(DACL_ONLY));
  };
}

/** Denies the ds-writer's account writes (not reads) on one 389-ds entry (an ACI on the entry). Returns the undo. */
export async function denyDsWriter(directory: Side, dn: string): Promise<() => Promise<void>> {
  const writer = stackEnv()['DS_WRITER_BIND_DN'];
  if (writer === undefined) throw new Error('stack.env has no DS_WRITER_BIND_DN');
  const aci = `(targetattr="*")(version 3.0; acl "idsync fault test: this entry refuses the writer"; deny (write) userdn="ldap:///${writer}";)`;
  await directory.addValue(dn, 'aci', aci);
  return () => directory.deleteValue(dn, 'aci', aci);
}
