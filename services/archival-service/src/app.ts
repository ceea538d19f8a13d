import type { Logger, ReadinessReport } from '@chunk-archiver/common';
import { healthPlugin } from '@chunk-archiver/http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { ArchivalMetrics } from './metrics.js';

export interface AppDeps {
  logger: Logger;
  metrics: ArchivalMetrics;
  /** Checks Redis, storage and each database; never throws. */
  readiness: () => Promise<ReadinessReport>;
  /** Said by /ready (which stays 200 for them): what runs without the protection it should have. */
  warnings?: string[];
}

/** Builds the HTTP app from injected dependencies: health/ready/metrics, and the JSON metrics. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  await app.register(healthPlugin, {
    service: 'archival-service',
    readiness: deps.readiness,
    registry: deps.metrics.registry,
    ...(deps.warnings ? { warnings: deps.warnings } : {}),
  });
  app.get('/archival/metrics', async () => deps.metrics.snapshot());
  return app;
}
