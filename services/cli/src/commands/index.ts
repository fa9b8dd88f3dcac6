import { type CliCommand } from '../command';
import { deletesCommand } from './deletes';
import { dlqCommand } from './dlq';
import { kafkaAclsCommand } from './kafka-acls';
import { linksCommand } from './links';
import { logCommand } from './log';
import { pipeCommand } from './pipe';
import { replayCommand } from './replay';
import { resyncCommand } from './resync';
import { setStartpointCommand } from './set-startpoint';
import { statusCommand } from './status';

export const COMMANDS: readonly CliCommand[] = [statusCommand, setStartpointCommand, resyncCommand, replayCommand, dlqCommand, deletesCommand, linksCommand, logCommand, pipeCommand, kafkaAclsCommand];
