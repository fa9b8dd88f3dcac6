import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stackConfig, uniqueSuffix, requireStackServers } from '../support/stack';
import { Scenario } from '../support/scenario';
import { Side } from '../e2e/directories';
import { freePort } from '../support/local-stack';
import { eventually, Pipeline, SERVICES } from '../e2e/pipeline';

/**
 * The operations kit against a real Prometheus (Debian's package, installed by `npm run stack -- up`): promtool checks
 * and unit-tests the alert rules; a Prometheus scrapes the demo's five services of this run (jobs idsync-<service>, as
 * the PodMonitor names them) with the rules loaded; after a change flows AD -> 389-ds, the latency histogram answers
 * a PromQL query.
 */

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const RULES = join(ROOT, 'k8s', 'monitoring', 'idsync-alerts.rules.yml');
const RULE_TESTS = join(ROOT, 'k8s', 'monitoring', 'idsync-alerts.test.yml');
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

const config = stackConfig();
const s = uniqueSuffix();
const adOu = `OU=prom${s},OU=Corp,${config.directories['ad']?.baseDn ?? ''}`;
const dsOu = `ou=prom${s},ou=Corp,${config.directories['ds']?.baseDn ?? ''}`;

let pipeline: Pipeline | undefined;
let prometheus: ChildProcess | undefined;
let promUrl = '';
let dir = '';
let ad: Side;
let ds: Side;
const scenario = new Scenario(180_000);
const step = scenario.step;

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}
async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${promUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as PromResponse<T>;
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? response.status}`);
  return body.data;
}
const query = (promql: string): Promise<{ result: { metric: Record<string, string>; value: [number, string] }[] }> => api(`/api/v1/query?query=${encodeURIComponent(promql)}`);

beforeAll(async () => {
  for (const binary of [PROMETHEUS, PROMTOOL]) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: the Prometheus test needs Debian's prometheus package (npm run stack -- up installs it)`);
  }
  await requireStackServers(config);
  ad = await Side.open(config, 'ad');
  ds = await Side.open(config, 'ds');
  pipeline = await Pipeline.start(s);
  dir = mkdtempSync(join(tmpdir(), `idsync-prometheus-${s}-`));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const jobs = SERVICES.map((name) => `  - job_name: idsync-${name}\n    static_configs:\n      - targets: ['127.0.0.1:${(pipeline as Pipeline).port(name)}']\n`).join('');
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nrule_files:\n  - ${RULES}\nscrape_configs:\n${jobs}`);
  prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: Buffer[] = [];
  prometheus.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
  await eventually(
    'Prometheus ready',
    () =>
      fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    (ok) => ok,
    30_000,
    250,
  ).catch((error: unknown) => {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${Buffer.concat(log).toString().slice(-2_000)}`);
  });
}, 180_000);

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  if (pipeline) {
    if (scenario.failed) process.stderr.write(`prometheus ${s}:\n${pipeline.tails()}\n`);
    await pipeline.stop();
  }
  await ad?.deleteTree(adOu).catch(() => undefined);
  await ds?.deleteTree(dsOu).catch(() => undefined);
  await ad?.close();
  await ds?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe(`the operations kit with a real Prometheus (run ${s})`, () => {
  step('promtool: the alert rules are valid and every alert passes its unit tests', async () => {
    const checked = await run(PROMTOOL, ['check', 'rules', RULES]);
    expect(checked.stdout).toMatch(/SUCCESS: 11 rules found/);
    const tested = await run(PROMTOOL, ['test', 'rules', RULE_TESTS], { cwd: join(ROOT, 'k8s', 'monitoring') });
    expect(`${tested.stdout}${tested.stderr}`).toMatch(/SUCCESS/);
  });

  step('promtool fails a rule test that does not hold (the tests can fail)', async () => {
    const broken = readFileSync(RULE_TESTS, 'utf8').replace('exp_labels: { severity: critical, service: ds-writer }', 'exp_labels: { severity: critical, service: ad-writer }');
    writeFileSync(join(dir, 'broken.test.yml'), broken.replace('- idsync-alerts.rules.yml', `- ${RULES}`));
    await expect(run(PROMTOOL, ['test', 'rules', join(dir, 'broken.test.yml')])).rejects.toMatchObject({ code: 1 });
  });

  step('every service of the run is scraped and up, and the rules are loaded without errors', async () => {
    const targets = await eventually(
      'every target up',
      () => api<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>('/api/v1/targets'),
      (data) => data.activeTargets.length === SERVICES.length && data.activeTargets.every((t) => t.health === 'up'),
      60_000,
      1_000,
    );
    expect(targets.activeTargets.map((t) => t.labels.job).sort()).toEqual(SERVICES.map((name) => `idsync-${name}`).sort());
    const rules = await api<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
    const group = rules.groups.find((g) => g.name === 'idsync');
    expect(group?.rules.length).toBe(11);
    await eventually(
      'rules evaluated',
      () => api<{ groups: { rules: { health: string }[] }[] }>('/api/v1/rules'),
      (data) => data.groups.every((g) => g.rules.every((r) => r.health === 'ok')),
      30_000,
      1_000,
    );
    const up = await query('up{job=~"idsync-.*"}');
    expect(up.result.map((r) => r.value[1])).toEqual(SERVICES.map(() => '1'));
  });

  step('after a change flows AD -> 389-ds, its latency is in the histogram and answers a percentile query', async () => {
    await ad.add(adOu, { objectClass: ['top', 'organizationalUnit'], ou: `prom${s}` });
    const cn = `Prom User${s}`;
    await ad.add(`CN=${cn},${adOu}`, { objectClass: ['top', 'person', 'organizationalPerson', 'user'], cn, sAMAccountName: `prom${s}`, sn: `U${s}` });
    await eventually(
      'the user in 389-ds',
      () => ds.read(`cn=${cn},${dsOu}`),
      (entry) => entry !== null,
      30_000,
    );
    const count = await eventually(
      'the end-to-end latency histogram scraped',
      () => query('sum(idsync_writer_end_to_end_latency_seconds_count{job="idsync-ds-writer", pipe="ad-to-ds"})'),
      (data) => Number(data.result[0]?.value[1] ?? 0) >= 1,
      30_000,
      1_000,
    );
    expect(Number(count.result[0]?.value[1])).toBeGreaterThanOrEqual(1);
    // Over all observations so far (a rate() needs two scrapes with an increase between them; the first observation
    // creates the series).
    const p99 = await query('histogram_quantile(0.99, sum by (le, pipe) (idsync_writer_end_to_end_latency_seconds_bucket{job="idsync-ds-writer"}))');
    const value = Number(p99.result.find((r) => r.metric['pipe'] === 'ad-to-ds')?.value[1]);
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThan(60);
    // The detectors keep up, nothing is waiting, and nothing fires.
    const lag = await query('max(idsync_detector_lag_seconds)');
    expect(Number(lag.result[0]?.value[1])).toBeLessThan(30);
    const alerts = await api<{ alerts: { labels: { alertname: string }; state: string }[] }>('/api/v1/alerts');
    expect(alerts.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname)).toEqual([]);
  });
});
