import { coerceError, type Logger, silentLogger } from '@chunk-archiver/common';
import { deadLetterTopic } from '@chunk-archiver/events';
import { createRedisClient, type RedisClient, type RedisConnectionConfig } from './connection.js';
import { startConsumer } from './consumer.js';
import { BusClosedError } from './errors.js';
import { entryField, type StreamEntry } from './stream-entry.js';
import type { Bus, ConsumeOptions, DeadLetter, Handler, Subscription } from './types.js';

export interface RedisBusOptions {
  redis: RedisConnectionConfig;
  /** Prepended to every stream and channel name: isolates tests and tenants sharing one Redis. */
  keyPrefix?: string;
  /** Approximate length each stream is trimmed to (XADD MAXLEN ~). */
  maxLen?: number;
  logger?: Logger;
}

export function createRedisBus(options: RedisBusOptions): Bus {
  const prefix = options.keyPrefix ?? '';
  const maxLen = options.maxLen ?? 100_000;
  const logger = options.logger ?? silentLogger();
  // Publishing fails fast when Redis is away so the caller learns of it; consumers have their
  // own connections that retry forever.
  const commands: RedisClient = createRedisClient(options.redis, { maxRetriesPerRequest: 3 });
  commands.on('error', (error: Error) => logger.warn({ err: error }, 'redis connection error'));
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const key = (topic: string) => `${prefix}${topic}`;
  /** Appends to a stream trimmed to about maxLen entries. */
  const append = (stream: string, ...fields: string[]) =>
    commands.xadd(stream, 'MAXLEN', '~', String(maxLen), '*', ...fields);

  async function publish(topic: string, event: unknown): Promise<string> {
    if (closed) throw new BusClosedError();
    const payload = JSON.stringify(event);
    const eventType = (event as { event_type?: unknown })?.event_type;
    const id = await append(
      key(topic),
      'payload',
      payload,
      'event_type',
      typeof eventType === 'string' ? eventType : topic,
    );
    if (!id) throw new Error(`XADD to ${key(topic)} returned no id`);
    // The stream is the durable copy; the mirror is best effort for observers, so its failure is
    // logged rather than failing a publish that already landed.
    try {
      await commands.publish(key(topic), payload);
    } catch (error) {
      logger.warn({ err: coerceError(error), topic }, 'pub/sub mirror failed; the stream entry was written');
    }
    return id;
  }

  async function deadLetter(
    topic: string,
    group: string,
    entry: StreamEntry,
    reason: string,
    deliveries: number,
  ) {
    const [id, fields] = entry;
    const payload = entryField(fields, 'payload') ?? '';
    await append(
      key(deadLetterTopic(topic)),
      'payload',
      payload,
      'reason',
      reason.slice(0, 4000),
      'source_id',
      id,
      'group',
      group,
      'deliveries',
      String(deliveries),
    );
    await commands.publish(key(deadLetterTopic(topic)), JSON.stringify({ source_id: id, group, reason }));
    await commands.xack(key(topic), group, id);
    logger.warn({ topic, group, id, reason, deliveries }, 'message moved to dead-letter');
  }

  async function consume<T>(
    topic: string,
    group: string,
    consumer: string,
    handler: Handler<T>,
    consumeOptions: ConsumeOptions<T>,
  ): Promise<Subscription> {
    if (closed) throw new BusClosedError();
    // XREADGROUP BLOCK holds its connection, so every consumer reads on its own one.
    const reader = createRedisClient(options.redis, { maxRetriesPerRequest: null });
    reader.on('error', (error: Error) => logger.debug({ err: error }, 'redis reader connection error'));
    const subscription = await startConsumer({
      streamKey: key(topic),
      topic,
      group,
      consumer,
      handler,
      options: consumeOptions,
      reader,
      commands,
      logger: logger.child({ topic, group, consumer }),
      deadLetter: (entry, reason, deliveries) => deadLetter(topic, group, entry, reason, deliveries),
    });
    const tracked: Subscription = {
      close: async () => {
        subscriptions.delete(tracked);
        await subscription.close();
      },
    };
    subscriptions.add(tracked);
    return tracked;
  }

  async function deadLetters(topic: string, count = 100): Promise<DeadLetter[]> {
    const entries = (await commands.xrevrange(
      key(deadLetterTopic(topic)),
      '+',
      '-',
      'COUNT',
      count,
    )) as StreamEntry[];
    return entries.map(([id, fields]) => ({
      id,
      payload: entryField(fields, 'payload') ?? '',
      reason: entryField(fields, 'reason') ?? '',
      sourceId: entryField(fields, 'source_id') ?? '',
      group: entryField(fields, 'group') ?? '',
      deliveries: Number(entryField(fields, 'deliveries') ?? 0),
    }));
  }

  async function pending(topic: string, group: string): Promise<number> {
    try {
      const summary = (await commands.xpending(key(topic), group)) as [number, ...unknown[]];
      return Number(summary[0]);
    } catch (error) {
      if (String(coerceError(error).message).includes('NOGROUP')) return 0;
      throw error;
    }
  }

  let closing: Promise<void> | undefined;
  /** Closes once; a second caller waits for the same close instead of returning early. */
  function close(): Promise<void> {
    closed = true;
    closing ??= (async () => {
      // Reverse order: consumers first (they ack through the command connection), then it.
      for (const subscription of [...subscriptions].reverse()) {
        try {
          await subscription.close();
        } catch (error) {
          logger.warn({ err: coerceError(error) }, 'closing a subscription failed');
        }
      }
      try {
        await commands.quit();
      } catch {
        commands.disconnect();
      }
    })();
    return closing;
  }

  return { publish, consume, deadLetters, pending, close };
}
