import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResyncStateStore } from './resync-state';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'resync-state-spec-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ResyncStateStore', () => {
  const state = { runId: 'run-1', fingerprint: 'f1', startedAt: 5, finished: false };

  it('resumes only an unfinished run with the same options', () => {
    const store = new ResyncStateStore(dir, 'ad-to-ds');
    expect(store.unfinished('f1')).toBeNull();
    store.begin(state);
    expect(store.unfinished('f1')).toEqual(state);
    expect(store.unfinished('other options')).toBeNull();
    store.finish(state);
    expect(store.unfinished('f1')).toBeNull();
  });

  it('gives back the ids recorded as published, in batches, however many acknowledgements wrote them', () => {
    const store = new ResyncStateStore(dir, 'ad-to-ds');
    store.begin(state);
    const ids = Array.from({ length: 12_345 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (let i = 0; i < ids.length; i += 500) store.recordPublished('run-1', ids.slice(i, i + 500));
    const batches = [...store.published('run-1', 5_000)];
    expect(batches.map((b) => b.length)).toEqual([5_000, 5_000, 2_345]);
    expect(batches.flat()).toEqual(ids);
    expect([...store.published('no-such-run')]).toEqual([]);
  });
});
