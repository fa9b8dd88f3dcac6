import { PassSummary } from './pass-summary';

describe('PassSummary', () => {
  it('counts a pass by outcome: one summary instead of a line per skipped account', () => {
    const summary = new PassSummary();
    for (let i = 0; i < 7_842; i += 1) summary.record('no-hash', `CN=u${i},OU=Corp,DC=example,DC=test`);
    summary.record('published', 'CN=p1,OU=Corp,DC=example,DC=test');
    summary.record('published', 'CN=p2,OU=Corp,DC=example,DC=test');
    summary.record('deleted', 'CN=gone\\0ADEL:x,CN=Deleted Objects,DC=example,DC=test');
    summary.record('malformed');
    expect(summary.totals()).toEqual({ accounts: 7_846, published: 2, skipped: { 'no-hash': 7_842, deleted: 1, malformed: 1 } });
  });

  it('keeps the first few DNs per skip reason and says how many more there were', () => {
    const summary = new PassSummary(3);
    for (let i = 0; i < 10; i += 1) summary.record('no-hash', `CN=u${i}`);
    summary.record('unchanged', 'CN=same');
    summary.record('published', 'CN=p');
    expect(summary.skippedExamples()).toEqual({
      'no-hash': { first: ['CN=u0', 'CN=u1', 'CN=u2'], more: 7 },
      unchanged: { first: ['CN=same'], more: 0 },
    });
  });

  it('needs attention only for accounts that cannot be synced as they are', () => {
    const routine = new PassSummary();
    routine.record('published', 'CN=a');
    routine.record('unchanged', 'CN=b');
    routine.record('deleted', 'CN=c');
    expect(routine.needsAttention).toBe(false);
    for (const reason of ['no-hash', 'not-a-crypt-hash', 'malformed'] as const) {
      const summary = new PassSummary();
      summary.record(reason, 'CN=x');
      expect(summary.needsAttention).toBe(true);
    }
  });

  it('an empty pass has nothing to report', () => {
    const summary = new PassSummary();
    expect(summary.accounts).toBe(0);
    expect(summary.totals()).toEqual({ accounts: 0, published: 0, skipped: {} });
    expect(summary.skippedExamples()).toEqual({});
  });
});
