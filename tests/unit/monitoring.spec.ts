import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** Offline checks of the operations kit in k8s/monitoring (the Prometheus test runs the rules with promtool). */
const ROOT = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');
const rules = parse(read('k8s/monitoring/idsync-alerts.rules.yml')) as { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
const dashboard = JSON.parse(read('k8s/monitoring/idsync-dashboard.json')) as { panels: { type: string; title: string; targets?: { expr: string }[] }[] };

/** Metric names in a PromQL text: ours (idsync_...) without a histogram's _bucket/_count/_sum. */
const metricNames = (promql: string): string[] => [...promql.matchAll(/\bidsync_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));

/** The metrics the README documents (its Monitoring table), wildcards as patterns. */
const documented = [...read('README.md').matchAll(/^\| `(idsync_[a-z0-9_*]+)` \|/gm)].map((m) => new RegExp(`^${(m[1] as string).replace(/\*/g, '[a-z0-9_]+')}$`));

/** Every TypeScript source file of the services and libraries (not specs). */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('operations kit (k8s/monitoring)', () => {
  it('gives the Prometheus Operator the very rules promtool tests', () => {
    const rule = parse(read('k8s/monitoring/prometheus-rule.yaml')) as { kind: string; spec: unknown };
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.spec).toEqual(rules);
  });

  it('has a promtool unit test for every alert', () => {
    const tests = read('k8s/monitoring/idsync-alerts.test.yml');
    const alerts = rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const alert of alerts) expect(tests).toMatch(new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:`));
  });

  it('uses only metrics the README documents, and the README only metrics the code registers', () => {
    const used = new Set([
      ...rules.groups.flatMap((group) => group.rules.flatMap((rule) => metricNames(rule.expr))),
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => metricNames(target.expr))),
    ]);
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !documented.some((pattern) => pattern.test(name)))).toEqual([]);
    const code = [...sources('libs'), ...sources('services')].map((file) => read(file)).join('\n');
    const table = [...read('README.md').matchAll(/^\| `(idsync_[a-z0-9_]+)` \|/gm)].map((m) => m[1] as string);
    expect(table.filter((name) => !code.includes(`'${name}'`) && !code.includes(`${name}'`))).toEqual([]);
  });

  it('runs the nightly drift check as the resync Job runs, read-only, pushing its drift metrics', () => {
    const [cronJob] = parseAllDocuments(read('k8s/ops/drift-check-cronjob.yaml')).map((d) => d.toJS() as Record<string, any>);
    const [job] = parseAllDocuments(read('k8s/ops/resync-job.example.yaml')).map((d) => d.toJS() as Record<string, any>);
    const pod = cronJob?.['spec']['jobTemplate']['spec']['template']['spec'];
    const resyncPod = job?.['spec']['template']['spec'];
    const [container] = pod['containers'];
    const [resync] = resyncPod['containers'];
    expect(container.command).toEqual(expect.arrayContaining(['resync', '--dry-run', '--push-metrics']));
    expect(container.command).not.toContain('--delete-missing');
    // Same image, credentials, settings, mounts and restrictions as the resync Job.
    for (const field of ['image', 'env', 'envFrom', 'securityContext', 'volumeMounts']) expect(container[field]).toEqual(resync[field]);
    expect(pod['securityContext']).toEqual(resyncPod['securityContext']);
    expect(cronJob?.['spec']['concurrencyPolicy']).toBe('Forbid');
  });

  it('draws every panel of the dashboard from a query', () => {
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThan(10);
    for (const panel of graphs) expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
  });
});
