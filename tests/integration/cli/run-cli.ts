import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stackEnv } from '../support/stack';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'services', 'cli', 'dist', 'main.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built `idsync` command as an operator would (a child process, no terminal), with the stack's settings
 * in its environment and the given configuration file. `input` is written to its stdin.
 */
export async function idsync(args: readonly string[], options: { configFile?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliRun> {
  if (!existsSync(MAIN)) throw new Error('services/cli is not built: run `tsc -b tsconfig.build.json` (npm test does it before jest)');
  const env: NodeJS.ProcessEnv = { ...process.env, ...stackEnv(), ...options.env };
  if (options.configFile !== undefined) env['IDSYNC_CONFIG'] = options.configFile;
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The run's output for a failed assertion's message. */
export function describeRun(run: CliRun): string {
  return `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
}
