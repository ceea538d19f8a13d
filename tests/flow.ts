import { archivalConfigSchema, createArchivalService } from '@chunk-archiver/archival-service';
import { type Bus, createRedisBus, createRedisClient, type RedisClient } from '@chunk-archiver/bus';
import { silentLogger } from '@chunk-archiver/common';
import {
  createRetentionService,
  type LedgerChunk,
  ledgerIdentity,
  type RetentionManager,
  retentionConfigSchema,
} from '@chunk-archiver/database-service';
import {
  type ArchivalConfirmation,
  type ArchivalRequest,
  buildArchivalRequest,
} from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import { redisNamespace } from '@chunk-archiver/testkit';
import type postgres from 'postgres';

export type Sql = postgres.Sql;

/**
 * Both services' composition roots in one process, over real Redis, PostgreSQL and storage: the
 * retention service, and the archival service consuming its requests, neither listening on HTTP.
 * (The end-to-end suite runs them as separate processes; this keeps the retention cases fast and
 * precise.)
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
  /** The bearer token the retention service's mutating routes want. */
  apiToken?: string;
  /** Archival services consuming requests in one consumer group (default 1). */
  workers?: number;
  /** More of the retention service's configuration (its `iceberg` section, say). */
  retention?: Record<string, unknown>;
}) {
  const ns = await redisNamespace('flow');
  const bus: Bus = createRedisBus({ redis: { url: ns.url }, keyPrefix: ns.prefix });
  const lockRedis: RedisClient = createRedisClient({ url: ns.url });
  const storage = { backend: options.store.backend, prefix: 'archive' };
  const config = retentionConfigSchema.parse({
    storage,
    redis: { url: ns.url, key_prefix: ns.prefix },
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
    ...options.retention,
  });
  const pools = Object.fromEntries(Object.entries(options.databases).map(([name, db]) => [name, db.sql]));
  const retention = await createRetentionService(config, {
    logger: silentLogger(),
    bus,
    store: options.store,
    pools,
    leaderElection: options.leaderElection ?? false,
    secret: options.secret,
    ...(options.apiToken ? { apiToken: options.apiToken } : {}),
    consumer: 'manager-1',
    listen: false,
  });
  const manager: RetentionManager = retention.manager;
  const confirmations: ArchivalConfirmation[] = [];
  // The worker's confirmations pass through here on their way to the bus, for the tests to read.
  const recording: Bus = {
    ...bus,
    publish: async (topic, event) => {
      confirmations.push(event as ArchivalConfirmation);
      return bus.publish(topic, event);
    },
  };
  const workerOf = (name: string) =>
    createArchivalService(
      archivalConfigSchema.parse({
        storage,
        redis: { url: ns.url, key_prefix: ns.prefix },
        service: { consumer_name: name },
        parquet: { codec: 'snappy', row_group_size: 5_000 },
        max_concurrent_archival_tasks: 1,
        retry: { attempts: 1, initial_ms: 10, max_ms: 10, factor: 2 },
        visibility_timeout_ms: 30_000,
        max_deliveries: 5,
        shutdown_grace_ms: 5_000,
        databases: Object.fromEntries(
          Object.entries(options.databases).map(([name, db]) => [name, { tables: db.allowedTables ?? [] }]),
        ),
      }),
      {
        logger: silentLogger(),
        bus: recording,
        lockRedis,
        store: options.store,
        pools,
        secret: options.secret,
        listen: false,
      },
    );
  const archivals = await Promise.all(
    Array.from({ length: options.workers ?? 1 }, (_, i) => workerOf(`worker-${i + 1}`)),
  );
  const archival = archivals[0]!;
  const worker = {
    start: async () => {
      for (const a of archivals) await a.start();
    },
    stop: async () => {
      for (const a of archivals) await a.stop();
    },
  };
  const archive = archival.handle;

  async function ledger(database: string): Promise<LedgerChunk[]> {
    const db = manager.databases.get(database)!;
    return db.sql<LedgerChunk[]>`select * from archiver.chunks order by range_start`;
  }

  return {
    bus,
    /** The retention service's HTTP app (not listening: use inject). */
    app: retention.app,
    /** The archival service's Prometheus registry. */
    archivalRegistry: archival.metrics.registry,
    manager,
    worker,
    config,
    confirmations,
    ledger,
    /** Runs the archival handler on a ledger row's current request, as a worker would, without the bus. */
    async archiveDirectly(database: string, row: LedgerChunk): Promise<ArchivalConfirmation> {
      const table = config.databases[database]?.tables.find(
        (t) => t.schema === row.table_schema && t.name === row.table_name,
      );
      const iceberg = (table?.format ?? config.databases[database]?.format) === 'iceberg';
      const request: ArchivalRequest = buildArchivalRequest(
        {
          ...ledgerIdentity(database, row),
          attempt: row.attempts,
          requested_at: new Date().toISOString(),
          ...(iceberg ? { archive_format: 'iceberg' as const } : {}),
        },
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
      await worker.stop();
      await retention.stop();
      await bus.close();
      lockRedis.disconnect();
      await ns.cleanup();
    },
  };
}
