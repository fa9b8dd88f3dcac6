import { HealthProbeError } from './health';
import { consumerLoopLivenessProbe, consumerLoopProbe, handlerStalled, judgeLoop, loopDetails, type LoopStatus, type LoopVerdict } from './loop-health';

const NOW = 1_700_000_000_000;
const S = 1_000;

/** A loop consuming for ten minutes, heartbeat a second ago, no handler call running. */
const consuming: LoopStatus = {
  stage: 'ds-writer',
  state: 'consuming',
  since: NOW - 600 * S,
  groupId: 'idsync-ds-writer',
  memberId: 'idsync-ds-writer-1f2e',
  assignment: { 'idsync.ds.operations': [0, 1, 2] },
  lastHeartbeatAt: NOW - 1 * S,
  lastFetchAt: NOW - 1 * S,
  stallAfterMs: 300 * S,
};
const at = (changes: Partial<LoopStatus>): LoopStatus => ({ ...consuming, ...changes });

describe('judgeLoop: is the consumer loop ready, is it worth keeping alive', () => {
  const rows: [string, LoopStatus | undefined, Pick<LoopVerdict, 'ready' | 'live'>, RegExp | undefined][] = [
    ['no loop yet (Kafka away at start: the service retries by itself)', undefined, { ready: false, live: true }, /not started/],
    ['consuming, heartbeat a second ago', consuming, { ready: true, live: true }, undefined],
    ['backing off (a partition paused for a retry: the destination is its own probe)', at({ state: 'backing-off' }), { ready: true, live: true }, undefined],
    ['consuming, a handler call running 4 min with progress 10 s ago', at({ handlerStartedAt: NOW - 240 * S, handlerProgressAt: NOW - 10 * S }), { ready: true, live: true }, undefined],
    ['consuming, a handler call started 4 min 59 s ago without progress since', at({ handlerStartedAt: NOW - 299 * S, handlerProgressAt: NOW - 299 * S }), { ready: true, live: true }, undefined],
    [
      'consuming, a handler call without progress for 5 min (the loop missed it: backstop)',
      at({ handlerStartedAt: NOW - 300 * S, handlerProgressAt: NOW - 300 * S }),
      { ready: false, live: false },
      /no progress for 300 s/,
    ],
    ['consuming, no heartbeat for 61 s (probably out of its group)', at({ lastHeartbeatAt: NOW - 61 * S }), { ready: false, live: true }, /no heartbeat to the group for 61 s/],
    ['consuming since 30 s, no heartbeat yet', at({ since: NOW - 30 * S, lastHeartbeatAt: undefined }), { ready: true, live: true }, undefined],
    ['consuming since 2 min, never a heartbeat', at({ since: NOW - 120 * S, lastHeartbeatAt: undefined }), { ready: false, live: true }, /no heartbeat/],
    ['starting for 5 s', at({ state: 'starting', since: NOW - 5 * S, memberId: undefined, assignment: {} }), { ready: true, live: true }, undefined],
    ['joining (a rebalance) for 20 s', at({ state: 'joining', since: NOW - 20 * S }), { ready: true, live: true }, undefined],
    [
      'joining for 61 s (Kafka away, kafkajs retries: a restart does not help)',
      at({ state: 'joining', since: NOW - 61 * S }),
      { ready: false, live: true },
      /not in its consumer group for 61 s \(joining\)/,
    ],
    ['starting for 2 min', at({ state: 'starting', since: NOW - 120 * S }), { ready: false, live: true }, /\(starting\)/],
    ['stalled', at({ state: 'stalled', error: 'ds-writer: stalled at t[0]@5: the handler made no progress for 300 s' }), { ready: false, live: false }, /stalled at t\[0\]@5/],
    ['crashed', at({ state: 'crashed', error: 'ds-writer: the Kafka consumer of group g crashed' }), { ready: false, live: false }, /crashed/],
    ['crashed without a message', at({ state: 'crashed' }), { ready: false, live: false }, /the consumer loop crashed/],
    ['stopped on a programming error (the service should be exiting)', at({ state: 'stopped', error: 'ds-writer: stopped at t[0]@5: TypeError' }), { ready: false, live: false }, /TypeError/],
    ['stopped by the service (shutdown)', at({ state: 'stopped' }), { ready: false, live: true }, /was stopped/],
    ['stalled, even with a fresh heartbeat from another partition', at({ state: 'stalled', lastHeartbeatAt: NOW }), { ready: false, live: false }, /stalled/],
  ];
  it.each(rows)('%s', (_what, status, expected, reason) => {
    const verdict = judgeLoop(status, NOW);
    expect({ ready: verdict.ready, live: verdict.live }).toEqual(expected);
    if (reason) expect(verdict.reason).toMatch(reason);
    else expect(verdict.reason).toBeUndefined();
  });

  it('uses the grace periods it is given', () => {
    const joining = at({ state: 'joining', since: NOW - 20 * S });
    expect(judgeLoop(joining, NOW, { joinGraceMs: 10 * S, heartbeatStaleMs: 60 * S }).ready).toBe(false);
    const quiet = at({ lastHeartbeatAt: NOW - 20 * S });
    expect(judgeLoop(quiet, NOW, { joinGraceMs: 60 * S, heartbeatStaleMs: 10 * S }).ready).toBe(false);
  });

  it("takes the stall limit from the loop's status, so the judge and the loop agree", () => {
    const status = at({ stallAfterMs: 10 * S, handlerStartedAt: NOW - 11 * S, handlerProgressAt: NOW - 11 * S });
    expect(judgeLoop(status, NOW)).toMatchObject({ ready: false, live: false });
  });
});

describe('handlerStalled', () => {
  it.each([
    [0, false],
    [299_999, false],
    [300_000, true],
    [900_000, true],
  ])('%i ms without progress -> %s', (idle, stalled) => {
    expect(handlerStalled(NOW - idle, NOW, 300_000)).toBe(stalled);
  });
});

describe('loopDetails', () => {
  it('reports ages rather than times, and counts the partitions', () => {
    const details = loopDetails(at({ handlerStartedAt: NOW - 40 * S, handlerProgressAt: NOW - 3 * S }), NOW);
    expect(details).toEqual({
      state: 'consuming',
      groupId: 'idsync-ds-writer',
      memberId: 'idsync-ds-writer-1f2e',
      partitions: 3,
      assignment: { 'idsync.ds.operations': [0, 1, 2] },
      lastHeartbeatAgoMs: 1_000,
      lastFetchAgoMs: 1_000,
      handlerRunningMs: 40_000,
      handlerIdleMs: 3_000,
    });
  });
});

describe('consumer loop probes', () => {
  const now = (): number => NOW;

  it('readiness: down with the reason and the details while the loop has not started', async () => {
    const probe = consumerLoopProbe('ds-writer', () => undefined, { now });
    expect(probe.name).toBe('consumer:ds-writer');
    await expect(probe.check()).rejects.toThrow(/not started/);
    await expect(probe.check()).rejects.toBeInstanceOf(HealthProbeError);
  });

  it('readiness: up with the details while consuming', async () => {
    const probe = consumerLoopProbe('ds-writer', () => ({ status: () => consuming }), { now });
    await expect(probe.check()).resolves.toMatchObject({ state: 'consuming', partitions: 3, lastHeartbeatAgoMs: 1_000 });
  });

  it('liveness: up while the loop has not started or rejoins for long, down once it stalled', async () => {
    let status: LoopStatus | undefined;
    const probe = consumerLoopLivenessProbe('ds-writer', () => (status ? { status: () => status as LoopStatus } : undefined), { now });
    await expect(probe.check()).resolves.toEqual({ state: 'not started' });
    status = at({ state: 'joining', since: NOW - 600 * S });
    await expect(probe.check()).resolves.toMatchObject({ state: 'joining' });
    status = at({ state: 'stalled', error: 'ds-writer: stalled at t[0]@5' });
    const error = await probe.check().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(HealthProbeError);
    expect((error as HealthProbeError).message).toBe('ds-writer: stalled at t[0]@5');
    expect((error as HealthProbeError).details).toMatchObject({ state: 'stalled', groupId: 'idsync-ds-writer' });
  });
});
