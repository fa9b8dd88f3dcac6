import { type Counter, type Metrics } from '@idsync/platform';
import { type IgnoreReason } from '@idsync/detector/ds';

/** The detector's counters (Prometheus names). Labels never carry values from entries. */
export class DetectorMetrics {
  readonly read: Counter;
  readonly published: Counter;
  readonly ignored: Counter;
  readonly deadEnded: Counter;
  readonly enteredScope: Counter;
  readonly passwordValuesExcluded: Counter;
  readonly passwordsSealed: Counter;
  readonly passwordHashOnly: Counter;
  readonly passwordsUndecryptable: Counter;
  readonly gaps: Counter;
  readonly errors: Counter;
  readonly batches: Counter;

  constructor(metrics: Metrics) {
    this.read = metrics.counter('idsync_detector_changes_read_total', 'Changelog entries read (each counted once, when its batch committed)');
    this.published = metrics.counter('idsync_detector_changes_published_total', 'Entry-change events published to Kafka');
    this.ignored = metrics.counter('idsync_detector_changes_ignored_total', 'Changes read and not published, by reason (initiator, outside-base-dns, object-class, operational-only)');
    this.enteredScope = metrics.counter('idsync_detector_entered_scope_total', 'Entries renamed into the watched subtrees from outside, published whole after their rename');
    this.deadEnded = metrics.counter('idsync_detector_changes_dead_ended_total', 'Changes that could not become events (malformed entry, entry identity unknown), logged with their change number');
    this.passwordValuesExcluded = metrics.counter('idsync_detector_password_values_excluded_total', 'Clear-text password values (unhashed#user#password) left out of events (no password keys configured)');
    this.passwordsSealed = metrics.counter('idsync_detector_passwords_sealed_total', 'Password changes published sealed (idsyncPassword, AES-256-GCM)');
    this.passwordHashOnly = metrics.counter('idsync_detector_password_hash_only_total', 'userPassword changes with only a hash recorded: they cannot be pushed to AD');
    this.passwordsUndecryptable = metrics.counter('idsync_detector_passwords_undecryptable_total', 'PingDirectory ds-changelog-encrypted-password values that could not be decrypted');
    this.gaps = metrics.counter('idsync_detector_changelog_gaps_total', 'Change numbers the changelog never returned within the grace period and that were skipped');
    this.errors = metrics.counter('idsync_detector_errors_total', 'Failures of a poll, by kind and action (retry or stop)');
    this.batches = metrics.counter('idsync_detector_batches_total', 'Batches committed to Kafka (events and checkpoint in one transaction)');
  }

  static readonly labels = (detector: string, extra: Record<string, string> = {}): Record<string, string> => ({ detector, ...extra });

  ignoredBy(detector: string, reason: IgnoreReason, by = 1): void {
    this.ignored.inc({ detector, reason }, by);
  }
}
