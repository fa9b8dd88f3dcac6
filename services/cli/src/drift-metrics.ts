import { Metrics } from '@idsync/platform';

/** What a resync found, as the drift metrics count it. */
export interface DriftCounts {
  readonly pipe: string;
  readonly sourceEntries: number;
  /** Missing at the destination (would be created). */
  readonly create: number;
  /** Present and different (would be updated). */
  readonly update: number;
  /** Linked destination entries whose source entry is gone (deleted only with --delete-missing). */
  readonly delete: number;
  /** Source entries the pipe cannot map. */
  readonly unmappable: number;
  readonly finishedAt: number;
}

/**
 * The drift a resync (usually the nightly `--dry-run`) found, as metrics: pushed to a Prometheus Pushgateway
 * (`--push-metrics URL`, job `idsync-resync`, grouped by pipe), where the IdsyncDrift alert reads them.
 */
export function driftMetrics(counts: DriftCounts): Metrics {
  const metrics = new Metrics({ service: 'resync' });
  const drift = metrics.gauge(
    'idsync_resync_drift_entries',
    "Entries a resync found out of line between a pipe's source and destination, by pipe and kind (create: missing at the destination; update: different; delete: linked to a source entry that is gone; unmappable: the pipe cannot map the source entry)",
    ['pipe', 'kind'],
  );
  for (const kind of ['create', 'update', 'delete', 'unmappable'] as const) drift.set({ pipe: counts.pipe, kind }, counts[kind]);
  metrics.gauge('idsync_resync_source_entries', 'Source entries the resync read, by pipe', ['pipe']).set({ pipe: counts.pipe }, counts.sourceEntries);
  metrics.gauge('idsync_resync_last_run_timestamp_seconds', 'When the last resync of the pipe finished (epoch seconds)', ['pipe']).set({ pipe: counts.pipe }, Math.round(counts.finishedAt / 1_000));
  return metrics;
}
