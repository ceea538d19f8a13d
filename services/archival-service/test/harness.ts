import { type Bus, createRedisBus, createRedisClient, type RedisClient } from '@chunk-archiver/bus';
import { silentLogger } from '@chunk-archiver/common';
import {
  type ArchivalConfirmation,
  type ArchivalRequestData,
  buildArchivalRequest,
  parseArchivalConfirmation,
  TOPICS,
} from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import { redisNamespace } from '@chunk-archiver/testkit';
import type postgres from 'postgres';
import { createChunkLocks } from '../src/chunk-lock.js';
import { createCircuitBreaker } from '../src/circuit-breaker.js';
import { createRequestHandler, type SourceDatabase } from '../src/handler.js';
import { createArchivalMetrics } from '../src/metrics.js';

/**
 * The request handler wired to real Redis (bus and locks), a real database pool and a real
 * store; confirmations are read back from the confirmation stream as the manager would.
 */
export async function handlerHarness(options: {
  databases: Record<string, { sql: postgres.Sql; allowedTables?: string[] }>;
  store: BlobStore;
  rowGroupSize?: number;
  attempts?: number;
}) {
  const ns = await redisNamespace('archival');
  const bus: Bus = createRedisBus({ redis: { url: ns.url }, keyPrefix: ns.prefix });
  const lockRedis: RedisClient = createRedisClient({ url: ns.url });
  const confirmations: ArchivalConfirmation[] = [];
  await bus.consume(
    TOPICS.archivalConfirmation,
    'test-manager',
    'reader',
    async (c: ArchivalConfirmation) => void confirmations.push(c),
    {
      parse: (raw) => parseArchivalConfirmation(raw),
      blockMs: 100,
    },
  );
  const breakers = { failureThreshold: 5, resetTimeoutMs: 60_000 };
  const databases = new Map<string, SourceDatabase>(
    Object.entries(options.databases).map(([name, db]) => [
      name,
      { sql: db.sql, allowedTables: db.allowedTables ?? [], breaker: createCircuitBreaker(name, breakers) },
    ]),
  );
  const shutdown = new AbortController();
  const metrics = createArchivalMetrics();
  const handle = createRequestHandler({
    databases,
    store: options.store,
    storageBreaker: createCircuitBreaker('storage', breakers),
    settings: { prefix: 'archive', codec: 'snappy', rowGroupSize: options.rowGroupSize ?? 1000 },
    publish: (topic, event) => bus.publish(topic, event),
    locks: createChunkLocks(lockRedis, { keyPrefix: ns.prefix }),
    retry: { attempts: options.attempts ?? 2, initialMs: 10, maxMs: 50, factor: 2, jitter: 0 },
    metrics,
    logger: silentLogger(),
    producer: 'test',
    signal: shutdown.signal,
  });

  async function waitForConfirmation(
    requestEventId: string,
    timeoutMs = 20_000,
  ): Promise<ArchivalConfirmation> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = confirmations.find((c) => c.data.request_event_id === requestEventId);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no confirmation for ${requestEventId}`);
  }

  return {
    bus,
    metrics,
    confirmations,
    /** Runs the handler on a request and returns the confirmation it published. */
    async archive(data: ArchivalRequestData): Promise<ArchivalConfirmation> {
      const event = buildArchivalRequest(data, { producer: 'test-manager' });
      await handle(event);
      return waitForConfirmation(event.event_id);
    },
    handle,
    async cleanup() {
      shutdown.abort();
      await bus.close();
      lockRedis.disconnect();
      await ns.cleanup();
    },
  };
}
