/**
 * Pausing a pipe (`idsync pipe pause|resume`, PingDataSync's `realtime-sync stop --pipe-name`): a control record on
 * the checkpoints topic (compacted), key `pipe-control/<pipe>`, that every mapper replica follows. While a pipe is
 * paused the mapper emits nothing for it and holds its input where it is: the records of its source topic wait,
 * uncommitted, and flow in order once it is resumed. Nothing is lost, nothing skipped.
 */
export const PIPE_CONTROL_KEY_PREFIX = 'pipe-control/';

export function pipeControlKey(pipe: string): string {
  return `${PIPE_CONTROL_KEY_PREFIX}${pipe}`;
}

export interface PipeControl {
  readonly pipe: string;
  readonly state: 'paused' | 'running';
  readonly at: number;
  readonly by: string;
  readonly reason?: string;
}

export function encodePipeControl(control: PipeControl): Buffer {
  return Buffer.from(JSON.stringify({ ...control, at: new Date(control.at).toISOString() }), 'utf8');
}

/** A control record; null when the key is not one or the value is not valid (ignored, never trusted). */
export function parsePipeControl(key: Buffer | string | null, value: Buffer | string | null): PipeControl | null {
  const name = key?.toString();
  if (name === undefined || !name.startsWith(PIPE_CONTROL_KEY_PREFIX) || value === null) return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(value.toString()) as Record<string, unknown>;
  } catch {
    return null;
  }
  const pipe = name.slice(PIPE_CONTROL_KEY_PREFIX.length);
  const at = typeof parsed['at'] === 'string' ? Date.parse(parsed['at']) : Number.NaN;
  const state = parsed['state'];
  if (parsed['pipe'] !== pipe || !Number.isFinite(at) || (state !== 'paused' && state !== 'running')) return null;
  const by = typeof parsed['by'] === 'string' ? parsed['by'] : '';
  const reason = typeof parsed['reason'] === 'string' ? parsed['reason'] : undefined;
  return { pipe, state, at, by, ...(reason === undefined ? {} : { reason }) };
}

/** Every pipe's latest control, as the records arrive (the latest `at` wins, whatever the order). */
export class PipeControls {
  private readonly latest = new Map<string, PipeControl>();

  observe(control: PipeControl): boolean {
    const known = this.latest.get(control.pipe);
    if (known !== undefined && known.at > control.at) return false;
    this.latest.set(control.pipe, control);
    return known?.state !== control.state;
  }

  isPaused(pipe: string): boolean {
    return this.latest.get(pipe)?.state === 'paused';
  }

  get paused(): PipeControl[] {
    return [...this.latest.values()].filter((control) => control.state === 'paused').sort((a, b) => a.pipe.localeCompare(b.pipe));
  }

  of(pipe: string): PipeControl | undefined {
    return this.latest.get(pipe);
  }
}
