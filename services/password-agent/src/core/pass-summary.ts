import { type SkipReason } from './password-event';

/** What became of one account samba-tool handed over: published, or why not. */
export type AccountOutcome = 'published' | SkipReason | 'malformed';

/** The outcomes that say an account cannot be synced as it is (an operator may want to look at them). */
const NEEDS_ATTENTION: readonly AccountOutcome[] = ['no-hash', 'not-a-crypt-hash', 'malformed'];

export interface PassCounts {
  readonly accounts: number;
  readonly published: number;
  readonly skipped: Readonly<Partial<Record<Exclude<AccountOutcome, 'published'>, number>>>;
}

/**
 * The accounts of one samba-tool run, counted by outcome, so a pass over thousands of accounts without a usable
 * hash logs one line, not one per account. Keeps the first few DNs per skip reason (DNs only: never a value).
 */
export class PassSummary {
  private readonly counts = new Map<AccountOutcome, number>();
  private readonly examples = new Map<Exclude<AccountOutcome, 'published'>, string[]>();

  constructor(private readonly examplesPerReason = 5) {}

  record(outcome: AccountOutcome, dn: string | null = null): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
    if (outcome === 'published' || dn === null) return;
    const kept = this.examples.get(outcome) ?? [];
    if (kept.length < this.examplesPerReason) this.examples.set(outcome, [...kept, dn]);
  }

  get accounts(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  get published(): number {
    return this.counts.get('published') ?? 0;
  }

  /** True when some account of the pass cannot be synced as it is (no hash, not a {CRYPT} hash, unreadable). */
  get needsAttention(): boolean {
    return NEEDS_ATTENTION.some((outcome) => (this.counts.get(outcome) ?? 0) > 0);
  }

  totals(): PassCounts {
    const skipped: Partial<Record<Exclude<AccountOutcome, 'published'>, number>> = {};
    for (const [outcome, count] of this.counts) if (outcome !== 'published') skipped[outcome] = count;
    return { accounts: this.accounts, published: this.published, skipped };
  }

  /** The first DNs of each skip reason, and how many more there were. */
  skippedExamples(): Partial<Record<Exclude<AccountOutcome, 'published'>, { first: string[]; more: number }>> {
    const out: Partial<Record<Exclude<AccountOutcome, 'published'>, { first: string[]; more: number }>> = {};
    for (const [reason, first] of this.examples) out[reason] = { first, more: (this.counts.get(reason) ?? 0) - first.length };
    return out;
  }
}
