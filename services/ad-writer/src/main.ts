import { KafkaRecordLoopTransport, runService } from '@idsync/platform';
import { writerServiceModule } from '@idsync/writer';

void runService('ad-writer', writerServiceModule('ad-writer'), { transport: KafkaRecordLoopTransport });
