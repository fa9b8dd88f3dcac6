import { type Counter, ldapObserver, type LdapObserver, type Metrics } from '@idsync/platform';
import { type CoordinatorStatus } from './coordinator';

/**
 * Both detectors' metrics, under one set of names (`idsync_detector_*`; the `service` label says which detector).
 * Labels are operations, reasons and actions, never values from entries.
 */
export class DetectorMetrics {
  /** Changes the source returned (AD: entries of DirSync pages after the first pass; 389-ds: changelog entries). */
  readonly read: Counter;
  readonly published: Counter<'operation'>;
  readonly skipped: Counter<'reason'>;
  readonly deadEnded: Counter<'reason'>;
  readonly enteredScope: Counter;
  readonly errors: Counter<'kind' | 'action'>;
  readonly batches: Counter;
  /** AD only. */
  readonly pages: Counter;
  readonly ownWrites: Counter<'whole'>;
  /** 389-ds / PingDirectory only. */
  readonly passwordValuesExcluded: Counter;
  readonly passwordsSealed: Counter;
  readonly passwordHashOnly: Counter;
  readonly passwordsUndecryptable: Counter;
  readonly gaps: Counter;
  /** The source's LDAP operations (idsync_ldap_operation_duration_seconds). */
  readonly ldap: LdapObserver;

  constructor(metrics: Metrics, directory: string) {
    this.ldap = ldapObserver(metrics, directory);
    this.read = metrics.counter(
      'idsync_detector_changes_read_total',
      'Changes the source returned (AD: entries of DirSync pages after the first pass; 389-ds: changelog entries), counted when their batch committed',
    );
    this.published = metrics.counter('idsync_detector_events_published_total', 'Entry-change events committed to Kafka, by operation', ['operation']);
    this.skipped = metrics.counter('idsync_detector_changes_skipped_total', 'Changes read and not published, by reason (initiator, outside-base-dns, object-class, operational-only...)', ['reason']);
    this.deadEnded = metrics.counter('idsync_detector_changes_dead_ended_total', 'Changes that could not become events (malformed entry, entry identity unknown), logged with their position', [
      'reason',
    ]);
    this.enteredScope = metrics.counter('idsync_detector_entered_scope_total', 'Entries renamed into the watched subtrees from outside (or from an unknown DN), published whole after their rename');
    this.errors = metrics.counter('idsync_detector_errors_total', 'Failures of a read or a publish, by kind and action (retry, fenced, stop)', ['kind', 'action']);
    this.batches = metrics.counter('idsync_detector_batches_total', 'Batches committed to Kafka (events and checkpoint in one transaction)');
    this.pages = metrics.counter('idsync_detector_dirsync_pages_total', 'DirSync pages read, first-pass pages included (ad-detector)');
    this.ownWrites = metrics.counter(
      'idsync_detector_own_writes_total',
      "Changes recognized as the ad-writer's own by its write receipts and not published again (whole: yes), or published without that part (whole: no)",
      ['whole'],
    );
    this.passwordValuesExcluded = metrics.counter(
      'idsync_detector_password_values_excluded_total',
      'Clear-text password values (unhashed#user#password) left out of events (no password keys configured)',
    );
    this.passwordsSealed = metrics.counter('idsync_detector_passwords_sealed_total', 'Password changes published sealed (idsyncPassword, AES-256-GCM)');
    this.passwordHashOnly = metrics.counter('idsync_detector_password_hash_only_total', 'userPassword changes with only a hash recorded: they cannot be pushed to AD');
    this.passwordsUndecryptable = metrics.counter('idsync_detector_passwords_undecryptable_total', 'PingDirectory ds-changelog-encrypted-password values that could not be decrypted');
    this.gaps = metrics.counter('idsync_detector_changelog_gaps_total', 'Change numbers the changelog never returned within the grace period and that were skipped');
  }

  /**
   * The gauges read from the detector's state when scraped: how long since it last had read everything the source had
   * (lag), and since it last committed a checkpoint.
   */
  static watch(metrics: Metrics, status: () => Pick<CoordinatorStatus, 'caughtUpAt' | 'lastPublishAt' | 'startedAt'>, now: () => number = Date.now): void {
    metrics.gauge(
      'idsync_detector_lag_seconds',
      'Seconds since the detector last read everything the source had (a poll found nothing more); about the poll interval when it keeps up, growing when it is stopped, failing or behind',
      [],
      (gauge) => {
        const { caughtUpAt, startedAt } = status();
        gauge.set(Math.max(0, (now() - (caughtUpAt ?? startedAt)) / 1_000));
      },
    );
    metrics.gauge(
      'idsync_detector_checkpoint_age_seconds',
      'Seconds since the detector last committed events with their checkpoint (since it started, if not yet); grows while the source has no changes',
      [],
      (gauge) => {
        const { lastPublishAt, startedAt } = status();
        gauge.set(Math.max(0, (now() - (lastPublishAt ?? startedAt)) / 1_000));
      },
    );
  }
}
