export { HOOK_SCRIPT, PasswordAgent, type PasswordAgentOptions, type RunReport, safeOutputTail, SYNC_ATTRIBUTES, SyncPasswordsRunError } from './password-agent';
export { passwordAgentConfigSchema, type PasswordAgentConfig } from '../config';
