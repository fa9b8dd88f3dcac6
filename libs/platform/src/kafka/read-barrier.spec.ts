import { ReadBarrier } from './read-barrier';

class BehindError extends Error {
  constructor(readonly partitions: readonly { partition: number; at: bigint; target: bigint }[]) {
    super('behind');
  }
}

function barrier(ends: Map<number, bigint>, options: { timeoutMs?: number; now?: () => number } = {}): { barrier: ReadBarrier; asked: () => number } {
  let asked = 0;
  const made = new ReadBarrier({
    ends: () => {
      asked += 1;
      return Promise.resolve(new Map(ends));
    },
    timeoutMs: options.timeoutMs ?? 1_000,
    behind: (partitions) => new BehindError(partitions),
    ...(options.now ? { now: options.now } : {}),
  });
  return { barrier: made, asked: () => asked };
}

describe('ReadBarrier: a reader following a topic waits until it holds what the topic held', () => {
  it('returns at once when the reader is already there, and waits for each partition otherwise', async () => {
    const ends = new Map([
      [0, 3n],
      [1, 0n],
    ]);
    const { barrier: b } = barrier(ends);
    b.advance(0, 3n);
    await expect(b.catchUp()).resolves.toBeUndefined();
    ends.set(1, 2n);
    let done = false;
    const waiting = b.catchUp().then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    b.advance(1, 1n);
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    b.advance(1, 2n);
    await waiting;
    expect(done).toBe(true);
  });

  it('gives up after the timeout, naming each partition still behind and where it is', async () => {
    const { barrier: b } = barrier(
      new Map([
        [0, 5n],
        [1, 1n],
      ]),
      { timeoutMs: 20 },
    );
    b.advance(0, 2n);
    b.advance(1, 1n);
    const error = (await b.catchUp().catch((e: unknown) => e)) as BehindError;
    expect(error).toBeInstanceOf(BehindError);
    expect(error.partitions).toEqual([{ partition: 0, at: 2n, target: 5n }]);
  });

  it('a barrier passed within maxAgeMs answers without asking the topic again; reset forgets it', async () => {
    let now = 1_000;
    const { barrier: b, asked } = barrier(new Map([[0, 0n]]), { now: () => now });
    await b.catchUp();
    now += 50;
    await b.catchUp(100);
    expect(asked()).toBe(1);
    b.reset();
    await b.catchUp(100);
    expect(asked()).toBe(2);
  });

  it('callers arriving while a barrier runs share the next one', async () => {
    const { barrier: b, asked } = barrier(new Map([[0, 1n]]));
    const first = b.catchUp();
    const second = b.catchUp();
    const third = b.catchUp();
    b.advance(0, 1n);
    await Promise.all([first, second, third]);
    expect(asked()).toBe(2);
  });
});
