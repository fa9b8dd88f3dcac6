/**
 * The agent's block under `services:` (to embed in libs/config as `services.password-agent`, optional):
 *
 * ```yaml
 * services:
 *   password-agent:
 *     httpPort: 8186
 *     source: ad                      # the AD directory (events' source.directory; its first URL names the DC)
 *     smbConf: /var/lib/idsync-stack/samba/etc/smb.conf
 *     ldapiUrl: ldapi:///var/lib/idsync-stack/samba/private/ldap_priv/ldapi
 *     stateDir: /var/lib/idsync/password-agent
 *     pollIntervalMs: 1000
 *     initialSync: false
 * ```
 */
import { z } from 'zod';

export const passwordAgentConfigSchema = z
  .object({
    httpPort: z.number().int().min(1).max(65535).default(8186),
    source: z.string().min(1),
    smbConf: z.string().min(1),
    ldapiUrl: z.string().regex(/^ldapi:\/\//, 'must be an ldapi:// URL (the privileged socket, private/ldap_priv/ldapi)'),
    stateDir: z.string().min(1),
    pollIntervalMs: z.number().int().min(100).default(1000),
    initialSync: z.boolean().default(false),
    filter: z.string().optional(),
    sambaTool: z.string().default('samba-tool'),
  })
  .strict();

export type PasswordAgentConfig = z.infer<typeof passwordAgentConfigSchema>;
