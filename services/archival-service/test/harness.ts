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
import { archivalConfigSchema } from '../src/config.js';
import { createArchivalService } from '../src/service.js';

/**
 * The service's composition root on real Redis (bus and locks), real database pools and a real
 * store, not listening; confirmations are read back from the confirmation stream as the manager
 * would.
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
  const service = await createArchivalService(
    archivalConfigSchema.parse({
      storage: { backend: options.store.backend, prefix: 'archive' },
      parquet: { codec: 'snappy', row_group_size: options.rowGroupSize ?? 1000 },
      retry: { attempts: options.attempts ?? 2, initial_ms: 10, max_ms: 50, factor: 2 },
      databases: Object.fromEntries(
        Object.entries(options.databases).map(([name, db]) => [name, { tables: db.allowedTables ?? [] }]),
      ),
    }),
    {
      logger: silentLogger(),
      bus,
      lockRedis,
      store: options.store,
      pools: Object.fromEntries(Object.entries(options.databases).map(([name, db]) => [name, db.sql])),
      secret: undefined,
      listen: false,
    },
  );
  const { handle, metrics } = service;

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
      await service.stop();
      await bus.close();
      lockRedis.disconnect();
      await ns.cleanup();
    },
  };
}
