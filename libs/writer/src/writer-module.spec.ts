import { type FactoryProvider, Module, type Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type BatchContext, DONE, KafkaRecordLoopTransport, type LoopRecord } from '@idsync/platform';
import { WriterController } from './writer-controller';
import { writerServiceModule } from './writer-module';
import { WriterService } from './writer-service';

const providerOf = (providers: readonly Provider[], token: unknown): FactoryProvider | undefined =>
  providers.find((p): p is FactoryProvider => typeof p === 'object' && 'provide' in p && p.provide === token && 'useFactory' in p);

describe('writerServiceModule', () => {
  const root = writerServiceModule('ds-writer');
  const providers = root.providers ?? [];

  it('has WriterController, the transport, and WriterService made with the transport (its loop dispatches through it)', () => {
    expect(root.controllers).toContain(WriterController);
    expect(providerOf(providers, KafkaRecordLoopTransport)).toBeDefined();
    expect(providerOf(providers, WriterService)?.inject).toContain(KafkaRecordLoopTransport);
  });

  it('connects its transport to its controller: a chunk the loop hands over reaches WriterService.handleBatch', async () => {
    const seen: (readonly LoopRecord[])[] = [];
    const writer: Pick<WriterService, 'handleBatch'> = { handleBatch: async (records) => (seen.push(records), records.map(() => DONE)) };
    // The module's transport provider and its controller, WriterService stubbed (no Kafka, no directory).
    const transportProvider = providerOf(providers, KafkaRecordLoopTransport);
    @Module({ controllers: [WriterController], providers: [...(transportProvider ? [transportProvider] : []), { provide: WriterService, useValue: writer }] })
    class WiringModule {}
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest declares its options as a class (NestApplicationContextOptions) and takes a plain object
    const app = await NestFactory.create(WiringModule, { logger: false });
    try {
      const transport = app.get(KafkaRecordLoopTransport);
      app.connectMicroservice({ strategy: transport });
      await app.startAllMicroservices();
      const record: LoopRecord = { topic: 'idsync.ds.operations', partition: 0, offset: '0', key: null, value: Buffer.from('x') };
      const context: BatchContext = { progress: () => undefined, signal: new AbortController().signal, output: { send: async () => undefined, limit: () => 1 } };
      await expect(transport.handleBatch([record], context)).resolves.toEqual([DONE]);
      expect(seen).toEqual([[record]]);
    } finally {
      await app.close();
    }
  });
});
