import { type EntryLink, encodeLink, linkKey, type LinkEnd, type LinkOrigin } from '@idsync/contracts';
import { type RecordProducer } from '@idsync/platform';
import { type LinkStore, type StoredLink } from './store';
import { type LinksView } from './view';

export interface LinkRegistryOptions {
  readonly store: LinkStore;
  /** Follows the links topic into the store; without it (tests, tools) the store is all there is. */
  readonly view?: LinksView;
  /** Publishes new links and removals; without it they stay local. */
  readonly producer?: RecordProducer;
  readonly topic: string;
  /** Who records the links (linkedBy). */
  readonly service: string;
  readonly now?: () => number;
  /**
   * How old the read barrier a miss relies on may be (default 200 ms): a miss sees every link recorded on the topic
   * up to that long before it. A link another writer records reaches this writer's requests only through a source
   * change and a detector (a second or more), so the barrier need not run for every miss of a burst of creates.
   */
  readonly missBarrierMaxAgeMs?: number;
}

/**
 * What a writer knows and says about links: lookups in its local view, and the links it records or removes,
 * applied to the view at once and published by `flush()` (the write handler calls it before its offsets are
 * committed). What a failed flush did not send is sent by the next one.
 */
export class LinkRegistry {
  private outbox: { key: string; value: Buffer | null }[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: LinkRegistryOptions) {}

  counterpart(directory: string, id: string, otherDirectory: string): StoredLink | null {
    return this.options.store.counterpart(directory, id, otherDirectory);
  }

  wasUnlinked(id: string): boolean {
    return this.options.store.retired(id).length > 0;
  }

  link(link: { readonly pipe: string; readonly source: LinkEnd; readonly destination: LinkEnd; readonly origin: LinkOrigin }): void {
    const full: EntryLink = { ...link, linkedAt: (this.options.now ?? Date.now)(), linkedBy: this.options.service };
    const key = this.options.store.put(full);
    this.outbox.push({ key, value: encodeLink(full) });
  }

  /**
   * Removes a link and every other link between the same two entries (the reverse pipe may have linked them too):
   * once one of them is deleted, no pipe may act on the pair any more.
   */
  unlink(link: StoredLink | EntryLink): void {
    const keys = new Set(['key' in link ? link.key : linkKey(link)]);
    for (const other of this.options.store.linksOf(link.source.value)) {
      const ends = [other.source.value, other.destination.value];
      if (ends.includes(link.source.value) && ends.includes(link.destination.value)) keys.add(other.key);
    }
    for (const key of keys) {
      this.options.store.remove(key);
      this.outbox.push({ key, value: null });
    }
  }

  /** Reads the links topic up to where it ends (see LinksView.catchUp and missBarrierMaxAgeMs); nothing to do without a view. */
  async catchUp(): Promise<void> {
    await this.options.view?.catchUp(this.options.missBarrierMaxAgeMs ?? 200);
  }

  /**
   * Publishes what was recorded or removed until now. Flushes run one after another, each sending the whole
   * outbox: a flush returns only once everything recorded before it is on the topic (by it or by the one before).
   */
  async flush(): Promise<void> {
    const run = this.queue.then(() => this.sendOutbox());
    this.queue = run.catch(() => undefined);
    await run;
  }

  private async sendOutbox(): Promise<void> {
    const producer = this.options.producer;
    if (producer === undefined || this.outbox.length === 0) return;
    const messages = this.outbox;
    this.outbox = [];
    try {
      await producer.send({ topic: this.options.topic, messages });
    } catch (error) {
      this.outbox = [...messages, ...this.outbox];
      throw error;
    }
  }

  get pending(): number {
    return this.outbox.length;
  }
}
