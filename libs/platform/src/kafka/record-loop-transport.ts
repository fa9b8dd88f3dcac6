import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import { isObservable, lastValueFrom, type Observable, throwError } from 'rxjs';
import { type BatchContext, type LoopRecord, type RecordOutcome } from './consumer-loop';

/**
 * A Nest microservice transport over the record loop (consumer-loop.ts): the loop still fetches, chunks, commits only
 * after the handler's effect, pauses per partition, heartbeats and reports fatal stops; the transport only hands each
 * chunk to the handler a controller declares with `@EventPattern(pattern)` and gives its outcomes back to the loop.
 * Exceptions must reach the loop unchanged (its failure table reads `retriable`, the class): controllers use
 * `@UseFilters(RecordErrorsUnchanged)`, since Nest's default RPC filter turns every error into "Internal server error".
 */
export class KafkaRecordLoopTransport extends Server implements CustomTransportStrategy {
  constructor(private readonly pattern: string) {
    super();
  }

  /** The loop itself is started by its service (retried while Kafka is away): nothing to listen on here. */
  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    callback();
  }

  close(): void {}

  on(): never {
    throw new TypeError('KafkaRecordLoopTransport emits no events');
  }

  unwrap(): never {
    throw new TypeError('KafkaRecordLoopTransport wraps no client');
  }

  /** The loop's handleBatch: the chunk to the `@EventPattern(pattern)` handler, its outcomes (or error) back. */
  readonly handleBatch = async (records: readonly LoopRecord[], context: BatchContext): Promise<readonly RecordOutcome[]> => {
    const handler = this.getHandlerByPattern(this.pattern);
    // No `retriable`: the loop stops (a wiring bug, not a property of the records).
    if (handler === null) throw new TypeError(`no @EventPattern('${this.pattern}') handler is registered`);
    const result: unknown = await handler(records, context);
    return (isObservable(result) ? await lastValueFrom(result as Observable<readonly RecordOutcome[]>) : result) as readonly RecordOutcome[];
  };
}

/** Gives a record handler's exception to the loop as it was thrown (see KafkaRecordLoopTransport). */
@Catch()
export class RecordErrorsUnchanged implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}
