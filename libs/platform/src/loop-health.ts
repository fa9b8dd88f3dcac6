import { HealthProbeError, type HealthProbe } from './health';

/**
 * What the consumer loop is doing, as a value (kept by the loop, read by health probes), and the pure judgement of
 * that value: is the loop ready, is it alive. A loop whose handler hangs, or whose consumer kafkajs gave up on, must
 * never look healthy: readiness says so, and liveness makes the supervisor restart the process.
 */

/**
 * - `starting`: created, not yet in its group;
 * - `joining`: (re)joining the group after a rebalance or a consumer restart;
 * - `consuming`: a member of the group, fetching and handling records;
 * - `backing-off`: consuming, with at least one partition paused for a retry;
 * - `stalled`: a handler call made no progress for `stallAfterMs`; the loop gave up (terminal);
 * - `crashed`: kafkajs gave up on the consumer (terminal);
 * - `stopped`: stopped by the service, or on a programming error (`error` says which; terminal).
 */
export const LOOP_STATES = ['starting', 'joining', 'consuming', 'backing-off', 'stalled', 'crashed', 'stopped'] as const;
export type LoopState = (typeof LOOP_STATES)[number];

/** States the loop never leaves. */
export const TERMINAL_LOOP_STATES: readonly LoopState[] = ['stalled', 'crashed', 'stopped'];

/** Topic -> partition numbers (the shape of kafkajs' memberAssignment). */
export type LoopAssignment = Readonly<Record<string, readonly number[]>>;

/** Times are ms since the epoch, from the loop's clock. */
export interface LoopStatus {
  readonly stage: string;
  readonly state: LoopState;
  /** When the loop entered `state` (`backing-off` shares the time of `consuming`). */
  readonly since: number;
  readonly groupId: string;
  readonly memberId?: string;
  readonly assignment: LoopAssignment;
  readonly lastHeartbeatAt?: number;
  readonly lastFetchAt?: number;
  /** Start of the oldest handleBatch call still running. */
  readonly handlerStartedAt?: number;
  /** Least recent progress (or start) among the running handleBatch calls: the call closest to a stall. */
  readonly handlerProgressAt?: number;
  /** The loop's stall limit, so a judge never disagrees with the loop about it. */
  readonly stallAfterMs: number;
  /** Why the loop stalled, crashed or stopped on an error; absent for a normal stop. */
  readonly error?: string;
}

export interface LoopJudgeOptions {
  /** A group (re)join may take this long before the loop counts as not ready. Default 60 s (kafkajs' rebalanceTimeout). */
  readonly joinGraceMs: number;
  /** A member without a heartbeat for this long is probably out of its group. Default 60 s (twice the session timeout). */
  readonly heartbeatStaleMs: number;
}

export const DEFAULT_LOOP_JUDGE: LoopJudgeOptions = { joinGraceMs: 60_000, heartbeatStaleMs: 60_000 };

export interface LoopVerdict {
  /** Consuming as it should (readiness). */
  readonly ready: boolean;
  /** Worth keeping: false only when a restart is what helps (liveness). */
  readonly live: boolean;
  /** Why not ready or not live; absent when both hold. */
  readonly reason?: string;
}

/** True when a handler call whose last progress (or start) was at `progressAt` has gone too long without any. */
export function handlerStalled(progressAt: number, now: number, stallAfterMs: number): boolean {
  return now - progressAt >= stallAfterMs;
}

/**
 * Readiness and liveness of a loop, first row that applies wins:
 * | status                                            | ready | live | why                                              |
 * | ------------------------------------------------- | ----- | ---- | ------------------------------------------------ |
 * | none (the service has not started its loop yet)   | no    | yes  | Kafka away at start: the service retries itself  |
 * | stalled, crashed                                  | no    | no   | nothing inside the process will recover it       |
 * | stopped on an error                               | no    | no   | the service should be exiting; make sure it does |
 * | stopped (shutdown)                                | no    | yes  | a normal stop is not a failure                   |
 * | a handler call without progress for stallAfterMs  | no    | no   | backstop, should the loop's own watchdog miss it |
 * | starting, joining, longer than joinGraceMs        | no    | yes  | Kafka away or the group busy: kafkajs retries    |
 * | starting, joining, within joinGraceMs             | yes   | yes  | a rebalance is routine                           |
 * | consuming / backing-off, no heartbeat for long    | no    | yes  | probably out of its group; kafkajs rejoins       |
 * | consuming / backing-off                           | yes   | yes  | a failing destination is its own probe's concern |
 */
export function judgeLoop(status: LoopStatus | undefined, now: number, options: LoopJudgeOptions = DEFAULT_LOOP_JUDGE): LoopVerdict {
  if (!status) return { ready: false, live: true, reason: 'the consumer loop has not started yet' };
  const { state } = status;
  if (state === 'stalled' || state === 'crashed') return { ready: false, live: false, reason: status.error ?? `the consumer loop ${state}` };
  if (state === 'stopped') {
    return status.error === undefined ? { ready: false, live: true, reason: 'the consumer loop was stopped' } : { ready: false, live: false, reason: status.error };
  }
  if (status.handlerProgressAt !== undefined && handlerStalled(status.handlerProgressAt, now, status.stallAfterMs)) {
    return { ready: false, live: false, reason: `a handler call made no progress for ${seconds(now - status.handlerProgressAt)}` };
  }
  if (state === 'starting' || state === 'joining') {
    const waiting = now - status.since;
    if (waiting > options.joinGraceMs) return { ready: false, live: true, reason: `not in its consumer group for ${seconds(waiting)} (${state})` };
    return { ready: true, live: true };
  }
  const heartbeatAgo = now - (status.lastHeartbeatAt ?? status.since);
  if (heartbeatAgo > options.heartbeatStaleMs) return { ready: false, live: true, reason: `no heartbeat to the group for ${seconds(heartbeatAgo)}` };
  return { ready: true, live: true };
}

/**
 * The status as health details: ages instead of times, partition count with the assignment (the error of a loop that
 * gave up is the probe's message). No record keys or values: the status holds none.
 */
export function loopDetails(status: LoopStatus, now: number): Record<string, unknown> {
  const partitions = Object.values(status.assignment).reduce((count, numbers) => count + numbers.length, 0);
  const ago = (at: number | undefined): number | undefined => (at === undefined ? undefined : Math.max(0, now - at));
  return {
    state: status.state,
    groupId: status.groupId,
    memberId: status.memberId,
    partitions,
    assignment: status.assignment,
    lastHeartbeatAgoMs: ago(status.lastHeartbeatAt),
    lastFetchAgoMs: ago(status.lastFetchAt),
    handlerRunningMs: ago(status.handlerStartedAt),
    handlerIdleMs: ago(status.handlerProgressAt),
  };
}

export interface ConsumerLoopProbeOptions extends Partial<LoopJudgeOptions> {
  readonly now?: () => number;
}

/**
 * Readiness probe for a consumer loop (`consumer:<name>`): down while the loop is not started, not in its group
 * past the grace period, without heartbeats, stalled, crashed or stopped. `loop` is read on each check: services
 * create their loop in the background (and retry while Kafka is away).
 */
export function consumerLoopProbe(name: string, loop: () => { status(): LoopStatus } | undefined, options: ConsumerLoopProbeOptions = {}): HealthProbe {
  return loopProbe(name, loop, options, 'ready');
}

/** Liveness probe for a consumer loop: down only when a restart is what helps (stalled, crashed, stopped on an error). */
export function consumerLoopLivenessProbe(name: string, loop: () => { status(): LoopStatus } | undefined, options: ConsumerLoopProbeOptions = {}): HealthProbe {
  return loopProbe(name, loop, options, 'live');
}

/** Both probes of a consumer loop, as a service wires them: readiness into `probes`, liveness into `liveness`. */
export function consumerLoopProbes(name: string, loop: () => { status(): LoopStatus } | undefined): { readiness: HealthProbe; liveness: HealthProbe } {
  return { readiness: consumerLoopProbe(name, loop), liveness: consumerLoopLivenessProbe(name, loop) };
}

function loopProbe(name: string, loop: () => { status(): LoopStatus } | undefined, options: ConsumerLoopProbeOptions, verdict: 'ready' | 'live'): HealthProbe {
  const judge: LoopJudgeOptions = {
    joinGraceMs: options.joinGraceMs ?? DEFAULT_LOOP_JUDGE.joinGraceMs,
    heartbeatStaleMs: options.heartbeatStaleMs ?? DEFAULT_LOOP_JUDGE.heartbeatStaleMs,
  };
  const clock = options.now ?? Date.now;
  return {
    name: `consumer:${name}`,
    async check() {
      const now = clock();
      const status = loop()?.status();
      const result = judgeLoop(status, now, judge);
      const details = status ? loopDetails(status, now) : { state: 'not started' };
      if (!result[verdict]) throw new HealthProbeError(result.reason ?? `not ${verdict}`, details);
      return details;
    },
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1_000)} s`;
}
