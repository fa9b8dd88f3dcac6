import { decodeLink, type EntryLink, UndecodableRecordError } from '@idsync/contracts';
import { type LinkRecord, LinkStore } from '@idsync/links';
import { type CommandContext, kafkaCall, kafkaUnreachable } from './context';
import { Tombstones } from './core/links-report';
import { CliError } from './io';
import { Progress } from './progress';
import { readRanges } from '@idsync/platform';

/** A read gives up when no fetch has returned anything for this long. */
const READ_STALL_MS = 30_000;
/** Records staged in the store at a time. */
const LOAD_BATCH = 5_000;

export interface LoadedLinks {
  readonly topic: string;
  /** False when the topic does not exist (only with `missingTopic: 'empty'`): the store is empty. */
  readonly exists: boolean;
  /** Every live link, resolved as the writers' view resolves it (latest record per key; tombstones retire pairs). */
  readonly store: LinkStore;
  readonly tombstones: Tombstones;
  /** Records whose value is not a link (undecodable): left out. */
  readonly skipped: number;
}

export interface LoadLinksOptions {
  /**
   * What a links topic that does not exist means: an error naming it (default), or no links at all (a deployment
   * whose writers have not started since links exist).
   */
  readonly missingTopic?: 'error' | 'empty';
}

/**
 * Reads the links topic (kafka.topics.links) from its log start to its current end into a temporary store (the
 * writers' own LinkStore, bulk-loaded), noting the tombstones' times. The store is the caller's to close.
 */
export async function loadLinks(ctx: CommandContext, options: LoadLinksOptions = {}): Promise<LoadedLinks> {
  const admin = await ctx.admin();
  const topic = ctx.config.kafka.topics.links.name;
  const existing = await kafkaCall(ctx, () => admin.listTopics());
  if (!existing.includes(topic)) {
    if (options.missingTopic === 'empty') return { topic, exists: false, store: LinkStore.open(), tombstones: new Tombstones(), skipped: 0 };
    throw new CliError(`the links topic ${topic} does not exist`, {
      hint: `the writers (ad-writer, ds-writer) create it when they start, then record links on it: start one once, or check kafka.topics.links in ${ctx.configFile}`,
    });
  }
  const offsets = await kafkaCall(ctx, () => admin.topicOffsets(topic));
  const ranges = offsets.map((p) => ({ topic, partition: p.partition, from: p.low, to: p.high })).filter((r) => r.from < r.to);
  const total = ranges.reduce((sum, r) => sum + (r.to - r.from), 0);
  const store = LinkStore.open();
  try {
    const loader = store.bulkLoad();
    const tombstones = new Tombstones();
    let batch: LinkRecord[] = [];
    let skipped = 0;
    let failure: unknown = null;
    // (Typed by `as`: set in onRecord, which the checker does not follow.)
    let storeFailure = null as { error: unknown } | null;
    const progress = total > LOAD_BATCH ? new Progress(ctx.io, { label: `reading ${topic}`, total, unit: 'records' }) : undefined;
    const read = await readRanges(ctx.kafka, admin, ctx.config.kafka.clientId, ranges, {
      timeoutMs: Number.POSITIVE_INFINITY,
      stallMs: READ_STALL_MS,
      onRecord: (record) => {
        progress?.advance();
        if (storeFailure !== null) return;
        const key = record.key?.toString('utf8') ?? '';
        let link: EntryLink | null = null;
        try {
          if (record.value !== null) link = decodeLink(record.value);
        } catch (error) {
          if (!(error instanceof UndecodableRecordError)) throw error;
          // Not a link: left out and counted, as the writers' view does.
          skipped += 1;
          return;
        }
        tombstones.note(key, link === null, record.timestamp);
        batch.push({ key, link, partition: record.partition, offset: String(record.offset) });
        if (batch.length >= LOAD_BATCH) {
          try {
            loader.add(batch);
          } catch (error) {
            storeFailure = { error };
          }
          batch = [];
        }
      },
      onFailure: (error) => (failure = error),
    });
    progress?.finish();
    if (storeFailure !== null) throw storeFailure.error;
    if (failure !== null) throw failure instanceof CliError ? failure : kafkaUnreachable(ctx.config, failure);
    const unfinished = ranges.filter((r) => read.get(r)?.complete !== true);
    if (unfinished.length > 0) {
      throw new CliError(`could not read ${unfinished.map((r) => `${r.topic}/${r.partition} up to offset ${r.to}`).join(', ')}: nothing came for ${READ_STALL_MS / 1_000} s`, {
        retriable: true,
        hint: 'the brokers may be slow or a transaction may still be open on that partition: try again',
      });
    }
    loader.add(batch);
    loader.finish();
    return { topic, exists: true, store, tombstones, skipped };
  } catch (error) {
    store.close();
    throw error;
  }
}
