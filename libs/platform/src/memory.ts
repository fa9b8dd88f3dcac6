import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gc: GcFunction | undefined;

/**
 * Gives the memory of a spike that is over back to the system: a full garbage collection of the kind V8 runs under
 * memory pressure. After an ordinary collection V8 keeps the pages it freed (its page pool) mapped and resident: an AD
 * detector that held a DirSync page of 10,000 entries (Samba answers a whole backlog in one page) kept ~280 MB of them
 * for good, with 30 MB of heap in use. Blocks the thread for the collection (tens of milliseconds on a heap of tens of
 * MB): for after a large batch, never per record.
 */
export function releaseMemory(): void {
  if (gc === undefined) {
    // The gc function of a fresh context: exposing it changes nothing else, and the flag is read when a context is made.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as GcFunction;
  }
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
