import { readFileSync } from 'node:fs';
import { Attribute, Change } from 'ldapts';
import { requireStackServers, stackConfig, stackEnv, uniqueSuffix } from '../support/stack';
import { Side } from '../e2e/directories';
import { Pipeline, sleep } from '../e2e/pipeline';

/**
 * /health is open to any caller: it must not turn into a bind per request against the directory. The ds-writer runs
 * alone; 1,000 readiness requests in 10 s and 200 liveness requests are counted against the binds its account makes,
 * read from 389-ds's own access log between two markers (written at once while the test turns the log's buffering
 * off; a marker search shows everything before it is in the file).
 */

const ACCESS_LOG = '/var/log/dirsrv/slapd-idsync/access';
const config = stackConfig();
const suffix = uniqueSuffix();
const writerDn = (stackEnv()['DS_WRITER_BIND_DN'] ?? '').toLowerCase();
let pipeline: Pipeline | undefined;
let admin: Side;

/** Searches for a marker (an attribute value nobody has) and waits until the access log shows it: everything before is written. */
async function logMark(name: string): Promise<number> {
  const marker = `idsyncmark${suffix}${name}`;
  // A base search: it reads no index (a subtree search here would read the suffix's ancestorid key while other suites add).
  await admin.client.search(admin.baseDn, { scope: 'base', filter: `(description=${marker})`, attributes: ['1.1'] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const lines = readFileSync(ACCESS_LOG, 'utf8').split('\n');
    const at = lines.findIndex((line) => line.includes(marker));
    if (at >= 0) return at;
    if (Date.now() > deadline) throw new Error(`marker ${marker} not in ${ACCESS_LOG} after 30 s`);
    await sleep(250);
  }
}

/** 389-ds's access log buffering (on by default: lines reach the file seconds later). */
async function setLogBuffering(value: 'on' | 'off'): Promise<void> {
  await admin.client.modify('cn=config', new Change({ operation: 'replace', modification: new Attribute({ type: 'nsslapd-accesslog-logbuffering', values: [value] }) }));
}

/** BINDs as the writer's account between two marker lines of the access log. */
function writerBinds(from: number, to: number): number {
  return readFileSync(ACCESS_LOG, 'utf8')
    .split('\n')
    .slice(from, to)
    .filter((line) => / BIND dn="/.test(line) && line.toLowerCase().includes(`dn="${writerDn}"`)).length;
}

describe(`health probes against a real directory (run ${suffix})`, () => {
  beforeAll(async () => {
    await requireStackServers(config);
    readFileSync(ACCESS_LOG); // fails loudly when the stack's 389-ds access log is not where the test reads it
    admin = await Side.open(config, 'ds');
    await setLogBuffering('off');
    pipeline = await Pipeline.start(suffix, 90_000, { only: ['ds-writer'] });
  }, 180_000);

  afterAll(async () => {
    await pipeline?.stop();
    await setLogBuffering('on').catch(() => undefined);
    await admin?.close();
  });

  it('1,000 /health requests in 10 s cause at most a handful of binds, answered from the last check, without credentials', async () => {
    const port = pipeline?.port('ds-writer');
    const start = await logMark('start');
    // One request every 10 ms for 10 s, each answered in its own time (a caller polling /health hard).
    const pending: Promise<{ status: number; body: string }>[] = [];
    const started = Date.now();
    for (let i = 0; i < 1_000; i++) {
      pending.push(fetch(`http://127.0.0.1:${port}/health`).then(async (r) => ({ status: r.status, body: await r.text() })));
      await sleep(Math.max(0, started + (i + 1) * 10 - Date.now()));
    }
    const answers = await Promise.all(pending);
    const seconds = (Date.now() - started) / 1000;
    expect(answers.map((a) => a.status).filter((status) => status !== 200)).toEqual([]);
    const bodies = answers.map((a) => a.body);
    const end = await logMark('end');
    const binds = writerBinds(start, end);
    process.stdout.write(`health probes: ${bodies.length} /health requests in ${seconds.toFixed(1)} s -> ${binds} binds as ${writerDn}\n`);
    expect(seconds).toBeLessThan(20); // the requests really came at about 100 per second
    expect(binds).toBeLessThanOrEqual(3);
    const last = JSON.parse(bodies.at(-1) ?? '{}') as { info?: Record<string, { checkedAt?: string; url?: string }> };
    const directory = Object.entries(last.info ?? {}).find(([name]) => name.startsWith('directory:'))?.[1];
    expect(directory?.checkedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const password = stackEnv()['DS_WRITER_PASSWORD'] ?? 'unset';
    for (const body of bodies) expect(body).not.toContain(password);
  }, 120_000);

  it('liveness never touches a server', async () => {
    const port = pipeline?.port('ds-writer');
    const start = await logMark('live-start');
    for (let i = 0; i < 200; i++) expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    const end = await logMark('live-end');
    expect(writerBinds(start, end)).toBe(0);
  }, 60_000);
});
