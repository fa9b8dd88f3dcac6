import { Controller, Module, UseFilters } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { type BatchContext, DONE, deadLetter, type LoopRecord } from './consumer-loop';
import { KafkaRecordLoopTransport, RecordErrorsUnchanged } from './record-loop-transport';

class RetriableError extends Error {
  readonly retriable = true;
}

@Controller()
@UseFilters(RecordErrorsUnchanged)
class ChangesController {
  @EventPattern('changes')
  handle(@Payload() records: readonly LoopRecord[], @Ctx() context: BatchContext) {
    if (records[0]?.offset === 'retriable') throw new RetriableError('broker away');
    if (records[0]?.offset === 'bug') throw new TypeError('a bug');
    context.progress();
    return Promise.resolve(records.map((r) => (r.value === null ? deadLetter('empty', 'undecodable') : DONE)));
  }
}

@Module({ controllers: [ChangesController] })
class ChangesModule {}

const record = (offset: string, value: Buffer | null = Buffer.from('x')): LoopRecord => ({ topic: 't', partition: 0, offset, key: null, value });
const progress = jest.fn();
const context: BatchContext = { progress, signal: new AbortController().signal, output: { send: async () => undefined, limit: () => 1 } };

describe('KafkaRecordLoopTransport', () => {
  const transport = new KafkaRecordLoopTransport('changes');
  let close: () => Promise<void>;
  beforeAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest declares its options as a class (NestApplicationContextOptions) and takes a plain object
    const app = await NestFactory.createMicroservice(ChangesModule, { strategy: transport, logger: false });
    await app.listen();
    close = () => app.close();
  });
  afterAll(() => close());

  it("hands the chunk and the loop's context to the @EventPattern handler and returns its outcomes", async () => {
    await expect(transport.handleBatch([record('1'), record('2', null)], context)).resolves.toEqual([DONE, deadLetter('empty', 'undecodable')]);
    expect(progress).toHaveBeenCalled();
  });

  it("gives the handler's error to the loop unchanged (its class and retriable field decide retry or stop)", async () => {
    await expect(transport.handleBatch([record('retriable')], context)).rejects.toBeInstanceOf(RetriableError);
    await expect(transport.handleBatch([record('bug')], context)).rejects.toBeInstanceOf(TypeError);
  });

  it('stops the loop (a TypeError) when no handler has the pattern', async () => {
    await expect(new KafkaRecordLoopTransport('other').handleBatch([record('1')], context)).rejects.toThrow(/no @EventPattern\('other'\)/);
  });
});
