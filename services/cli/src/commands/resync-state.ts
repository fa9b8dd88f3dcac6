import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a resync run remembers between an interruption and the next run with the same options. */
export interface ResyncRunState {
  readonly runId: string;
  /** The options that define the run; a different set starts a new run. */
  readonly fingerprint: string;
  readonly startedAt: number;
  readonly finished: boolean;
}

/**
 * A resync's progress on disk: a small JSON file per pipe and a list of the source entries whose snapshot events
 * Kafka has acknowledged (appended after each acknowledged batch, so a crash loses at most the batch in flight,
 * which the next run publishes again: the writers apply it idempotently).
 */
export class ResyncStateStore {
  private readonly file: string;

  constructor(
    readonly dir: string,
    pipe: string,
  ) {
    this.file = join(dir, `resync-${pipe.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }

  static defaultDir(env: Readonly<Record<string, string | undefined>>): string {
    return env['IDSYNC_STATE_DIR'] ?? join(env['XDG_STATE_HOME'] ?? join(homedir(), '.local', 'state'), 'idsync');
  }

  /** An unfinished run with the same options (the entry ids it already published: `published`). */
  unfinished(fingerprint: string): ResyncRunState | null {
    if (!existsSync(this.file)) return null;
    const state = JSON.parse(readFileSync(this.file, 'utf8')) as ResyncRunState;
    return state.finished || state.fingerprint !== fingerprint ? null : state;
  }

  /**
   * The entry ids a run recorded as published, in batches of up to `size`, read from its file as they are consumed
   * (a run of millions of entries leaves a file too large to hold at once).
   */
  *published(runId: string, size = 5_000): Generator<string[]> {
    const file = this.doneFile(runId);
    if (!existsSync(file)) return;
    const fd = openSync(file, 'r');
    try {
      const chunk = Buffer.alloc(64 * 1024);
      let rest = '';
      let batch: string[] = [];
      for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) {
        // Ids are ASCII: a chunk never ends inside a character.
        const lines = (rest + chunk.toString('latin1', 0, read)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') continue;
          batch.push(line);
          if (batch.length >= size) {
            yield batch;
            batch = [];
          }
        }
      }
      if (rest !== '') batch.push(rest);
      if (batch.length > 0) yield batch;
    } finally {
      closeSync(fd);
    }
  }

  begin(state: ResyncRunState): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.file, JSON.stringify(state, null, 2));
    if (!existsSync(this.doneFile(state.runId))) writeFileSync(this.doneFile(state.runId), '');
  }

  recordPublished(runId: string, entryIds: readonly string[]): void {
    if (entryIds.length > 0) appendFileSync(this.doneFile(runId), `${entryIds.join('\n')}\n`);
  }

  finish(state: ResyncRunState): void {
    writeFileSync(this.file, JSON.stringify({ ...state, finished: true }, null, 2));
    rmSync(this.doneFile(state.runId), { force: true });
  }

  doneFile(runId: string): string {
    return join(this.dir, `resync-${runId}.done`);
  }
}
