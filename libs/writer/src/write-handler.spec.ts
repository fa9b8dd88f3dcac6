import { encodeWriteRequest, type WriteRequest } from '@idsync/contracts';
import { eventTraceId, JsonLogger, type LoopRecord, Metrics, SecretRedactor } from '@idsync/platform';
import { ABSENT_HEADER } from '@idsync/contracts';
import { type ApplyHints, type ApplyResult } from './directory-writer';
import { InvalidEntryError, WriteError } from './errors';
import { LinkConflictError } from './links';
import { BatchAbortedError, createWriteHandler, HELD_AT_HEADER, WriterStoppedError } from './write-handler';
import { type BreakerControl, DeleteBreaker } from './delete-breaker';
import { readWait, WAIT_HEADERS, waitHeaders } from './dependency-wait';
import { type BatchContext, type OutputMessages } from '@idsync/platform';

const request = (n: number, extra: Partial<WriteRequest> = {}): WriteRequest => ({
  requestId: `e${n}/ad-to-ds/0`,
  pipe: 'ad-to-ds',
  sourceEventId: `e${n}`,
  sourceEntryId: { kind: 'objectGUID', value: '6c1f1e4a-9b0e-4d3c-8a55-1f2e3d4c5b6a' },
  op: 'upsert',
  dn: `uid=u${n},ou=People,dc=example,dc=com`,
  previousDn: null,
  objectClasses: ['top', 'inetOrgPerson'],
  attributes: [{ name: 'userPassword', op: 'replace', values: ['Secret-Value-1'] }],
  correlation: [],
  changeTime: null,
  detectedAt: 0,
  ...extra,
});
const record = (value: Buffer | null, offset = 0): LoopRecord => ({ topic: 'idsync.ds.operations', partition: 0, offset: String(offset), key: null, value });
const done = (plan: Partial<ApplyResult['plan']> = {}, outcome: ApplyResult['outcome'] = 'applied'): ApplyResult => ({
  outcome,
  plan: { requestId: 'x', op: 'upsert', target: null, steps: [], reason: null, ...plan },
  foundBy: 'dn',
  alreadyApplied: [],
  createdParents: [],
  link: 'none',
  destinationId: '7145e626-b475-4e2a-a8c8-8b33d773cbcc',
});

function setup(apply: (r: WriteRequest, hints?: ApplyHints) => Promise<ApplyResult>, dryRun = false) {
  const lines: string[] = [];
  const metrics = new Metrics();
  const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), (line) => lines.push(line));
  const handle = createWriteHandler({ service: 'ds-writer', writer: { apply, isDryRun: dryRun }, metrics, logger, boundedRetry: { sleep: async () => undefined } });
  return { handle, lines, metrics };
}

describe('createWriteHandler', () => {
  it("publishes the batch's links before its offsets can be committed", async () => {
    const calls: string[] = [];
    const metrics = new Metrics();
    const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), () => undefined);
    const links = { flush: async () => void calls.push('flush') };
    const handle = createWriteHandler({ service: 'ds-writer', writer: { apply: async (r) => (calls.push(r.requestId), done()), isDryRun: false }, metrics, logger, links });
    await handle([record(encodeWriteRequest(request(1, { attributes: [] })))]);
    expect(calls).toEqual(['e1/ad-to-ds/0', 'flush']);

    calls.length = 0;
    links.flush = async () => {
      calls.push('flush');
      throw Object.assign(new Error('broker away'), { retriable: true });
    };
    await expect(handle([record(encodeWriteRequest(request(2, { attributes: [] })))])).rejects.toThrow('broker away');
    expect(calls).toEqual(['e2/ad-to-ds/0', 'flush']);
  });

  it('tries a create blocked by a link conflict again (the partition waits) until conflictWaitMs has passed, then dead-letters it', async () => {
    let clock = 1_000_000;
    const metrics = new Metrics();
    const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), () => undefined);
    const blocked = new LinkConflictError('ad-to-ds', 'a', { dn: 'uid=x,dc=example,dc=com', id: 'b' }, 'c', true);
    const handle = createWriteHandler({
      service: 'ds-writer',
      writer: {
        apply: async () => {
          throw blocked;
        },
        isDryRun: false,
      },
      metrics,
      logger,
      conflictWaitMs: 60_000,
      now: () => clock,
    });
    const batch = [record(encodeWriteRequest(request(4, { attributes: [] })))];
    await expect(handle(batch)).rejects.toBe(blocked);
    expect(blocked.retriable).toBe(true);
    clock += 59_000;
    await expect(handle(batch)).rejects.toBe(blocked);
    clock += 1_000;
    const [outcome] = await handle(batch);
    expect(outcome).toEqual({ kind: 'dead-letter', reason: expect.stringMatching(/waited 60 s: link conflict/), code: 'link-conflict' });
  });

  it('counts and logs a link conflict with both ids when it is dead-lettered', async () => {
    const { handle, lines, metrics } = setup(async (r) => {
      throw new LinkConflictError('ad-to-ds', r.sourceEntryId.value, { dn: r.dn, id: '7145e626-b475-4e2a-a8c8-8b33d773cbcc' }, '0f0f0f0f-0000-4000-8000-000000000001', false);
    });
    const [outcome] = await handle([record(encodeWriteRequest(request(3, { op: 'delete', attributes: [] })))]);
    expect(outcome).toEqual({ kind: 'dead-letter', reason: expect.stringContaining('link conflict'), code: 'link-conflict' });
    expect(await metrics.value('idsync_writer_link_conflicts_total', { pipe: 'ad-to-ds', resolution: 'dead-letter' })).toBe(1);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line['msg'] === 'ds-writer.link.conflict');
    expect(logged).toMatchObject({ sourceId: '6c1f1e4a-9b0e-4d3c-8a55-1f2e3d4c5b6a', foundId: '7145e626-b475-4e2a-a8c8-8b33d773cbcc', linkedTo: '0f0f0f0f-0000-4000-8000-000000000001' });
  });

  it('says it is progressing after each entry, and stops writing once the loop aborts the batch (the records come again)', async () => {
    const controller = new AbortController();
    const applied: string[] = [];
    let progress = 0;
    const { handle } = setup(async (r) => {
      applied.push(r.requestId);
      if (applied.length === 2) controller.abort(); // e.g. the partition was revoked while this entry was written
      return done();
    });
    const entry = (n: number) => ({ ...record(encodeWriteRequest(request(n, { attributes: [] })), n), key: Buffer.from(`k${n}`) });
    const batch = [1, 2, 3, 4].map(entry);
    const handleOne = (records: LoopRecord[]) =>
      handle(records, {
        progress: () => {
          progress++;
        },
        signal: controller.signal,
        output: { send: async () => undefined, limit: () => 1_000_000 },
      });
    await expect(handleOne(batch)).rejects.toBeInstanceOf(BatchAbortedError);
    expect(applied).toEqual(['e1/ad-to-ds/0', 'e2/ad-to-ds/0']);
    expect(progress).toBe(2);
    expect(new BatchAbortedError('ds-writer').retriable).toBe(true);
  });

  it("applies a merged write's requests one by one when it is refused: each good one lands, each bad one has its own reason", async () => {
    const applied: string[] = [];
    const { handle, metrics } = setup(async (r) => {
      if (r.attributes.some((a) => a.name === 'description' && a.values[0] === 'bad')) throw new WriteError('dead-letter', 'constraint violation', { code: 19, requestId: r.requestId });
      applied.push(r.requestId);
      return done();
    });
    const modify = (n: number, value: string) => ({
      ...record(encodeWriteRequest(request(n, { op: 'modify', dn: 'uid=u,dc=example,dc=com', attributes: [{ name: 'description', op: 'replace', values: [value] }] })), n),
      key: Buffer.from('same'),
    });
    const outcomes = await handle([modify(1, 'good'), modify(2, 'bad'), modify(3, 'also good')]);
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'dead-letter', 'done']);
    expect(applied).toEqual(['e1/ad-to-ds/0', 'e3/ad-to-ds/0']);
    expect(await metrics.value('idsync_writer_requests_total', { result: 'dead-letter' })).toBe(1);
  });

  it('passes a resync\'s "absent at the destination" to the writer for that record only', async () => {
    const seen: [string, boolean][] = [];
    const { handle } = setup(async (r, hints) => {
      seen.push([r.requestId, hints?.absent === true]);
      return done();
    });
    const marked = { ...record(encodeWriteRequest(request(1)), 0), key: Buffer.from('a'), headers: { [ABSENT_HEADER]: 'run-1' } };
    const plain = { ...record(encodeWriteRequest(request(2)), 1), key: Buffer.from('b') };
    await handle([marked, plain]);
    expect(seen.sort()).toEqual([
      ['e1/ad-to-ds/0', true],
      ['e2/ad-to-ds/0', false],
    ]);
  });

  it("keeps one entry's requests in order while writing different entries side by side", async () => {
    const log: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const { handle } = setup(async (r) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      log.push(`start ${r.requestId}`);
      await new Promise((resolve) => setTimeout(resolve, r.requestId.startsWith('e1') ? 20 : 1));
      log.push(`end ${r.requestId}`);
      inFlight--;
      return done();
    });
    const keyed = (n: number, key: string, offset: number): LoopRecord => ({ ...record(encodeWriteRequest(request(n)), offset), key: Buffer.from(key) });
    const outcomes = await handle([keyed(1, 'jane', 0), keyed(2, 'bob', 1), keyed(3, 'jane', 2), keyed(4, 'alice', 3)]);
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'done', 'done', 'done']);
    // jane's second request starts only after her first ended, although others ran meanwhile.
    expect(log.indexOf('start e3/ad-to-ds/0')).toBeGreaterThan(log.indexOf('end e1/ad-to-ds/0'));
    expect(log.indexOf('end e2/ad-to-ds/0')).toBeLessThan(log.indexOf('end e1/ad-to-ds/0'));
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('says done or dead-letter per record, in order, and counts results', async () => {
    const { handle, metrics } = setup(async (r) => {
      if (r.requestId.startsWith('e2')) throw new InvalidEntryError("sAMAccountName 'x*' contains '*'");
      return done({}, r.requestId.startsWith('e3') ? 'no-op' : 'applied');
    });
    const outcomes = await handle([record(encodeWriteRequest(request(1))), record(encodeWriteRequest(request(2)), 1), record(encodeWriteRequest(request(3)), 2), record(Buffer.from('junk'), 3)]);
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'dead-letter', 'done', 'dead-letter']);
    expect(outcomes[1]).toMatchObject({ reason: expect.stringMatching(/request e2\/ad-to-ds\/0 .*contains '\*'/) });
    expect(await metrics.value('idsync_writer_requests_total', { result: 'dead-letter' })).toBe(2);
    expect(await metrics.value('idsync_writer_requests_total', { result: 'no-op' })).toBeGreaterThan(0);
  });

  it('retries a member that may still arrive a few times, then dead-letters it', async () => {
    let calls = 0;
    const { handle, metrics } = setup(async () => {
      calls++;
      throw new WriteError('retry', 'noSuchObject (32) on member-add', { code: 32, bounded: true });
    });
    const [outcome] = await handle([record(encodeWriteRequest(request(1)))]);
    expect(calls).toBe(5);
    expect(outcome).toMatchObject({ kind: 'dead-letter', reason: expect.stringMatching(/gave up after 5 attempts/), code: 'ldap-32' });
    expect(await metrics.value('idsync_writer_retries_total', { code: '32' })).toBe(4);
  });

  it('throws outages for the loop to back off (the records are fetched again), and stops on refused credentials', async () => {
    const outage = setup(async () => {
      throw new WriteError('retry', 'busy (51)', { code: 51 });
    });
    await expect(outage.handle([record(encodeWriteRequest(request(1)))])).rejects.toMatchObject({ retriable: true });
    const refused = setup(async () => {
      throw new WriteError('stop', 'insufficientAccessRights (50): grant it the rights', { code: 50 });
    });
    const error = await refused.handle([record(encodeWriteRequest(request(1)))]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriterStoppedError);
    expect('retriable' in (error as object)).toBe(false); // the loop stops instead of dead-lettering
  });

  it('dead-letters an entry that refuses the writer (object-level 50) and goes on; refusals in a row with nothing written between stop it', async () => {
    const refusing = new Set(['uid=u2,ou=People,dc=example,dc=com', 'uid=u3,ou=People,dc=example,dc=com']);
    const metrics = new Metrics();
    const lines: string[] = [];
    const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), (line) => lines.push(line));
    const apply = async (r: WriteRequest): Promise<ApplyResult> => {
      if (refusing.has(r.dn) || r.dn.startsWith('uid=locked')) throw new WriteError('dead-letter', 'insufficientAccessRights (50) on modify: this entry refuses the writer', { code: 50, dn: r.dn });
      return done();
    };
    const handle = createWriteHandler({ service: 'ds-writer', writer: { apply, isDryRun: false }, metrics, logger, concurrency: 1, refusalsBeforeStop: 3 });
    const batch = [1, 2, 3, 4, 5].map((n) => record(encodeWriteRequest(request(n, { attributes: [], sourceEventId: `k${n}` })), n));
    const outcomes = await handle(batch);
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'dead-letter', 'dead-letter', 'done', 'done']);
    expect(lines.filter((line) => line.includes('ds-writer.refused'))).toHaveLength(2);

    // Three refusals in a row, none succeeding between: the account itself has lost its rights.
    const locked = [6, 7, 8].map((n) => record(encodeWriteRequest(request(n, { attributes: [], dn: `uid=locked${n},ou=People,dc=example,dc=com` })), n));
    const error = await handle(locked).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriterStoppedError);
    expect((error as Error).message).toMatch(/3 writes in a row refused .* lost its rights/);
  });

  it('logs a dry-run plan without password values', async () => {
    const { handle, lines } = setup(
      async () =>
        done(
          {
            steps: [
              {
                kind: 'add',
                dn: 'uid=u1,ou=People,dc=example,dc=com',
                attributes: [
                  { name: 'userPassword', values: ['Secret-Value-1'] },
                  { name: 'sn', values: ['Doe'] },
                ],
              },
            ],
          },
          'dry-run',
        ),
      true,
    );
    await handle([record(encodeWriteRequest(request(1)))]);
    const log = lines.join('\n');
    expect(log).toContain('ds-writer.dry-run');
    expect(log).toContain('sn: Doe');
    expect(log).not.toContain('Secret-Value-1');
  });
});

describe('createWriteHandler with dependency waits (a member not there yet waits off the hot path)', () => {
  const WAIT_TOPIC = 'idsync.ds.operations.wait';
  const key = Buffer.from('group-1');
  const group = (n: number, extra: Partial<WriteRequest> = {}): WriteRequest =>
    request(n, { op: 'modify', attributes: [{ name: 'member', op: 'add', values: [`uid=m${n},ou=People,dc=example,dc=com`] }], ...extra });
  const rec = (r: WriteRequest, offset: number, topic = 'idsync.ds.operations', headers: Record<string, string> = {}): LoopRecord => ({
    topic,
    partition: 0,
    offset: String(offset),
    key,
    value: encodeWriteRequest(r),
    headers,
  });

  function setupWaits(apply: (r: WriteRequest) => Promise<ApplyResult>, clock: { now: number }) {
    const sent: OutputMessages[] = [];
    const metrics = new Metrics();
    const lines: string[] = [];
    const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), (line) => lines.push(line));
    const handle = createWriteHandler({
      service: 'ds-writer',
      writer: { apply, isDryRun: false },
      metrics,
      logger,
      boundedRetry: { sleep: async () => undefined },
      now: () => clock.now,
      waits: { topic: WAIT_TOPIC, maxWaitMs: 600_000 },
    });
    const context: BatchContext = {
      progress: () => undefined,
      signal: new AbortController().signal,
      output: { send: async (batch) => void sent.push(...batch), limit: () => 1_000_000 },
    };
    return { handle: (records: LoopRecord[]) => handle(records, context), sent, metrics, lines };
  }
  const notThere = (): never => {
    throw new WriteError('retry', 'noSuchObject (32) on member-add: the member is not there yet', { code: 32, bounded: true });
  };

  it("parks a request whose member is missing after two tries, and the entry's later request behind it; other entries go on", async () => {
    const clock = { now: 1_000_000 };
    const applied: string[] = [];
    let tries = 0;
    const { handle, sent, metrics } = setupWaits(async (r) => {
      if (r.requestId.startsWith('e1')) {
        tries++;
        return notThere();
      }
      applied.push(r.requestId);
      return done();
    }, clock);
    const other = { ...rec(request(9, { attributes: [] }), 2), key: Buffer.from('other') };
    const outcomes = await handle([rec(group(1), 0), rec(group(2), 1), other]);
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'done', 'done']);
    expect(tries).toBe(2);
    expect(applied).toEqual(['e9/ad-to-ds/0']); // e2 did not overtake e1
    expect(sent).toHaveLength(1);
    const parked = sent[0]?.messages ?? [];
    expect(sent[0]?.topic).toBe(WAIT_TOPIC);
    expect(parked.map((m) => readWait(m.headers))).toEqual([
      { since: 1_000_000, attempt: 1, due: 1_005_000 },
      { since: 1_000_000, attempt: 0, due: 1_000_000 },
    ]);
    expect(parked[1]?.headers?.[WAIT_HEADERS.behind]).toBe('e1/ad-to-ds/0');
    expect(await metrics.value('idsync_writer_waits_total', { result: 'parked' })).toBe(1);
    expect(await metrics.value('idsync_writer_waits_total', { result: 'behind' })).toBe(1);

    // While it is parked, a new request of the same entry from the operations topic is parked behind it too.
    sent.length = 0;
    await handle([rec(group(3), 3)]);
    expect(sent[0]?.messages.map((m) => m.headers?.[WAIT_HEADERS.behind])).toEqual(['e1/ad-to-ds/0']);
  });

  it('leaves parked requests that are not due for later (they and what follows wait), and tries due ones', async () => {
    const clock = { now: 2_000_000 };
    const applied: string[] = [];
    const { handle } = setupWaits(async (r) => (applied.push(r.requestId), done()), clock);
    const due = rec(group(1), 0, WAIT_TOPIC, waitHeaders({ since: 1_990_000, attempt: 1, due: 1_995_000 }));
    const later = { ...rec(group(2), 1, WAIT_TOPIC, waitHeaders({ since: 1_999_000, attempt: 1, due: 2_004_000 })), key: Buffer.from('g2') };
    const after = { ...rec(group(3), 2, WAIT_TOPIC, waitHeaders({ since: 1_999_500, attempt: 1, due: 2_000_000 })), key: Buffer.from('g3') };
    const outcomes = await handle([due, later, after]);
    expect(outcomes).toEqual([{ kind: 'done' }, { kind: 'wait', untilMs: 2_004_000 }, { kind: 'wait', untilMs: 2_004_000 }]);
    expect(applied).toEqual(['e1/ad-to-ds/0']);
  });

  it('parks a retry again until the wait is over, then dead-letters it with how long it waited', async () => {
    const clock = { now: 3_000_000 };
    const { handle, sent, metrics } = setupWaits(async () => notThere(), clock);
    const since = 3_000_000 - 300_000;
    await handle([rec(group(1), 0, WAIT_TOPIC, waitHeaders({ since, attempt: 5, due: clock.now }))]);
    expect(readWait(sent[0]?.messages[0]?.headers)).toEqual({ since, attempt: 6, due: clock.now + 60_000 });

    clock.now = since + 600_000;
    const [outcome] = await handle([rec(group(1), 1, WAIT_TOPIC, waitHeaders({ since, attempt: 9, due: clock.now }))]);
    expect(outcome).toMatchObject({ kind: 'dead-letter', reason: expect.stringMatching(/waited 600 s for it: noSuchObject \(32\)/), code: 'wait-exhausted' });
    expect(await metrics.value('idsync_writer_waits_total', { result: 'gave-up' })).toBe(1);
  });

  it("once the parked request is applied from the wait topic, the entry's next request applies directly again", async () => {
    const clock = { now: 4_000_000 };
    let missing = true;
    const applied: string[] = [];
    const { handle, sent } = setupWaits(async (r) => {
      if (missing && r.requestId.startsWith('e1')) return notThere();
      applied.push(r.requestId);
      return done();
    }, clock);
    await handle([rec(group(1), 0)]);
    const parked = sent[0]?.messages[0];
    missing = false;
    clock.now += 5_000;
    await handle([{ topic: WAIT_TOPIC, partition: 0, offset: '0', key, value: parked?.value ?? null, headers: parked?.headers ?? {} }]);
    sent.length = 0;
    await handle([rec(group(2), 1)]);
    expect(applied).toEqual(['e1/ad-to-ds/0', 'e2/ad-to-ds/0']);
    expect(sent).toEqual([]);
  });
});

describe('createWriteHandler with a request guard', () => {
  it('dead-letters a refused request without touching the destination, counts it by known pipe and reason, and logs no values', async () => {
    const applied: string[] = [];
    const lines: string[] = [];
    const metrics = new Metrics();
    const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), (line) => lines.push(line));
    const guard = {
      knows: (pipe: string) => pipe === 'ad-to-ds',
      check: (r: WriteRequest) =>
        r.dn.includes('u1') ? null : { refusal: r.pipe === 'ad-to-ds' ? ('secret-attribute' as const) : ('unknown-pipe' as const), detail: `request ${r.requestId} refused` },
    };
    const handle = createWriteHandler({ service: 'ds-writer', writer: { apply: async (r) => (applied.push(r.requestId), done()), isDryRun: false }, metrics, logger, guard });
    const outcomes = await handle([
      record(encodeWriteRequest(request(1, { attributes: [] })), 0),
      record(encodeWriteRequest(request(2)), 1),
      record(encodeWriteRequest(request(3, { pipe: 'made-up-pipe-name' })), 2),
    ]);
    expect(applied).toEqual(['e1/ad-to-ds/0']);
    expect(outcomes).toEqual([
      { kind: 'done' },
      { kind: 'dead-letter', reason: 'request e2/ad-to-ds/0 refused', code: 'refused' },
      { kind: 'dead-letter', reason: 'request e3/ad-to-ds/0 refused', code: 'refused' },
    ]);
    expect(await metrics.value('idsync_writer_refused_requests_total', { pipe: 'ad-to-ds', reason: 'secret-attribute' })).toBe(1);
    expect(await metrics.value('idsync_writer_refused_requests_total', { pipe: '(unknown)', reason: 'unknown-pipe' })).toBe(1);
    expect(await metrics.render()).not.toContain('made-up-pipe-name');
    const refusals = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['msg'] === 'ds-writer.request.refused');
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ level: 'warn', reason: 'secret-attribute', requestId: 'e2/ad-to-ds/0', attributes: ['userPassword'], offset: '1' });
    expect(lines.join('\n')).not.toContain('Secret-Value-1');
  });
});

describe('createWriteHandler with the delete circuit breaker', () => {
  const HELD = 'idsync.ds.operations.held';
  const setupBreaker = () => {
    let clock = 1_000_000;
    const applied: string[] = [];
    const sent: OutputMessages[] = [];
    const trips: BreakerControl[] = [];
    const core = new DeleteBreaker({ maxDeletes: 2, windowMs: 60_000 });
    const handle = createWriteHandler({
      service: 'ds-writer',
      writer: { apply: async (r) => (applied.push(r.requestId), done()), isDryRun: false },
      metrics: new Metrics(),
      logger: new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), () => undefined),
      now: () => clock,
      breaker: { core, topic: HELD, onTrip: async (control) => void trips.push(control) },
    });
    const context = (): BatchContext => ({ progress: () => undefined, signal: new AbortController().signal, output: { send: async (batches) => void sent.push(...batches), limit: () => 1_000_000 } });
    return { handle, applied, sent, trips, core, context, tick: (ms: number) => (clock += ms), now: () => clock };
  };
  const del = (n: number) => ({ ...record(encodeWriteRequest(request(n, { op: 'delete', objectClasses: [], attributes: [] })), n), key: Buffer.from(`k${n}`) });
  const mod = (n: number) => ({
    ...record(encodeWriteRequest(request(n, { op: 'modify', objectClasses: [], attributes: [{ name: 'description', op: 'replace', values: ['x'] }] })), n),
    key: Buffer.from(`k${n}`),
  });

  it('applies deletes up to the limit, then trips once and holds the rest on the held topic while modifies flow', async () => {
    const { handle, applied, sent, trips, context } = setupBreaker();
    const outcomes = await handle([del(1), del(2), del(3), mod(4), del(5)], context());
    expect(outcomes.every((o) => o.kind === 'done')).toBe(true);
    expect(applied.sort()).toEqual(['e1/ad-to-ds/0', 'e2/ad-to-ds/0', 'e4/ad-to-ds/0']);
    expect(trips).toEqual([expect.objectContaining({ state: 'tripped', deletes: 3, limit: 2, by: 'ds-writer' })]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.topic).toBe(HELD);
    expect(sent[0]?.messages.map((m) => String(m.key))).toEqual(['k3', 'k5']);
    expect(sent[0]?.messages[0]?.headers?.[HELD_AT_HEADER]).toMatch(/^\d+$/);
  });

  it('lets held deletes wait until a decision: approved ones are applied, discarded ones dead-lettered', async () => {
    const { handle, applied, sent, core, context, tick, now } = setupBreaker();
    await handle([del(1), del(2), del(3), del(4)], context());
    const asHeld = (batch: OutputMessages | undefined, from: number): LoopRecord[] =>
      (batch?.messages ?? []).map((m, i) => ({ topic: HELD, partition: 0, offset: String(from + i), key: Buffer.from(m.key ?? ''), value: m.value as Buffer, headers: m.headers ?? {} }));
    const held = asHeld(sent[0], 0);
    expect(held).toHaveLength(2);
    const waiting = await handle(held, context());
    expect(waiting.map((o) => o.kind)).toEqual(['wait', 'wait']);

    tick(1_000);
    core.observe({ state: 'approved', at: now(), by: 'alice' });
    applied.length = 0;
    expect((await handle(held.slice(0, 1), context())).map((o) => o.kind)).toEqual(['done']);
    expect(applied).toEqual(['e3/ad-to-ds/0']);

    // A new trip, then a discard: held deletes go to the dead-letter topic with the decision in the reason.
    tick(1_000);
    await handle([del(11), del(12), del(13)], context());
    const later = asHeld(sent.at(-1), 10);
    expect(later.map((r) => r.key?.toString())).toEqual(['k13']);
    tick(1_000);
    core.observe({ state: 'discarded', at: now(), by: 'bob' });
    const [discarded] = await handle(later, context());
    expect(discarded).toEqual({
      kind: 'dead-letter',
      reason: expect.stringMatching(/^e13\/ad-to-ds\/0: a delete held by the delete circuit breaker, discarded by bob at .*idsync dlq redrive/),
      code: 'held-discarded',
    });
  });
});

describe('createWriteHandler sync log', () => {
  const withKey = (value: Buffer, offset: number, key: string): LoopRecord => ({ ...record(value, offset), key: Buffer.from(key) });

  it('writes one line per request settled, with ids, DN, attribute names, outcome and latency, never a value; the same lines go to the audit topic before the commit', async () => {
    const lines: string[] = [];
    const logger = new JsonLogger('ds-writer', 'warn', new SecretRedactor([]), (line) => lines.push(line));
    const sent: OutputMessages[] = [];
    const now = 1_700_000_010_000;
    const apply = async (r: WriteRequest): Promise<ApplyResult> => {
      if (r.requestId === 'e3/ad-to-ds/0') throw new WriteError('dead-letter', 'objectClassViolation (65): no such class', { code: 65, requestId: r.requestId });
      const steps =
        r.requestId === 'e1/ad-to-ds/0'
          ? [
              {
                kind: 'modify' as const,
                dn: r.dn,
                changes: [
                  { op: 'replace' as const, name: 'userPassword', values: ['Secret-Value-1'] },
                  { op: 'replace' as const, name: 'mail', values: ['m@example.com'] },
                ],
              },
            ]
          : [];
      return done({ requestId: r.requestId, target: r.dn, steps }, steps.length > 0 ? 'applied' : 'no-op');
    };
    const handle = createWriteHandler({
      service: 'ds-writer',
      writer: { apply, isDryRun: false },
      metrics: new Metrics(),
      logger,
      now: () => now,
      syncLog: { topic: 'idsync.audit' },
      boundedRetry: { sleep: async () => undefined },
    });
    const mail = { name: 'mail', op: 'replace' as const, values: ['m@example.com'] };
    const timing = { changeTime: now - 4_000, detectedAt: now - 1_500 };
    const outcomes = await handle(
      [
        withKey(encodeWriteRequest(request(1, { ...timing, attributes: [{ name: 'userPassword', op: 'replace', values: ['Secret-Value-1'] }, mail] })), 0, 'a'),
        withKey(encodeWriteRequest(request(2, { ...timing, sourceEntryId: { kind: 'objectGUID', value: '0f0f0f0f-0000-4000-8000-000000000002' }, attributes: [mail] })), 1, 'b'),
        withKey(encodeWriteRequest(request(3, { ...timing, sourceEntryId: { kind: 'objectGUID', value: '0f0f0f0f-0000-4000-8000-000000000003' }, attributes: [mail] })), 2, 'c'),
      ],
      { progress: () => undefined, signal: new AbortController().signal, output: { send: async (batch) => void sent.push(...batch), limit: () => 1_000_000 } },
    );
    expect(outcomes.map((o) => o.kind)).toEqual(['done', 'done', 'dead-letter']);

    // A threshold of warn hides the service's info lines, not the sync log (it is its own stream).
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['event'] === 'sync.write');
    expect(logged).toHaveLength(3);
    const byRequest = new Map(logged.map((line) => [line['requestId'], line]));
    expect(byRequest.get('e1/ad-to-ds/0')).toMatchObject({
      service: 'ds-writer',
      pipe: 'ad-to-ds',
      sourceEventId: 'e1',
      sourceId: '6c1f1e4a-9b0e-4d3c-8a55-1f2e3d4c5b6a',
      destinationId: '7145e626-b475-4e2a-a8c8-8b33d773cbcc',
      dn: 'uid=u1,ou=People,dc=example,dc=com',
      operation: 'upsert',
      changes: ['modify'],
      attributes: ['userPassword', 'mail'],
      outcome: 'applied',
      endToEndMs: 4_000,
      pipelineMs: 1_500,
    });
    expect(byRequest.get('e2/ad-to-ds/0')).toMatchObject({ outcome: 'no-op', changes: [], attributes: ['mail'] });
    expect(byRequest.get('e3/ad-to-ds/0')).toMatchObject({ outcome: 'dead-letter', reason: expect.stringContaining('objectClassViolation') });
    for (const line of lines) {
      expect(line).not.toContain('Secret-Value-1');
      expect(line).not.toContain('m@example.com');
    }

    const audit = sent.filter((batch) => batch.topic === 'idsync.audit').flatMap((batch) => batch.messages);
    expect(audit.map((message) => String(message.key))).toEqual(
      expect.arrayContaining(['6c1f1e4a-9b0e-4d3c-8a55-1f2e3d4c5b6a', '0f0f0f0f-0000-4000-8000-000000000002', '0f0f0f0f-0000-4000-8000-000000000003']),
    );
    expect(audit.map((message) => JSON.parse(String(message.value)) as unknown)).toEqual(
      expect.arrayContaining(logged.map((line): unknown => expect.objectContaining({ requestId: line['requestId'], outcome: line['outcome'] }))),
    );
    expect(audit).toHaveLength(3);
  });

  it('names the trace of each request: the one its record carries, else the one its change started', async () => {
    const lines: string[] = [];
    const logger = new JsonLogger('ds-writer', 'info', new SecretRedactor([]), (line) => lines.push(line));
    const handle = createWriteHandler({ service: 'ds-writer', writer: { apply: async (r) => done({ requestId: r.requestId }, 'no-op'), isDryRun: false }, metrics: new Metrics(), logger });
    const traced = { ...withKey(encodeWriteRequest(request(1, { attributes: [] })), 0, 'a'), headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } };
    const untraced = withKey(encodeWriteRequest(request(2, { attributes: [], sourceEntryId: { kind: 'objectGUID', value: '0f0f0f0f-0000-4000-8000-000000000002' } })), 1, 'b');
    await handle([traced, untraced]);
    const traces = Object.fromEntries(lines.map((line) => JSON.parse(line) as Record<string, unknown>).map((line) => [line['requestId'], line['traceId']]));
    expect(traces).toEqual({ 'e1/ad-to-ds/0': '4bf92f3577b34da6a3ce929d0e0e4736', 'e2/ad-to-ds/0': eventTraceId('e2') });
  });

  it('logs nothing on stdout when turned off, and still counts', async () => {
    const lines: string[] = [];
    const logger = new JsonLogger('ds-writer', 'debug', new SecretRedactor([]), (line) => lines.push(line));
    const metrics = new Metrics();
    const handle = createWriteHandler({
      service: 'ds-writer',
      writer: { apply: async (r) => done({ requestId: r.requestId, steps: [{ kind: 'delete', dn: r.dn }] }), isDryRun: false },
      metrics,
      logger,
      syncLog: { stdout: false },
    });
    await handle([record(encodeWriteRequest(request(1, { op: 'delete', attributes: [] })))]);
    expect(lines.filter((line) => line.includes('sync.write'))).toEqual([]);
    expect(await metrics.value('idsync_writer_requests_total', { result: 'applied' })).toBe(1);
  });
});
