import type { Bus, Subscription, SwitchEvent } from '@chunk-archiver/bus';
import { coerceError, createLifecycle, type Logger } from '@chunk-archiver/common';
import { type ArchivalConfirmation, parseArchivalConfirmation, TOPICS } from '@chunk-archiver/events';
import type { BlobStore } from '@chunk-archiver/storage';
import type postgres from 'postgres';
import { namesTable, type RetentionConfig } from './config.js';
import { createConfirmationHandler } from './confirmations.js';
import { UnknownTableError } from './errors.js';
import { registerLedgerMetrics } from './ledger-metrics.js';
import { createManagedDatabase, type ManagedDatabase } from './managed-database.js';
import { createRetentionMetrics } from './metrics.js';
import { createDeadLetters } from './operations/dead-letters.js';
import { type RetryInput, retryChunks } from './operations/retry.js';
import { republishEverywhere } from './republish.js';
import { createRestorer } from './restore/restorer.js';
import { createScanner, type QueuedChunk, type Scanner } from './scanner.js';
import { retentionStatus } from './status.js';

export const CONSUMER_GROUP = 'database-service';

export interface ManagerOptions {
  config: RetentionConfig;
  logger: Logger;
  bus: Bus;
  store: BlobStore;
  consumer: string;
  secret?: string | undefined;
  /** Test and single-connection servers: a pool per database name instead of connecting from config. */
  pools?: Record<string, postgres.Sql>;
  /** Off only where one manager runs, or the server allows one connection (the in-process TimescaleDB). */
  leaderElection?: boolean;
}

/** One managed database per configured name, with its metrics hooked in. */
function managedDatabases(
  options: ManagerOptions,
  metrics: ReturnType<typeof createRetentionMetrics>,
  into: Map<string, ManagedDatabase>,
) {
  const { config } = options;
  for (const [name, db] of Object.entries(config.databases)) {
    const pool = options.pools?.[name];
    into.set(
      name,
      createManagedDatabase(name, db, options.logger, {
        ...(pool ? { sql: pool } : {}),
        leaderElection: options.leaderElection ?? db.leader_election,
        leaderTimeoutMs: config.defaults.leader_timeout_ms,
        onDropped: (rows) => metrics.dropped(name, rows),
      }),
    );
  }
}

/** /ready's checks for the databases: each answers, and no configured table is in conflict. */
function databaseChecks(databases: Map<string, ManagedDatabase>): Record<string, () => Promise<unknown>> {
  return Object.fromEntries(
    [...databases].flatMap(([name, db]) => [
      [`database:${name}`, () => db.sql`select 1`],
      [
        `conflicts:${name}`,
        async () => {
          const all = [...db.conflicts.values()].flat();
          if (all.length) throw new Error(all.map((c) => c.message).join('; '));
        },
      ],
    ]),
  );
}

/** Queues one table's expired chunks now (or reports them, in a dry run), in every database that has it. */
async function trigger(
  databases: Map<string, ManagedDatabase>,
  scanner: Scanner,
  input: { table: string; database?: string | undefined; dryRun: boolean },
): Promise<QueuedChunk[]> {
  const owners = [...databases.values()].filter(
    (db) =>
      (!input.database || db.name === input.database) &&
      db.config.tables.some((t) => namesTable(t, input.table)),
  );
  if (owners.length === 0) throw new UnknownTableError(input.table, input.database);
  const queued: QueuedChunk[] = [];
  for (const db of owners) {
    const [report] = await scanner.scanOnce({ database: db.name, table: input.table, dryRun: input.dryRun });
    if (report && !report.ok) throw new Error(`database ${db.name}: ${report.error}`);
    queued.push(...(report?.requested ?? []));
  }
  return queued;
}

/** The retention manager: databases, the scan loops and the confirmation consumer, started and stopped together. */
export function createRetentionManager(options: ManagerOptions) {
  const { config, logger } = options;
  const databases = new Map<string, ManagedDatabase>();
  const metrics = createRetentionMetrics(databases);
  registerLedgerMetrics(metrics.registry, databases, options.bus);
  managedDatabases(options, metrics, databases);
  const context = {
    config,
    publish: (topic: string, event: unknown) => options.bus.publish(topic, event),
    secret: options.secret,
    producer: `database-service@${options.consumer}`,
  };
  const scanner = createScanner({ databases, logger, store: options.store, ...context });
  const republishing = new Set<Promise<void>>();
  /** After a Redis switch nothing waits for the request timeout: see republish.ts. */
  const onRedisSwitch = (event: SwitchEvent) => {
    const why = `redis ${event.reason} ${event.from} → ${event.to}`;
    const work = republishEverywhere(context, databases.values(), why, config.defaults.scan_timeout_s * 1000);
    republishing.add(work);
    void work.finally(() => republishing.delete(work)).catch(() => undefined);
  };
  let stopListening: (() => void) | undefined;
  const handleUnbounded = createConfirmationHandler({
    databases,
    store: options.store,
    config,
    logger,
    onRefused: (database, reason) => metrics.refused(database, reason),
  });
  /** A confirmation's work on its database is bounded like a scan: a hung database fails it, to be redelivered. */
  const handleConfirmation = (event: ArchivalConfirmation): Promise<void> => {
    const db = databases.get(event.data.database);
    if (!db) return handleUnbounded(event);
    return db.bounded('confirmation', config.defaults.scan_timeout_s * 1000, () => handleUnbounded(event));
  };
  const restorer = createRestorer({ databases, store: options.store, prefix: config.storage.prefix, logger });
  let subscription: Subscription | undefined;
  const lifecycle = createLifecycle({
    async start() {
      subscription = await options.bus.consume(
        TOPICS.archivalConfirmation,
        CONSUMER_GROUP,
        options.consumer,
        handleConfirmation,
        {
          parse: (raw) => parseArchivalConfirmation(raw, { secret: options.secret }),
          concurrency: 4,
          visibilityTimeoutMs: config.confirmation_visibility_timeout_ms,
        },
      );
      stopListening = options.bus.onSwitch(onRedisSwitch);
      scanner.start();
    },
    async stop() {
      stopListening?.();
      for (const [name, step] of [
        ['scanner', () => scanner.stop()],
        ['republish', () => Promise.allSettled([...republishing])],
        ['confirmations', async () => subscription?.close()],
        ['databases', () => Promise.all([...databases.values()].map((db) => db.close()))],
      ] as const) {
        try {
          await step();
        } catch (error) {
          logger.warn({ err: coerceError(error), step: name }, 'stopping the retention manager: step failed');
        }
      }
    },
  });

  return {
    databases,
    scanner,
    metrics,
    handleConfirmation,
    restorer,
    start: lifecycle.start,
    stop: lifecycle.stop,
    status: async (options_: { ledgerOnly?: boolean } = {}) => ({
      ...(await retentionStatus(
        databases,
        config.dry_run,
        config.defaults.status_timeout_ms,
        !options_.ledgerOnly,
      )),
      ...(options_.ledgerOnly ? {} : { redis: options.bus.health() }),
    }),
    readinessChecks: () => databaseChecks(databases),
    retry: (input: RetryInput) => retryChunks(databases, input),
    deadLetters: createDeadLetters(options.bus, options.secret),
    trigger: (input: { table: string; database?: string | undefined; dryRun: boolean }) =>
      trigger(databases, scanner, { ...input, dryRun: input.dryRun || config.dry_run }),
  };
}

export type RetentionManager = ReturnType<typeof createRetentionManager>;
