import { LATENCY_BUCKETS, MetricNameError, Metrics } from './metrics';

describe('metrics', () => {
  it('counts one series per label set, whatever order the labels were given in, each with the service label', async () => {
    const metrics = new Metrics({ service: 'ds-writer' });
    const requests = metrics.counter('idsync_writer_requests_total', 'Requests', ['result', 'pipe']);
    requests.inc({ pipe: 'ad-to-ds', result: 'applied' });
    requests.inc({ result: 'applied', pipe: 'ad-to-ds' }, 2);
    requests.inc({ pipe: 'ad-to-ds', result: 'no-op' });
    expect(await metrics.value('idsync_writer_requests_total', { result: 'applied' })).toBe(3);
    expect(await metrics.value('idsync_writer_requests_total')).toBe(4);
    const text = await metrics.render();
    expect(text).toContain('# TYPE idsync_writer_requests_total counter');
    expect(text).toMatch(/idsync_writer_requests_total\{(?=[^}]*result="applied")(?=[^}]*pipe="ad-to-ds")(?=[^}]*service="ds-writer")[^}]*\} 3\n/);
  });

  it('escapes label values so they cannot break the text format (quotes, backslashes, newlines)', async () => {
    const metrics = new Metrics();
    metrics.counter('idsync_mapper_test_total', 'Test', ['pipe']).inc({ pipe: 'a"b\\c\nd' });
    expect(await metrics.render()).toContain('idsync_mapper_test_total{pipe="a\\"b\\\\c\\nd"} 1');
  });

  it('refuses names outside the scheme before anything is counted', () => {
    const metrics = new Metrics();
    expect(() => metrics.counter('idsync_records_total', 'no stage')).toThrow(MetricNameError);
    expect(() => metrics.counter('idsync_writer_requests', 'a counter without _total')).toThrow(/ends in _total/);
    expect(() => metrics.gauge('idsync_writer_lag_total', 'a gauge named as a counter')).toThrow(MetricNameError);
    expect(() => metrics.histogram('idsync_writer_latency_ms', 'not a base unit', [], LATENCY_BUCKETS)).toThrow(/seconds or bytes/);
    expect(() => metrics.counter('writer_requests_total', 'no prefix')).toThrow(MetricNameError);
  });

  it('returns the same metric when two parts of a service register it, and refuses a different shape under that name', () => {
    const metrics = new Metrics();
    const first = metrics.counter('idsync_writer_link_conflicts_total', 'Conflicts', ['pipe', 'resolution']);
    expect(metrics.counter('idsync_writer_link_conflicts_total', 'Conflicts', ['resolution', 'pipe'])).toBe(first);
    expect(() => metrics.counter('idsync_writer_link_conflicts_total', 'Conflicts', ['pipe'])).toThrow(/registered before/);
    expect(() => metrics.gauge('idsync_writer_link_conflicts_total_now', 'ok, another name')).not.toThrow();
  });

  it('reports a histogram in buckets, with its count and sum, and a gauge set when scraped', async () => {
    const metrics = new Metrics();
    const latency = metrics.histogram('idsync_writer_end_to_end_latency_seconds', 'Latency', ['pipe'], LATENCY_BUCKETS);
    latency.observe({ pipe: 'ad-to-ds' }, 0.3);
    latency.observe({ pipe: 'ad-to-ds' }, 7);
    let lag = 5;
    metrics.gauge('idsync_detector_lag_seconds', 'Lag', [], (gauge) => gauge.set(lag));
    const text = await metrics.render();
    expect(text).toContain('idsync_writer_end_to_end_latency_seconds_bucket{le="0.5",pipe="ad-to-ds"} 1');
    expect(text).toContain('idsync_writer_end_to_end_latency_seconds_bucket{le="10",pipe="ad-to-ds"} 2');
    expect(text).toContain('idsync_writer_end_to_end_latency_seconds_sum{pipe="ad-to-ds"} 7.3');
    expect(await metrics.value('idsync_writer_end_to_end_latency_seconds', { pipe: 'ad-to-ds' })).toBe(2);
    expect(text).toContain('idsync_detector_lag_seconds 5');
    lag = 9;
    expect(await metrics.render()).toContain('idsync_detector_lag_seconds 9');
  });

  it('renders only the metrics asked for by name, and nothing for a name it does not hold', async () => {
    const metrics = new Metrics({ service: 'ds-writer' });
    metrics.counter('idsync_writer_requests_total', 'Requests', ['result']).inc({ result: 'applied' }, 3);
    metrics.counter('idsync_writer_retries_total', 'Retries').inc();
    metrics.gauge('idsync_writer_lanes_busy', 'Lanes', [], (gauge) => gauge.set(2));
    const text = await metrics.render(['idsync_writer_requests_total', 'idsync_writer_lanes_busy', 'idsync_writer_unknown_total']);
    expect(text).toContain('idsync_writer_requests_total{result="applied",service="ds-writer"} 3');
    expect(text).toContain('idsync_writer_lanes_busy{service="ds-writer"} 2');
    expect(text).not.toContain('idsync_writer_retries_total');
    expect(text.endsWith('\n')).toBe(true);
    expect(await metrics.render(['idsync_writer_unknown_total'])).toBe('');
    expect(await metrics.render([])).toContain('idsync_writer_retries_total');
  });

  it('adds the Node.js process metrics when asked', async () => {
    const text = await new Metrics({ service: 'mapper', defaultMetrics: true }).render();
    expect(text).toMatch(/process_resident_memory_bytes\{service="mapper"\} \d+/);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});
