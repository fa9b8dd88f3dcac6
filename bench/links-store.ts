/**
 * The writers' local links store (SQLite file, no Kafka): a rebuild from a read of the whole links topic (N records
 * in batches of 10,000, ~1% tombstones, ~1% links replaced by a new destination, ~1% re-published), then live apply
 * (N/10 more in batches of 500), then counterpart lookups (200,000, half hits, half unknown ids). Records are made per
 * batch, so the process holds at most one batch and a sample of ids. Memory is read after a full GC: heap is what is
 * live, rss includes what V8 keeps committed after collecting the batches' garbage.
 *   npm run bench -- links-store [records] [cacheMb]
 */
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type EntryLink } from '@idsync/contracts';
import { LinkStore, type LinkRecord } from '@idsync/links';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const CACHE_MB = Number(process.argv[3] ?? 16);
const LIVE = Math.round(TOTAL / 10);
const LOOKUPS = 200_000;
const PARTITIONS = 12;
const REBUILD_BATCH = 10_000;
const LIVE_BATCH = 500;

/** Recent links, to tombstone, replace or re-publish; and every 10th link's two ends, to look up. */
const recent: EntryLink[] = [];
const RECENT = 50_000;
const sample: { directory: string; id: string; other: string }[] = [];
const nextOffset: bigint[] = Array.from({ length: PARTITIONS }, () => 0n);
let made = 0;
let linkedAt = 1_760_000_000_000;

function partitionOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return (h >>> 0) % PARTITIONS;
}

function recordOf(key: string, link: EntryLink | null): LinkRecord {
  const partition = partitionOf(key);
  const offset = nextOffset[partition] ?? 0n;
  nextOffset[partition] = offset + 1n;
  return { key, link, partition, offset: String(offset) };
}

function newLink(): EntryLink {
  const adToDs = Math.random() < 0.7;
  const ad = { directory: 'ad', kind: 'objectGUID' as const };
  const ds = { directory: 'ds', kind: 'entryUUID' as const };
  return remember({
    pipe: adToDs ? 'ad-to-ds' : 'ds-to-ad',
    source: { ...(adToDs ? ad : ds), value: randomUUID() },
    destination: { ...(adToDs ? ds : ad), value: randomUUID() },
    origin: 'created',
    linkedAt: linkedAt++,
    linkedBy: adToDs ? 'ds-writer' : 'ad-writer',
  });
}

function remember(link: EntryLink): EntryLink {
  if (made++ % 10 === 0) {
    const [from, to] = Math.random() < 0.5 ? [link.source, link.destination] : [link.destination, link.source];
    sample.push({ directory: from.directory, id: from.value, other: to.directory });
  }
  if (recent.length < RECENT) recent.push(link);
  else recent[Math.floor(Math.random() * RECENT)] = link;
  return link;
}

const keyOf = (l: EntryLink): string => `${l.pipe}/${l.source.value}/${l.destination.value}`;

/** `count` records: mostly new links, some tombstones, replacements (tombstone + new key) and re-publications. */
function batch(count: number): LinkRecord[] {
  const records: LinkRecord[] = [];
  while (records.length < count) {
    const roll = Math.random();
    const old = recent[Math.floor(Math.random() * recent.length)];
    if (old !== undefined && roll < 0.01) {
      records.push(recordOf(keyOf(old), null));
    } else if (old !== undefined && roll < 0.02 && records.length + 2 <= count) {
      records.push(recordOf(keyOf(old), null));
      const destination = { ...old.destination, value: randomUUID() };
      const replacement = remember({ ...old, destination, origin: 'previous-dn', linkedAt: linkedAt++ });
      records.push(recordOf(keyOf(replacement), replacement));
    } else if (old !== undefined && roll < 0.03) {
      records.push(recordOf(keyOf(old), { ...old, origin: 'resync', linkedAt: linkedAt++ }));
    } else {
      const link = newLink();
      records.push(recordOf(keyOf(link), link));
    }
  }
  return records;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString('en-US')}/s`;
const memory = (): string => {
  gc();
  const m = process.memoryUsage();
  return `rss ${mb(m.rss)}, heap ${mb(m.heapUsed)} of ${mb(m.heapTotal)}`;
};
const rows: [string, string, string][] = [];
const row = (what: string, figure: string): void => void rows.push([what, figure, memory()]);

row('start', '');
const store = LinkStore.open({ cacheMb: CACHE_MB });
try {
  let generateMs = 0;
  let addMs = 0;
  const loader = store.bulkLoad();
  for (let done = 0; done < TOTAL; done += REBUILD_BATCH) {
    let t = performance.now();
    const records = batch(Math.min(REBUILD_BATCH, TOTAL - done));
    generateMs += performance.now() - t;
    t = performance.now();
    loader.add(records);
    addMs += performance.now() - t;
  }
  row(`rebuild: add ${TOTAL.toLocaleString('en-US')} records`, `${(addMs / 1000).toFixed(2)} s (${rate(TOTAL, addMs)})`);
  let t = performance.now();
  loader.finish();
  const finishMs = performance.now() - t;
  row('rebuild: finish (resolve, apply, index)', `${(finishMs / 1000).toFixed(2)} s`);
  const counts = store.counts();
  row(
    'rebuild: total',
    `${((addMs + finishMs) / 1000).toFixed(2)} s = ${rate(TOTAL, addMs + finishMs)}; ${counts.links.toLocaleString('en-US')} links, ${counts.retired.toLocaleString('en-US')} retired`,
  );

  let applyMs = 0;
  for (let done = 0; done < LIVE; done += LIVE_BATCH) {
    const g = performance.now();
    const records = batch(Math.min(LIVE_BATCH, LIVE - done));
    generateMs += performance.now() - g;
    t = performance.now();
    store.apply(records);
    applyMs += performance.now() - t;
  }
  row(`live apply: ${LIVE.toLocaleString('en-US')} records, batches of ${LIVE_BATCH}`, `${(applyMs / 1000).toFixed(2)} s = ${rate(LIVE, applyMs)}`);

  const probes = Array.from({ length: LOOKUPS }, (_, i) =>
    i % 2 === 0 ? (sample[Math.floor(Math.random() * sample.length)] ?? { directory: 'ad', id: randomUUID(), other: 'ds' }) : { directory: 'ad', id: randomUUID(), other: 'ds' },
  );
  let found = 0;
  t = performance.now();
  for (const p of probes) if (store.counterpart(p.directory, p.id, p.other) !== null) found++;
  const lookupMs = performance.now() - t;
  row(`counterpart: ${LOOKUPS.toLocaleString('en-US')} lookups (${found.toLocaleString('en-US')} found)`, `${(lookupMs / 1000).toFixed(2)} s = ${rate(LOOKUPS, lookupMs)}`);

  const files = [store.path, `${store.path}-wal`].filter((f) => existsSync(f)).map((f) => statSync(f).size);
  row('file (db + wal)', files.map(mb).join(' + '));
  row('peak rss', mb(process.resourceUsage().maxRSS * 1024));
  console.log(`links store: ${TOTAL.toLocaleString('en-US')} records, cache ${CACHE_MB} MB, node ${process.version}; generating records took ${(generateMs / 1000).toFixed(2)} s (not counted)`);
} finally {
  store.close();
}

const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length), 6));
const line = (r: readonly string[]): string => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ');
console.log(line(['step', 'figure', 'memory after (GC)']));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
