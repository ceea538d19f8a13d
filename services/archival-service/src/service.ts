import { hostname } from 'node:os';
import {
  type Bus,
  createRedisBus,
  type RedisClient,
  redisBusOptions,
  registerRedisMetrics,
} from '@chunk-archiver/bus';
import {
  coerceError,
  createLifecycle,
  createLogger,
  type Logger,
  runChecks,
  securityWarnings,
} from '@chunk-archiver/common';
import type { ArchivalRequest } from '@chunk-archiver/events';
import { connectDatabase } from '@chunk-archiver/pg';
import { type BlobStore, createBlobStore } from '@chunk-archiver/storage';
import type { FastifyInstance } from 'fastify';
import type postgres from 'postgres';
import { buildApp } from './app.js';
import { createChunkLocks } from './chunk-lock.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import type { ArchivalConfig } from './config.js';
import { createRequestHandler, type SourceDatabase } from './handler.js';
import { type ArchivalMetrics, createArchivalMetrics } from './metrics.js';
import { createArchivalWorker } from './worker.js';

/** What a caller may hand in instead of having it built from the configuration (tests, embedding). */
export interface ArchivalServiceDeps {
  logger?: Logger;
  bus?: Bus;
  /** Redis connection for the per-chunk locks (default: the bus's active endpoint). */
  lockRedis?: RedisClient;
  store?: BlobStore;
  /** A pool per configured database name; the caller keeps ownership. */
  pools?: Record<string, postgres.Sql>;
  /** The event secret (default: the environment variable `config.event_secret_env` names). */
  secret?: string | undefined;
  /** Listen on `config.service.host:port` at start (default true). */
  listen?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface ArchivalService {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Archives one request end to end and publishes its confirmation (what the worker runs per message). */
  handle(event: ArchivalRequest): Promise<void>;
  app: FastifyInstance;
  metrics: ArchivalMetrics;
  logger: Logger;
}

function sourceDatabases(config: ArchivalConfig, deps: ArchivalServiceDeps) {
  const breakerOptions = {
    failureThreshold: config.circuit_breaker.failure_threshold,
    resetTimeoutMs: config.circuit_breaker.reset_timeout_ms,
  };
  const databases = new Map<string, SourceDatabase>();
  for (const [name, db] of Object.entries(config.databases)) {
    const sql =
      deps.pools?.[name] ??
      connectDatabase(db, {
        replica: true,
        applicationName: 'chunk-archiver archival-service',
        defaultStatementTimeoutS: 3600,
        env: deps.env,
      });
    databases.set(name, {
      sql,
      allowedTables: db.tables,
      breaker: createCircuitBreaker(`database:${name}`, breakerOptions),
    });
  }
  return { databases, breakerOptions };
}

/** The request handler, wired to what the service was given or built. */
function requestHandler(
  config: ArchivalConfig,
  parts: {
    bus: Bus;
    lockRedis: () => RedisClient;
    store: BlobStore;
    databases: Map<string, SourceDatabase>;
    breakerOptions: { failureThreshold: number; resetTimeoutMs: number };
    metrics: ArchivalMetrics;
    logger: Logger;
    secret: string | undefined;
    consumer: string;
    signal: AbortSignal;
  },
) {
  return createRequestHandler({
    databases: parts.databases,
    store: parts.store,
    storageBreaker: createCircuitBreaker(`storage:${parts.store.backend}`, parts.breakerOptions),
    settings: {
      prefix: config.storage.prefix,
      codec: config.parquet.codec,
      rowGroupSize: config.parquet.row_group_size,
      rowGroupBytes: config.parquet.row_group_bytes,
      lockTimeoutMs: config.lock_timeout_ms,
    },
    publish: (topic, event) => parts.bus.publish(topic, event),
    locks: createChunkLocks(parts.lockRedis, {
      keyPrefix: config.redis.key_prefix,
      ttlMs: config.chunk_lock_ttl_ms,
    }),
    retry: {
      attempts: config.retry.attempts,
      initialMs: config.retry.initial_ms,
      maxMs: config.retry.max_ms,
      factor: config.retry.factor,
      jitter: 0.5,
    },
    metrics: parts.metrics,
    logger: parts.logger,
    producer: `archival-service@${parts.consumer}`,
    secret: parts.secret,
    signal: parts.signal,
  });
}

/** Runs each stop step on its own, so one failure does not skip the rest. */
async function runSteps(logger: Logger, steps: Array<[string, () => Promise<unknown>]>): Promise<void> {
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      logger.warn({ err: coerceError(error), step: name }, 'shutdown step failed');
    }
  }
}

/**
 * The archival-service, composed: bus, locks, storage, source databases, the request handler, the
 * worker that feeds it and the HTTP app. main.ts only loads the configuration, calls this and
 * handles signals; tests call it with their own Redis namespace, store and pools.
 */
export async function createArchivalService(
  config: ArchivalConfig,
  deps: ArchivalServiceDeps = {},
): Promise<ArchivalService> {
  const env = deps.env ?? process.env;
  const logger = deps.logger ?? createLogger({ name: 'archival-service', level: config.service.log_level });
  const consumer = config.service.consumer_name ?? `${hostname()}-${process.pid}`;
  const secret = 'secret' in deps ? deps.secret : env[config.event_secret_env] || undefined;
  const warnings = securityWarnings({ eventSecret: secret });
  const bus = deps.bus ?? createRedisBus(redisBusOptions(config.redis, logger));
  const given = deps.lockRedis;
  const lockRedis = given ? () => given : () => bus.redis();
  const store = deps.store ?? (await createBlobStore(config.storage, env));
  const { databases, breakerOptions } = sourceDatabases(config, deps);
  const shutdown = new AbortController();
  const metrics = createArchivalMetrics();
  registerRedisMetrics(metrics.registry, () => bus.health());
  const handle = requestHandler(config, {
    bus,
    lockRedis,
    store,
    databases,
    breakerOptions,
    metrics,
    logger,
    secret,
    consumer,
    signal: shutdown.signal,
  });
  const ownedPools = [...databases].filter(([name]) => !deps.pools?.[name]).map(([, db]) => db.sql);
  const worker = createArchivalWorker({
    bus,
    handler: handle,
    consumer,
    concurrency: config.max_concurrent_archival_tasks,
    visibilityTimeoutMs: config.visibility_timeout_ms,
    maxDeliveries: config.max_deliveries,
    secret,
    graceMs: config.shutdown_grace_ms,
    logger,
    async onGraceExpired() {
      shutdown.abort();
      await Promise.all(ownedPools.map((sql) => sql.end({ timeout: 0 })));
    },
  });
  const app = await buildApp({
    logger,
    metrics,
    warnings,
    readiness: () =>
      runChecks({
        redis: () => bus.check(),
        storage: () => store.ping(),
        ...Object.fromEntries(
          [...databases].map(([name, db]) => [`database:${name}`, () => db.sql`select 1`]),
        ),
      }),
  });

  const lifecycle = createLifecycle({
    async start() {
      for (const warning of warnings) logger.warn(warning);
      if (databases.size === 0)
        logger.warn('no databases configured: every request will fail with DATABASE_NOT_CONFIGURED');
      await store.ensureContainer().catch((error: unknown) => {
        // Storage may come up after us; uploads retry and /ready reports it meanwhile.
        logger.warn({ err: coerceError(error) }, 'could not ensure the storage container yet');
      });
      await worker.start();
      if (deps.listen !== false) await app.listen({ host: config.service.host, port: config.service.port });
    },
    async stop() {
      // Reverse order of start-up.
      await runSteps(logger, [
        ['http', () => app.close()],
        ['worker', () => worker.stop()],
        ['abort', async () => shutdown.abort()],
        ['bus', async () => (deps.bus ? undefined : bus.close())],
        ['storage', async () => (deps.store ? undefined : store.close?.())],
        ['databases', () => Promise.all(ownedPools.map((sql) => sql.end({ timeout: 5 })))],
      ]);
    },
  });
  return { ...lifecycle, handle, app, metrics, logger };
}
