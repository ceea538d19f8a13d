import { Redis } from 'ioredis';
import { testRedisUrl, uniqueName } from './env.js';

/**
 * A key prefix owned by one test. `cleanup()` deletes every key under it, so tests sharing the
 * machine's Redis never see each other's streams.
 */
export async function redisNamespace(
  name: string,
): Promise<{ prefix: string; url: string; cleanup(): Promise<void> }> {
  const prefix = `test:${uniqueName(name)}:`;
  const url = testRedisUrl();
  return {
    prefix,
    url,
    async cleanup() {
      const redis = new Redis(url, { maxRetriesPerRequest: 2 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}
