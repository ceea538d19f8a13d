import { randomUUID } from 'node:crypto';
import type { RedisClient } from '@chunk-archiver/bus';

/** Deletes the key only while it still holds our token, so an expired lock taken by another stays theirs. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface ChunkLock {
  release(): Promise<void>;
}

/**
 * A per-chunk lock in Redis so two replicas never archive the same chunk at once (a request
 * redelivered while its first delivery is still running, say). It expires on its own when its
 * holder dies, and is extended while the holder works. After a Redis failover the new endpoint
 * holds no locks; the archive stays safe, since keys are deterministic and the manager verifies.
 */
export function createChunkLocks(client: () => RedisClient, options: { keyPrefix: string; ttlMs?: number }) {
  const ttlMs = options.ttlMs ?? 60_000;
  return {
    async acquire(chunkKey: string): Promise<ChunkLock | undefined> {
      const key = `${options.keyPrefix}archiver:lock:${chunkKey}`;
      const token = randomUUID();
      // The lock lives on the endpoint it was taken on (the active one then), so it is extended
      // and released there even if the bus moves to another endpoint meanwhile.
      const redis = client();
      const ok = await redis.set(key, token, 'PX', ttlMs, 'NX');
      if (ok !== 'OK') return undefined;
      const timer = setInterval(
        () => {
          redis.eval(EXTEND, 1, key, token, String(ttlMs)).catch(() => undefined);
        },
        Math.floor(ttlMs / 3),
      );
      timer.unref();
      return {
        async release() {
          clearInterval(timer);
          await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
        },
      };
    },
  };
}

export type ChunkLocks = ReturnType<typeof createChunkLocks>;
