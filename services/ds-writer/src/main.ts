import { KafkaRecordLoopTransport, runService } from '@idsync/platform';
import { writerServiceModule } from '@idsync/writer';

void runService('ds-writer', writerServiceModule('ds-writer'), { transport: KafkaRecordLoopTransport });
