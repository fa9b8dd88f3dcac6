import { Metrics } from './metrics';

describe('metrics', () => {
  it('counts one series per label set, whatever order the labels were given in', () => {
    const metrics = new Metrics();
    const requests = metrics.counter('idsync_test_requests_total', 'Requests');
    requests.inc({ service: 'ds-writer', result: 'applied' });
    requests.inc({ result: 'applied', service: 'ds-writer' }, 2);
    requests.inc({ service: 'ds-writer', result: 'no-op' });
    requests.inc();
    expect(requests.get({ result: 'applied', service: 'ds-writer' })).toBe(3);
    expect(metrics.render()).toContain('idsync_test_requests_total{result="applied",service="ds-writer"} 3\n');
    expect(metrics.render()).toContain('idsync_test_requests_total{result="no-op",service="ds-writer"} 1');
    expect(metrics.render()).toContain('idsync_test_requests_total 1');
  });

  it('keeps label values from breaking the text format (quotes, backslashes, newlines)', () => {
    const metrics = new Metrics();
    metrics.counter('idsync_test_total', 'Test').inc({ pipe: 'a"b\\c\nd' });
    expect(metrics.render()).toContain('idsync_test_total{pipe="a_b_c_d"} 1');
  });
});
