import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/** Bytes written or read at a time. */
const CHUNK = 64 * 1024;

/**
 * Items kept in a file, one JSON text a line, until they are read back in order: what a resync reports per entry,
 * printed at the end, without holding the reports in memory.
 */
export class JsonLinesSpool<T> {
  private readonly fd: number;
  private pending = '';
  private written = 0;
  private closed = false;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w+');
  }

  get count(): number {
    return this.written;
  }

  add(item: T): void {
    this.pending += `${JSON.stringify(item)}\n`;
    this.written += 1;
    if (this.pending.length >= CHUNK) this.flush();
  }

  /** Every item added, in order, read from the file as they are consumed. */
  *items(): Generator<T> {
    this.flush();
    const buffer = Buffer.alloc(CHUNK);
    let position = 0;
    let rest = Buffer.alloc(0);
    for (;;) {
      const read = readSync(this.fd, buffer, 0, CHUNK, position);
      if (read === 0) break;
      position += read;
      // Split on bytes: a chunk may end inside a multi-byte character.
      let data = Buffer.concat([rest, buffer.subarray(0, read)]);
      for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10)) {
        yield JSON.parse(data.subarray(0, newline).toString('utf8')) as T;
        data = data.subarray(newline + 1);
      }
      rest = Buffer.from(data);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pending === '') return;
    const bytes = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at);
  }
}
