import { hostname } from 'node:os';
import { type Bus, createRedisBus, redisBusOptions, registerRedisMetrics } from '@chunk-archiver/bus';
import {
  coerceError,
  createLifecycle,
  createLogger,
  type Logger,
  runChecks,
  securityWarnings,
  withDeadline,
} from '@chunk-archiver/common';
import { type BlobStore, createBlobStore } from '@chunk-archiver/storage';
import type { FastifyInstance } from 'fastify';
import type postgres from 'postgres';
import { buildApp } from './app.js';
import type { RetentionConfig } from './config.js';
import { createRetentionManager, type RetentionManager } from './manager.js';

/** What a caller may hand in instead of having it built from the configuration (tests, embedding). */
export interface RetentionServiceDeps {
  logger?: Logger;
  bus?: Bus;
  store?: BlobStore;
  /** A pool per configured database name; the caller keeps ownership. */
  pools?: Record<string, postgres.Sql>;
  /** Overrides each database's `leader_election` (off where a single manager runs, as in tests). */
  leaderElection?: boolean;
  secret?: string | undefined;
  apiToken?: string | undefined;
  consumer?: string;
  /** Listen on `config.service.host:port` at start (default true). */
  listen?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface RetentionService {
  start(): Promise<void>;
  /** Bounded by `service.shutdown_grace_ms`: whatever still hangs then is left behind. */
  stop(): Promise<void>;
  manager: RetentionManager;
  app: FastifyInstance;
  logger: Logger;
}

/**
 * The database-service, composed: bus, storage, the retention manager (databases, scan loops,
 * confirmation consumer, restorer) and the HTTP app. main.ts only loads the configuration, calls
 * this and handles signals; tests call it with their own Redis namespace, store and pools.
 */
export async function createRetentionService(
  config: RetentionConfig,
  deps: RetentionServiceDeps = {},
): Promise<RetentionService> {
  const env = deps.env ?? process.env;
  const logger = deps.logger ?? createLogger({ name: 'database-service', level: config.service.log_level });
  const secret = 'secret' in deps ? deps.secret : env[config.event_secret_env] || undefined;
  const apiToken = 'apiToken' in deps ? deps.apiToken : env[config.service.api_token_env] || undefined;
  const allowUnauthenticated = config.service.allow_unauthenticated;
  const warnings = securityWarnings({ eventSecret: secret, apiToken, allowUnauthenticated });
  const bus = deps.bus ?? createRedisBus(redisBusOptions(config.redis, logger));
  const store = deps.store ?? (await createBlobStore(config.storage, env));
  const manager = createRetentionManager({
    config,
    logger,
    bus,
    store,
    consumer: deps.consumer ?? config.service.consumer_name ?? `${hostname()}-${process.pid}`,
    secret,
    ...(deps.pools ? { pools: deps.pools } : {}),
    ...(deps.leaderElection !== undefined ? { leaderElection: deps.leaderElection } : {}),
  });
  registerRedisMetrics(manager.metrics.registry, () => bus.health());
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
    retry: (input) => manager.retry(input),
    deadLetters: manager.deadLetters,
    readiness: () =>
      runChecks({ redis: () => bus.check(), storage: () => store.ping(), ...manager.readinessChecks() }),
  });

  const steps: Array<[string, () => Promise<unknown>]> = [
    ['http', () => app.close()],
    ['manager', () => manager.stop()],
    ['bus', async () => (deps.bus ? undefined : bus.close())],
    ['storage', async () => (deps.store ? undefined : store.close?.())],
  ];
  const lifecycle = createLifecycle({
    async start() {
      for (const warning of warnings) logger.warn(warning);
      if (config.dry_run) logger.warn('DRY RUN: chunks are reported, nothing is requested or dropped');
      await manager.start();
      if (deps.listen !== false) await app.listen({ host: config.service.host, port: config.service.port });
    },
    async stop() {
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
        logger.warn({ err: coerceError(error) }, 'shutdown grace expired; stopping with work left');
      });
    },
  });
  return { ...lifecycle, manager, app, logger };
}
