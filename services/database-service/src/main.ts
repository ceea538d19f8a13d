#!/usr/bin/env node
import { hostname } from 'node:os';
import { createRedisBus, createRedisClient } from '@chunk-archiver/bus';
import { coerceError, createLogger, runChecks, securityWarnings, withDeadline } from '@chunk-archiver/common';
import { createBlobStore } from '@chunk-archiver/storage';
import { buildApp } from './app.js';
import { loadRetentionConfig } from './config.js';
import { createRetentionManager } from './manager.js';

const config = loadRetentionConfig();
if (process.argv.includes('--dry-run')) config.dry_run = true;
const logger = createLogger({ name: 'database-service', level: config.service.log_level });
const consumer = config.service.consumer_name ?? `${hostname()}-${process.pid}`;
const secret = process.env[config.event_secret_env] || undefined;
const apiToken = process.env[config.service.api_token_env] || undefined;

const bus = createRedisBus({ redis: { url: config.redis.url }, keyPrefix: config.redis.key_prefix, logger });
const probe = createRedisClient({ url: config.redis.url });
probe.on('error', () => {});
const store = await createBlobStore(config.storage);
const manager = createRetentionManager({ config, logger, bus, store, consumer, secret });
const allowUnauthenticated = config.service.allow_unauthenticated;
const warnings = securityWarnings({ eventSecret: secret, apiToken, allowUnauthenticated });
for (const warning of warnings) logger.warn(warning);

const app = await buildApp({
  logger,
  registry: manager.metrics.registry,
  apiToken,
  allowUnauthenticated,
  warnings,
  status: () => manager.status(),
  trigger: (input) => manager.trigger(input),
  restore: (input) => manager.restorer.restore(input),
  release: (input) => manager.restorer.release(input),
  readiness: () =>
    runChecks({
      redis: () => probe.ping(),
      storage: () => store.ping(),
      ...manager.readinessChecks(),
    }),
});

if (config.dry_run) logger.warn('DRY RUN: chunks are reported, nothing is requested or dropped');
await manager.start();
await app.listen({ host: config.service.host, port: config.service.port });

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['http', () => app.close()],
    ['manager', () => manager.stop()],
    ['bus', () => bus.close()],
    ['redis', () => probe.quit()],
    ['storage', async () => store.close?.()],
  ];
  // Bounded as a whole: a database or dependency that hangs must not keep the process alive.
  const stopped = (async () => {
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        logger.warn({ err: coerceError(error), step: name }, 'shutdown step failed');
      }
    }
  })();
  await withDeadline(stopped, config.service.shutdown_grace_ms, 'shutdown').catch((error: unknown) => {
    logger.warn({ err: coerceError(error) }, 'shutdown grace expired; exiting with work left');
  });
  process.exit(0);
}
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
