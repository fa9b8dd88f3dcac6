import { describeFailure } from '../coordinator';

/** Errors of the ad-detector. `retriable` says whether trying again (after a backoff) can help. */
export class AdDetectorError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

const FORWARD =
  'To start over from the current state of the directory (without publishing the whole domain), delete the checkpoint: ' +
  'stop the ad-detector, then `kafka-consumer-groups.sh --bootstrap-server <brokers> --delete --group <checkpoint group>`; ' +
  'the next start takes a fresh cookie and streams from there. Changes made in between are not published: run a resync ' +
  '(snapshot) of the ad source to bring subscribers level.';

/** The stored cookie was issued by another DC: handing it to this one would silently start a full pass. */
export class ForeignCookieError extends AdDetectorError {
  constructor(checkpointServer: string, answering: string, group: string) {
    super(
      `the DirSync checkpoint was taken on DC ${checkpointServer}, but ${answering} answered (failover?). A cookie from another DC ` +
        `makes AD start a full pass over, so the detector stops instead. Point the first URL back at the original DC, or: ` +
        FORWARD.replace('<checkpoint group>', group),
      false,
    );
  }
}

/** The DC refused the stored cookie (result code 12/2): it is corrupt, too old, or from a restored DC. */
export class CookieRejectedError extends AdDetectorError {
  constructor(server: string, group: string, cause: unknown) {
    super(
      `the DC at ${server} rejected the stored DirSync cookie (${describeFailure(cause)}); the detector will not fall back to a full pass. ${FORWARD.replace('<checkpoint group>', group)}`,
      false,
      {
        cause,
      },
    );
  }
}

/** An LDAP failure with its classification (see ldap-errors.ts). */
export class DirectoryError extends AdDetectorError {
  constructor(
    readonly operation: string,
    readonly resultCode: number | null,
    retriable: boolean,
    meaning: string,
    cause: unknown,
    /** An unknown failure: retried a limited number of times in a row, then the detector stops. */
    readonly limited = false,
  ) {
    super(`${operation} failed: ${meaning} (${describeFailure(cause)})`, retriable, { cause });
  }
}

/** Whether another producer took over the detector's transactional id: the product's Kafka table (@idsync/platform). */
export { isProducerFenced } from '@idsync/platform';
