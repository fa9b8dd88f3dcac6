import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { type RecordProducer as Producer } from '@idsync/platform';
import { encodeEntryChange } from '@idsync/contracts';
import { PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { type Counter, type JsonLogger, type Metrics } from '@idsync/platform';
import { type Keyring, sealPassword } from '@idsync/secrets';
import { decidePasswordEvent, type HashSealer, settleDelayMs, MalformedSyncPasswordsLdifError, parseSyncPasswordsLdif, type SkipReason } from '../core';

/** The attributes the agent asks samba-tool for (objectClass lets the mapper pick the sync class). */
export const SYNC_ATTRIBUTES = ['objectGUID', 'objectClass', 'sAMAccountName', 'pwdLastSet', 'virtualCryptSHA512'] as const;

/** The hook samba-tool runs per account (plain JavaScript: samba-tool execs it directly). */
export const HOOK_SCRIPT = resolve(__dirname, '..', '..', 'bin', 'syncpasswords-hook.cjs');

export interface PasswordAgentOptions {
  /** The AD directory's name in the configuration (events' source.directory). */
  readonly directoryName: string;
  /** The DC this agent runs beside, for events' source.server (e.g. its LDAPS URL). */
  readonly server: string;
  /** samba-tool's smb.conf (`-s`). */
  readonly smbConf: string;
  /** The privileged ldapi socket, e.g. `ldapi:///var/lib/samba/private/ldap_priv/ldapi` (syncpasswords needs SYSTEM). */
  readonly ldapiUrl: string;
  /** Where the agent keeps samba-tool's cache (its DirSync position) and its socket; created 0700. */
  readonly stateDir: string;
  readonly producer: Producer;
  /** The AD changes topic the mapper reads. */
  readonly topic: string;
  /** Seals with its current key. */
  readonly keyring: Keyring;
  readonly logger: JsonLogger;
  readonly metrics: Metrics;
  /** At cache initialization: publish every account's current hash (true) or take them as the baseline (default). */
  readonly initialSync?: boolean;
  /** samba-tool's --filter (default: its own, enabled normal accounts without krbtgt). */
  readonly filter?: string;
  readonly sambaTool?: string;
  readonly hookScript?: string;
  /** A run that takes longer is killed (its cache is not advanced past the unfinished account). Default 10 min. */
  readonly runTimeoutMs?: number;
  /** Publish a password no sooner than this after it was set (pwdLastSet), so the account's create goes first. Default 0. */
  readonly settleMs?: number;
  readonly clock?: () => number;
}

/** A samba-tool run failed; its cache did not advance past the failing account, so the next run repeats it. */
export class SyncPasswordsRunError extends Error {
  readonly retriable = true;
  constructor(
    readonly exitCode: number | null,
    readonly detail: string,
  ) {
    super(`samba-tool user syncpasswords exited with ${exitCode ?? 'a signal'}: ${detail}`);
    this.name = 'SyncPasswordsRunError';
  }
}

export interface RunReport {
  readonly published: number;
  readonly skipped: Readonly<Partial<Record<SkipReason | 'malformed', number>>>;
}

/** Lines of samba-tool's output safe to log: no values of password-related attributes. */
export function safeOutputTail(output: string, lines = 6): string {
  return output
    .split('\n')
    .filter((line) => line.includes('idsync password hook:') || (line.trim() !== '' && !/crypt|virtual|unicodepwd|password|supplementalcredentials|cleartext|::/i.test(line)))
    .slice(-lines)
    .join(' | ')
    .slice(0, 1000);
}

/**
 * Beside a Samba AD DC: runs `samba-tool user syncpasswords` (as root, over the privileged ldapi socket) in script
 * mode, receives each changed account through the hook, and publishes a sealed {CRYPT} hash event on the AD changes
 * topic keyed by objectGUID. An account is acknowledged to samba-tool (DONE-EXIT) only after Kafka acknowledged its
 * event, so samba-tool's cache is the checkpoint: a crash repeats accounts, never loses one.
 */
export class PasswordAgent {
  private server: Server | null = null;
  private baseline = false;
  private report: { published: number; skipped: Partial<Record<SkipReason | 'malformed', number>> } = { published: 0, skipped: {} };
  /** pwdLastSet last published per objectGUID (this process only): skips notifications that are not password changes. */
  private readonly lastPublished = new Map<string, string>();
  private readonly seal: HashSealer;
  private readonly events: Counter;
  private readonly runs: Counter;

  constructor(private readonly options: PasswordAgentOptions) {
    const key = options.keyring.current;
    this.seal = (hash, entryId) => sealPassword(hash, key, { entryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE }, { form: 'hashed' });
    this.events = options.metrics.counter('idsync_password_agent_accounts_total', 'Accounts samba-tool reported, by result (published or a skip reason)');
    this.runs = options.metrics.counter('idsync_password_agent_runs_total', 'samba-tool syncpasswords runs, by result (ok, failed)');
  }

  get cacheLdb(): string {
    return join(this.options.stateDir, 'syncpasswords-cache.ldb');
  }

  get socketPath(): string {
    return join(this.options.stateDir, 'agent.sock');
  }

  /** Creates samba-tool's cache on first start; then a first run, as baseline unless initialSync. */
  async initialize(): Promise<RunReport | null> {
    await mkdir(this.options.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.options.stateDir, 0o700);
    if (existsSync(this.cacheLdb)) return null;
    const args = [
      'user',
      'syncpasswords',
      '--cache-ldb-initialize',
      `--cache-ldb=${this.cacheLdb}`,
      '-s',
      this.options.smbConf,
      '-H',
      this.options.ldapiUrl,
      `--attributes=${SYNC_ATTRIBUTES.join(',')}`,
      `--script=${this.options.hookScript ?? HOOK_SCRIPT}`,
      ...(this.options.filter ? [`--filter=${this.options.filter}`] : []),
    ];
    await this.sambaTool(args);
    this.options.logger.event('info', 'password-agent.cache-initialized', { cacheLdb: this.cacheLdb, attributes: [...SYNC_ATTRIBUTES] });
    return this.runOnce({ baseline: !(this.options.initialSync ?? false) });
  }

  /** One samba-tool run over every change since its cache's position (`--no-wait`). */
  async runOnce(options: { baseline?: boolean } = {}): Promise<RunReport> {
    await this.listen();
    this.baseline = options.baseline ?? false;
    this.report = { published: 0, skipped: {} };
    try {
      await this.sambaTool(['user', 'syncpasswords', `--cache-ldb=${this.cacheLdb}`, '--no-wait']);
      this.runs.inc({ result: 'ok' });
    } catch (error) {
      this.runs.inc({ result: 'failed' });
      throw error;
    } finally {
      this.baseline = false;
    }
    const report = this.report;
    this.options.logger.event('debug', 'password-agent.run', { published: report.published, skipped: report.skipped });
    return report;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((done) => server.close(() => done()));
    await rm(this.socketPath, { force: true });
  }

  private async listen(): Promise<void> {
    if (this.server) return;
    await rm(this.socketPath, { force: true });
    // Half-open: the hook ends its side after the LDIF and waits for the verdict, which comes after Kafka acked.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(this.socketPath, () => done());
    });
    await chmod(this.socketPath, 0o600);
    this.server = server;
  }

  private accept(socket: Socket): void {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('end', () => {
      const ldif = Buffer.concat(chunks).toString('utf8');
      chunks.length = 0;
      this.handle(ldif).then(
        (verdict) => socket.end(`OK ${verdict}\n`),
        (error: unknown) => {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
          this.options.logger.event('error', 'password-agent.publish-failed', { error: message });
          socket.end(`ERR ${message.replace(/\n/g, ' ').slice(0, 300)}\n`);
        },
      );
    });
  }

  /** One account: decide, publish, and say what happened (the hook's DONE-EXIT message; never a value). */
  private async handle(ldif: string): Promise<string> {
    let object;
    try {
      object = parseSyncPasswordsLdif(ldif);
    } catch (error) {
      if (!(error instanceof MalformedSyncPasswordsLdifError)) throw error;
      // Acknowledged: the same bytes would fail again and stop the agent forever. Logged without the LDIF.
      this.skip('malformed');
      this.options.logger.event('error', 'password-agent.malformed-account', { error: error.message });
      return 'skipped malformed';
    }
    const context = { directory: this.options.directoryName, server: this.options.server, detectedAt: (this.options.clock ?? Date.now)() };
    const decision = decidePasswordEvent(object, context, this.seal, this.lastPublished.get(object.objectGuid) ?? null);
    if (decision.kind === 'skip') {
      this.skip(decision.reason);
      if (decision.reason === 'no-hash') {
        this.options.logger.event('warn', 'password-agent.no-hash', {
          dn: object.dn,
          objectGuid: object.objectGuid,
          reason: "Samba holds no {CRYPT} hash for this account (password set before 'password hash userPassword schemes' was configured?)",
        });
      }
      return `skipped ${decision.reason}`;
    }
    if (this.baseline) {
      this.skip('baseline');
      if (object.pwdLastSet !== null) this.lastPublished.set(object.objectGuid, object.pwdLastSet);
      return 'skipped baseline';
    }
    const hold = settleDelayMs(object.pwdLastSet, (this.options.clock ?? Date.now)(), this.options.settleMs ?? 0);
    if (hold > 0) await new Promise((done) => setTimeout(done, hold));
    await this.options.producer.send({
      topic: this.options.topic,
      messages: [{ key: object.objectGuid, value: encodeEntryChange(decision.event) }],
    });
    if (object.pwdLastSet !== null) this.lastPublished.set(object.objectGuid, object.pwdLastSet);
    this.report.published += 1;
    this.events.inc({ result: 'published' });
    this.options.logger.event('info', 'password-agent.published', { dn: object.dn, objectGuid: object.objectGuid, eventId: decision.event.eventId });
    return 'published';
  }

  private skip(reason: SkipReason | 'malformed'): void {
    this.report.skipped[reason] = (this.report.skipped[reason] ?? 0) + 1;
    this.events.inc({ result: reason });
  }

  private sambaTool(args: string[]): Promise<void> {
    const tool = this.options.sambaTool ?? 'samba-tool';
    const fullArgs = args.includes('-s') || args.includes('--cache-ldb-initialize') ? args : [...args, '-s', this.options.smbConf];
    return new Promise((done, fail) => {
      const child = spawn(tool, fullArgs, {
        env: { ...process.env, IDSYNC_PASSWORD_AGENT_SOCKET: this.socketPath },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-20_000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGTERM'), this.options.runTimeoutMs ?? 600_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        fail(new SyncPasswordsRunError(null, `cannot start ${tool}: ${error.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0 && !/^ERROR/m.test(output)) done();
        else fail(new SyncPasswordsRunError(code, safeOutputTail(output)));
      });
    });
  }
}
