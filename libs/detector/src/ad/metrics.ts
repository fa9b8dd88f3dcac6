import { type Counter, type Metrics } from '@idsync/platform';

/** The ad-detector's counters (GET /metrics). Labels are reasons and actions, never values from entries. */
export class DetectorMetrics {
  readonly pages: Counter;
  readonly entriesRead: Counter;
  readonly eventsPublished: Counter;
  readonly skipped: Counter;
  readonly errors: Counter;
  readonly enteredScope: Counter;
  readonly ownWrites: Counter;

  constructor(metrics: Metrics) {
    this.pages = metrics.counter('idsync_ad_detector_pages_total', 'DirSync pages read (baseline pages included)');
    this.entriesRead = metrics.counter('idsync_ad_detector_entries_read_total', 'entries DirSync returned after the baseline');
    this.eventsPublished = metrics.counter('idsync_ad_detector_events_published_total', 'events committed to Kafka, by operation');
    this.skipped = metrics.counter('idsync_ad_detector_entries_skipped_total', 'entries not published, by reason');
    this.errors = metrics.counter('idsync_ad_detector_errors_total', 'failures, by action taken (retry, fenced, stop, cookie-rejected)');
    this.ownWrites = metrics.counter('idsync_ad_detector_own_writes_total', 'changes recognized as the ad-writer\'s own by its write receipts and not published again (whole: yes), or published without that part (whole: no)');
    this.enteredScope = metrics.counter('idsync_ad_detector_entered_scope_total', 'entries renamed into the watched subtrees (or from an unknown DN), published whole after their rename');
  }
}
