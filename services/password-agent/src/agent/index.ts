export {
  HOOK_SCRIPT,
  PasswordAgent,
  type PasswordAgentOptions,
  POSITION_SCRIPT,
  PositionHelperError,
  type RunReport,
  safeOutputTail,
  type StartReport,
  SYNC_ATTRIBUTES,
  SyncPasswordsRunError,
} from './password-agent';
export { interpreterFromShebang, resolveExecutable, sambaPython } from './samba-python';
export { passwordAgentConfigSchema, type PasswordAgentConfig } from '../config';
