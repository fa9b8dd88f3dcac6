import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Side } from '../e2e/directories';
import { eventually, Pipeline } from '../e2e/pipeline';
import { describeRun, idsync } from './run-cli';

/**
 * `idsync resync --rate N` on the local stack, as an operator sees it: the snapshot events of a resync go out at N a
 * second, and all of them still arrive in the destination. Two OUs of the same size in AD, each resynced once into an
 * empty 389-ds (pipe ad-to-ds, the real mapper and ds-writer as child processes on isolated topics): one with --rate,
 * one without. When each event reaches the change topic is seen by a watcher on that topic (nothing else publishes
 * there: no detector runs), so the command's start-up (connections, the destination's index) does not count.
 * Only lower bounds on time are asserted: the paced run cannot be faster than its rate allows.
 */

const config = stackConfig();
const s = uniqueSuffix();
const adBase = config.directories['ad']?.baseDn ?? '';
const dsBase = config.directories['ds']?.baseDn ?? '';
/** Users per OU: with the OU itself, USERS + 1 snapshot events per run. */
const USERS = 20;
const RATE = 5;
const ou = (tag: string): string => `rr${tag}${s}`;
const adOu = (tag: string): string => `OU=${ou(tag)},OU=Corp,${adBase}`;
const dsOu = (tag: string): string => `ou=${ou(tag)},ou=Corp,${dsBase}`;

let pipeline: Pipeline | undefined;
let ad: Side;
let ds: Side;
let stateDir: string;

/** Runs a resync of one OU and returns when each of its events reached the change topic (ms, performance.now()). */
async function timedResync(tag: string, extra: string[]): Promise<{ seen: number[]; report: { published: number } }> {
  const seen: number[] = [];
  const watcher = await (pipeline as Pipeline).watch('adChanges', () => void seen.push(performance.now()));
  try {
    const run = await idsync(['resync', '--pipe', 'ad-to-ds', '--base-dn', adOu(tag), '--state-dir', stateDir, '--json', ...extra], { configFile: pipeline?.configFile ?? '' });
    expect({ code: run.code, out: describeRun(run) }).toMatchObject({ code: 0 });
    const report = JSON.parse(run.stdout) as { published: number };
    // The watcher reads what the command wrote; give it the time to see the last events.
    await eventually(
      'every event seen on the change topic',
      async () => seen.length,
      (count) => count >= report.published,
      20_000,
      100,
    );
    return { seen, report };
  } finally {
    await watcher.stop();
  }
}

beforeAll(async () => {
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  stateDir = mkdtempSync(join(tmpdir(), `idsync-resync-rate-${s}-`));
  for (const tag of ['p', 'f']) {
    await ad.add(adOu(tag), { objectClass: ['top', 'organizationalUnit'], ou: ou(tag) });
    for (let i = 0; i < USERS; i++) {
      await ad.add(`CN=rr${i} ${tag}${s},${adOu(tag)}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], sAMAccountName: `rr${i}${tag}${s}`.slice(0, 20), sn: s });
    }
  }
  // Only the mapper and the ds-writer: the resync publishes the events a detector would.
  pipeline = await Pipeline.start(s, 90_000, { only: ['mapper', 'ds-writer'] });
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  for (const tag of ['p', 'f']) {
    await ad?.deleteTree(adOu(tag)).catch(() => undefined);
    await ds?.deleteTree(dsOu(tag)).catch(() => undefined);
  }
  await ad?.close();
  await ds?.close();
}, 120_000);

describe('idsync resync --rate', () => {
  it('publishes at most N events a second, and every entry still arrives; without --rate the same resync publishes at once', async () => {
    const events = USERS + 1;
    const paced = await timedResync('p', ['--rate', String(RATE)]);
    expect(paced.report.published).toBe(events);
    // Batches of ceil(RATE / 4) events; the last can start only once the events before it had their share of time.
    const batch = Math.ceil(RATE / 4);
    const floorSeconds = (events - batch) / RATE;
    const pacedSeconds = ((paced.seen.at(-1) ?? 0) - (paced.seen[0] ?? 0)) / 1000;
    // 1 s of slack: the watcher polls every 100 ms and may see the first events late.
    expect(pacedSeconds).toBeGreaterThanOrEqual(floorSeconds - 1);
    await eventually(
      'the paced OU in 389-ds',
      () => ds.below(dsOu('p'), '(objectClass=person)', ['1.1']),
      (found) => found.size === USERS,
      60_000,
    );

    const free = await timedResync('f', []);
    expect(free.report.published).toBe(events);
    const freeSeconds = ((free.seen.at(-1) ?? 0) - (free.seen[0] ?? 0)) / 1000;
    await eventually(
      'the unpaced OU in 389-ds',
      () => ds.below(dsOu('f'), '(objectClass=person)', ['1.1']),
      (found) => found.size === USERS,
      60_000,
    );
    console.log(`resync of ${events} entries: events published over ${pacedSeconds.toFixed(2)} s with --rate ${RATE} (at least ${floorSeconds.toFixed(2)} s), ${freeSeconds.toFixed(2)} s without`);
    // The same work without a rate is not paced: faster than the paced run (a relation, not a time limit).
    expect(freeSeconds).toBeLessThan(pacedSeconds);
  }, 240_000);
});
