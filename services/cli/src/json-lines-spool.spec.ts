import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLinesSpool } from './json-lines-spool';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'spool-spec-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('JsonLinesSpool', () => {
  it('gives back every item in order, from the file, across chunk boundaries and multi-byte characters', () => {
    const spool = new JsonLinesSpool<{ n: number; text: string }>(join(dir, 'items.jsonl'));
    const items = Array.from({ length: 3_000 }, (_, n) => ({ n, text: `${'é✓'.repeat(n % 50)}\nline ${n}` }));
    for (const item of items) spool.add(item);
    expect(spool.count).toBe(3_000);
    expect([...spool.items()]).toEqual(items);
    // On disk, not held: the file has them all.
    expect(statSync(spool.file).size).toBeGreaterThan(64 * 1024);
    spool.close();
  });

  it('is empty when nothing was added, and can be read twice', () => {
    const spool = new JsonLinesSpool<number>(join(dir, 'items.jsonl'));
    expect([...spool.items()]).toEqual([]);
    spool.add(1);
    spool.add(2);
    expect([...spool.items()]).toEqual([1, 2]);
    expect([...spool.items()]).toEqual([1, 2]);
    spool.close();
  });
});
