import { driftMetrics } from './drift-metrics';

describe('drift metrics (resync --push-metrics)', () => {
  it('counts what a resync found by pipe and kind, with when it ran', async () => {
    const metrics = driftMetrics({ pipe: 'ad-to-ds', sourceEntries: 120, create: 2, update: 3, delete: 1, unmappable: 0, finishedAt: 1_764_000_000_500 });
    expect(await metrics.value('idsync_resync_drift_entries', { pipe: 'ad-to-ds', kind: 'update' })).toBe(3);
    expect(await metrics.value('idsync_resync_drift_entries', { pipe: 'ad-to-ds' })).toBe(6);
    const text = await metrics.render();
    expect(text).toMatch(/idsync_resync_drift_entries\{(?=[^}]*pipe="ad-to-ds")(?=[^}]*kind="create")[^}]*\} 2/);
    expect(text).toContain('idsync_resync_last_run_timestamp_seconds{pipe="ad-to-ds",service="resync"} 1764000001');
    expect(text).not.toContain('process_');
  });
});
