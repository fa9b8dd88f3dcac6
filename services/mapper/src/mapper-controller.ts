import { Controller, Inject, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { type BatchContext, type LoopRecord, type RecordOutcome, RecordErrorsUnchanged } from '@idsync/platform';
import { MapperService } from './mapper-service';

/** The logical name of the mapper's input (both change topics), for @EventPattern and the transport. */
export const ENTRY_CHANGES = 'entry-changes';

/** Hands each chunk of the change topics to the mapper (KafkaRecordLoopTransport); nothing else happens here. */
@Controller()
@UseFilters(RecordErrorsUnchanged)
export class MapperController {
  constructor(@Inject(MapperService) private readonly mapper: MapperService) {}

  @EventPattern(ENTRY_CHANGES)
  map(@Payload() records: readonly LoopRecord[], @Ctx() context: BatchContext): Promise<readonly RecordOutcome[]> {
    return this.mapper.handleBatch(records, context);
  }
}
