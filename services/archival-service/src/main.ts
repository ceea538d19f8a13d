#!/usr/bin/env node
import { hostname } from 'node:os';
import { createRedisBus, createRedisClient } from '@chunk-archiver/bus';
import { coerceError, createLogger, runChecks, securityWarnings } from '@chunk-archiver/common';
import { connectDatabase } from '@chunk-archiver/pg';
import { createBlobStore } from '@chunk-archiver/storage';
import { buildApp } from './app.js';
import { createChunkLocks } from './chunk-lock.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { loadArchivalConfig } from './config.js';
import { createRequestHandler, type SourceDatabase } from './handler.js';
import { createArchivalMetrics } from './metrics.js';
import { createArchivalWorker } from './worker.js';

const config = loadArchivalConfig();
const logger = createLogger({ name: 'archival-service', level: config.service.log_level });
const consumer = config.service.consumer_name ?? `${hostname()}-${process.pid}`;
const secret = process.env[config.event_secret_env] || undefined;
const warnings = securityWarnings({ eventSecret: secret });
for (const warning of warnings) logger.warn(warning);

const bus = createRedisBus({ redis: { url: config.redis.url }, keyPrefix: config.redis.key_prefix, logger });
const lockRedis = createRedisClient({ url: config.redis.url });
lockRedis.on('error', (error: Error) => logger.debug({ err: error }, 'redis lock connection error'));
const store = await createBlobStore(config.storage);
await store.ensureContainer().catch((error: unknown) => {
  // Storage may come up after us; uploads retry and /ready reports it meanwhile.
  logger.warn({ err: coerceError(error) }, 'could not ensure the storage container yet');
});

const breakerOptions = {
  failureThreshold: config.circuit_breaker.failure_threshold,
  resetTimeoutMs: config.circuit_breaker.reset_timeout_ms,
};
const databases = new Map<string, SourceDatabase>();
for (const [name, db] of Object.entries(config.databases)) {
  databases.set(name, {
    sql: connectDatabase(db, {
      replica: true,
      applicationName: 'chunk-archiver archival-service',
      defaultStatementTimeoutS: 3600,
    }),
    allowedTables: db.tables,
    breaker: createCircuitBreaker(`database:${name}`, breakerOptions),
  });
}
if (databases.size === 0)
  logger.warn('no databases configured: every request will fail with DATABASE_NOT_CONFIGURED');

const shutdown = new AbortController();
const metrics = createArchivalMetrics();
const handler = createRequestHandler({
  databases,
  store,
  storageBreaker: createCircuitBreaker(`storage:${store.backend}`, breakerOptions),
  settings: {
    prefix: config.storage.prefix,
    codec: config.parquet.codec,
    rowGroupSize: config.parquet.row_group_size,
    lockTimeoutMs: config.lock_timeout_ms,
  },
  publish: (topic, event) => bus.publish(topic, event),
  locks: createChunkLocks(lockRedis, { keyPrefix: config.redis.key_prefix, ttlMs: config.chunk_lock_ttl_ms }),
  retry: {
    attempts: config.retry.attempts,
    initialMs: config.retry.initial_ms,
    maxMs: config.retry.max_ms,
    factor: config.retry.factor,
    jitter: 0.5,
  },
  metrics,
  logger,
  producer: `archival-service@${consumer}`,
  secret,
  signal: shutdown.signal,
});
const worker = createArchivalWorker({
  bus,
  handler,
  consumer,
  concurrency: config.max_concurrent_archival_tasks,
  visibilityTimeoutMs: config.visibility_timeout_ms,
  maxDeliveries: config.max_deliveries,
  secret,
  graceMs: config.shutdown_grace_ms,
  logger,
  async onGraceExpired() {
    shutdown.abort();
    await Promise.all([...databases.values()].map((db) => db.sql.end({ timeout: 0 })));
  },
});

const app = buildApp({
  logger,
  metrics,
  warnings,
  readiness: () =>
    runChecks({
      redis: () => lockRedis.ping(),
      storage: () => store.ping(),
      ...Object.fromEntries([...databases].map(([name, db]) => [`database:${name}`, () => db.sql`select 1`])),
    }),
});

await worker.start();
await app.listen({ host: config.service.host, port: config.service.port });

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: no new work, finishing in-flight chunks');
  // Reverse order of start-up, each step on its own so one failure does not skip the rest.
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['http', () => app.close()],
    ['worker', () => worker.stop()],
    ['bus', () => bus.close()],
    ['locks', () => lockRedis.quit()],
    ['storage', async () => store.close?.()],
    ['databases', () => Promise.all([...databases.values()].map((db) => db.sql.end({ timeout: 5 })))],
  ];
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (error) {
      logger.warn({ err: coerceError(error), step: name }, 'shutdown step failed');
    }
  }
  logger.info('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
