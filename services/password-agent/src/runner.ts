import { existsSync, statSync } from 'node:fs';
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type RecordProducer as Producer } from '@idsync/platform';
import { type HealthProbe, JsonLogger } from '@idsync/platform';
import { type PasswordAgent, PositionHelperError, resolveExecutable, SyncPasswordsRunError } from './agent';
import { type StartMode, type SyncPosition } from './core';

/** Exit status when the agent stops for good (a programming error, not a failed samba-tool run): a supervisor notices. */
export const EXIT_AGENT_STOPPED = 3;

export type AgentState = 'starting' | 'running' | 'retrying' | 'stopped' | 'failed';

export interface AgentStatus {
  state: AgentState;
  /** How this process took its position (resume, baseline, full-pass), once it has. */
  start: StartMode | null;
  /** samba-tool's stored DirSync position, as last read (at start, and after each run that handled accounts). */
  position: ReturnType<SyncPosition['describe']> | null;
  runs: number;
  published: number;
  lastRunAt: string | null;
  error: string | null;
}

export interface AgentLoopOptions {
  readonly pollIntervalMs: number;
  /** Replace the stored position by a full pass that publishes every account's current hash (`--full-pass`). */
  readonly fullPass?: boolean;
  /** On stop, how long the run in flight may go on before its samba-tool is stopped. Default 10 s. */
  readonly stopGraceMs?: number;
}

/**
 * The agent's loop: connect the producer, take the position (resume from samba-tool's cache; on a first start the
 * DC's current end, or a full pass), then one `--no-wait` run at once and one every pollIntervalMs. A failed
 * samba-tool run backs off (doubling, at most a minute) and is repeated: its cache did not advance. SIGTERM lets
 * the run in flight finish for stopGraceMs (its accounts are acknowledged only after Kafka acked them), then stops
 * its samba-tool (the cache keeps the position of before that run), and closes the socket and the producer.
 */
export class AgentLoop {
  private stopping = false;
  private done: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private readonly state: AgentStatus = { state: 'starting', start: null, position: null, runs: 0, published: 0, lastRunAt: null, error: null };

  constructor(
    private readonly agent: PasswordAgent,
    private readonly producer: Producer,
    private readonly logger: JsonLogger,
    private readonly options: AgentLoopOptions,
  ) {}

  status(): AgentStatus {
    return { ...this.state };
  }

  start(): Promise<void> {
    this.done = this.loop();
    return this.done;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const grace = setTimeout(() => this.agent.abortRun(), this.options.stopGraceMs ?? 10_000);
    await this.done.catch(() => undefined);
    clearTimeout(grace);
    await this.agent.close();
    await this.producer.disconnect();
    this.state.state = this.state.state === 'failed' ? 'failed' : 'stopped';
  }

  private async loop(): Promise<void> {
    let initialized = false;
    let delay = this.options.pollIntervalMs;
    while (!this.stopping) {
      try {
        if (!initialized) {
          await this.producer.connect();
          const start = await this.agent.initialize({ fullPass: this.options.fullPass ?? false });
          initialized = true;
          this.state.start = start.mode;
          this.state.position = start.position.describe();
          // Ready once it has its position: a long first run (a full pass, a burst of changes) is work, not a fault.
          this.state.state = 'running';
          if (this.stopping) break;
        }
        // The first run follows the start at once: a password changed while the agent was down or starting waits
        // for no poll interval.
        const report = await this.agent.runOnce();
        this.state.runs += 1;
        this.state.published += report.published;
        this.state.lastRunAt = new Date().toISOString();
        if (report.position) this.state.position = report.position.describe();
        this.state.state = 'running';
        this.state.error = null;
        delay = this.options.pollIntervalMs;
      } catch (error) {
        if (this.stopping) break;
        if (!isRetriable(error)) {
          this.state.state = 'failed';
          this.state.error = error instanceof Error ? error.message : String(error);
          throw error;
        }
        this.state.state = 'retrying';
        this.state.error = error instanceof Error ? error.message : String(error);
        this.logger.event('error', 'password-agent.run-failed', { error: this.state.error, retryInMs: delay });
        delay = Math.min(delay * 2, 60_000);
      }
      // A stop that came during the run must not wait out the poll interval (or a minute of backoff).
      if (this.stopping) break;
      await new Promise<void>((resume) => {
        const timer = setTimeout(resume, delay);
        this.wake = () => {
          clearTimeout(timer);
          resume();
        };
      });
      this.wake = null;
    }
  }
}

export const USAGE = "usage: node services/password-agent/dist/main.js [--full-pass]\n  --full-pass  replace the stored position by a full pass: read and publish every account's current hash";

/** The agent's command line: `--full-pass` only. Null for anything else (the caller prints USAGE). */
export function parseAgentArguments(argv: readonly string[]): { fullPass: boolean } | null {
  let fullPass = false;
  for (const argument of argv) {
    if (argument === '--full-pass') fullPass = true;
    else return null;
  }
  return { fullPass };
}

/** samba-tool runs and Kafka connections fail for reasons that pass; anything else is a bug and stops the agent. */
function isRetriable(error: unknown): boolean {
  if (error instanceof SyncPasswordsRunError || error instanceof PositionHelperError) return true;
  if (typeof error === 'object' && error !== null) {
    const e = error as { retriable?: unknown; name?: unknown };
    if (e.retriable === true) return true;
    if (typeof e.name === 'string' && e.name.startsWith('Kafka')) return true;
  }
  return false;
}

/** Runs the agent's loop with the application; a stop for good ends the process with EXIT_AGENT_STOPPED. */
@Injectable()
export class AgentRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(AgentLoop) private readonly loop: AgentLoop,
    @Inject(JsonLogger) private readonly logger: JsonLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.loop.start().catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.event('error', 'password-agent.exit', { exitCode: EXIT_AGENT_STOPPED, error: message });
      process.stderr.write(`password-agent: ${message}\n`);
      process.exit(EXIT_AGENT_STOPPED);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    this.logger.event('info', 'password-agent.shutdown', { ...this.loop.status() });
  }
}

/** Health detail of the loop: down until it has its position, while runs fail, and once it stopped. */
export function agentProbe(loop: AgentLoop): HealthProbe {
  return {
    name: 'agent',
    async check() {
      const status = loop.status();
      if (status.state !== 'running') throw new Error(status.error ?? status.state);
      return { ...status };
    },
  };
}

/** What samba-tool needs on this host: the tool, smb.conf, the privileged ldapi socket, root. Never connects. */
export function sambaPrerequisites(settings: { sambaTool: string; smbConf: string; ldapiUrl: string }): string[] {
  const problems: string[] = [];
  if (resolveExecutable(settings.sambaTool) === null) problems.push(`${settings.sambaTool} not found or not executable`);
  if (!existsSync(settings.smbConf)) problems.push(`smb.conf ${settings.smbConf} not found`);
  const socket = ldapiSocketPath(settings.ldapiUrl);
  if (socket === null) problems.push(`${settings.ldapiUrl} names no socket path`);
  else if (!existsSync(socket) || !statSync(socket).isSocket()) problems.push(`ldapi socket ${socket} not found`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) problems.push('not running as root (syncpasswords needs SYSTEM rights over ldapi)');
  return problems;
}

export function sambaProbe(settings: { sambaTool: string; smbConf: string; ldapiUrl: string }): HealthProbe {
  return {
    name: 'samba',
    async check() {
      const problems = sambaPrerequisites(settings);
      if (problems.length > 0) throw new Error(problems.join('; '));
      return { smbConf: settings.smbConf, ldapi: settings.ldapiUrl };
    },
  };
}

/** `ldapi:///path/to/socket` or `ldapi://%2Fpath%2Fto%2Fsocket` -> the socket's path. */
export function ldapiSocketPath(url: string): string | null {
  const rest = url.replace(/^ldapi:\/\//, '');
  const path = decodeURIComponent(rest.split('?')[0] ?? '');
  return path.startsWith('/') ? path : null;
}
