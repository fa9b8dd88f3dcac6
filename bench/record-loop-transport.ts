/**
 * What the Nest transport (KafkaRecordLoopTransport -> @EventPattern controller) costs over calling the record loop's
 * handler directly, on the loop's dispatch path only: the Kafka part (fetch, transaction, commit) is the same in both.
 * The handler is the mapper's real one (decode -> pipes -> encode, demo configuration, output discarded), over
 * synthetic AD and directory change records, in chunks of 500 (the loop's maximum), 50 (the writers' turnover) and 1;
 * plus a no-op handler that isolates the per-call overhead. Rounds alternate direct/transport (ABBA).
 *   npm run bench -- record-loop-transport [records] [rounds]
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { encodeEntryChange, type EntryChangeEvent } from '@idsync/contracts';
import { DONE, JsonLogger, KafkaRecordLoopTransport, Metrics, SecretRedactor, type BatchContext, type LoopRecord, type RecordOutcome } from '@idsync/platform';
import { ENTRY_CHANGES, MapperController } from '../services/mapper/dist/mapper-controller.js';
import { MapperService } from '../services/mapper/dist/mapper-service.js';
import { mapperHandler } from '../services/mapper/dist/mapper-handler.js';
import { RecordMapper } from '../services/mapper/dist/record-mapper.js';
import { offlineDemoConfig } from './lib/offline-config.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOTAL = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 4);
const config = offlineDemoConfig();

const rep = (name: string, ...values: string[]) => ({ name, op: 'replace' as const, values });
const guid = (n: number) => `${n.toString(16).padStart(8, '0')}-7a2d-4c1b-9e8f-${(n * 7919).toString(16).padStart(12, '0')}`;
function event(n: number): EntryChangeEvent {
  const user = n % 5000;
  if (n % 5 < 3) {
    const dn = `CN=User ${user},OU=Sales,OU=Corp,DC=example,DC=test`;
    const base = {
      eventId: `ad:dirsync:bench:${n}`,
      source: { system: 'active-directory', directory: 'ad', server: 'ldaps://dc1.example.test:636', position: { kind: 'dirsync', cookieDigest: 'sha256:00ff', index: n } },
      entryId: { kind: 'objectGUID', value: guid(user) },
      previousDn: null,
      objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
      initiator: null,
      changeTime: 1_704_164_645_000 + n,
      detectedAt: 1_704_164_646_000 + n,
      after: null,
      before: null,
    } as const;
    return n % 2 === 0
      ? {
          ...base,
          op: 'add',
          dn,
          attributes: [
            rep('sAMAccountName', `user${user}`),
            rep('givenName', 'User'),
            rep('sn', String(user)),
            rep('cn', `User ${user}`),
            rep('mail', `user${user}@example.test`),
            rep('userAccountControl', '512'),
          ],
        }
      : { ...base, op: 'modify', dn, attributes: [rep('sAMAccountName', `user${user}`), rep('mail', `u${user}.${n}@example.test`), rep('description', `changed ${n}`)] };
  }
  const dn = `cn=Person ${user},ou=Support,ou=Corp,dc=example,dc=com`;
  const base = {
    eventId: `ds:changelog:${n}`,
    source: { system: 'ldap', directory: 'ds', server: 'ldaps://ds1.example.com:636', position: { kind: 'change-number', changeNumber: String(n) } },
    entryId: { kind: 'entryUUID', value: guid(200_000 + user) },
    previousDn: null,
    objectClasses: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
    initiator: 'cn=Directory Manager',
    changeTime: 1_704_164_645_000 + n,
    detectedAt: 1_704_164_646_000 + n,
    after: null,
    before: null,
  } as const;
  return { ...base, op: 'modify', dn, attributes: [rep('mail', `p${user}.${n}@example.com`), rep('description', `changed ${n}`)] };
}
const records: LoopRecord[] = [];
for (let n = 0; n < TOTAL; n++)
  records.push({
    topic: n % 5 < 3 ? 'idsync.ad.changes' : 'idsync.ds.changes',
    partition: n % 3,
    offset: String(n),
    key: Buffer.from(guid(n % 5000)),
    value: encodeEntryChange(event(n)),
    headers: {},
  });

const logger = new JsonLogger('mapper', 'warn', new SecretRedactor([]), () => undefined);
const mapping = mapperHandler({ mapper: new RecordMapper(config), metrics: new Metrics(), logger });
const noop = async (chunk: readonly LoopRecord[]): Promise<RecordOutcome[]> => chunk.map(() => DONE);
let produced = 0;
const context: BatchContext = { progress: () => undefined, signal: new AbortController().signal, output: { send: async (batch) => void (produced += batch.length), limit: () => 1_000_000 } };

// The real controller, in a Nest microservice on the transport; MapperService stands in with the handler under test.
let current: (chunk: readonly LoopRecord[], context: BatchContext) => Promise<readonly RecordOutcome[]> = mapping;
// (Module applied as a function: node's type stripping has no decorators.)
// eslint-disable-next-line @typescript-eslint/no-extraneous-class -- a Nest module: Module(...) below decorates it
class BenchModule {}
Module({ controllers: [MapperController], providers: [{ provide: MapperService, useValue: { handleBatch: (chunk: readonly LoopRecord[], ctx: BatchContext) => current(chunk, ctx) } }] })(BenchModule);
const transport = new KafkaRecordLoopTransport(ENTRY_CHANGES);
// eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest declares its options as a class (NestApplicationContextOptions) and takes a plain object
const app = await NestFactory.createMicroservice(BenchModule, { strategy: transport, logger: false });
await app.listen();

async function run(dispatch: typeof current, size: number): Promise<{ ms: number; heapDeltaMb: number }> {
  gc();
  const heap = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let at = 0; at < records.length; at += size) {
    const outcomes = await dispatch(records.slice(at, at + size), context);
    if (outcomes.length !== Math.min(size, records.length - at)) throw new Error('outcomes');
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, heapDeltaMb: (process.memoryUsage().heapUsed - heap) / 2 ** 20 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`records ${TOTAL}, rounds ${ROUNDS} (ABBA), node ${process.version}`);
for (const [label, handler] of [
  ['mapper handler', mapping],
  ['no-op handler', noop],
] as const) {
  current = handler;
  for (const size of [500, 50, 1]) {
    await run(handler, size); // warm-up, both paths
    await run(transport.handleBatch, size);
    const direct: number[] = [];
    const nest: number[] = [];
    const heaps = { direct: [] as number[], nest: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['d', 'n', 'n', 'd'] : ['n', 'd', 'd', 'n'];
      for (const which of order) {
        const result = await run(which === 'd' ? handler : transport.handleBatch, size);
        (which === 'd' ? direct : nest).push(result.ms);
        (which === 'd' ? heaps.direct : heaps.nest).push(result.heapDeltaMb);
      }
    }
    const d = median(direct);
    const n = median(nest);
    const perRecordNs = ((n - d) * 1e6) / TOTAL;
    console.log(
      `${label.padEnd(15)} chunk ${String(size).padStart(3)}: direct ${Math.round(TOTAL / (d / 1000)).toLocaleString('en')} rec/s (${((d * 1000) / TOTAL).toFixed(2)} µs/rec), ` +
        `transport ${Math.round(TOTAL / (n / 1000)).toLocaleString('en')} rec/s (${((n * 1000) / TOTAL).toFixed(2)} µs/rec): ` +
        `+${perRecordNs.toFixed(0)} ns/record = ${(((n - d) / d) * 100).toFixed(2)}%; ` +
        `heap growth per run (median) ${median(heaps.direct).toFixed(1)} vs ${median(heaps.nest).toFixed(1)} MB`,
    );
  }
}
await app.close();
console.log(`(output batches sent: ${produced})`);
