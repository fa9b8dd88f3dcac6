import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { type RecordProducer as Producer } from '@idsync/platform';
import { encodeEntryChange } from '@idsync/contracts';
import { PASSWORD_PSEUDO_ATTRIBUTE } from '@idsync/mapping';
import { type Counter, type JsonLogger, type Metrics } from '@idsync/platform';
import { type Keyring, sealPassword } from '@idsync/secrets';
import {
  type AccountOutcome,
  decidePasswordEvent,
  decideStart,
  type HashSealer,
  MalformedSyncPasswordsLdifError,
  type PassCounts,
  PassSummary,
  parseSyncPasswordsLdif,
  settleDelayMs,
  type StartMode,
  SyncPosition,
  UnreadablePositionError,
} from '../core';
import { sambaPython } from './samba-python';

/** The attributes the agent asks samba-tool for (objectClass lets the mapper pick the sync class). */
export const SYNC_ATTRIBUTES = ['objectGUID', 'objectClass', 'sAMAccountName', 'pwdLastSet', 'virtualCryptSHA512'] as const;

/** The hook samba-tool runs per account (plain JavaScript: samba-tool execs it directly). */
export const HOOK_SCRIPT = resolve(__dirname, '..', '..', 'bin', 'syncpasswords-hook.cjs');

/** Reads and moves the DirSync position in samba-tool's cache (Python: it needs Samba's ldb and samdb modules). */
export const POSITION_SCRIPT = resolve(__dirname, '..', '..', 'bin', 'syncpasswords-position.py');

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
  /**
   * First start (no stored position): publish every account's current hash (true) or begin at the DC's current end
   * (default: password changes from then on are published).
   */
  readonly initialSync?: boolean;
  /** samba-tool's --filter (default: its own, enabled normal accounts without krbtgt). */
  readonly filter?: string;
  readonly sambaTool?: string;
  readonly hookScript?: string;
  /** The Python that runs the position helper (default: samba-tool's own interpreter). */
  readonly python?: string;
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

/** The position helper failed (python missing, cache locked, the DC not answering on ldapi): a retry may help. */
export class PositionHelperError extends Error {
  readonly retriable = true;
  constructor(
    readonly exitCode: number | null,
    readonly detail: string,
  ) {
    super(`samba-tool cache position helper exited with ${exitCode ?? 'a signal'}: ${detail}`);
    this.name = 'PositionHelperError';
  }
}

/** One samba-tool run: its accounts by outcome, and where it left samba-tool's cache. */
export interface RunReport extends PassCounts {
  readonly durationMs: number;
  /** Read back after a run that handled accounts; null after an empty run (not read: nothing to report). */
  readonly position: SyncPosition | null;
}

/** How a start found or made its position. */
export interface StartReport {
  /** resume: the stored position; baseline: the DC's current end; full-pass: from the beginning, publishing. */
  readonly mode: StartMode;
  readonly position: SyncPosition;
  readonly durationMs: number;
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
 * event, and samba-tool stores its DirSync position in its cache (in stateDir) only after a whole DirSync answer was
 * acknowledged (Samba answers every change since the position at once): a restart resumes there, repeating the
 * accounts of a run it interrupted, never losing one.
 */
export class PasswordAgent {
  private server: Server | null = null;
  private summary = new PassSummary();
  private run: ChildProcess | null = null;
  /** pwdLastSet last published per objectGUID (this process only): skips notifications that are not password changes. */
  private readonly lastPublished = new Map<string, string>();
  private readonly seal: HashSealer;
  private readonly events: Counter<'result'>;
  private readonly runs: Counter<'result'>;
  private readonly starts: Counter<'mode'>;

  constructor(private readonly options: PasswordAgentOptions) {
    const key = options.keyring.current;
    this.seal = (hash, entryId) => sealPassword(hash, key, { entryId, attribute: PASSWORD_PSEUDO_ATTRIBUTE }, { form: 'hashed' });
    this.events = options.metrics.counter('idsync_password_agent_accounts_total', 'Accounts samba-tool reported, by result (published or a skip reason)', ['result']);
    this.runs = options.metrics.counter('idsync_password_agent_runs_total', 'samba-tool syncpasswords runs, by result (ok, failed)', ['result']);
    this.starts = options.metrics.counter('idsync_password_agent_starts_total', 'Starts, by how the position was taken (resume, baseline, full-pass)', ['mode']);
  }

  /** samba-tool's cache: its settings and its DirSync position (the agent's checkpoint). */
  get cacheLdb(): string {
    return join(resolve(this.options.stateDir), 'syncpasswords-cache.ldb');
  }

  get socketPath(): string {
    return join(this.options.stateDir, 'agent.sock');
  }

  /**
   * Takes the position to start from: the one stored in samba-tool's cache (resume), or, without one, the DC's
   * current end (baseline) or the beginning (full pass, when `initialSync` or `fullPass` asks). A new position is
   * made in a cache beside the stored one and renamed over it once complete, so a crash while starting leaves the
   * stored position (or none) as it was.
   */
  async initialize(options: { fullPass?: boolean } = {}): Promise<StartReport> {
    const started = Date.now();
    await mkdir(this.options.stateDir, { recursive: true, mode: 0o700 });
    await chmod(this.options.stateDir, 0o700);
    const stored = existsSync(this.cacheLdb) ? await this.readPosition(this.cacheLdb) : null;
    const mode = decideStart(stored, { initialSync: this.options.initialSync ?? false, fullPass: options.fullPass ?? false });
    let position: SyncPosition;
    if (mode === 'resume' && stored !== null) {
      position = stored;
    } else {
      const fresh = join(resolve(this.options.stateDir), 'syncpasswords-cache.new.ldb');
      await rm(fresh, { force: true });
      await this.sambaTool([
        'user',
        'syncpasswords',
        '--cache-ldb-initialize',
        `--cache-ldb=${fresh}`,
        '-s',
        this.options.smbConf,
        '-H',
        this.options.ldapiUrl,
        `--attributes=${SYNC_ATTRIBUTES.join(',')}`,
        `--script=${this.options.hookScript ?? HOOK_SCRIPT}`,
        ...(this.options.filter ? [`--filter=${this.options.filter}`] : []),
      ]);
      const made = mode === 'baseline' ? await this.positionHelper(['move-to-current-end', fresh, this.options.ldapiUrl, this.options.smbConf]) : await this.readPosition(fresh);
      if (made === null) throw new PositionHelperError(0, `samba-tool made no cache in ${fresh}`);
      position = made;
      await rename(fresh, this.cacheLdb);
      await rm(`${fresh}.pid`, { force: true });
    }
    this.starts.inc({ mode });
    const report: StartReport = { mode, position, durationMs: Date.now() - started };
    this.options.logger.event('info', 'password-agent.start', {
      mode,
      position: position.describe(),
      durationMs: report.durationMs,
      note: START_NOTES[mode](position),
      ...(mode === 'resume' ? {} : { cacheLdb: this.cacheLdb, attributes: [...SYNC_ATTRIBUTES] }),
    });
    return report;
  }

  /**
   * One samba-tool run over every change since its cache's position (`--no-wait`). Logs one summary line when it
   * handled accounts (counts by outcome; the first DNs per skip reason at debug), never a line per skipped account.
   */
  async runOnce(): Promise<RunReport> {
    const started = Date.now();
    await this.listen();
    this.summary = new PassSummary();
    try {
      await this.sambaTool(['user', 'syncpasswords', `--cache-ldb=${this.cacheLdb}`, '--no-wait']);
      this.runs.inc({ result: 'ok' });
    } catch (error) {
      this.runs.inc({ result: 'failed' });
      this.logPass(this.summary, started, null, error);
      throw error;
    }
    const summary = this.summary;
    const position = summary.accounts > 0 ? await this.readPosition(this.cacheLdb) : null;
    this.logPass(summary, started, position, null);
    return { ...summary.totals(), durationMs: Date.now() - started, position };
  }

  /** Stops the samba-tool run in flight, if any (its cache keeps the position of before the run). */
  abortRun(): void {
    this.run?.kill('SIGTERM');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((done) => server.close(() => done()));
    await rm(this.socketPath, { force: true });
  }

  private logPass(summary: PassSummary, started: number, position: SyncPosition | null, error: unknown): void {
    // An empty run is the usual poll; a failed one without accounts is reported by the loop (run-failed).
    if (summary.accounts === 0) return;
    const level = error !== null || summary.needsAttention ? 'warn' : 'info';
    this.options.logger.event(level, 'password-agent.pass', {
      ...summary.totals(),
      durationMs: Date.now() - started,
      ...(position ? { position: position.describe() } : {}),
      ...(error !== null ? { outcome: 'failed: samba-tool keeps its position, the next run repeats these accounts' } : {}),
      ...(summary.needsAttention ? { note: NEEDS_ATTENTION_NOTE } : {}),
    });
    if (summary.accounts > summary.published) this.options.logger.event('debug', 'password-agent.pass.skipped', { accounts: summary.skippedExamples() });
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
      // Acknowledged: the same bytes would fail again and stop the agent forever. Counted in the pass summary.
      this.count('malformed', null);
      return 'skipped malformed';
    }
    const context = { directory: this.options.directoryName, server: this.options.server, detectedAt: (this.options.clock ?? Date.now)() };
    const decision = decidePasswordEvent(object, context, this.seal, this.lastPublished.get(object.objectGuid) ?? null);
    if (decision.kind === 'skip') {
      this.count(decision.reason, object.dn);
      return `skipped ${decision.reason}`;
    }
    const hold = settleDelayMs(object.pwdLastSet, (this.options.clock ?? Date.now)(), this.options.settleMs ?? 0);
    if (hold > 0) await new Promise((done) => setTimeout(done, hold));
    await this.options.producer.send({
      topic: this.options.topic,
      messages: [{ key: object.objectGuid, value: encodeEntryChange(decision.event) }],
    });
    if (object.pwdLastSet !== null) this.lastPublished.set(object.objectGuid, object.pwdLastSet);
    this.count('published', object.dn);
    this.options.logger.event('info', 'password-agent.published', { dn: object.dn, objectGuid: object.objectGuid, eventId: decision.event.eventId });
    return 'published';
  }

  private count(outcome: AccountOutcome, dn: string | null): void {
    this.summary.record(outcome, dn);
    this.events.inc({ result: outcome });
  }

  /** The position stored in a samba-tool cache; null when the file holds no initialized cache. */
  private readPosition(cacheLdb: string): Promise<SyncPosition | null> {
    return this.positionHelper(['read', cacheLdb]);
  }

  /** Runs the position helper (read, move-to-current-end) and reads the position it prints. */
  private positionHelper(args: string[]): Promise<SyncPosition | null> {
    const python = this.options.python ?? sambaPython(this.options.sambaTool ?? 'samba-tool');
    return new Promise((done, fail) => {
      const child = spawn(python, [POSITION_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4_000)));
      const timer = setTimeout(() => child.kill('SIGTERM'), 120_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        fail(new PositionHelperError(null, `cannot start ${python}: ${error.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) return fail(new PositionHelperError(code, safeOutputTail(stderr)));
        let stored: { control: string | null; storedAt: string | null };
        try {
          stored = JSON.parse(stdout) as typeof stored;
        } catch {
          return fail(new PositionHelperError(code, `unreadable answer (${stdout.length} characters)`));
        }
        try {
          done(stored.control === null ? null : SyncPosition.fromCache(stored.control, stored.storedAt));
        } catch (error) {
          if (error instanceof UnreadablePositionError) error.message += ` (${args[1] ?? 'the cache'}; remove it to start over: a baseline, or a full pass with --full-pass)`;
          fail(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
  }

  private sambaTool(args: string[]): Promise<void> {
    const tool = this.options.sambaTool ?? 'samba-tool';
    const fullArgs = args.includes('-s') || args.includes('--cache-ldb-initialize') ? args : [...args, '-s', this.options.smbConf];
    return new Promise((done, fail) => {
      const child = spawn(tool, fullArgs, {
        env: { ...process.env, IDSYNC_PASSWORD_AGENT_SOCKET: this.socketPath },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.run = child;
      let output = '';
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-20_000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGTERM'), this.options.runTimeoutMs ?? 600_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        this.run = null;
        fail(new SyncPasswordsRunError(null, `cannot start ${tool}: ${error.message}`));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        this.run = null;
        if (code === 0 && !/^ERROR/m.test(output)) done();
        else fail(new SyncPasswordsRunError(code, safeOutputTail(output)));
      });
    });
  }
}

const START_NOTES: Record<StartMode, (position: SyncPosition) => string> = {
  resume: (p) => (p.fromBeginning ? 'resuming an unfinished full pass: every account is read again' : 'resumed from the stored position: only accounts changed since are read'),
  baseline: () => "first start: begins at the DC's current end; password changes from now on are published (initialSync: true or --full-pass publishes existing ones)",
  'full-pass': () => "full pass: every account's current hash is read and published",
};

const NEEDS_ATTENTION_NOTE =
  "accounts without a usable {CRYPT} hash are not synced until their next password change (password set before 'password hash userPassword schemes' was configured?); their DNs are logged at debug level";
