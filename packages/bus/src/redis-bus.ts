import {
  coerceError,
  type FailoverSettings,
  failoverSettingsSchema,
  type Logger,
  type RedisConfig,
  type RedisEndpointConfig,
  redisEndpointLabel,
  silentLogger,
  sleep,
  withDeadline,
} from '@chunk-archiver/common';
import { deadLetterTopic } from '@chunk-archiver/events';
import type { RedisClient, RedisConnectionConfig } from './connection.js';
import { startConsumer } from './consumer.js';
import { deadLetterFields, readDeadLetter, replayable, toDeadLetter } from './dead-letters.js';
import { type Endpoint, isTransient } from './endpoint.js';
import { BusClosedError, RedisUnavailableError } from './errors.js';
import { createEndpointSet, type EndpointSet, runOn } from './failover.js';
import { entryField, type StreamEntry } from './stream-entry.js';
import type { Bus, ConsumeOptions, DeadLetter, Handler, PayloadParser, Subscription } from './types.js';

export interface RedisBusOptions {
  /** One server (or Sentinel group, or Cluster: through ioredis); or give `endpoints`. */
  redis?: RedisConnectionConfig;
  /** Several servers with weights: the healthy one of highest weight is used. */
  endpoints?: RedisEndpointConfig[];
  /** Health checks, circuits and fall-back (defaults as in the configuration). */
  failover?: Partial<FailoverSettings>;
  /** Prepended to every stream and channel name: isolates tests and tenants sharing one Redis. */
  keyPrefix?: string;
  /** Approximate length each stream is trimmed to (XADD MAXLEN ~). */
  maxLen?: number;
  logger?: Logger;
}

/** The bus options a service's validated `redis` block stands for. */
export function redisBusOptions(config: RedisConfig, logger?: Logger): RedisBusOptions {
  return {
    endpoints: config.endpoints,
    failover: config.failover,
    keyPrefix: config.key_prefix,
    ...(logger ? { logger } : {}),
  };
}

function endpointsOf(options: RedisBusOptions): RedisEndpointConfig[] {
  if (options.endpoints?.length) return options.endpoints;
  const redis = options.redis ?? { url: 'redis://127.0.0.1:6379' };
  if ('sentinels' in redis)
    return [
      { name: `sentinel:${redis.name}`, sentinels: redis.sentinels, master_name: redis.name, weight: 1 },
    ];
  if ('cluster' in redis)
    throw new Error('a Redis Cluster is not supported by the bus: give one endpoint URL per server');
  return [{ name: redisEndpointLabel(redis.url), url: redis.url, weight: 1 }];
}

/**
 * Runs a command on the active endpoint, retrying transient failures with back-off and jitter;
 * each try goes to whichever endpoint is active then, so a failover mid-retry lands on the new one.
 */
async function withRetries<T>(set: EndpointSet, command: (c: RedisClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOn(set, set.active(), command);
    } catch (error) {
      if (!isTransient(coerceError(error)) || attempt >= set.settings.command_attempts) throw error;
      if (!(await sleep(set.retryDelay(attempt), set.signal))) throw error;
    }
  }
}

export function createRedisBus(options: RedisBusOptions): Bus {
  const prefix = options.keyPrefix ?? '';
  const maxLen = options.maxLen ?? 100_000;
  const logger = options.logger ?? silentLogger();
  const endpoints = createEndpointSet({
    endpoints: endpointsOf(options),
    settings: failoverSettingsSchema.parse(options.failover ?? {}),
    logger,
  });
  const started = endpoints.start();
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const key = (topic: string) => `${prefix}${topic}`;
  const deadKey = (topic: string) => key(deadLetterTopic(topic));
  /** Appends to a stream trimmed to about maxLen entries. */
  const append = (c: RedisClient, stream: string, ...fields: string[]) =>
    c.xadd(stream, 'MAXLEN', '~', String(maxLen), '*', ...fields);
  const run = async <T>(command: (c: RedisClient) => Promise<T>) => {
    await started;
    return withRetries(endpoints, command);
  };

  async function publish(topic: string, event: unknown): Promise<string> {
    if (closed) throw new BusClosedError();
    const payload = JSON.stringify(event);
    const eventType = (event as { event_type?: unknown })?.event_type;
    const type = typeof eventType === 'string' ? eventType : topic;
    const id = await run((c) => append(c, key(topic), 'payload', payload, 'event_type', type));
    if (!id) throw new Error(`XADD to ${key(topic)} returned no id`);
    // The stream is the durable copy; the mirror is best effort for observers, so its failure is
    // logged rather than failing a publish that already landed.
    try {
      await endpoints.active().commands.publish(key(topic), payload);
    } catch (error) {
      logger.warn({ err: coerceError(error), topic }, 'pub/sub mirror failed; the stream entry was written');
    }
    return id;
  }

  /** On the endpoint the entry came from: its dead-letter stream lives beside the stream. */
  async function moveToDeadLetter(
    endpoint: Endpoint,
    topic: string,
    group: string,
    entry: StreamEntry,
    reason: string,
    deliveries: number,
  ) {
    const [id, fields] = entry;
    const c = endpoint.commands;
    const stored = deadLetterFields(entryField(fields, 'payload') ?? '', {
      reason,
      sourceId: id,
      group,
      deliveries,
    });
    await append(c, deadKey(topic), ...stored);
    await c.publish(deadKey(topic), JSON.stringify({ source_id: id, group, reason }));
    await c.xack(key(topic), group, id);
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
    await started;
    const subscription = await startConsumer({
      streamKey: key(topic),
      topic,
      group,
      consumer,
      handler,
      options: consumeOptions,
      endpoints,
      logger: logger.child({ topic, group, consumer }),
      deadLetter: (endpoint, entry, reason, deliveries) =>
        moveToDeadLetter(endpoint, topic, group, entry, reason, deliveries),
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
    const entries = (await run((c) =>
      c.xrevrange(deadKey(topic), '+', '-', 'COUNT', count),
    )) as StreamEntry[];
    return entries.map(toDeadLetter);
  }

  const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

  async function deadLetter(topic: string, id: string) {
    if (!STREAM_ID.test(id)) return undefined;
    return run((c) => readDeadLetter(c, deadKey(topic), id));
  }

  async function replayDeadLetter<T>(topic: string, id: string, parse: PayloadParser<T>) {
    const letter = await deadLetter(topic, id);
    if (!letter) return undefined;
    const verdict = replayable(letter, parse);
    if (!verdict.ok) return verdict;
    // The payload as it was, not re-serialized: a signature over it must still hold.
    const newId = await run((c) => append(c, key(topic), 'payload', letter.payload, 'event_type', topic));
    await run((c) => c.xdel(deadKey(topic), id));
    logger.info({ topic, dead_letter: id, new_id: newId }, 'dead letter replayed');
    return { ok: true as const, newId: newId ?? '' };
  }

  async function purgeDeadLetters(topic: string, ids?: string[]): Promise<number> {
    if (ids === undefined) {
      const count = await run((c) => c.xlen(deadKey(topic)));
      await run((c) => c.del(deadKey(topic)));
      return count;
    }
    const valid = ids.filter((i) => STREAM_ID.test(i));
    return valid.length ? run((c) => c.xdel(deadKey(topic), ...valid)) : 0;
  }

  async function pending(topic: string, group: string): Promise<number> {
    try {
      const summary = (await run((c) => c.xpending(key(topic), group))) as [number, ...unknown[]];
      return Number(summary[0]);
    } catch (error) {
      if (String(coerceError(error).message).includes('NOGROUP')) return 0;
      throw error;
    }
  }

  /**
   * Ready when the active endpoint's last health round passed and it answers a PING now. Its
   * circuit decides where commands go, not readiness: a lone endpoint back from a restart is ready
   * at once, though its circuit stays open for the grace period.
   */
  async function check(): Promise<void> {
    await started;
    const health = endpoints.health();
    const active = health.endpoints.find((e) => e.active);
    if (!active?.healthy) {
      const each = health.endpoints.map(
        (e) =>
          `${e.name} (${e.address}): ${e.healthy ? `circuit ${e.circuit}` : (e.last_error ?? 'unhealthy')}`,
      );
      throw new RedisUnavailableError(`no healthy redis endpoint: ${each.join('; ')}`);
    }
    await withDeadline(
      run((c) => c.ping()),
      3_000,
      `redis ${health.active} PING`,
    );
  }

  let closing: Promise<void> | undefined;
  /** Closes once; a second caller waits for the same close instead of returning early. */
  function close(): Promise<void> {
    closed = true;
    closing ??= (async () => {
      // Consumers first (they ack through the command connections), then the endpoints.
      for (const subscription of [...subscriptions].reverse()) {
        try {
          await subscription.close();
        } catch (error) {
          logger.warn({ err: coerceError(error) }, 'closing a subscription failed');
        }
      }
      await started.catch(() => undefined);
      await endpoints.stop();
    })();
    return closing;
  }

  return {
    publish,
    consume,
    deadLetters,
    deadLetter,
    deadLetterCount: (topic: string) => run((c) => c.xlen(deadKey(topic))),
    replayDeadLetter,
    purgeDeadLetters,
    pending,
    close,
    check,
    health: () => endpoints.health(),
    onSwitch: (listener) => endpoints.onSwitch(listener),
    redis: () => endpoints.active().commands,
  };
}
