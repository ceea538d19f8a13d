import type { Logger, ReadinessReport } from '@chunk-archiver/common';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ArchivalMetrics } from './metrics.js';

export interface AppDeps {
  logger: Logger;
  metrics: ArchivalMetrics;
  /** Checks Redis, storage and each database; never throws. */
  readiness: () => Promise<ReadinessReport>;
  /** Said by /ready (which stays 200 for them): what runs without the protection it should have. */
  warnings?: string[];
}

/** Builds the HTTP app from injected dependencies; main.ts wires the real ones. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.logger as FastifyBaseLogger, disableRequestLogging: true });

  app.get('/health', async () => ({ status: 'ok', service: 'archival-service' }));

  app.get('/ready', async (_request, reply) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((c) => c.ok);
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', checks, warnings: deps.warnings ?? [] });
  });

  app.get('/archival/metrics', async () => deps.metrics.snapshot());

  app.get('/metrics', async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });

  return app;
}
