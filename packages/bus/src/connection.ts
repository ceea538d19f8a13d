import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * How to reach Redis: a URL (`redis://`, `rediss://` for TLS), a Sentinel group, or a Cluster.
 * ioredis does the failover work for the last two; the bus only needs a client.
 */
export type RedisConnectionConfig =
  | { url: string; options?: RedisOptions }
  | {
      sentinels: Array<{ host: string; port: number }>;
      name: string;
      password?: string;
      options?: RedisOptions;
    }
  | { cluster: Array<{ host: string; port: number }>; options?: RedisOptions };

export type RedisClient = Redis | Cluster;

/** Reconnect forever with a capped backoff: a Redis restart must never kill a service. */
export function reconnectDelay(times: number): number {
  return Math.min(200 * 2 ** Math.min(times, 6), 5_000);
}

export function createRedisClient(config: RedisConnectionConfig, extra: RedisOptions = {}): RedisClient {
  const base: RedisOptions = {
    retryStrategy: reconnectDelay,
    lazyConnect: false,
    ...config.options,
    ...extra,
  };
  if ('cluster' in config)
    return new Cluster(config.cluster, { redisOptions: base, clusterRetryStrategy: reconnectDelay });
  if ('sentinels' in config) {
    return new Redis({ ...base, sentinels: config.sentinels, name: config.name, password: config.password });
  }
  return new Redis(config.url, base);
}
