import {
  changelogLag,
  type CommittedPartition,
  consumerStart,
  decodeDirSyncCookie,
  partitionLag,
  rangeKey,
  rangesToCount,
  summarizeDeadLetters,
  tailRanges,
  topicLag,
  UnreadableCookieError,
  usnLag,
} from './lag';

/**
 * A DirSync checkpoint as the ad-detector committed it on the local stack (Samba 4.17 DC dc1.example.test): the
 * `position` (base64 cookie) and `server` of the offset metadata of idsync.checkpoint.ad-detector.<dir>.
 */
const CAPTURED_CHECKPOINT = {
  position: 'TVNEUwMAAACAV3s9HX3dAQAAAAAAAAAAKAAAAPgQAAAAAAAAAAAAAAAAAAD4EAAAAAAAAPgUjAEphPRAkcWMeLQxsAIBAAAAAAAAAAEAAAAAAAAA+BSMASmE9ECRxYx4tDGwAvgQAAAAAAAA',
  server: 'invocationId=018c14f8-8429-40f4-91c5-8c78b431b002;host=dc1.example.test',
};
/** The cookie inside a DirSync response control captured from an earlier Samba instance (ad-detector fixtures). */
const RESPONSE_CONTROL_COOKIE = 'TVNEUwMAAACAm5FYDH3dAQAAAAAAAAAAKAAAAP8PAAAAAAAAAAAAAAAAAAD/DwAAAAAAACR6pgNDB1FDl0WDxgi4ceYBAAAAAAAAAAEAAAAAAAAAJHqmA0MHUUOXRYPGCLhx5v8PAAAAAAAA';

const p = (partition: number, low: number, high: number, committed: number | null): CommittedPartition => ({ partition, low, high, committed });

describe('consumer lag', () => {
  it('starts where the group committed', () => {
    expect(consumerStart(p(0, 0, 10, 7))).toEqual({ start: 7, note: null });
  });

  it('starts at the log start, flagged, when the group never committed', () => {
    expect(consumerStart(p(0, 3, 10, null))).toEqual({ start: 3, note: 'never-committed' });
    expect(consumerStart(p(0, 3, 10, -1))).toEqual({ start: 3, note: 'never-committed' });
  });

  it('flags a committed offset that retention deleted, and one past the end of the log', () => {
    expect(consumerStart(p(0, 5, 10, 2))).toEqual({ start: 5, note: 'behind-log-start' });
    expect(consumerStart(p(0, 0, 10, 12))).toEqual({ start: 10, note: 'ahead-of-log' });
  });

  it('counts only partitions with a gap no larger than the limit', () => {
    const partitions = [p(0, 0, 10, 10), p(1, 0, 10, 4), p(2, 0, 50_000, 0), p(3, 2, 6, null)];
    expect(rangesToCount('t', partitions, 10_000)).toEqual([
      { topic: 't', partition: 1, from: 4, to: 10 },
      { topic: 't', partition: 3, from: 2, to: 6 },
    ]);
  });

  it('reports the counted records, not the offset gap that transaction markers inflate', () => {
    // A caught-up consumer of a transactional topic: the last offset is the commit marker.
    expect(partitionLag(p(0, 0, 11, 10), 0)).toMatchObject({ lag: 0, offsetGap: 1, exact: true });
    // 3 records in 3 transactions: 6 offsets.
    expect(partitionLag(p(0, 0, 16, 10), 3)).toMatchObject({ lag: 3, offsetGap: 6, exact: true });
  });

  it('falls back to the offset gap, marked approximate, when the records were not counted', () => {
    expect(partitionLag(p(0, 0, 50_000, 0), undefined)).toMatchObject({ lag: 50_000, exact: false });
    expect(partitionLag(p(0, 0, 10, 10), undefined)).toMatchObject({ lag: 0, exact: true });
  });

  it('sums a topic and says whether the group never committed on it', () => {
    const counts = new Map([
      [rangeKey('t', 0), 2],
      [rangeKey('t', 1), 0],
    ]);
    const lag = topicLag('t', [p(1, 0, 4, null), p(0, 0, 5, null)], counts);
    expect(lag).toMatchObject({ topic: 't', lag: 2, offsetGap: 9, exact: true, neverCommitted: true });
    expect(lag.partitions.map((r) => r.partition)).toEqual([0, 1]);
    expect(topicLag('t', [p(0, 0, 5, 5), p(1, 0, 4, null)], counts).neverCommitted).toBe(false);
  });
});

describe('ds-detector lag', () => {
  it('is the changes after the position, up to lastChangeNumber', () => {
    expect(changelogLag(470, { first: 1, last: 480 })).toEqual({ lag: 10, problem: null });
    expect(changelogLag(480, { first: 1, last: 480 })).toEqual({ lag: 0, problem: null });
  });

  it('says a resync is needed when the position was purged or is ahead of the server', () => {
    expect(changelogLag(10, { first: 100, last: 480 }).problem).toMatch(/changes 11\.\.99 were purged.*resync/);
    expect(changelogLag(500, { first: 1, last: 480 })).toMatchObject({ lag: 0, problem: expect.stringMatching(/ahead of the server's lastChangeNumber 480/) });
  });

  it('accepts any position against an empty changelog (0/0)', () => {
    expect(changelogLag(0, { first: 0, last: 0 })).toEqual({ lag: 0, problem: null });
  });
});

describe('DirSync cookie', () => {
  it('reads the USN, issue time and DC of a checkpoint captured from the local Samba DC', () => {
    const cookie = decodeDirSyncCookie(Buffer.from(CAPTURED_CHECKPOINT.position, 'base64'));
    expect(cookie).toEqual({
      issuedAt: Date.parse('2026-11-25T20:40:43Z'),
      highestUsn: 4344n,
      tmpHighestUsn: 4344n,
      invocationId: '018c14f8-8429-40f4-91c5-8c78b431b002',
    });
    // The DC identity stored beside it names the same invocationId.
    expect(CAPTURED_CHECKPOINT.server).toContain(cookie.invocationId);
  });

  it('reads a cookie taken from a DirSync response control', () => {
    expect(decodeDirSyncCookie(Buffer.from(RESPONSE_CONTROL_COOKIE, 'base64'))).toMatchObject({ highestUsn: 4095n, invocationId: '03a67a24-0743-4351-9745-83c608b871e6' });
  });

  it('refuses bytes that are not a version-3 cookie', () => {
    expect(() => decodeDirSyncCookie(Buffer.alloc(10))).toThrow(UnreadableCookieError);
    const wrongSignature = Buffer.from(CAPTURED_CHECKPOINT.position, 'base64');
    wrongSignature.write('XXXX', 0, 'latin1');
    expect(() => decodeDirSyncCookie(wrongSignature)).toThrow(/signature/);
    const wrongVersion = Buffer.from(CAPTURED_CHECKPOINT.position, 'base64');
    wrongVersion.writeUInt32LE(4, 4);
    expect(() => decodeDirSyncCookie(wrongVersion)).toThrow(/version 4/);
  });

  it('gives the USN gap to the DC that issued it', () => {
    const cookie = decodeDirSyncCookie(Buffer.from(CAPTURED_CHECKPOINT.position, 'base64'));
    expect(usnLag(cookie, { invocationId: '018C14F8-8429-40F4-91C5-8C78B431B002', highestCommittedUsn: 4400n })).toEqual({ usnBehind: 56, problem: null });
    expect(usnLag(cookie, { invocationId: '018c14f8-8429-40f4-91c5-8c78b431b002', highestCommittedUsn: 4000n })).toMatchObject({ usnBehind: 0, problem: expect.stringMatching(/ahead/) });
  });

  it('does not compare USNs of different DCs', () => {
    const cookie = decodeDirSyncCookie(Buffer.from(CAPTURED_CHECKPOINT.position, 'base64'));
    expect(usnLag(cookie, { invocationId: '03a67a24-0743-4351-9745-83c608b871e6', highestCommittedUsn: 9999n }).problem).toMatch(/cannot be compared/);
  });
});

describe('dead-letter summary', () => {
  const letter = (stage: string, failedAt: number) => ({ stage, reason: `${stage} failed`, failedAt, topic: 't', partition: 0, offset: String(failedAt) });

  it('counts per stage and names the newest as the last error', () => {
    const summary = summarizeDeadLetters([letter('mapper', 3), letter('ds-writer', 9), letter('mapper', 5)], 3, true);
    expect(summary).toEqual({ total: 3, byStage: { mapper: 2, 'ds-writer': 1 }, exact: true, last: letter('ds-writer', 9) });
  });

  it('has no last error when the topic is empty', () => {
    expect(summarizeDeadLetters([], 0, true)).toEqual({ total: 0, byStage: {}, exact: true, last: null });
  });

  it('reads only the newest records of partitions too large to read whole', () => {
    expect(
      tailRanges(
        'dl',
        [
          { partition: 0, low: 0, high: 100 },
          { partition: 1, low: 95, high: 100 },
          { partition: 2, low: 7, high: 7 },
        ],
        10,
      ),
    ).toEqual([
      { topic: 'dl', partition: 0, from: 90, to: 100 },
      { topic: 'dl', partition: 1, from: 95, to: 100 },
    ]);
  });
});
