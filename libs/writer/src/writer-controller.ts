import { Controller, Inject, type Provider, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { type BatchContext, KafkaRecordLoopTransport, type LoopRecord, type RecordOutcome, RecordErrorsUnchanged } from '@idsync/platform';
import { WriterService } from './writer-service';

/** The logical name of a writer's input (its operations topic, and its wait and held topics), for @EventPattern and the transport. */
export const WRITE_REQUESTS = 'write-requests';

/** The writer's transport (runService connects it as a Nest microservice): hands the loop's chunks to WriterController. */
export const WRITER_TRANSPORT: Provider = { provide: KafkaRecordLoopTransport, useFactory: () => new KafkaRecordLoopTransport(WRITE_REQUESTS) };

/** Hands each chunk of the writer's topics to WriterService (KafkaRecordLoopTransport); nothing else happens here. */
@Controller()
@UseFilters(RecordErrorsUnchanged)
export class WriterController {
  constructor(@Inject(WriterService) private readonly writer: Pick<WriterService, 'handleBatch'>) {}

  @EventPattern(WRITE_REQUESTS)
  write(@Payload() records: readonly LoopRecord[], @Ctx() context: BatchContext): Promise<readonly RecordOutcome[]> {
    return this.writer.handleBatch(records, context);
  }
}
