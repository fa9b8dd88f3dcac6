/**
 * What the process keeps after a spike, with glibc's malloc and with the image's allocator (jemalloc, preloaded with
 * the Dockerfile's MALLOC_CONF): a child process builds ENTRIES entries the way a large LDAP answer arrives (small
 * pooled Buffers, strings, a copied binary value each, a few Buffers that live on), drops them, runs the full
 * collection the services run after a batch (releaseMemory), waits IDLE seconds and reads its anonymous resident
 * memory, its heap and glibc's heap segment ([heap] in /proc/self/smaps). ROUNDS spikes per process.
 *   npm run bench -- allocator [entries] [rounds] [idleSeconds]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const ENTRIES = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const IDLE_SECONDS = Number(process.argv[4] ?? 5);
const MB = 1024 * 1024;

interface Figures {
  readonly peakMb: number[];
  readonly afterMb: number[];
  readonly idleMb: number;
  readonly heapUsedMb: number;
  readonly glibcHeapMb: number;
}

function residentAnonMb(): number {
  return Number(/RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
}

/** Resident size of the [heap] mapping: glibc's main arena (jemalloc leaves it nearly empty). */
function glibcHeapMb(): number {
  let inHeap = false;
  let kb = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inHeap = line.trimEnd().endsWith('[heap]');
    else if (inHeap && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
  }
  return kb / 1024;
}

interface LdapLikeEntry {
  readonly dn: string;
  readonly guid: Buffer;
  readonly attributes: Record<string, string[]>;
  readonly descriptor: Buffer;
}

function spike(entries: number, survivors: Buffer[]): LdapLikeEntry[] {
  const page: LdapLikeEntry[] = [];
  for (let i = 0; i < entries; i++) {
    const message = Buffer.allocUnsafe(600 + (i % 7) * 300).fill(i & 255);
    const attributes: Record<string, string[]> = {};
    for (let a = 0; a < 25; a++) attributes[`attribute${a}`] = [message.toString('latin1', a * 10, a * 10 + 40)];
    page.push({ dn: `CN=User ${i},OU=Corp,DC=example,DC=test`, guid: Buffer.from(message.subarray(0, 16)), attributes, descriptor: Buffer.from(message) });
    if (i % 500 === 0) survivors.push(Buffer.alloc(2_000 + (i % 3_000)));
  }
  return page;
}

async function child(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
  const survivors: Buffer[] = [];
  const peakMb: number[] = [];
  const afterMb: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // The page is out of scope once its peak is read: nothing holds it when the collection runs.
    peakMb.push(
      ((): number => {
        const page = spike(ENTRIES, survivors);
        if (page.length !== ENTRIES) throw new Error('the spike lost entries');
        return residentAnonMb();
      })(),
    );
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    afterMb.push(residentAnonMb());
  }
  await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
  const figures: Figures = { peakMb, afterMb, idleMb: residentAnonMb(), heapUsedMb: process.memoryUsage().heapUsed / MB, glibcHeapMb: glibcHeapMb() };
  process.stdout.write(JSON.stringify({ figures, survivors: survivors.length }));
}

function run(label: string, env: Record<string, string | undefined>): void {
  const result = spawnSync(process.execPath, [import.meta.filename, String(ENTRIES), String(ROUNDS), String(IDLE_SECONDS), '--child'], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${label}: the child failed (${result.status ?? result.signal}): ${result.stderr}`);
  const { figures } = JSON.parse(result.stdout) as { figures: Figures };
  const round = (values: number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  console.log(
    `${label.padEnd(9)} peak ${round(figures.peakMb)} MB; after each collection ${round(figures.afterMb)} MB; after ${IDLE_SECONDS} s idle ${figures.idleMb.toFixed(0)} MB ` +
      `(heap used ${figures.heapUsedMb.toFixed(0)} MB, glibc's heap segment ${figures.glibcHeapMb.toFixed(0)} MB)`,
  );
}

if (process.argv.includes('--child')) {
  await child();
} else {
  // Loaded by the parent only: the child measures a bare process, not the services' libraries.
  const { serviceEnvironment } = await import('./lib/isolated-services.ts');
  const image = serviceEnvironment();
  if (image['LD_PRELOAD'] === undefined) throw new Error('the image preloads no allocator (Dockerfile LD_PRELOAD): nothing to compare');
  const glibc: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: image['NODE_OPTIONS'] };
  delete glibc['LD_PRELOAD'];
  delete glibc['MALLOC_CONF'];
  console.log(`${ENTRIES} entries per spike, ${ROUNDS} spikes, anonymous resident memory (RssAnon), NODE_OPTIONS "${image['NODE_OPTIONS']}"`);
  run('glibc', glibc);
  run('jemalloc', { ...glibc, LD_PRELOAD: image['LD_PRELOAD'], MALLOC_CONF: image['MALLOC_CONF'] });
}
