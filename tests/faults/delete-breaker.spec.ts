import { describeRun, idsync } from '../integration/cli/run-cli';
import { eventually } from '../integration/e2e/pipeline';
import { adUser } from './support/entries';
import { FaultRun } from './support/fault-run';

/**
 * A script empties an OU in AD during live sync (the demo's breaker: 20 deletes per minute, both pipes running): the
 * directory loses 20 users, then the ds-writer holds every further delete while other changes still arrive. After
 * `idsync deletes approve` the held deletes are applied; after `idsync deletes discard` they are dead-lettered (the
 * users stay) and `idsync dlq redrive` brings them back. Each case ends with a full comparison of both directories.
 */

const run = new FaultRun('db', async () => undefined);
const step = run.scenario.step;
const adDn = (name: string): string => `CN=${name} ${run.suffix},${run.adOu}`;
const dsDn = (name: string): string => `cn=${name} ${run.suffix},${run.dsOu}`;
const users = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
const FIRST = users('Del', 50);
const SECOND = users('Dis', 25);

async function dsUsers(): Promise<number> {
  return run.usersInDirectory();
}

async function create(names: readonly string[]): Promise<void> {
  for (const name of names) await run.ad.add(adDn(name), adUser(`${name} ${run.suffix}`, `${name}${run.suffix}`.toLowerCase().slice(0, 20), 'v1'));
}

async function cli(args: string[]): Promise<string> {
  const result = await idsync(args, { configFile: run.live.configFile });
  if (result.code !== 0) throw new Error(`idsync ${args.join(' ')} failed\n${describeRun(result)}`);
  return result.stdout;
}

describe(`delete circuit breaker, both pipes running (run ${run.suffix})`, () => {
  step(
    '50 users from AD reach the directory',
    async () => {
      expect(run.config.services['ds-writer'].deleteBreaker).toEqual({ maxDeletes: 20, windowMs: 60_000 });
      await run.createOu();
      await create(FIRST);
      await run.waitForUsersInDirectory(FIRST.length, 180_000);
    },
    300_000,
  );

  step(
    'deleting the 50 in AD within a minute: 20 go, the other 30 are held while other changes flow',
    async () => {
      const started = Date.now();
      for (const name of FIRST) await run.ad.del(adDn(name));
      expect(Date.now() - started).toBeLessThan(60_000);
      await eventually(
        '20 users deleted in the directory, 30 kept',
        () => dsUsers(),
        (n) => n === 30,
        60_000,
        1_000,
      );
      // Other changes still flow: a user created now arrives.
      await create(['Keep']);
      await run.arrives('ds', dsDn('Keep'), 'v1');
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(await dsUsers()).toBe(31);

      const health = await run.health('ds-writer');
      expect(health.status).toBe('ok');
      expect(health.info?.['deletes']).toMatchObject({ state: 'tripped', limit: 20, deletes: 21 });
      const status = await cli(['deletes', 'status', '--destination', 'ds-writer']);
      expect(status).toMatch(/TRIPPED since .* by ds-writer: 21 deletes within 60 s, limit 20; 60 held requests not decided/);
      const list = await cli(['deletes', 'list', '--destination', 'ds-writer']);
      expect(list.split('\n').filter((line) => / delete /.test(line))).toHaveLength(30);
      expect(await run.live.counter('ds-writer', 'idsync_writer_breaker_trips_total')).toBe(1);
      expect(await run.live.counter('ds-writer', 'idsync_writer_held_deletes_total', { result: 'held' })).toBe(60);
    },
    240_000,
  );

  step(
    'approve: the held deletes are applied, and both directories end equal',
    async () => {
      expect(await cli(['deletes', 'approve', '--destination', 'ds-writer', '--yes'])).toMatch(/approved the deletes held for ds/);
      await eventually(
        'the 30 held deletes applied',
        () => dsUsers(),
        (n) => n === 1,
        60_000,
        1_000,
      );
      await eventually(
        'the held requests consumed',
        () => cli(['deletes', 'status', '--destination', 'ds-writer']),
        (text) => /closed \(approved by .*\); 0 held requests/.test(text),
        30_000,
        1_000,
      );
      expect((await run.health('ds-writer')).info?.['deletes']).toMatchObject({ state: 'closed', lastDecision: 'approved' });
      await run.expectTreesEqual(1);
    },
    120_000,
  );

  step(
    'discard: 25 more deleted, 5 held and then dead-lettered (the users stay); a re-drive applies them',
    async () => {
      await create(SECOND);
      await run.waitForUsersInDirectory(1 + SECOND.length, 120_000);
      for (const name of SECOND) await run.ad.del(adDn(name));
      await eventually(
        '20 deleted, 5 held',
        () => dsUsers(),
        (n) => n === 6,
        60_000,
        1_000,
      );
      await eventually(
        'the breaker tripped again',
        () => cli(['deletes', 'status', '--destination', 'ds-writer']),
        (text) => /TRIPPED .*; 10 held requests/.test(text),
        30_000,
        1_000,
      );

      expect(await cli(['deletes', 'discard', '--destination', 'ds-writer', '--yes'])).toMatch(/discarded the deletes held for ds/);
      const letters = await eventually(
        '10 dead letters (5 deletes, 5 unlinks)',
        () => run.live.deadLetters(),
        (l) => l.length >= 10,
        60_000,
        1_000,
      );
      expect(letters).toHaveLength(10);
      for (const letter of letters) expect(letter.reason).toMatch(/a delete held by the delete circuit breaker, discarded by .* at /);
      expect(await dsUsers()).toBe(6);

      // Re-driven, they go back to the operations topic and count afresh: 10 is under the limit, so they apply.
      await cli(['dlq', 'redrive', '--all', '--stage', 'ds-writer', '--yes']);
      await eventually(
        'the discarded deletes applied after the re-drive',
        () => dsUsers(),
        (n) => n === 1,
        60_000,
        1_000,
      );
      await run.expectTreesEqual(1);
    },
    300_000,
  );
});
