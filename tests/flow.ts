import { type Bus, createRedisBus, createRedisClient, type RedisClient } from '@chunk-archiver/bus';
import { silentLogger } from '@chunk-archiver/common';
import {
  type ArchivalConfirmation,
  type ArchivalRequest,
  buildArchivalRequest,
} from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import { redisNamespace } from '@chunk-archiver/testkit';
import type postgres from 'postgres';
import { createChunkLocks } from '../services/archival-service/src/chunk-lock.js';
import { createCircuitBreaker } from '../services/archival-service/src/circuit-breaker.js';
import { createRequestHandler } from '../services/archival-service/src/handler.js';
import { createArchivalMetrics } from '../services/archival-service/src/metrics.js';
import { createArchivalWorker } from '../services/archival-service/src/worker.js';
import { retentionConfigSchema } from '../services/database-service/src/config.js';
import { ledgerIdentity } from '../services/database-service/src/ledger/identity.js';
import type { LedgerChunk } from '../services/database-service/src/ledger/types.js';
import { createRetentionManager, type RetentionManager } from '../services/database-service/src/manager.js';

export type Sql = postgres.Sql;

/**
 * Both services' real components in one process, over real Redis, PostgreSQL and storage: the
 * retention manager, and an archival worker consuming its requests. (The end-to-end suite runs
 * them as separate processes; this keeps the retention cases fast and precise.)
 */
export async function retentionFlow(options: {
  databases: Record<
    string,
    {
      sql: Sql;
      tables: Array<Record<string, unknown>>;
      allowedTables?: string[];
      /** More of the database's configuration (restore_method, say). */
      settings?: Record<string, unknown>;
    }
  >;
  store: BlobStore;
  leaderElection?: boolean;
  extraDatabases?: Record<string, Record<string, unknown>>;
  defaults?: Record<string, unknown>;
  /** ARCHIVER_EVENT_SECRET for both sides: events are signed and checked. */
  secret?: string;
}) {
  const ns = await redisNamespace('flow');
  const bus: Bus = createRedisBus({ redis: { url: ns.url }, keyPrefix: ns.prefix });
  const lockRedis: RedisClient = createRedisClient({ url: ns.url });
  const config = retentionConfigSchema.parse({
    storage: { backend: options.store.backend, prefix: 'archive' },
    defaults: {
      retention_days: 30,
      check_interval_s: 3600,
      retry_initial_s: 1,
      retry_max_s: 2,
      ...options.defaults,
    },
    databases: {
      ...Object.fromEntries(
        Object.entries(options.databases).map(([name, db]) => [name, { ...db.settings, tables: db.tables }]),
      ),
      ...options.extraDatabases,
    },
  });
  const manager: RetentionManager = createRetentionManager({
    config,
    logger: silentLogger(),
    bus,
    store: options.store,
    consumer: 'manager-1',
    secret: options.secret,
    pools: Object.fromEntries(Object.entries(options.databases).map(([name, db]) => [name, db.sql])),
    leaderElection: options.leaderElection ?? false,
  });
  const confirmations: ArchivalConfirmation[] = [];
  const shutdown = new AbortController();
  const breaker = { failureThreshold: 5, resetTimeoutMs: 60_000 };
  const archive = createRequestHandler({
    databases: new Map(
      Object.entries(options.databases).map(([name, db]) => [
        name,
        { sql: db.sql, allowedTables: db.allowedTables ?? [], breaker: createCircuitBreaker(name, breaker) },
      ]),
    ),
    store: options.store,
    storageBreaker: createCircuitBreaker('storage', breaker),
    settings: { prefix: 'archive', codec: 'snappy', rowGroupSize: 5_000 },
    publish: async (topic, event) => {
      confirmations.push(event as ArchivalConfirmation);
      return bus.publish(topic, event);
    },
    locks: createChunkLocks(lockRedis, { keyPrefix: ns.prefix }),
    retry: { attempts: 1, initialMs: 10, maxMs: 10, factor: 2, jitter: 0 },
    metrics: createArchivalMetrics(),
    logger: silentLogger(),
    producer: 'archival-test',
    secret: options.secret,
    signal: shutdown.signal,
  });
  const worker = createArchivalWorker({
    bus,
    handler: archive,
    consumer: 'worker-1',
    concurrency: 1,
    visibilityTimeoutMs: 30_000,
    maxDeliveries: 5,
    secret: options.secret,
    graceMs: 5_000,
    onGraceExpired: () => shutdown.abort(),
    logger: silentLogger(),
  });

  async function ledger(database: string): Promise<LedgerChunk[]> {
    const db = manager.databases.get(database)!;
    return db.sql<LedgerChunk[]>`select * from archiver.chunks order by range_start`;
  }

  return {
    bus,
    manager,
    worker,
    config,
    confirmations,
    ledger,
    /** Runs the archival handler on a ledger row's current request, as a worker would, without the bus. */
    async archiveDirectly(database: string, row: LedgerChunk): Promise<ArchivalConfirmation> {
      const request: ArchivalRequest = buildArchivalRequest(
        { ...ledgerIdentity(database, row), attempt: row.attempts, requested_at: new Date().toISOString() },
        { producer: 'test', eventId: row.request_event_id!, secret: options.secret },
      );
      const before = confirmations.length;
      await archive(request);
      return confirmations[before]!;
    },
    async waitFor(predicate: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < deadline) {
        // Errors mean "not yet" (the ledger may not exist before the first scan), reported at the end.
        const ok = await predicate().catch((error: unknown) => {
          last = error;
          return false;
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    },
    async stop() {
      shutdown.abort();
      await worker.stop();
      await manager.stop();
      await bus.close();
      lockRedis.disconnect();
      await ns.cleanup();
    },
  };
}
