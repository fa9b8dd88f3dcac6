import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type RecordProducer as Producer } from '@idsync/platform';
import { type HealthProbe, type JsonLogger } from '@idsync/platform';
import { type PasswordAgent, SyncPasswordsRunError } from './agent';

/** Exit status when the agent stops for good (a programming error, not a failed samba-tool run): a supervisor notices. */
export const EXIT_AGENT_STOPPED = 3;

export type AgentState = 'starting' | 'running' | 'retrying' | 'stopped' | 'failed';

export interface AgentStatus {
  state: AgentState;
  runs: number;
  published: number;
  lastRunAt: string | null;
  error: string | null;
}

/**
 * The agent's loop: connect the producer, initialize samba-tool's cache (a baseline run on first start), then one
 * `--no-wait` run every pollIntervalMs. A failed samba-tool run backs off (doubling, at most a minute) and is
 * repeated: its cache did not advance. SIGTERM lets the run in flight finish (its accounts are acknowledged only
 * after Kafka acked them), then closes the socket and the producer.
 */
export class AgentLoop {
  private stopping = false;
  private done: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private readonly state: AgentStatus = { state: 'starting', runs: 0, published: 0, lastRunAt: null, error: null };

  constructor(
    private readonly agent: PasswordAgent,
    private readonly producer: Producer,
    private readonly logger: JsonLogger,
    private readonly pollIntervalMs: number,
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
    await this.done.catch(() => undefined);
    await this.agent.close();
    await this.producer.disconnect();
    this.state.state = this.state.state === 'failed' ? 'failed' : 'stopped';
  }

  private async loop(): Promise<void> {
    let initialized = false;
    let delay = this.pollIntervalMs;
    while (!this.stopping) {
      try {
        if (!initialized) {
          await this.producer.connect();
          const report = await this.agent.initialize();
          initialized = true;
          this.logger.event('info', 'password-agent.ready', { baseline: report ? report.skipped : null });
        } else {
          const report = await this.agent.runOnce();
          this.state.runs += 1;
          this.state.published += report.published;
          this.state.lastRunAt = new Date().toISOString();
        }
        this.state.state = 'running';
        this.state.error = null;
        delay = this.pollIntervalMs;
      } catch (error) {
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

/** samba-tool runs and Kafka connections fail for reasons that pass; anything else is a bug and stops the agent. */
function isRetriable(error: unknown): boolean {
  if (error instanceof SyncPasswordsRunError) return true;
  if (typeof error === 'object' && error !== null) {
    const e = error as { retriable?: unknown; name?: unknown };
    if (e.retriable === true) return true;
    if (typeof e.name === 'string' && e.name.startsWith('Kafka')) return true;
  }
  return false;
}

export function agentLoopModule(loop: AgentLoop, logger: JsonLogger): DynamicModule {
  @Injectable()
  class AgentRunner implements OnApplicationBootstrap, OnApplicationShutdown {
    onApplicationBootstrap(): void {
      loop.start().catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        logger.event('error', 'password-agent.exit', { exitCode: EXIT_AGENT_STOPPED, error: message });
        process.stderr.write(`password-agent: ${message}\n`);
        process.exit(EXIT_AGENT_STOPPED);
      });
    }

    async onApplicationShutdown(): Promise<void> {
      await loop.stop();
      logger.event('info', 'password-agent.shutdown', { ...loop.status() });
    }
  }

  @Module({})
  class AgentRunnerModule {}
  return { module: AgentRunnerModule, providers: [AgentRunner] };
}

/** Health detail of the loop: down until the cache is initialized, while runs fail, and once it stopped. */
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
  if (!findExecutable(settings.sambaTool)) problems.push(`${settings.sambaTool} not found or not executable`);
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

function findExecutable(tool: string): boolean {
  const candidates = isAbsolute(tool) ? [tool] : (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, tool));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
