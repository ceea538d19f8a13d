/**
 * A bounded hand-off between a producer (the Parquet encoder) and a consumer (the upload). The
 * producer's push waits while more than `highWaterMark` bytes are queued, so a slow upload slows
 * extraction instead of filling memory.
 */
export function createByteChannel(highWaterMark = 16 * 1024 * 1024) {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let cancelled: unknown;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;

  const notifyConsumer = () => {
    wakeConsumer?.();
    wakeConsumer = undefined;
  };
  const notifyProducer = () => {
    wakeProducer?.();
    wakeProducer = undefined;
  };

  return {
    async push(bytes: Buffer): Promise<void> {
      if (cancelled !== undefined) throw cancelled;
      if (ended) throw new Error('push after end');
      if (bytes.length === 0) return;
      queue.push(bytes);
      queued += bytes.length;
      notifyConsumer();
      while (queued > highWaterMark && cancelled === undefined) {
        await new Promise<void>((resolve) => {
          wakeProducer = resolve;
        });
      }
      if (cancelled !== undefined) throw cancelled;
    },
    end(): void {
      ended = true;
      notifyConsumer();
    },
    fail(error: unknown): void {
      failure = error;
      ended = true;
      notifyConsumer();
    },
    /** The consumer gave up (upload failed): the producer's next push throws `reason`. */
    cancel(reason: unknown): void {
      cancelled = reason;
      notifyProducer();
    },
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      while (true) {
        const next = queue.shift();
        if (next) {
          queued -= next.length;
          notifyProducer();
          yield next;
          continue;
        }
        if (failure !== undefined) throw failure;
        if (ended) return;
        await new Promise<void>((resolve) => {
          wakeConsumer = resolve;
        });
      }
    },
  };
}

export type ByteChannel = ReturnType<typeof createByteChannel>;
